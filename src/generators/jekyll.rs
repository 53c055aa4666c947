//! Jekyll's rules, as Jekyll 4 applies them (read from its source: `document.rb`,
//! `url.rb`, `drops/url_drop.rb`, `utils.rb`, `frontmatter_defaults.rb`).
//!
//! - The content folder is the site's source: posts are the files in any `_posts` folder
//!   (below `collections_dir`) whose names start with a date (`2024-01-03-title.md`); files
//!   in `_drafts` are drafts; every other file is a page, not a post.
//! - Front matter is merged over `defaults` whose scope matches (path prefix or glob, type
//!   `posts`), the more specific last.
//! - The date is the file name's, or the front matter's `date`, read as Ruby's `Time.parse`
//!   reads it (an offset is kept as an instant; text it does not take as a zone, such as a
//!   repeated year before the offset, leaves the time in the site's zone) and shown in
//!   `timezone`. `published: false` is unpublished (unless `unpublished: true`); a post
//!   dated in the future waits (unless `future: true`).
//! - Links: front-matter (or defaults') `permalink`, else `collections.posts.permalink`,
//!   else the site's `permalink` (`date` by default; `pretty`, `ordinal`, `weekdate`, `none`
//!   or a pattern), with every placeholder of Jekyll's URL drop.
//! - Categories: the folders above `_posts`, then `category`/`categories`; tags `tag`/`tags`
//!   (a string is split at spaces).

use std::path::Path;

use chrono::{DateTime, Datelike, FixedOffset, NaiveDate, NaiveTime, Timelike};
use chrono_tz::Tz;
use serde_json::{Map, Value};
use url::Url;

use super::common::{self, Parts, text_of};
use super::contract::{FieldError, Generator, Setup, Site, Source, Verdict, field_error};
use crate::content::dates;

/// Jekyll's configuration, as far as posts go.
#[derive(Debug)]
pub struct Jekyll {
    site: Site,
    base: Url,
    zone: Tz,
    /// The posts' link template (a style already expanded).
    template: String,
    future: bool,
    unpublished: bool,
    /// `collections_dir`, with a trailing `/` (or empty).
    collections_dir: String,
    defaults: Vec<Default>,
    fingerprint: u64,
}

/// One `defaults` entry.
#[derive(Debug)]
struct Default {
    path: String,
    kind: Option<String>,
    values: Map<String, Value>,
}

/// Jekyll's named permalink styles.
fn style(name: &str) -> Option<&'static str> {
    Some(match name {
        "date" => "/:categories/:year/:month/:day/:title:output_ext",
        "pretty" => "/:categories/:year/:month/:day/:title/",
        "ordinal" => "/:categories/:year/:y_day/:title:output_ext",
        "weekdate" => "/:categories/:year/W:week/:short_day/:title:output_ext",
        "none" => "/:categories/:title:output_ext",
        _ => return None,
    })
}

impl Jekyll {
    pub fn load(setup: &Setup) -> Result<Jekyll, String> {
        let path = setup.root.join("_config.yml");
        let text = std::fs::read_to_string(&path)
            .map_err(|e| format!("cannot read Jekyll's `{}`: {e}", path.display()))?;
        let config = super::config::parse_config(&path, &text)?;
        let get = |key: &str| config.get(key);
        let truthy = |key: &str| get(key).and_then(Value::as_bool).unwrap_or(false);
        let url = get("url")
            .and_then(Value::as_str)
            .unwrap_or("http://localhost:4000");
        let baseurl = get("baseurl").and_then(Value::as_str).unwrap_or("");
        let base = crate::base_url::parse(&format!(
            "{}/{}",
            url.trim_end_matches('/'),
            baseurl.trim_matches('/')
        ))?;
        let zone = match get("timezone").and_then(Value::as_str) {
            Some(name) => name
                .parse::<Tz>()
                .map_err(|_| format!("Jekyll's `timezone: {name}` is not a time zone"))?,
            None => setup.build_timezone.unwrap_or(setup.timezone),
        };
        let site_permalink = get("permalink").and_then(Value::as_str).unwrap_or("date");
        let posts_permalink = get("collections")
            .and_then(|c| c.get("posts"))
            .and_then(|p| p.get("permalink"))
            .and_then(Value::as_str)
            .unwrap_or(site_permalink);
        let template = style(posts_permalink)
            .map(str::to_owned)
            .unwrap_or_else(|| posts_permalink.to_owned());
        let defaults = get("defaults")
            .and_then(Value::as_array)
            .map(|list| {
                list.iter()
                    .filter_map(|entry| {
                        let scope = entry.get("scope");
                        Some(Default {
                            path: scope
                                .and_then(|s| s.get("path"))
                                .and_then(Value::as_str)
                                .unwrap_or("")
                                .trim_matches('/')
                                .to_owned(),
                            kind: scope
                                .and_then(|s| s.get("type"))
                                .and_then(Value::as_str)
                                .map(str::to_owned),
                            values: entry.get("values")?.as_object()?.clone(),
                        })
                    })
                    .collect()
            })
            .unwrap_or_default();
        let collections_dir = get("collections_dir")
            .and_then(Value::as_str)
            .map(|d| d.trim_matches('/'))
            .filter(|d| !d.is_empty())
            .map(|d| format!("{d}/"))
            .unwrap_or_default();
        Ok(Jekyll {
            site: setup.site.clone(),
            base,
            zone,
            template,
            future: truthy("future"),
            unpublished: truthy("unpublished"),
            collections_dir,
            defaults,
            fingerprint: super::config::hash_texts([text.as_str()]),
        })
    }

    /// The defaults whose scope takes `rel`, least specific first.
    fn defaults_for(&self, rel: &str) -> Map<String, Value> {
        let mut matching: Vec<&Default> = self
            .defaults
            .iter()
            .filter(|d| d.kind.as_deref().is_none_or(|k| k == "posts"))
            .filter(|d| scope_takes(&d.path, rel))
            .collect();
        matching.sort_by_key(|d| d.path.split('/').filter(|s| !s.is_empty()).count());
        let mut merged = Map::new();
        for d in matching {
            for (k, v) in &d.values {
                merged.insert(k.clone(), v.clone());
            }
        }
        merged
    }

    /// A date as Jekyll reads it, shown in the site's zone. YAML reads an unquoted date
    /// and time without a zone as UTC (Psych's timestamps); anything else goes through
    /// `Time.parse`, which reads a time without a zone in the site's zone.
    fn parse_date(&self, text: &str) -> Result<DateTime<FixedOffset>, String> {
        let cleaned = ruby_time_text(text);
        let zone = if is_yaml_timestamp_without_zone(text) {
            Tz::UTC
        } else {
            self.zone
        };
        let parsed = dates::parse(&cleaned, zone)?;
        Ok(parsed.with_timezone(&self.zone).fixed_offset())
    }
}

/// Whether a `defaults` scope path takes `rel`: empty takes all, a glob matches, else a
/// folder prefix.
fn scope_takes(scope: &str, rel: &str) -> bool {
    if scope.is_empty() {
        return true;
    }
    if scope.contains('*') {
        return globset::Glob::new(scope).is_ok_and(|g| {
            let matcher = g.compile_matcher();
            Path::new(rel).ancestors().any(|a| matcher.is_match(a))
        });
    }
    rel == scope || rel.starts_with(&format!("{scope}/"))
}

/// Text as Ruby's `Time.parse` takes it: a year written again after the time
/// (`2023-01-29 18:30:22 2023 -0800`, as `date` prints) makes it ignore what follows, so the
/// time stays in the local zone; that is read here as a zone-less time.
fn ruby_time_text(text: &str) -> String {
    let words: Vec<&str> = text.split_whitespace().collect();
    if words.len() >= 3
        && words[2].len() == 4
        && words[2].bytes().all(|b| b.is_ascii_digit())
        && words[1].contains(':')
    {
        return format!("{} {}", words[0], words[1]);
    }
    text.to_owned()
}

/// Whether YAML 1.1 reads `text` as a timestamp with a time of day and no zone
/// (`2022-10-10 23:30:00`): Psych makes it a UTC time. (A quoted one is text, which Jekyll
/// reads in the site's zone; the front matter's quotes are not seen here.)
fn is_yaml_timestamp_without_zone(text: &str) -> bool {
    let b = text.trim().as_bytes();
    let digits = |from: usize, n: usize| {
        b.len() >= from + n && b[from..from + n].iter().all(u8::is_ascii_digit)
    };
    if !(digits(0, 4) && b.get(4) == Some(&b'-')) {
        return false;
    }
    // YYYY-M(M)-D(D)
    let mut i = 5;
    let month = (1..=2)
        .rev()
        .find(|&n| digits(i, n) && b.get(i + n) == Some(&b'-'));
    let Some(month) = month else { return false };
    i += month + 1;
    let Some(day) = (1..=2).rev().find(|&n| digits(i, n)) else {
        return false;
    };
    i += day;
    if !matches!(b.get(i), Some(b'T' | b't' | b' ' | b'\t')) {
        return false; // a date alone is a Date, read as local midnight
    }
    while matches!(b.get(i), Some(b'T' | b't' | b' ' | b'\t')) {
        i += 1;
    }
    let Some(hour) = (1..=2)
        .rev()
        .find(|&n| digits(i, n) && b.get(i + n) == Some(&b':'))
    else {
        return false;
    };
    i += hour + 1;
    if !(digits(i, 2) && b.get(i + 2) == Some(&b':') && digits(i + 3, 2)) {
        return false;
    }
    i += 5;
    if b.get(i) == Some(&b'.') {
        i += 1;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
    }
    i == b.len()
}

/// Jekyll's `Utils.slugify` in `pretty` (`cased`) or `default` mode.
fn slugify(text: &str, pretty: bool, cased: bool) -> String {
    use unicode_general_category::{GeneralCategory as G, get_general_category};
    let keep = |c: char| {
        let category = get_general_category(c);
        let letter_mark_digit = matches!(
            category,
            G::UppercaseLetter
                | G::LowercaseLetter
                | G::TitlecaseLetter
                | G::ModifierLetter
                | G::OtherLetter
                | G::NonspacingMark
                | G::SpacingMark
                | G::EnclosingMark
                | G::DecimalNumber
        );
        letter_mark_digit || (pretty && "._~!$&'()+,;=@".contains(c))
    };
    let mut out = String::with_capacity(text.len());
    let mut in_run = false;
    for c in text.chars() {
        if keep(c) {
            out.push(c);
            in_run = false;
        } else if !in_run {
            out.push('-');
            in_run = true;
        }
    }
    let trimmed = out.strip_prefix('-').unwrap_or(&out);
    let trimmed = trimmed.strip_suffix('-').unwrap_or(trimmed);
    if cased {
        trimmed.to_owned()
    } else {
        trimmed.to_lowercase()
    }
}

/// Jekyll's `URL.escape_path`: as is when only `[a-zA-Z0-9./-]`, else percent-encoded but
/// for the characters a path may hold.
fn escape_path(text: &str) -> String {
    if text
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'/' | b'-'))
    {
        return text.to_owned();
    }
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        let keep = b.is_ascii_alphanumeric()
            || matches!(
                b,
                b'-' | b'.'
                    | b'_'
                    | b'~'
                    | b'!'
                    | b'$'
                    | b'&'
                    | b'\''
                    | b'('
                    | b')'
                    | b'*'
                    | b'+'
                    | b','
                    | b';'
                    | b'='
                    | b':'
                    | b'@'
                    | b'/'
            );
        if keep {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `category`/`categories` (or `tag`/`tags`): the singular key's value, else the plural's (a
/// string split at spaces).
fn pluralized(data: &Map<String, Value>, singular: &str, plural: &str) -> Vec<String> {
    let scalar = |v: &Value| match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    };
    if let Some(value) = data.get(singular).filter(|v| !v.is_null()) {
        return match value {
            Value::Array(items) => items.iter().filter_map(scalar).collect(),
            other => scalar(other).into_iter().collect(),
        };
    }
    match data.get(plural) {
        Some(Value::String(s)) => s.split_whitespace().map(str::to_owned).collect(),
        Some(Value::Array(items)) => items.iter().filter_map(scalar).collect(),
        Some(other) => scalar(other).into_iter().collect(),
        None => Vec::new(),
    }
}

impl Generator for Jekyll {
    fn name(&self) -> &'static str {
        "jekyll"
    }

    fn fingerprint(&self) -> u64 {
        self.fingerprint
    }

    fn interpret(
        &self,
        meta: Option<&Map<String, Value>>,
        src: &Source,
    ) -> Result<Verdict, FieldError> {
        let rel = src.rel;
        let Some(inside) = rel.strip_prefix(self.collections_dir.as_str()) else {
            return Ok(Verdict::Page);
        };
        let segments: Vec<&str> = inside.split('/').collect();
        if segments.contains(&"_drafts") {
            return Ok(Verdict::Draft);
        }
        let Some(posts_at) = segments.iter().position(|s| *s == "_posts") else {
            return Ok(Verdict::Page);
        };
        // Folders above `_posts` that Jekyll reads: none starting with `_` or `.`.
        let above = &segments[..posts_at];
        if above.iter().any(|s| s.starts_with(['_', '.'])) {
            return Ok(Verdict::Page);
        }
        let file = segments.last().copied().unwrap_or("");
        let Some((file_date, slug, ext)) = dated_name(file) else {
            return Ok(Verdict::Page); // not a post: Jekyll skips it
        };
        let mut data = self.defaults_for(rel);
        // Folders above `_posts` are the first categories.
        let mut categories: Vec<String> = above.iter().map(|s| (*s).to_owned()).collect();
        if let Some(meta) = meta {
            for (k, v) in meta {
                data.insert(k.clone(), v.clone());
            }
        }
        if data.get("published").and_then(Value::as_bool) == Some(false) && !self.unpublished {
            return Ok(Verdict::Draft);
        }
        let slug = text_of(data.get("slug"))
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| slug.trim_end_matches('.').to_owned());
        let date = match common::date_of(&data, &["date"], |t| self.parse_date(t))? {
            Some((_, date)) => date,
            None => dates::in_zone(file_date.and_time(NaiveTime::MIN), self.zone),
        };
        for category in pluralized(&data, "category", "categories") {
            if !categories.contains(&category) {
                categories.push(category);
            }
        }
        let tags = {
            let mut tags: Vec<String> = Vec::new();
            for tag in pluralized(&data, "tag", "tags") {
                if !tags.contains(&tag) {
                    tags.push(tag);
                }
            }
            tags
        };
        let title = common::title(&data, src, &titleize(&slug));
        let template = text_of(data.get("permalink"))
            .filter(|p| !p.trim().is_empty())
            .unwrap_or_else(|| self.template.clone());
        let output_ext = if matches!(ext, ".html" | ".htm") {
            ext.to_owned()
        } else {
            ".html".to_owned()
        };
        let path = url_path(
            &template,
            &Values {
                slug: &slug,
                name: file.rsplit_once('.').map_or(file, |(n, _)| n),
                categories: &categories,
                date: date.with_timezone(&self.zone),
                output_ext: &output_ext,
                path: &segments[posts_at..].join("/"),
            },
        )
        .map_err(|e| field_error("permalink", e))?;
        let url = self
            .base
            .join(path.trim_start_matches('/'))
            .map_err(|e| field_error("permalink", format!("makes no usable URL: {e}")))?;
        let post = common::finish(
            &data,
            src,
            &self.site,
            Parts {
                id: common::id(&data, src),
                title,
                url,
                published: date,
                updated: common::date_of(&data, &["last_modified_at", "updated"], |t| {
                    self.parse_date(t)
                })?
                .map(|(_, d)| d),
                categories: categories.into_iter().map(|c| vec![c]).collect(),
                tags,
                terms: Vec::new(),
                visible_from: self
                    .future
                    .then(|| DateTime::<FixedOffset>::MIN_UTC.fixed_offset()),
                expires: None,
            },
            "permalink",
        )?;
        Ok(Verdict::Post(Box::new(post)))
    }
}

/// `2024-01-03-title.md` → (the date, `title`, `.md`), as Jekyll's post names are.
fn dated_name(file: &str) -> Option<(NaiveDate, &str, &str)> {
    let dot = file.rfind('.')?;
    let (stem, ext) = (&file[..dot], &file[dot..]);
    let mut parts = stem.splitn(4, '-');
    let year: i32 = parts
        .next()
        .filter(|p| (2..=4).contains(&p.len()))?
        .parse()
        .ok()?;
    let month: u32 = parts
        .next()
        .filter(|p| (1..=2).contains(&p.len()))?
        .parse()
        .ok()?;
    let day: u32 = parts
        .next()
        .filter(|p| (1..=2).contains(&p.len()))?
        .parse()
        .ok()?;
    let slug = parts.next()?;
    Some((NaiveDate::from_ymd_opt(year, month, day)?, slug, ext))
}

/// Jekyll's `titleize_slug`: words capitalised.
fn titleize(slug: &str) -> String {
    slug.split('-')
        .map(|word| {
            let mut chars = word.chars();
            match chars.next() {
                Some(first) => first.to_uppercase().chain(chars).collect(),
                None => String::new(),
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// What a post gives its link template.
struct Values<'a> {
    slug: &'a str,
    /// The file name without extension (the date included).
    name: &'a str,
    categories: &'a [String],
    date: DateTime<Tz>,
    output_ext: &'a str,
    /// The path below the collection (`_posts/…`), without extension.
    path: &'a str,
}

/// The template with every `:placeholder` replaced (escaped), then cleaned as Jekyll's
/// `URL#sanitize_url` does.
fn url_path(template: &str, v: &Values) -> Result<String, String> {
    const MONTHS: [&str; 12] = [
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ];
    const DAYS: [&str; 7] = [
        "Monday",
        "Tuesday",
        "Wednesday",
        "Thursday",
        "Friday",
        "Saturday",
        "Sunday",
    ];
    let d = v.date;
    let mut out = String::with_capacity(template.len() + 32);
    let mut rest = template;
    while let Some(at) = rest.find(':') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        let len = after
            .bytes()
            .take_while(|b| b.is_ascii_lowercase() || *b == b'_')
            .count();
        let name = &after[..len];
        let value: String = match name {
            "" => {
                out.push(':');
                rest = after;
                continue;
            }
            "collection" => "posts".into(),
            "path" => v
                .path
                .rsplit_once('.')
                .map_or(v.path, |(p, _)| p)
                .to_owned(),
            "name" => slugify(v.name, false, false),
            "title" => slugify(v.slug, true, true),
            "slug" => slugify(v.slug, false, false),
            "categories" => {
                let mut seen: Vec<String> = Vec::new();
                for c in v.categories {
                    let lower = c.to_lowercase();
                    if !seen.contains(&lower) {
                        seen.push(lower);
                    }
                }
                seen.join("/")
            }
            "slugified_categories" => {
                let mut seen: Vec<String> = Vec::new();
                for c in v.categories {
                    let slug = slugify(c, false, false);
                    if !seen.contains(&slug) {
                        seen.push(slug);
                    }
                }
                seen.join("/")
            }
            "year" => format!("{:04}", d.year()),
            "month" => format!("{:02}", d.month()),
            "day" => format!("{:02}", d.day()),
            "hour" => format!("{:02}", d.hour()),
            "minute" => format!("{:02}", d.minute()),
            "second" => format!("{:02}", d.second()),
            "i_day" => d.day().to_string(),
            "i_month" => d.month().to_string(),
            "short_month" => MONTHS[d.month0() as usize][..3].to_owned(),
            "long_month" => MONTHS[d.month0() as usize].to_owned(),
            "short_year" => format!("{:02}", d.year() % 100),
            "w_year" => d.iso_week().year().to_string(),
            "week" => format!("{:02}", d.iso_week().week()),
            "w_day" => d.weekday().number_from_monday().to_string(),
            "short_day" => DAYS[d.weekday().num_days_from_monday() as usize][..3].to_owned(),
            "long_day" => DAYS[d.weekday().num_days_from_monday() as usize].to_owned(),
            "y_day" => format!("{:03}", d.ordinal()),
            "output_ext" => v.output_ext.to_owned(),
            other => {
                return Err(format!(
                    "the link template has `:{other}`, which Jekyll does not know"
                ));
            }
        };
        out.push_str(&escape_path(&value));
        rest = &after[len..];
    }
    out.push_str(rest);
    // `URL#sanitize_url`.
    let mut url = format!("/{out}").replace("..", "/").replace("./", "");
    while url.contains("//") {
        url = url.replace("//", "/");
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Jekyll's own examples (`test/test_utils.rb`).
    #[test]
    fn slugify_as_jekyll_does() {
        assert_eq!(
            slugify("Working with drafts", false, false),
            "working-with-drafts"
        );
        assert_eq!(
            slugify("  Working with drafts   ", false, false),
            "working-with-drafts"
        );
        assert_eq!(
            slugify("Working_with drafts", false, false),
            "working-with-drafts"
        );
        assert_eq!(
            slugify("The _config.yml file?", true, false),
            "the-_config.yml-file"
        );
        assert_eq!(
            slugify("fürtive glance!!!!", false, false),
            "fürtive-glance"
        );
        assert_eq!(
            slugify("Jekyll's 4.3 Release", true, true),
            "Jekyll's-4.3-Release"
        );
        assert_eq!(slugify("新闻 稿", true, true), "新闻-稿");
    }

    #[test]
    fn ruby_reads_a_repeated_year_as_the_end_of_the_time() {
        assert_eq!(
            ruby_time_text("2023-01-29 18:30:22 2023 -0800"),
            "2023-01-29 18:30:22"
        );
        assert_eq!(
            ruby_time_text("2025-01-29 18:15:32 +0530"),
            "2025-01-29 18:15:32 +0530"
        );
    }

    #[test]
    fn yaml_timestamps_without_a_zone() {
        assert!(is_yaml_timestamp_without_zone("2022-10-10 23:30:00"));
        assert!(is_yaml_timestamp_without_zone("2022-1-1T3:04:05.25"));
        assert!(!is_yaml_timestamp_without_zone("2022-10-10"));
        assert!(!is_yaml_timestamp_without_zone("2022-10-10 23:30:00 +0200"));
        assert!(!is_yaml_timestamp_without_zone("2022-10-10 23:30"));
    }

    #[test]
    fn names_of_posts() {
        let (date, slug, ext) = dated_name("2024-1-3-welcome.md").unwrap();
        assert_eq!(
            (date.to_string(), slug, ext),
            ("2024-01-03".into(), "welcome", ".md")
        );
        assert!(dated_name("welcome.md").is_none());
        assert_eq!(titleize("hello-world"), "Hello World");
    }
}
