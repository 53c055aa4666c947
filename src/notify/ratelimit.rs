//! A token bucket per destination, so tidings stays within each platform's documented rate
//! instead of discovering it through errors, and slows down further when told to.

use std::time::{Duration, Instant};

/// Tokens refill continuously up to `capacity`; each message takes one.
#[derive(Debug, Clone)]
pub struct Bucket {
    capacity: f64,
    per_second: f64,
    tokens: f64,
    updated: Instant,
    /// A receiver's `Retry-After`: nothing goes before this.
    paused_until: Option<Instant>,
}

impl Bucket {
    /// A full bucket: a burst of `capacity` messages, then `per_second`.
    pub fn new(capacity: f64, per_second: f64, now: Instant) -> Bucket {
        Bucket {
            capacity,
            per_second,
            tokens: capacity,
            updated: now,
            paused_until: None,
        }
    }

    /// Takes a token for a message sent at `now` or later; returns how long to wait first.
    pub fn reserve(&mut self, now: Instant) -> Duration {
        self.refill(now);
        self.tokens -= 1.0;
        let refill = if self.tokens >= 0.0 {
            Duration::ZERO
        } else {
            seconds(-self.tokens / self.per_second)
        };
        let paused = self
            .paused_until
            .map_or(Duration::ZERO, |until| until.saturating_duration_since(now));
        refill.max(paused)
    }

    /// Takes a token if one is there; otherwise takes nothing and says how long until one
    /// is. For refusing (a client over its limit) rather than waiting.
    pub fn try_take(&mut self, now: Instant) -> Result<(), Duration> {
        self.refill(now);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            Ok(())
        } else {
            Err(seconds((1.0 - self.tokens) / self.per_second))
        }
    }

    /// Whether the bucket is full again at `now` (its client can be forgotten).
    pub fn is_full(&self, now: Instant) -> bool {
        let elapsed = now.saturating_duration_since(self.updated).as_secs_f64();
        self.tokens + elapsed * self.per_second >= self.capacity
    }

    fn refill(&mut self, now: Instant) {
        let elapsed = now.saturating_duration_since(self.updated).as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.per_second).min(self.capacity);
        self.updated = now;
    }

    /// The receiver asked for a pause: empty the bucket and wait at least until `until`.
    pub fn pause(&mut self, until: Instant) {
        self.tokens = self.tokens.min(0.0);
        self.paused_until = Some(self.paused_until.map_or(until, |u| u.max(until)));
    }
}

/// A computed wait as a duration, within the longest wait tidings ever honours (a rate
/// near zero would otherwise make an infinite or unrepresentable one).
fn seconds(value: f64) -> Duration {
    Duration::try_from_secs_f64(value)
        .unwrap_or(super::outcome::MAX_WAIT)
        .min(super::outcome::MAX_WAIT)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bursts_then_paces() {
        let start = Instant::now();
        let mut bucket = Bucket::new(2.0, 1.0, start);
        assert_eq!(bucket.reserve(start), Duration::ZERO);
        assert_eq!(bucket.reserve(start), Duration::ZERO);
        assert_eq!(bucket.reserve(start), Duration::from_secs(1));
        let later = start + Duration::from_secs(5);
        assert_eq!(bucket.reserve(later), Duration::ZERO, "refilled");
    }

    #[test]
    fn try_take_refuses_without_taking() {
        let start = Instant::now();
        let mut bucket = Bucket::new(1.0, 0.5, start);
        assert_eq!(bucket.try_take(start), Ok(()));
        assert_eq!(bucket.try_take(start), Err(Duration::from_secs(2)));
        assert_eq!(
            bucket.try_take(start),
            Err(Duration::from_secs(2)),
            "nothing taken"
        );
        assert!(bucket.is_full(start + Duration::from_secs(2)));
        assert_eq!(bucket.try_take(start + Duration::from_secs(2)), Ok(()));
    }

    #[test]
    fn absurd_rates_never_panic() {
        let start = Instant::now();
        for rate in [1e-300, 0.0, f64::MIN_POSITIVE, f64::NAN] {
            let mut bucket = Bucket::new(1.0, rate, start);
            bucket.reserve(start);
            assert!(bucket.reserve(start) <= super::super::outcome::MAX_WAIT);
            if let Err(wait) = bucket.try_take(start) {
                assert!(wait <= super::super::outcome::MAX_WAIT);
            }
        }
    }

    #[test]
    fn a_pause_holds_everything() {
        let start = Instant::now();
        let mut bucket = Bucket::new(5.0, 5.0, start);
        bucket.pause(start + Duration::from_secs(3));
        assert!(bucket.reserve(start) >= Duration::from_secs(3));
    }
}
