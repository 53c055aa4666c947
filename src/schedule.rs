//! Cron schedules as people write them, evaluated in the site's time zone.
//!
//! Users write crontab: five fields (`minute hour day month weekday`), weekdays 0–7 with 0 and
//! 7 both Sunday, names like `Mon-Fri`, shorthands like `@daily`. The `cron` crate wants a
//! seconds field first and numbers weekdays 1 = Sunday, so passing `1-5` through would mean
//! Sunday–Thursday. This module translates: the weekday field is read here into a set of days
//! and handed over by name, which no numbering can get wrong. And as in every crontab since
//! Vixie's, when both day-of-month and weekday are restricted, either one matching is enough.

use std::str::FromStr;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

/// A parsed schedule: one `cron` schedule, or two whose union is meant (day-of-month *or*
/// weekday).
#[derive(Debug, Clone)]
pub struct Cron {
    source: String,
    schedules: Vec<cron::Schedule>,
}

const DAY_NAMES: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];

impl Cron {
    /// Parses a crontab expression: 5 fields, 6 with seconds first, or a shorthand.
    pub fn parse(expression: &str) -> Result<Cron, String> {
        let source = expression.trim().to_owned();
        let expanded = match source.to_ascii_lowercase().as_str() {
            "@yearly" | "@annually" => "0 0 1 1 *".to_owned(),
            "@monthly" => "0 0 1 * *".to_owned(),
            "@weekly" => "0 0 * * 0".to_owned(),
            "@daily" | "@midnight" => "0 0 * * *".to_owned(),
            "@hourly" => "0 * * * *".to_owned(),
            s if s.starts_with('@') => {
                return Err(format!(
                    "`{source}` is not a schedule tidings knows; use @hourly, @daily, @weekly, @monthly or @yearly"
                ));
            }
            _ => source.clone(),
        };
        let fields: Vec<&str> = expanded.split_whitespace().collect();
        let (seconds, rest) = match fields.len() {
            5 => ("0", &fields[..]),
            6 => (fields[0], &fields[1..]),
            n => {
                return Err(format!(
                    "`{source}` has {n} fields; write 5 (`minute hour day month weekday`, e.g. `30 9 * * Mon-Fri`) or 6 with seconds first"
                ));
            }
        };
        let [minute, hour, dom, month, dow] = [rest[0], rest[1], rest[2], rest[3], rest[4]];
        // Checked as written, so a mistake is named in the user's own fields and ranges
        // (the `cron` crate would describe its own six-field translation).
        for (what, field, low, high, names) in [
            ("second", seconds, 0, 59, &[][..]),
            ("minute", minute, 0, 59, &[][..]),
            ("hour", hour, 0, 23, &[][..]),
            ("day of month", dom, 1, 31, &[][..]),
            ("month", month, 1, 12, &MONTH_NAMES[..]),
        ] {
            check_field(what, field, low, high, names).map_err(|e| format!("`{source}`: {e}"))?;
        }
        let days = weekdays(dow).map_err(|e| format!("`{source}`: {e}"))?;
        let dom_restricted = !matches!(dom, "*" | "?");
        let dow_restricted = days.is_some();
        let dow_names = days.map(|d| d.join(",")).unwrap_or_else(|| "*".into());
        let expressions = if dom_restricted && dow_restricted {
            vec![
                format!("{seconds} {minute} {hour} {dom} {month} *"),
                format!("{seconds} {minute} {hour} * {month} {dow_names}"),
            ]
        } else {
            vec![format!(
                "{seconds} {minute} {hour} {dom} {month} {dow_names}"
            )]
        };
        let schedules = expressions
            .iter()
            .map(|e| {
                cron::Schedule::from_str(e)
                    .map_err(|err| format!("`{source}` is not a valid schedule: {err}"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let cron = Cron { source, schedules };
        if !cron.fires_within_five_years() {
            return Err(format!(
                "`{}` never fires: no month has that day (April, June, September and November have 30 days, February 29 at most)",
                cron.source
            ));
        }
        Ok(cron)
    }

    /// Whether the schedule fires within five years of any moment. The fields repeat at
    /// least every four years (February 29), so checking from one fixed moment decides it
    /// for every moment, without a clock.
    fn fires_within_five_years(&self) -> bool {
        let from = DateTime::<Utc>::UNIX_EPOCH;
        let limit = from + chrono::Duration::days(5 * 366);
        self.next_after(from, chrono_tz::UTC)
            .is_some_and(|next| next <= limit)
    }

    /// The expression as written.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// The first fire time strictly after `after`, reckoned in `tz`.
    pub fn next_after(&self, after: DateTime<Utc>, tz: Tz) -> Option<DateTime<Utc>> {
        let local = after.with_timezone(&tz);
        self.schedules
            .iter()
            .filter_map(|s| s.after(&local).next())
            .min()
            .map(|t| t.with_timezone(&Utc))
    }

    /// The next `n` fire times after `after`.
    pub fn upcoming(&self, after: DateTime<Utc>, tz: Tz, n: usize) -> Vec<DateTime<Utc>> {
        let mut out = Vec::with_capacity(n);
        let mut at = after;
        while out.len() < n {
            match self.next_after(at, tz) {
                Some(next) => {
                    out.push(next);
                    at = next;
                }
                None => break,
            }
        }
        out
    }
}

const MONTH_NAMES: [&str; 12] = [
    "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
];

/// Checks one field (`*`, `?`, numbers, `a-b` ranges, `/n` steps, comma lists) against the
/// field's true range; `names` are accepted for the numbers `low..` in order.
fn check_field(what: &str, field: &str, low: u32, high: u32, names: &[&str]) -> Result<(), String> {
    let value = |text: &str| -> Result<u32, String> {
        let number = text.parse::<u32>().ok().or_else(|| {
            names
                .iter()
                .position(|name| name.eq_ignore_ascii_case(text))
                .map(|i| low + i as u32)
        });
        match number {
            Some(n) if (low..=high).contains(&n) => Ok(n),
            Some(_) => Err(format!("{what} `{text}` is not {low}–{high}")),
            None => Err(format!(
                "{what} `{text}` is not a number from {low} to {high}"
            )),
        }
    };
    for item in field.split(',') {
        let (range, step) = match item.split_once('/') {
            Some((range, step)) => (range, Some(step)),
            None => (item, None),
        };
        if let Some(step) = step
            && !step.parse::<u32>().is_ok_and(|n| n >= 1)
        {
            return Err(format!(
                "the step in {what} `{item}` must be a number from 1"
            ));
        }
        match range {
            "*" => {}
            "?" if what == "day of month" => {}
            _ => match range.split_once('-') {
                Some((a, b)) => {
                    let (a, b) = (value(a)?, value(b)?);
                    if a > b {
                        return Err(format!("the range in {what} `{item}` runs backwards"));
                    }
                }
                None => {
                    value(range)?;
                }
            },
        }
    }
    Ok(())
}

/// The weekday field as day names, or `None` when it does not restrict (`*`, `?`).
fn weekdays(field: &str) -> Result<Option<Vec<&'static str>>, String> {
    if matches!(field, "*" | "?") {
        return Ok(None);
    }
    let mut days = [false; 7];
    for item in field.split(',') {
        let (range, step) = match item.split_once('/') {
            Some((range, step)) => (
                range,
                step.parse::<usize>()
                    .ok()
                    .filter(|&s| s > 0)
                    .ok_or_else(|| format!("bad step in weekday `{item}`"))?,
            ),
            None => (item, 1),
        };
        let (first, last) = match range {
            "*" | "?" => (0, 6),
            _ => match range.split_once('-') {
                Some((a, b)) => (day_number(a)?, day_number(b)?),
                None if step > 1 => (day_number(range)?, 6),
                None => {
                    let d = day_number(range)?;
                    (d, d)
                }
            },
        };
        // `Fri-Mon` wraps round the week end; `0-7` is the whole week.
        let end = if last < first { last + 7 } else { last };
        for day in (first..=end).step_by(step) {
            days[day % 7] = true;
        }
    }
    Ok(Some(
        DAY_NAMES
            .iter()
            .zip(days)
            .filter(|(_, on)| *on)
            .map(|(name, _)| *name)
            .collect(),
    ))
}

/// 0–7 (0 and 7 are Sunday, kept apart so `0-7` spans the week) or a day name (0 = Sunday
/// … 6 = Saturday).
fn day_number(text: &str) -> Result<usize, String> {
    if let Ok(n) = text.parse::<usize>() {
        return if n <= 7 {
            Ok(n)
        } else {
            Err(format!("weekday `{text}` is not 0–7"))
        };
    }
    let lower = text.to_ascii_lowercase();
    DAY_NAMES
        .iter()
        .position(|name| {
            lower.len() >= 3 && name.to_ascii_lowercase() == lower[..3] && is_day_name(&lower)
        })
        .ok_or_else(|| format!("`{text}` is not a weekday; use 0–7 or Sun, Mon, …"))
}

fn is_day_name(lower: &str) -> bool {
    const FULL: [&str; 7] = [
        "sunday",
        "monday",
        "tuesday",
        "wednesday",
        "thursday",
        "friday",
        "saturday",
    ];
    lower.len() == 3 || FULL.contains(&lower)
}

impl FromStr for Cron {
    type Err = String;
    fn from_str(s: &str) -> Result<Cron, String> {
        Cron::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn fires(expr: &str, from: &str, tz: Tz, n: usize) -> Vec<String> {
        let from = DateTime::parse_from_rfc3339(from)
            .unwrap()
            .with_timezone(&Utc);
        Cron::parse(expr)
            .unwrap()
            .upcoming(from, tz, n)
            .iter()
            .map(|t| {
                t.with_timezone(&tz)
                    .format("%a %Y-%m-%d %H:%M:%S")
                    .to_string()
            })
            .collect()
    }

    /// The translation table: what users write and the days it must mean.
    #[test]
    fn weekday_translation_table() {
        let table: &[(&str, &[&str])] = &[
            ("*", &[]),
            ("1-5", &["Mon", "Tue", "Wed", "Thu", "Fri"]),
            ("0", &["Sun"]),
            ("7", &["Sun"]),
            ("0,6", &["Sun", "Sat"]),
            ("Mon-Fri", &["Mon", "Tue", "Wed", "Thu", "Fri"]),
            ("mon,WED,friday", &["Mon", "Wed", "Fri"]),
            ("Fri-Mon", &["Sun", "Mon", "Fri", "Sat"]),
            ("*/2", &["Sun", "Tue", "Thu", "Sat"]),
            ("1-5/2", &["Mon", "Wed", "Fri"]),
            ("6-7", &["Sun", "Sat"]),
            ("0-7", &["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]),
        ];
        for (field, want) in table {
            let got = weekdays(field).unwrap().unwrap_or_default();
            assert_eq!(got, *want, "weekday field `{field}`");
        }
        for bad in ["8", "Mo", "Funday", "1-", "*/0"] {
            assert!(weekdays(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn five_fields_and_shorthands() {
        let utc = chrono_tz::UTC;
        assert_eq!(
            fires("30 9 * * 1-5", "2026-11-27T10:00:00Z", utc, 3), // a Friday, after 9:30
            [
                "Mon 2026-11-30 09:30:00",
                "Tue 2026-12-01 09:30:00",
                "Wed 2026-12-02 09:30:00"
            ]
        );
        assert_eq!(
            fires("@daily", "2026-11-27T10:00:00Z", utc, 1),
            ["Sat 2026-11-28 00:00:00"]
        );
        assert_eq!(
            fires("@weekly", "2026-11-27T10:00:00Z", utc, 1),
            ["Sun 2026-11-29 00:00:00"]
        );
        assert_eq!(
            fires("*/20 * * * * *", "2026-11-27T10:00:00Z", utc, 2),
            ["Fri 2026-11-27 10:00:20", "Fri 2026-11-27 10:00:40"]
        );
        assert_eq!(
            fires("*/5 * * * *", "2026-11-27T10:01:00Z", utc, 1),
            ["Fri 2026-11-27 10:05:00"]
        );
    }

    #[test]
    fn day_of_month_or_weekday() {
        // The 1st of the month, or any Monday.
        assert_eq!(
            fires("0 8 1 * Mon", "2026-11-27T00:00:00Z", chrono_tz::UTC, 3),
            [
                "Mon 2026-11-30 08:00:00",
                "Tue 2026-12-01 08:00:00",
                "Mon 2026-12-07 08:00:00"
            ]
        );
    }

    #[test]
    fn site_time_zone_and_dst() {
        let ny = chrono_tz::America::New_York;
        // 09:00 local stays 09:00 local across the November change (UTC-4 → UTC-5).
        let times = Cron::parse("0 9 * * *").unwrap().upcoming(
            Utc.with_ymd_and_hms(2026, 10, 31, 0, 0, 0).unwrap(),
            ny,
            3,
        );
        let utc_hours: Vec<u32> = times.iter().map(chrono::Timelike::hour).collect();
        assert_eq!(utc_hours, [13, 14, 14]);
        // Times are strictly increasing through the spring gap too.
        let spring = Cron::parse("30 * * * *").unwrap().upcoming(
            Utc.with_ymd_and_hms(2026, 3, 8, 5, 0, 0).unwrap(),
            ny,
            4,
        );
        assert!(spring.windows(2).all(|w| w[0] < w[1]), "{spring:?}");
    }

    #[test]
    fn bad_expressions_say_why() {
        for bad in [
            "* * * *",
            "61 * * * *",
            "@reboot",
            "* * * * * * *",
            "0 9 * * Funday",
        ] {
            let err = Cron::parse(bad).unwrap_err();
            assert!(
                err.contains(bad.split_whitespace().next().unwrap()) || err.contains("fields"),
                "{bad}: {err}"
            );
        }
    }

    #[test]
    fn mistakes_are_named_in_the_users_own_fields() {
        for (expr, says) in [
            ("61 * * * *", "minute `61` is not 0–59"),
            ("* 24 * * *", "hour `24` is not 0–23"),
            ("* * 32 * *", "day of month `32` is not 1–31"),
            ("0 0 0 * *", "day of month `0` is not 1–31"),
            ("* * * 13 *", "month `13` is not 1–12"),
            (
                "*/0 * * * *",
                "the step in minute `*/0` must be a number from 1",
            ),
            ("a * * * *", "minute `a` is not a number from 0 to 59"),
            ("5-1 * * * *", "the range in minute `5-1` runs backwards"),
            ("60 * * * * *", "second `60` is not 0–59"),
        ] {
            let err = Cron::parse(expr).unwrap_err();
            assert!(err.contains(says), "{expr}: {err}");
            assert!(
                !err.contains(&format!("0 {expr}")),
                "not the translation: {err}"
            );
        }
        for fine in [
            "59 23 31 12 *",
            "0 9 * jan-mar Mon",
            "*/15 0-6,18-23 ? * *",
            "0 0 1 DEC *",
        ] {
            assert!(Cron::parse(fine).is_ok(), "{fine}");
        }
    }

    #[test]
    fn a_schedule_that_never_fires_is_refused() {
        for never in ["0 0 31 4 *", "0 0 30 2 *", "0 0 31 6 *", "0 0 0 31 11 *"] {
            let err = Cron::parse(never).unwrap_err();
            assert!(err.contains("never fires"), "{never}: {err}");
        }
        for rare in ["0 0 29 2 *", "0 0 31 12 *", "0 0 13 * Fri"] {
            assert!(Cron::parse(rare).is_ok(), "{rare}");
        }
    }
}
