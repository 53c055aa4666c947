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
