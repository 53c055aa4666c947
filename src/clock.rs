//! The one place that reads the wall clock.
//!
//! "Now" decides which posts are published (a future-dated post waits) and, later, when
//! deliveries are due. Everything else takes a `&dyn Clock`, so tests pin time with
//! [`FixedClock`] instead of sleeping or racing the calendar.

use chrono::{DateTime, Utc};

/// A source of the current time.
pub trait Clock: Send + Sync {
    /// The current instant.
    fn now(&self) -> DateTime<Utc>;
    /// Whether time stands still (a test's pinned clock): nothing corrects it.
    fn is_pinned(&self) -> bool {
        false
    }
}

/// The real wall clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    #[allow(clippy::disallowed_methods)] // the one sanctioned call: every other reader injects a Clock
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock stuck at one instant, for tests.
#[derive(Debug, Clone, Copy)]
pub struct FixedClock(pub DateTime<Utc>);

impl Clock for FixedClock {
    fn now(&self) -> DateTime<Utc> {
        self.0
    }

    fn is_pinned(&self) -> bool {
        true
    }
}

/// A node's clock set by another's: the shared database's. Nodes decide leases, claims
/// and due times against one another's records, so they must agree on the time; a node
/// whose own clock runs five minutes ahead would otherwise take every lease the moment it
/// was renewed and send what another node is sending. This is the node's clock plus the
/// offset last measured against the database (see `Store::database_now`).
pub struct Following {
    base: &'static dyn Clock,
    offset_micros: std::sync::atomic::AtomicI64,
}

impl Following {
    pub fn new(base: &'static dyn Clock) -> Following {
        Following {
            base,
            offset_micros: std::sync::atomic::AtomicI64::new(0),
        }
    }

    /// The offset now applied to the node's clock.
    pub fn offset(&self) -> chrono::TimeDelta {
        chrono::TimeDelta::microseconds(
            self.offset_micros
                .load(std::sync::atomic::Ordering::Relaxed),
        )
    }

    /// Corrects the offset by `error`: the reference time minus this clock's reading of
    /// the same moment.
    pub fn correct(&self, error: chrono::TimeDelta) {
        let error = error.num_microseconds().unwrap_or(0);
        let _ = self.offset_micros.fetch_update(
            std::sync::atomic::Ordering::Relaxed,
            std::sync::atomic::Ordering::Relaxed,
            |offset| Some(offset.saturating_add(error)),
        );
    }
}

impl Clock for Following {
    fn now(&self) -> DateTime<Utc> {
        let now = self.base.now();
        now.checked_add_signed(self.offset()).unwrap_or(now)
    }

    fn is_pinned(&self) -> bool {
        self.base.is_pinned()
    }
}

/// The clock the binary runs on: the wall clock, or, in a test build (debug assertions
/// on, as `cargo test` builds the binary), when `TIDINGS_TEST_NOW` holds an RFC 3339 time,
/// that instant for the whole process. The integration tests use it to step time (a retry
/// due in a day, a digest's slot) without sleeping. A release build refuses the variable:
/// a clock pinned by a stray environment variable would hold every post and digest still.
pub fn from_env() -> Result<&'static dyn Clock, String> {
    let pinned = pinned(
        std::env::var("TIDINGS_TEST_NOW").ok().as_deref(),
        cfg!(debug_assertions),
    )?;
    Ok(match pinned {
        Some(clock) => Box::leak(Box::new(clock)),
        None => &SystemClock,
    })
}

/// The pinned clock `TIDINGS_TEST_NOW` asks for, in a `test_build` only.
fn pinned(value: Option<&str>, test_build: bool) -> Result<Option<FixedClock>, String> {
    let Some(text) = value else {
        return Ok(None);
    };
    if !test_build {
        return Err(
            "TIDINGS_TEST_NOW pins the clock in test builds only; unset it (this is a release build)"
                .into(),
        );
    }
    let at = DateTime::parse_from_rfc3339(text.trim())
        .map_err(|e| format!("TIDINGS_TEST_NOW=`{text}` is not an RFC 3339 time ({e})"))?;
    Ok(Some(FixedClock(at.with_timezone(&Utc))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_following_clock_takes_the_reference_time() {
        static BASE: FixedClock =
            FixedClock(DateTime::from_timestamp_nanos(1_700_000_000_000_000_000));
        let following = Following::new(&BASE);
        let reference = BASE.now() - chrono::TimeDelta::minutes(5);
        following.correct(reference - following.now());
        assert_eq!(following.now(), reference);
        // A later measurement finds it a second off: corrected by that second alone.
        following.correct(chrono::TimeDelta::seconds(1));
        assert_eq!(following.now(), reference + chrono::TimeDelta::seconds(1));
        assert_eq!(following.offset(), chrono::TimeDelta::seconds(-299));
    }

    #[test]
    fn the_test_clock_is_a_test_builds_only() {
        let at = "2030-01-01T00:00:00Z";
        assert_eq!(
            pinned(Some(at), true)
                .unwrap()
                .map(|c| c.now().to_rfc3339()),
            Some("2030-01-01T00:00:00+00:00".to_owned())
        );
        assert!(
            pinned(Some(at), false)
                .unwrap_err()
                .contains("test builds only")
        );
        assert!(pinned(None, false).unwrap().is_none());
        assert!(pinned(Some("soon"), true).is_err());
    }
}
