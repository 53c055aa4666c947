//! Hexo's rules, as Hexo 8 applies them (read from its source: `plugins/processor/post.ts`,
//! `plugins/filter/post_permalink.ts`, `models/category.ts`, and hexo-util's `slugize`,
//! `permalink`, `full_url_for`).
//!
//! - Posts are the files below `source/_posts` (tidings' content folder); a name or folder
//!   starting with `_` or `.` is hidden. `published: false` is a draft.
//! - Dates are read as Hexo reads them on the machine that builds the site: a date written
//!   without a zone is that machine's wall-clock time, and with `timezone` in `_config.yml`
//!   every date's wall-clock time on that machine is taken as `timezone`'s; the link's date
//!   parts are that machine's too. That machine's zone is `site.build_timezone` (default:
//!   `site.timezone`): on a CI runner in UTC it is `UTC`. A post without a date is dated by
//!   its file's creation time, as Hexo does.
//! - Links: front-matter `permalink`, else `_config.yml`'s `permalink` with every token
//!   Hexo fills (`:title` the path below `_posts` as `new_post_name` reads it, `:name`,
//!   `:post_title`, `:year`…, `:category` the last category's path, `:id`, `:hash`, any
//!   front-matter key, `permalink_defaults`), encoded as `encodeURI` does, `pretty_urls`
//!   and `post_asset_folder` applied.
//! - Categories are chains (`[A, B]` is B inside A), tags as written.

use chrono::{DateTime, Datelike, FixedOffset, NaiveDate, NaiveTime, TimeZone, Timelike};
use chrono_tz::Tz;
use serde_json::{Map, Value};
use url::Url;

use super::common::{self, Parts, chains, text_of};
use super::contract::{FieldError, Generator, Setup, Site, Source, Verdict, field_error};
use crate::content::dates;

/// Hexo's configuration, as far as posts go.
#[derive(Debug)]
pub struct Hexo {
    site: Site,
    url: String,
    permalink: String,
    new_post_name: String,
    /// `timezone` from `_config.yml`.
    zone: Option<Tz>,
    /// The build machine's zone.
    machine: Tz,
    post_asset_folder: bool,
    default_category: String,
    category_map: Map<String, Value>,
    permalink_defaults: Map<String, Value>,
    filename_case: u8,
    trailing_index: bool,
    trailing_html: bool,
    fingerprint: u64,
}

impl Hexo {
    pub fn load(setup: &Setup) -> Result<Hexo, String> {
        let path = setup.root.join("_config.yml");
        let text = std::fs::read_to_string(&path)
            .map_err(|e| format!("cannot read Hexo's `{}`: {e}", path.display()))?;
        let config = super::config::parse_config(&path, &text)?;
        let string = |key: &str, default: &str| {
            config
                .get(key)
                .and_then(Value::as_str)
                .filter(|s| !s.trim().is_empty())
                .unwrap_or(default)
                .to_owned()
        };
        let zone = match config.get("timezone").and_then(Value::as_str) {
            Some(name) if !name.trim().is_empty() => Some(
                name.trim()
                    .parse::<Tz>()
                    .map_err(|_| format!("Hexo's `timezone: {name}` is not a time zone"))?,
            ),
            _ => None,
        };
        let map = |key: &str| {
            config
                .get(key)
                .and_then(Value::as_object)
                .cloned()
                .unwrap_or_default()
        };
        let pretty = config.get("pretty_urls");
        let flag = |key: &str| {
            pretty
                .and_then(|p| p.get(key))
                .and_then(Value::as_bool)
                .unwrap_or(true)
        };
        Ok(Hexo {
            site: setup.site.clone(),
            url: string("url", "http://example.com"),
            permalink: string("permalink", ":year/:month/:day/:title/"),
            new_post_name: string("new_post_name", ":title.md"),
            zone,
            machine: setup.build_timezone.unwrap_or(setup.timezone),
            post_asset_folder: config
                .get("post_asset_folder")
                .and_then(Value::as_bool)
                .unwrap_or(false),
            default_category: string("default_category", "uncategorized"),
            category_map: map("category_map"),
            permalink_defaults: map("permalink_defaults"),
            filename_case: config
                .get("filename_case")
                .and_then(Value::as_u64)
                .map_or(0, |c| c.min(2) as u8),
            trailing_index: flag("trailing_index"),
            trailing_html: flag("trailing_html"),
            fingerprint: super::config::hash_texts([text.as_str()]),
        })
    }

    /// Hexo's `adjustDateForTimezone`: with `timezone` set, the date's wall-clock time on
    /// the build machine is taken as that zone's.
    fn adjust(&self, date: DateTime<FixedOffset>) -> DateTime<FixedOffset> {
        match self.zone {
            Some(zone) => {
                let wall = date.with_timezone(&self.machine).naive_local();
                dates::in_zone(wall, zone)
            }
            None => date,
        }
    }

    /// A front-matter date as Hexo reads it: a time without a zone is the build machine's.
    fn parse_date(&self, text: &str) -> Result<DateTime<FixedOffset>, String> {
        dates::parse(text, self.machine).map(|d| self.adjust(d))
    }

    /// The permalink path of a post, before encoding.
    fn stringify(&self, rule: &str, values: &Map<String, Value>) -> String {
        // hexo-util's `:(\w*[^_\W])`: a token never ends with `_`.
        let mut out = String::with_capacity(rule.len() + 32);
        let mut rest = rule;
        while let Some(at) = rest.find(':') {
            out.push_str(&rest[..at]);
            let after = &rest[at + 1..];
            let word = after
                .char_indices()
                .find(|(_, c)| !(c.is_alphanumeric() || *c == '_'))
                .map_or(after.len(), |(i, _)| i);
            let mut len = word;
            while len > 0 && after[..len].ends_with('_') {
                len -= 1;
            }
            if len == 0 {
                out.push(':');
                rest = after;
                continue;
            }
            let name = &after[..len];
            out.push_str(&match values.get(name) {
                Some(Value::String(s)) => s.clone(),
                Some(Value::Null) => "null".into(),
                Some(other @ (Value::Number(_) | Value::Bool(_))) => other.to_string(),
                Some(Value::Array(items)) => items
                    .iter()
                    .map(|v| match v {
                        Value::String(s) => s.clone(),
                        other => other.to_string(),
                    })
                    .collect::<Vec<_>>()
                    .join(","),
                Some(Value::Object(_)) => "[object Object]".into(),
                None => "undefined".into(),
            });
            rest = &after[len..];
        }
        out.push_str(rest);
        out
    }

    /// The slug path of a category chain's last node, as Hexo's category model makes it.
    fn category_slug(&self, chain: &[String]) -> String {
        chain
            .iter()
            .map(|name| {
                let mapped = self
                    .category_map
                    .get(name)
                    .and_then(Value::as_str)
                    .unwrap_or(name);
                slugize(mapped, self.filename_case)
            })
            .collect::<Vec<_>>()
            .join("/")
    }

    /// The post's full URL: `url` + the path, encoded as `encodeURI`, `pretty_urls` applied.
    fn full_url(&self, path: &str) -> Result<Url, String> {
        let joined = format!(
            "{}/{}",
            self.url.trim_end_matches('/'),
            path.trim_start_matches('/')
        );
        let mut url = Url::parse(&joined).map_err(|e| e.to_string())?;
        let decoded = percent_encoding::percent_decode_str(url.path())
            .decode_utf8_lossy()
            .into_owned();
        let mut pathname = encode_uri(&decoded);
        while pathname.contains("//") {
            pathname = pathname.replace("//", "/");
        }
        if !self.trailing_index && pathname.ends_with("/index.html") {
            pathname.truncate(pathname.len() - "index.html".len());
        }
        if !self.trailing_html && pathname.ends_with(".html") && !pathname.ends_with("/index.html")
        {
            pathname.truncate(pathname.len() - ".html".len());
        }
        url.set_path(&pathname);
        Ok(url)
    }
}

/// JavaScript's `encodeURI` of a path: everything but `A–Z a–z 0–9 ; , / ? : @ & = + $ - _ .
/// ! ~ * ' ( ) #` percent-encoded as UTF-8.
fn encode_uri(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b";,/?:@&=+$-_.!~*'()#".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Whether JavaScript's `decodeURI` takes `text`: every `%` starts a `%XX` escape, and the
/// escapes spell UTF-8.
fn decodes_as_uri(text: &str) -> bool {
    let bytes = text.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = text
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok());
            let Some(byte) = hex else {
                return false;
            };
            decoded.push(byte);
            i += 3;
        } else {
            decoded.push(bytes[i]);
            i += 1;
        }
    }
    std::str::from_utf8(&decoded).is_ok()
}

/// hexo-util's `slugize`: Latin letters lose their diacritics, control characters go, runs
/// of whitespace and ASCII punctuation become one `-`, none at either end; `transform` 1
/// lower-cases, 2 upper-cases.
pub fn slugize(text: &str, transform: u8) -> String {
    let mut plain = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c as u32, 0x00C0..=0x024F | 0x1E00..=0x1EFF) {
            plain.push_str(deunicode::deunicode_char(c).unwrap_or(""));
        } else if !c.is_control() {
            plain.push(c);
        }
    }
    let special = |c: char| c.is_whitespace() || "~`!@#$%^&*()-_+=[]{}|\\;:\"'<>,.?/".contains(c);
    let mut out = String::with_capacity(plain.len());
    let mut in_run = false;
    for c in plain.chars() {
        if special(c) {
            if !in_run {
                out.push('-');
                in_run = true;
            }
        } else {
            out.push(c);
            in_run = false;
        }
    }
    let out = out.trim_matches('-');
    match transform {
        1 => out.to_lowercase(),
        2 => out.to_uppercase(),
        _ => out.to_owned(),
    }
}

/// What `new_post_name` reads from a post's path below `_posts` (without extension): the
/// `title` (a slug) and any date parts; a path it does not fit is slugized whole.
fn parse_file_name(rule: &str, path: &str) -> Map<String, Value> {
    let rule = rule.rfind('.').map_or(rule, |dot| &rule[..dot]);
    let mut out = Map::new();
    if let Some(found) = match_rule(rule, path) {
        for (name, value) in found {
            out.insert(name, Value::String(value));
        }
        if out.contains_key("title") {
            return out;
        }
    }
    out.insert("title".into(), Value::String(slugize(path, 0)));
    out
}

/// Matches `path` against a rule like `:year-:month-:day-:title` (each token lazily, date
/// tokens by their digits), anchored at both ends.
fn match_rule(rule: &str, path: &str) -> Option<Vec<(String, String)>> {
    enum Piece<'a> {
        Literal(&'a str),
        Token(&'a str),
    }
    let mut pieces = Vec::new();
    let mut rest = rule;
    while let Some(at) = rest.find(':') {
        if at > 0 {
            pieces.push(Piece::Literal(&rest[..at]));
        }
        let after = &rest[at + 1..];
        let len = after
            .char_indices()
            .find(|(_, c)| !(c.is_alphanumeric() || *c == '_'))
            .map_or(after.len(), |(i, _)| i);
        pieces.push(Piece::Token(&after[..len]));
        rest = &after[len..];
    }
    if !rest.is_empty() {
        pieces.push(Piece::Literal(rest));
    }
    fn go(pieces: &[Piece], text: &str, found: &mut Vec<(String, String)>) -> bool {
        let Some((first, others)) = pieces.split_first() else {
            return text.is_empty();
        };
        match first {
            Piece::Literal(lit) => text
                .strip_prefix(lit)
                .is_some_and(|rest| go(others, rest, found)),
            Piece::Token(name) => {
                let digits = match *name {
                    "year" => Some(4..=4),
                    "month" | "day" => Some(2..=2),
                    "i_month" | "i_day" => Some(1..=2),
                    _ => None,
                };
                let ends: Vec<usize> = match digits {
                    Some(range) => range
                        .filter(|&n| {
                            text.len() >= n && text.as_bytes()[..n].iter().all(u8::is_ascii_digit)
                        })
                        .collect(),
                    None => text.char_indices().map(|(i, c)| i + c.len_utf8()).collect(),
                };
                for end in ends {
                    found.push(((*name).to_owned(), text[..end].to_owned()));
                    if go(others, &text[end..], found) {
                        return true;
                    }
                    found.pop();
                }
                false
            }
        }
    }
    let mut found = Vec::new();
    go(&pieces, path, &mut found).then_some(found)
}

impl Generator for Hexo {
    fn name(&self) -> &'static str {
        "hexo"
    }

    fn fingerprint(&self) -> u64 {
        self.fingerprint
    }

    fn interpret(
        &self,
        meta: Option<&Map<String, Value>>,
        src: &Source,
    ) -> Result<Verdict, FieldError> {
        if src.rel.split('/').any(|s| s.starts_with(['_', '.'])) {
            return Ok(Verdict::Page); // hidden from Hexo
        }
        if !decodes_as_uri(src.rel) {
            return Err(field_error(
                "",
                "Hexo cannot process this file (\"URIError: URI malformed\"): its name holds a `%` that is not followed by two hex digits, so Hexo leaves the post out of the site; rename the file",
            ));
        }
        let empty = Map::new();
        let meta = meta.unwrap_or(&empty);
        if meta.get("published").and_then(Value::as_bool) == Some(false) {
            return Ok(Verdict::Draft);
        }
        let path = src.rel.rfind('.').map_or(src.rel, |dot| &src.rel[..dot]);
        let info = parse_file_name(&self.new_post_name, path);
        let slug = info
            .get("title")
            .and_then(Value::as_str)
            .unwrap_or(path)
            .to_owned();
        let date = match common::date_of(meta, &["date"], |t| self.parse_date(t))? {
            Some((_, date)) => date,
            None => {
                let part = |name: &str| {
                    info.get(name)
                        .and_then(Value::as_str)
                        .and_then(|v| v.parse::<u32>().ok())
                };
                let from_name = match (
                    info.get("year")
                        .and_then(Value::as_str)
                        .and_then(|y| y.parse::<i32>().ok()),
                    part("month").or_else(|| part("i_month")),
                    part("day").or_else(|| part("i_day")),
                ) {
                    (Some(y), Some(m), Some(d)) => NaiveDate::from_ymd_opt(y, m, d)
                        .map(|day| dates::in_zone(day.and_time(NaiveTime::MIN), self.machine)),
                    _ => None,
                };
                match from_name {
                    Some(date) => self.adjust(date),
                    None => {
                        self.adjust(file_created(&self.site.content.join(src.rel), self.machine))
                    }
                }
            }
        };
        let updated = common::date_of(meta, &["updated"], |t| self.parse_date(t))?.map(|(_, d)| d);
        let categories = chains(
            meta.get("categories")
                .or_else(|| meta.get("category"))
                .filter(|v| !v.is_null()),
        );
        let tags = common::tags(meta);
        let title = common::title(meta, src, &slug);
        let local = date.with_timezone(&self.machine);
        let (url_key, permalink) =
            match text_of(meta.get("permalink")).filter(|p| !p.trim().is_empty()) {
                Some(own) => {
                    let mut own = own.trim().to_owned();
                    if self.post_asset_folder && !own.ends_with('/') && !own.ends_with(".html") {
                        own.push('/');
                    }
                    if !own.starts_with('/') {
                        own.insert(0, '/');
                    }
                    ("permalink", own)
                }
                None => {
                    let mut values = Map::new();
                    let id = common::id(meta, src);
                    values.insert("id".into(), Value::String(id));
                    values.insert("title".into(), Value::String(slug.clone()));
                    values.insert(
                        "name".into(),
                        Value::String(slug.rsplit('/').next().unwrap_or(&slug).to_owned()),
                    );
                    values.insert("post_title".into(), Value::String(slugize(&title, 1)));
                    for (key, value) in [
                        ("year", format!("{:04}", local.year())),
                        ("month", format!("{:02}", local.month())),
                        ("day", format!("{:02}", local.day())),
                        ("hour", format!("{:02}", local.hour())),
                        ("minute", format!("{:02}", local.minute())),
                        ("second", format!("{:02}", local.second())),
                        ("i_month", local.month().to_string()),
                        ("i_day", local.day().to_string()),
                        ("timestamp", local.timestamp().to_string()),
                    ] {
                        values.insert(key.into(), Value::String(value));
                    }
                    values.insert("hash".into(), Value::String(hash(&slug, date)));
                    let category = categories.last().map_or_else(
                        || self.default_category.clone(),
                        |chain| self.category_slug(chain),
                    );
                    values.insert("category".into(), Value::String(category));
                    for (key, value) in meta {
                        values.entry(key.clone()).or_insert_with(|| value.clone());
                    }
                    for (key, value) in &self.permalink_defaults {
                        values.entry(key.clone()).or_insert_with(|| value.clone());
                    }
                    let mut path = self.stringify(&self.permalink, &values);
                    if self.post_asset_folder && !path.ends_with('/') && !path.ends_with(".html") {
                        path.push('/');
                    }
                    ("permalink", path)
                }
            };
        let url = self
            .full_url(&permalink)
            .map_err(|e| field_error(url_key, format!("makes no usable URL: {e}")))?;
        let post = common::finish(
            meta,
            src,
            &self.site,
            Parts {
                id: common::id(meta, src),
                title,
                url,
                published: date,
                updated,
                categories,
                tags,
                terms: Vec::new(),
                visible_from: None,
                expires: None,
            },
            url_key,
        )?;
        Ok(Verdict::Post(Box::new(post)))
    }
}

/// Hexo's `:hash`: the first 12 hex digits of SHA-1 of the slug and the date's Unix time.
fn hash(slug: &str, date: DateTime<FixedOffset>) -> String {
    use sha1::{Digest, Sha1};
    let digest = Sha1::digest(format!("{slug}{}", date.timestamp()).as_bytes());
    crate::hex::encode(&digest[..6])
}

/// When the file was made (its modification time where the file system keeps no birth
/// time), on the build machine's clock.
fn file_created(path: &std::path::Path, machine: Tz) -> DateTime<FixedOffset> {
    let at = std::fs::metadata(path)
        .and_then(|m| m.created().or_else(|_| m.modified()))
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .and_then(|d| DateTime::from_timestamp(i64::try_from(d.as_secs()).ok()?, 0))
        .unwrap_or(DateTime::UNIX_EPOCH);
    machine.from_utc_datetime(&at.naive_utc()).fixed_offset()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// hexo-util's own examples (`test/slugize.spec.ts`).
    #[test]
    fn slugize_as_hexo_does() {
        assert_eq!(slugize("Hello World", 0), "Hello-World");
        assert_eq!(slugize("Hellô Wòrld", 0), "Hello-World");
        assert_eq!(slugize("Hello  World", 0), "Hello-World");
        assert_eq!(
            slugize("Hello ~`!@#$%^&*()-_+=[]{}|\\;:\"'<>,.?/World", 0),
            "Hello-World"
        );
        assert_eq!(slugize("Hello World", 1), "hello-world");
        assert_eq!(slugize("新闻 报道", 0), "新闻-报道");
    }

    #[test]
    fn file_names_as_new_post_name_reads_them() {
        let read = |rule: &str, path: &str| {
            let info = parse_file_name(rule, path);
            (
                info["title"].as_str().unwrap().to_owned(),
                info.get("year").and_then(Value::as_str).map(str::to_owned),
            )
        };
        assert_eq!(read(":title.md", "sub/hello"), ("sub/hello".into(), None));
        assert_eq!(
            read(":year-:month-:day-:title.md", "2021-01-02-hello"),
            ("hello".into(), Some("2021".into()))
        );
        assert_eq!(
            read(":year-:month-:day-:title.md", "hello world"),
            ("hello-world".into(), None)
        );
        assert_eq!(encode_uri("/a b/新/x?y#z"), "/a%20b/%E6%96%B0/x?y#z");
        assert!(decodes_as_uri("a%20b/新.md"));
        assert!(!decodes_as_uri("约35%被苹果打回.md"));
        assert!(!decodes_as_uri("a%e6.md"), "not UTF-8");
    }
}
