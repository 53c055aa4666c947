//! How a receiver's answer decides between done, try again later and give up, and how long
//! "later" is: asked-for waits clamped, backoff grown and capped.

use std::time::Duration;

use chrono::{DateTime, Utc};

/// How one attempt went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The receiver accepted the message.
    Sent,
    /// Worth trying again (a timeout, a 5xx, a 429), after `after` if the receiver said.
    Retry {
        error: String,
        after: Option<Duration>,
    },
    /// Trying again cannot help (a 4xx other than 408 and 429).
    Fail { error: String },
    /// The receiver could not be reached at all (connection refused, TLS failure, no
    /// answer): worth trying again, but not with this receiver's next message right now.
    Unreachable { error: String },
    /// A setting is wrong (the TLS mode, the password, the sender): no message can go
    /// until it is fixed. The lane stops without counting an attempt, so fixing `key` and
    /// restarting sends everything.
    Halt { key: &'static str, error: String },
}

/// Sorts an HTTP status into an outcome.
pub fn classify(status: u16, retry_after: Option<Duration>, detail: &str) -> Outcome {
    let error = if detail.is_empty() {
        format!("HTTP {status}")
    } else {
        format!("HTTP {status}: {detail}")
    };
    match status {
        200..=299 => Outcome::Sent,
        408 | 425 | 429 | 500..=599 => Outcome::Retry {
            error,
            after: retry_after,
        },
        _ => Outcome::Fail { error },
    }
}

/// `Retry-After`: delta seconds or an HTTP date, at most [`MAX_WAIT`] (a date in the past
/// is no wait).
pub fn parse_retry_after(value: &str, now: DateTime<Utc>) -> Option<Duration> {
    let value = value.trim();
    if value.bytes().all(|b| b.is_ascii_digit()) && !value.is_empty() {
        // Any number of digits: beyond u64 is still "very long", never an error or a panic.
        return Some(value.parse::<u64>().map_or(MAX_WAIT, wait_secs));
    }
    let at = DateTime::parse_from_rfc2822(value)
        .ok()?
        .with_timezone(&Utc);
    Some(
        at.signed_duration_since(now)
            .to_std()
            .map_or(Duration::ZERO, |d| d.min(MAX_WAIT)),
    )
}

/// A wait a receiver asked for in whole seconds, within [`MAX_WAIT`].
pub fn wait_secs(seconds: u64) -> Duration {
    Duration::from_secs(seconds.min(MAX_WAIT.as_secs()))
}

/// A wait a receiver asked for in milliseconds, within [`MAX_WAIT`].
pub fn wait_millis(millis: u64) -> Duration {
    Duration::from_millis(millis.min(MAX_WAIT.as_millis() as u64))
}

/// A wait a receiver wrote as a JSON number of seconds (possibly fractional, negative, or
/// absurd), within [`MAX_WAIT`]; `None` for what is not a number of seconds at all.
pub fn wait_json_secs(value: &serde_json::Value) -> Option<Duration> {
    let seconds = value.as_f64()?;
    if seconds.is_nan() {
        return None;
    }
    Some(Duration::from_secs_f64(
        seconds.clamp(0.0, MAX_WAIT.as_secs_f64()),
    ))
}

/// A wait a receiver wrote as a JSON number of milliseconds, within [`MAX_WAIT`].
pub fn wait_json_millis(value: &serde_json::Value) -> Option<Duration> {
    wait_json_secs(&serde_json::json!(value.as_f64()? / 1000.0))
}

/// How long to wait before the next attempt after attempt number `attempts` failed: what
/// the receiver asked for, kept within [`MIN_WAIT`] and [`MAX_WAIT`], or the backoff when it
/// asked for nothing (or for no wait at all, which would burn every attempt at once), at
/// most `cap`.
pub fn retry_wait(
    after: Option<Duration>,
    attempts: u32,
    message_id: &str,
    cap: Duration,
) -> Duration {
    match after {
        Some(wait) if !wait.is_zero() => wait.clamp(MIN_WAIT, MAX_WAIT),
        _ => backoff(attempts, message_id).min(cap),
    }
}

/// The longest backoff of an ordered lane's head (webhooks, chat, hubs): every later message
/// of its notifier waits behind it, so a receiver that comes back gets its backlog within
/// minutes, not after the hours a lone message may wait. A wait the receiver asked for
/// (`Retry-After`) is still honoured as asked.
pub const ORDERED_CAP: Duration = Duration::from_secs(600);

/// The longest backoff of one reader's mail: it holds up only that reader.
pub const READER_CAP: Duration = Duration::from_secs(6 * 3600);

/// `now + wait`, or the furthest moment tidings ever waits for when that cannot be
/// represented.
pub fn after(now: DateTime<Utc>, wait: Duration) -> DateTime<Utc> {
    let wait = wait.min(MAX_WAIT);
    chrono::Duration::from_std(wait)
        .ok()
        .and_then(|d| now.checked_add_signed(d))
        .unwrap_or(now)
}

/// The wait before attempt `attempts + 1`: doubling from two minutes, capped at six hours,
/// with ±20% jitter (derived from the message id, so it is spread but reproducible). Ten
/// attempts span about a day.
pub fn backoff(attempts: u32, message_id: &str) -> Duration {
    let base = 120u64.saturating_mul(1u64 << attempts.saturating_sub(1).min(20));
    let capped = base.min(6 * 3600);
    let spread = xxhash_rust::xxh3::xxh3_64(format!("{message_id}:{attempts}").as_bytes()) % 41; // 0..=40
    Duration::from_secs(capped * (80 + spread) / 100)
}

/// The longest any receiver may make a lane wait: a `Retry-After` (or `retry_after`,
/// `retry_after_ms`) beyond it is read as this.
pub const MAX_WAIT: Duration = Duration::from_secs(24 * 3600);

/// The shortest wait between two attempts of one message when a receiver asked for a wait.
pub const MIN_WAIT: Duration = Duration::from_secs(1);

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn statuses() {
        assert_eq!(classify(204, None, ""), Outcome::Sent);
        assert!(matches!(classify(500, None, ""), Outcome::Retry { .. }));
        assert!(matches!(
            classify(429, Some(Duration::from_secs(3)), ""),
            Outcome::Retry { after: Some(_), .. }
        ));
        assert!(matches!(classify(408, None, ""), Outcome::Retry { .. }));
        assert!(matches!(classify(404, None, ""), Outcome::Fail { .. }));
        assert!(
            matches!(classify(400, None, "bad"), Outcome::Fail { error } if error == "HTTP 400: bad")
        );
    }

    #[test]
    fn retry_after_forms() {
        let now = Utc.with_ymd_and_hms(2026, 11, 27, 8, 0, 0).unwrap();
        assert_eq!(
            parse_retry_after("120", now),
            Some(Duration::from_secs(120))
        );
        assert_eq!(
            parse_retry_after("Fri, 27 Nov 2026 08:01:00 GMT", now),
            Some(Duration::from_secs(60))
        );
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(
            parse_retry_after("18446744073709551615", now),
            Some(MAX_WAIT)
        );
        assert_eq!(
            parse_retry_after("99999999999999999999999999", now),
            Some(MAX_WAIT)
        );
        assert_eq!(
            parse_retry_after("Fri, 31 Dec 9999 23:59:59 GMT", now),
            Some(MAX_WAIT)
        );
        assert_eq!(
            parse_retry_after("Thu, 01 Jan 1970 00:00:00 GMT", now),
            Some(Duration::ZERO)
        );
    }

    #[test]
    fn asked_waits_are_clamped_and_zero_means_backoff() {
        let cap = READER_CAP;
        assert_eq!(
            retry_wait(Some(Duration::ZERO), 1, "m", cap),
            backoff(1, "m")
        );
        assert_eq!(retry_wait(None, 3, "m", cap), backoff(3, "m"));
        assert_eq!(
            retry_wait(Some(Duration::from_millis(1)), 1, "m", cap),
            MIN_WAIT
        );
        assert_eq!(retry_wait(Some(Duration::MAX), 1, "m", cap), MAX_WAIT);
        assert_eq!(retry_wait(None, 9, "m", ORDERED_CAP), ORDERED_CAP);
        assert_eq!(
            retry_wait(Some(Duration::from_secs(3600)), 9, "m", ORDERED_CAP),
            Duration::from_secs(3600),
            "a wait the receiver asked for is honoured"
        );
        for value in [
            serde_json::json!(-5),
            serde_json::json!(1e300),
            serde_json::json!(f64::MAX),
            serde_json::json!(u64::MAX),
        ] {
            let wait = wait_json_secs(&value).unwrap();
            assert!(wait <= MAX_WAIT, "{value}: {wait:?}");
        }
        assert_eq!(wait_json_secs(&serde_json::json!("soon")), None);
        assert_eq!(wait_millis(u64::MAX), MAX_WAIT);
        assert_eq!(
            wait_json_millis(&serde_json::json!(18446744073709551615u64)),
            Some(MAX_WAIT)
        );
        assert_eq!(
            wait_json_millis(&serde_json::json!(1500)),
            Some(Duration::from_millis(1500))
        );
        let now = Utc.with_ymd_and_hms(2026, 11, 27, 8, 0, 0).unwrap();
        assert_eq!(after(now, Duration::MAX), now + chrono::Duration::hours(24));
        assert_eq!(
            after(DateTime::<Utc>::MAX_UTC, Duration::from_secs(5)),
            DateTime::<Utc>::MAX_UTC
        );
    }

    #[test]
    fn backoff_grows_is_capped_and_spans_about_a_day() {
        let waits: Vec<u64> = (1..=10).map(|a| backoff(a, "msg_x").as_secs()).collect();
        assert!(waits[0] >= 96 && waits[0] <= 168, "{waits:?}");
        assert!(
            waits.windows(2).all(|w| w[1] as f64 >= w[0] as f64 * 0.6),
            "{waits:?}"
        );
        assert!(waits.iter().all(|&w| w <= 6 * 3600 * 12 / 10));
        let total: u64 = waits[..9].iter().sum();
        assert!((8 * 3600..=30 * 3600).contains(&total), "{total}");
    }
}
