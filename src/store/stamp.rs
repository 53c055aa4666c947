//! How times are stored: fixed-width RFC 3339 UTC text, which sorts as text on both back
//! ends.

use chrono::{DateTime, SecondsFormat, Utc};

/// Timestamps are stored as fixed-width RFC 3339 UTC text, so they sort as text.
pub fn stamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// Reads a stored timestamp.
pub fn parse_stamp(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text).map_or(DateTime::UNIX_EPOCH, |t| t.with_timezone(&Utc))
}
