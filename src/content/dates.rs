//! Reading the dates that real archives contain.
//!
//! Seen in the wild: RFC 2822 with `GMT` (RSSHub-generated Hexo posts), RFC 3339, Hexo's
//! zone-less `2021-10-28 14:08:07`, Jekyll's `2015-03-17 14:00:00 -4` and bare dates, Hugo's
//! quoted timestamps with 6–8 fractional digits and no zone, and dates only found in a file
//! name (`2024-12-5-slug.md`) or a Zola `path` (`2026/03/26/slug`). A date with no zone is
//! read in the site's time zone.

use chrono::{DateTime, FixedOffset, LocalResult, NaiveDate, NaiveDateTime, NaiveTime, TimeZone};
use chrono_tz::Tz;

/// Parses a date in any of the shapes above.
pub fn parse(text: &str, tz: Tz) -> Result<DateTime<FixedOffset>, String> {
    let text = text.trim();
    if text.is_empty() {
        return Err("the date is empty".into());
    }
    if text.starts_with(|c: char| c.is_ascii_alphabetic()) || text.contains(',') {
        return DateTime::parse_from_rfc2822(text)
            .map_err(|e| format!("`{text}` is not a date ({e}); write e.g. `2021-06-17 11:05:02` or `Thu, 17 Jun 2021 11:05:02 GMT`"));
    }
    let (naive, offset) = parse_iso_like(text)?;
    match offset {
        Some(offset) => offset
            .from_local_datetime(&naive)
            .single()
            .ok_or_else(|| format!("`{text}` is out of range")),
        None => Ok(in_zone(naive, tz)),
    }
}

/// A local time in the site's zone. A time that occurs twice (clocks going back) is read as
/// the first; one that never occurs (clocks going forward) is moved past the gap.
pub fn in_zone(naive: NaiveDateTime, tz: Tz) -> DateTime<FixedOffset> {
    match tz.from_local_datetime(&naive) {
        LocalResult::Single(dt) => dt.fixed_offset(),
        LocalResult::Ambiguous(first, _) => first.fixed_offset(),
        LocalResult::None => {
            let later = naive + chrono::Duration::hours(1);
            tz.from_local_datetime(&later)
                .earliest()
                .map(|dt| dt.fixed_offset())
                .unwrap_or_else(|| tz.from_utc_datetime(&naive).fixed_offset())
        }
    }
}

/// `YYYY-M-D[( |T)H:MM[:SS[.f…]]][ ][Z|UTC|GMT|±H|±HH|±HHMM|±HH:MM]`
fn parse_iso_like(text: &str) -> Result<(NaiveDateTime, Option<FixedOffset>), String> {
    let bad = || {
        format!(
            "`{text}` is not a date; write e.g. `2021-06-17`, `2021-06-17 11:05:02` or `2021-06-17T11:05:02+08:00`"
        )
    };
    let mut s = Scanner { rest: text };
    let year = s.number(4, 4).ok_or_else(bad)?;
    s.expect('-').ok_or_else(bad)?;
    let month = s.number(1, 2).ok_or_else(bad)?;
    s.expect('-').ok_or_else(bad)?;
    let day = s.number(1, 2).ok_or_else(bad)?;
    let date = NaiveDate::from_ymd_opt(year as i32, month, day).ok_or_else(|| {
        format!("`{text}` is an impossible date (there is no {year:04}-{month:02}-{day:02})")
    })?;

    let mut time = NaiveTime::MIN;
    if s.rest.starts_with(['T', 't', ' ']) && s.rest[1..].starts_with(|c: char| c.is_ascii_digit())
    {
        s.rest = &s.rest[1..];
        let hour = s.number(1, 2).ok_or_else(bad)?;
        s.expect(':').ok_or_else(bad)?;
        let minute = s.number(2, 2).ok_or_else(bad)?;
        let mut second = 0;
        let mut nanos = 0;
        if s.expect(':').is_some() {
            second = s.number(2, 2).ok_or_else(bad)?;
            if s.expect('.').is_some() || s.expect(',').is_some() {
                nanos = s.fraction().ok_or_else(bad)?;
            }
        }
        time = NaiveTime::from_hms_nano_opt(hour, minute, second, nanos)
            .ok_or_else(|| format!("`{text}` has an impossible time of day"))?;
    }
    let offset = parse_offset(s.rest.trim_start()).ok_or_else(bad)?;
    Ok((date.and_time(time), offset))
}

/// The zone suffix: empty (none), `Z`, `UTC`, `GMT`, or a signed offset with 1–4 digits.
fn parse_offset(text: &str) -> Option<Option<FixedOffset>> {
    match text {
        "" => return Some(None),
        "Z" | "z" | "UTC" | "GMT" => return Some(FixedOffset::east_opt(0)),
        _ => {}
    }
    let sign = match text.as_bytes()[0] {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let digits: String = text[1..].chars().filter(|&c| c != ':').collect();
    if digits.is_empty() || digits.len() > 4 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let (hours, minutes) = match digits.len() {
        1 | 2 => (digits.parse::<i32>().ok()?, 0),
        3 => (
            digits[..1].parse::<i32>().ok()?,
            digits[1..].parse::<i32>().ok()?,
        ),
        _ => (
            digits[..2].parse::<i32>().ok()?,
            digits[2..].parse::<i32>().ok()?,
        ),
    };
    if hours > 23 || minutes > 59 {
        return None;
    }
    FixedOffset::east_opt(sign * (hours * 3600 + minutes * 60)).map(Some)
}

struct Scanner<'a> {
    rest: &'a str,
}

impl Scanner<'_> {
    fn number(&mut self, min: usize, max: usize) -> Option<u32> {
        let len = self.rest.bytes().take_while(u8::is_ascii_digit).count();
        if len < min || len > max {
            return None;
        }
        let n = self.rest[..len].parse().ok()?;
        self.rest = &self.rest[len..];
        Some(n)
    }

    fn expect(&mut self, c: char) -> Option<()> {
        self.rest = self.rest.strip_prefix(c)?;
        Some(())
    }

    /// Fractional seconds of any length, as nanoseconds (digits past the ninth are dropped).
    fn fraction(&mut self) -> Option<u32> {
        let len = self.rest.bytes().take_while(u8::is_ascii_digit).count();
        if len == 0 {
            return None;
        }
        let digits = &self.rest[..len.min(9)];
        let nanos = digits.parse::<u32>().ok()? * 10u32.pow(9 - digits.len() as u32);
        self.rest = &self.rest[len..];
        Some(nanos)
    }
}

/// Jekyll's `YYYY-MM-DD-slug` file name: the date and the slug.
pub fn from_file_name(stem: &str) -> Option<(NaiveDate, &str)> {
    let mut parts = stem.splitn(4, '-');
    let year = parts.next().filter(|p| p.len() == 4)?.parse().ok()?;
    let month = parts
        .next()
        .filter(|p| (1..=2).contains(&p.len()))?
        .parse()
        .ok()?;
    let day = parts
        .next()
        .filter(|p| (1..=2).contains(&p.len()))?
        .parse()
        .ok()?;
    let slug = parts.next().filter(|s| !s.is_empty())?;
    Some((NaiveDate::from_ymd_opt(year, month, day)?, slug))
}

/// A Zola `path = "2026/03/26/slug"` (or `inside-rust/2020/07/27/slug`): the date in it.
pub fn from_url_path(path: &str) -> Option<NaiveDate> {
    let segments: Vec<&str> = path.split('/').collect();
    segments.windows(3).find_map(|w| {
        let all_digits = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_digit());
        if all_digits(w[0], 4) && all_digits(w[1], 2) && all_digits(w[2], 2) {
            NaiveDate::from_ymd_opt(w[0].parse().ok()?, w[1].parse().ok()?, w[2].parse().ok()?)
        } else {
            None
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(text: &str) -> String {
        parse(text, chrono_tz::Asia::Shanghai)
            .map(|d| d.to_rfc3339())
            .unwrap_or_else(|e| format!("error: {e}"))
    }

    #[test]
    fn shapes_seen_in_real_archives() {
        let table = [
            ("Thu, 17 Jun 2021 11:05:02 GMT", "2021-06-17T11:05:02+00:00"),
            ("2021-10-28 14:08:07", "2021-10-28T14:08:07+08:00"),
            ("2016-03-25", "2016-03-25T00:00:00+08:00"),
            ("2014-05-14T11:02:00-04:00", "2014-05-14T11:02:00-04:00"),
            ("2015-03-17 14:00:00 -4", "2015-03-17T14:00:00-04:00"),
            ("2015-03-17 9:00:00 -4", "2015-03-17T09:00:00-04:00"),
            ("2020-01-01T00:00:00.000Z", "2020-01-01T00:00:00+00:00"),
            (
                "2026-01-17T06:17:00.877081",
                "2026-01-17T06:17:00.877081+08:00",
            ),
            (
                "2026-01-17T06:17:00.87708112",
                "2026-01-17T06:17:00.877081120+08:00",
            ),
            ("2020-10-22T08:00:00+00:00 ", "2020-10-22T08:00:00+00:00"),
            ("2020-10-22 08:00:00 +0530", "2020-10-22T08:00:00+05:30"),
            ("2024-12-5", "2024-12-05T00:00:00+08:00"),
            ("2020-10-22T08:00", "2020-10-22T08:00:00+08:00"),
        ];
        for (input, want) in table {
            assert_eq!(p(input), want, "{input}");
        }
    }

    #[test]
    fn impossible_and_garbled_dates_are_errors() {
        for input in [
            "2021-02-30",
            "2021-13-01 10:00:00",
            "2021-01-01 25:00:00",
            "yesterday",
            "",
            "2021-01-01 10:00:00 +99",
            "20210101",
        ] {
            assert!(p(input).starts_with("error"), "{input} gave {}", p(input));
        }
        assert!(p("2021-02-30").contains("impossible"));
    }

    #[test]
    fn local_times_across_dst_changes() {
        let ny = chrono_tz::America::New_York;
        // 02:30 does not exist on 2021-03-14; 01:30 happens twice on 2021-11-07.
        assert_eq!(
            parse("2021-03-14 02:30:00", ny).unwrap().to_rfc3339(),
            "2021-03-14T03:30:00-04:00"
        );
        assert_eq!(
            parse("2021-11-07 01:30:00", ny).unwrap().to_rfc3339(),
            "2021-11-07T01:30:00-04:00"
        );
    }

    #[test]
    fn dates_from_file_names_and_paths() {
        let (date, slug) = from_file_name("2024-12-5-18f-project-defaults").unwrap();
        assert_eq!(
            (date.to_string().as_str(), slug),
            ("2024-12-05", "18f-project-defaults")
        );
        assert!(from_file_name("hello-world").is_none());
        assert!(from_file_name("2024-02-31-x").is_none());
        assert_eq!(
            from_url_path("inside-rust/2020/07/27/1.45.1-prerelease")
                .unwrap()
                .to_string(),
            "2020-07-27"
        );
        assert!(from_url_path("releases/latest").is_none());
    }
}
