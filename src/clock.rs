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

/// The clock the binary runs on: the wall clock, or, when `TIDINGS_TEST_NOW` holds an RFC
/// 3339 time, that instant for the whole process. The integration tests use it to step
/// time (a retry due in a day, a digest's slot) without sleeping; it is never needed in
/// production.
pub fn from_env() -> Result<&'static dyn Clock, String> {
    match std::env::var("TIDINGS_TEST_NOW") {
        Ok(text) => {
            let at = DateTime::parse_from_rfc3339(text.trim())
                .map_err(|e| format!("TIDINGS_TEST_NOW=`{text}` is not an RFC 3339 time ({e})"))?;
            Ok(Box::leak(Box::new(FixedClock(at.with_timezone(&Utc)))))
        }
        Err(_) => Ok(&SystemClock),
    }
}
