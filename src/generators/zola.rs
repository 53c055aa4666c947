//! Zola's rules, as Zola 0.22 applies them (read from its source: `content/src/page.rs`,
//! `file_info.rs`, `front_matter/page.rs`, `utils/src/slugs.rs`, `config/`).
//!
//! - `_index.md` files are sections (list pages), not posts; a page's link is its folders
//!   below `content` as written, then its slug: front-matter `slug`, else the file name (a
//!   colocated `index.md` takes its folder's name), without a leading date
//!   (`2024-01-01-slug.md`, `2024-01-01_slug.md`), made a path by `slugify.paths`: `on`
//!   (the `slug` crate Zola uses: lower case, ASCII, `-` between words), `safe` (only what
//!   file systems refuse removed) or `off`. A front-matter `path` wins.
//! - The date is the front matter's `date`, else one leading the file name; a time without
//!   an offset is UTC, as Zola reads it. A page without a date is no post: Zola leaves it out
//!   of its feeds. (tidings also takes a date from a `path` like `2024/01/02/slug`, as sites
//!   that write no `date`, such as the Rust blog, date their own feed templates by it.)
//!   `draft = true` is a draft.
//! - Taxonomies are those `config.toml` declares: `categories` and `tags` as tidings' own,
//!   any other (`theme-tags`) with one feed set per term.
//! - Several languages: the default language's pages only (`page.fr.md` is another's).

use chrono::{DateTime, FixedOffset, NaiveDate, NaiveTime};
use serde_json::{Map, Value};
use url::Url;

use super::common::{self, Parts, is_true, names, text_of};
use super::contract::{FieldError, Generator, Setup, Site, Source, Taxonomy, Verdict, field_error};
use crate::content::dates;

/// How Zola makes a path of a name (`slugify.paths`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Slugify {
    On,
    Safe,
    Off,
}

/// Zola's configuration, as far as pages go.
#[derive(Debug)]
pub struct Zola {
    site: Site,
    base: String,
    paths: Slugify,
    keep_dates: bool,
    default_language: String,
    languages: Vec<String>,
    /// Declared taxonomies other than categories and tags.
    others: Vec<Taxonomy>,
    /// Whether `categories` and `tags` are declared (a page's are read only then).
    has_categories: bool,
    has_tags: bool,
    fingerprint: u64,
}

impl Zola {
    pub fn load(setup: &Setup) -> Result<Zola, String> {
        let path = setup.root.join("config.toml");
        let text = std::fs::read_to_string(&path)
            .map_err(|e| format!("cannot read Zola's `{}`: {e}", path.display()))?;
        let config = super::config::parse_config(&path, &text)?;
        let base = config
            .get("base_url")
            .and_then(Value::as_str)
            .ok_or_else(|| format!("`{}` has no `base_url`", path.display()))?
            .to_owned();
        let strategy = |key: &str| -> Result<Slugify, String> {
            match config
                .get("slugify")
                .and_then(|s| s.get(key))
                .and_then(Value::as_str)
                .unwrap_or("on")
            {
                "on" => Ok(Slugify::On),
                "safe" => Ok(Slugify::Safe),
                "off" => Ok(Slugify::Off),
                other => Err(format!(
                    "Zola's `slugify.{key} = \"{other}\"` is not on, safe or off"
                )),
            }
        };
        let declared: Vec<String> = config
            .get("taxonomies")
            .and_then(Value::as_array)
            .map(|list| {
                list.iter()
                    .filter_map(|t| t.get("name").and_then(Value::as_str).map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        Ok(Zola {
            site: setup.site.clone(),
            base,
            paths: strategy("paths")?,
            keep_dates: config
                .get("slugify")
                .and_then(|s| s.get("paths_keep_dates"))
                .and_then(Value::as_bool)
                .unwrap_or(false),
            default_language: config
                .get("default_language")
                .and_then(Value::as_str)
                .unwrap_or("en")
                .to_owned(),
            languages: config
                .get("languages")
                .and_then(Value::as_object)
                .map(|l| l.keys().cloned().collect())
                .unwrap_or_default(),
            has_categories: declared.iter().any(|n| n == "categories"),
            has_tags: declared.iter().any(|n| n == "tags"),
            others: declared
                .iter()
                .filter(|n| *n != "categories" && *n != "tags")
                .map(|name| Taxonomy { name: name.clone() })
                .collect(),
            fingerprint: super::config::hash_texts([text.as_str()]),
        })
    }

    fn slugify(&self, text: &str) -> String {
        match self.paths {
            Slugify::On => slug::slugify(text),
            Slugify::Safe => text
                .trim_end_matches([' ', '.'])
                .chars()
                .filter(|c| !r#"<>:"/\|?*"#.contains(*c))
                .collect(),
            Slugify::Off => text.to_owned(),
        }
    }

    /// Zola's `make_permalink`.
    fn permalink(&self, path: &str) -> String {
        let trailing = if path.ends_with('/') || path.is_empty() || path.contains('#') {
            ""
        } else {
            "/"
        };
        if self.base.ends_with('/') && path.starts_with('/') {
            format!("{}{}{trailing}", self.base, &path[1..])
        } else if self.base.ends_with('/') || path.starts_with('/') {
            format!("{}{path}{trailing}", self.base)
        } else {
            format!("{}/{path}{trailing}", self.base)
        }
    }
}

/// A date leading a file name, as Zola's `RFC3339_DATE` reads it: the date (or date and time
/// with an offset) and the rest after `-` or `_` (with an optional space before).
fn dated_file_name(name: &str) -> Option<(String, Option<&str>)> {
    let b = name.as_bytes();
    let digits = |from: usize, n: usize| {
        b.len() >= from + n && b[from..from + n].iter().all(u8::is_ascii_digit)
    };
    if !(digits(0, 4) && b[4] == b'-' && digits(5, 2) && b[7] == b'-' && digits(8, 2)) {
        return None;
    }
    NaiveDate::parse_from_str(&name[..10], "%Y-%m-%d").ok()?;
    let mut end = 10;
    // An optional `THH:MM:SS[.f](Z|±HH:MM)`.
    if b.get(10) == Some(&b'T') {
        let rest = &name[10..];
        if let Some(len) = rfc3339_time_len(rest) {
            end = 10 + len;
        }
    }
    let date = name[..end].to_owned();
    let mut rest = &name[end..];
    rest = rest.strip_prefix(' ').unwrap_or(rest);
    let slug = rest
        .strip_prefix('-')
        .or_else(|| rest.strip_prefix('_'))
        .filter(|s| !s.is_empty());
    Some((date, slug))
}

/// The length of `THH:MM:SS[.fff](Z|±HH:MM)` at the start of `text`, if it is one.
fn rfc3339_time_len(text: &str) -> Option<usize> {
    let b = text.as_bytes();
    let digit = |i: usize| b.get(i).is_some_and(u8::is_ascii_digit);
    if !(b.first() == Some(&b'T')
        && digit(1)
        && digit(2)
        && b.get(3) == Some(&b':')
        && digit(4)
        && digit(5)
        && b.get(6) == Some(&b':')
        && digit(7)
        && digit(8))
    {
        return None;
    }
    let mut i = 9;
    if b.get(i) == Some(&b'.') {
        i += 1;
        while digit(i) {
            i += 1;
        }
    }
    match b.get(i) {
        Some(b'Z') => Some(i + 1),
        Some(b'+' | b'-')
            if digit(i + 1)
                && digit(i + 2)
                && b.get(i + 3) == Some(&b':')
                && digit(i + 4)
                && digit(i + 5) =>
        {
            Some(i + 6)
        }
        _ => None,
    }
}

/// A date as Zola reads it: RFC 3339, or one without an offset (UTC), or a day (midnight
/// UTC).
fn parse_date(text: &str) -> Result<DateTime<FixedOffset>, String> {
    let text = text.trim();
    if let Ok(date) = DateTime::parse_from_rfc3339(text) {
        return Ok(date);
    }
    if let Ok(date) = DateTime::parse_from_rfc3339(&format!("{text}Z")) {
        return Ok(date);
    }
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .map(|day| day.and_time(NaiveTime::MIN).and_utc().fixed_offset())
        .map_err(|_| format!("`{text}` is not a date Zola reads (RFC 3339 or YYYY-MM-DD)"))
}

impl Generator for Zola {
    fn name(&self) -> &'static str {
        "zola"
    }

    fn fingerprint(&self) -> u64 {
        self.fingerprint
    }

    fn taxonomies(&self) -> &[Taxonomy] {
        &self.others
    }

    fn interpret(
        &self,
        meta: Option<&Map<String, Value>>,
        src: &Source,
    ) -> Result<Verdict, FieldError> {
        let mut components: Vec<&str> = src.rel.split('/').collect();
        let file = components.pop().unwrap_or("");
        let stem = file.rfind('.').map_or(file, |dot| &file[..dot]);
        if stem == "_index" || stem.starts_with("_index.") {
            return Ok(Verdict::Page); // a section
        }
        // `name.fr` is a page in French (when French is configured).
        let (stem, lang) = match stem.split_once('.') {
            Some((name, lang)) if self.languages.iter().any(|l| l == lang) => (name, Some(lang)),
            _ => (stem, None),
        };
        if lang.is_some_and(|l| l != self.default_language) {
            return Ok(Verdict::Page);
        }
        let Some(meta) = meta else {
            return Ok(Verdict::Page); // Zola needs front matter; tidings does not guess
        };
        if is_true(meta.get("draft")) {
            return Ok(Verdict::Draft);
        }
        // A colocated `index.md` is named after its folder.
        let name = if stem == "index" && !components.is_empty() {
            components.pop().unwrap_or("")
        } else {
            stem
        };
        let dated = dated_file_name(name);
        let date_text = common::date_text_of(meta.get("date"))
            .or_else(|| dated.as_ref().map(|(date, _)| date.clone()));
        let date = match date_text {
            Some(text) => parse_date(&text).map_err(|e| field_error("date", e))?,
            // Not Zola's: a `path` holding `YYYY/MM/DD` dates the page, as sites without
            // `date` (the Rust blog) date their own feed by it.
            None => match text_of(meta.get("path"))
                .as_deref()
                .and_then(dates::from_url_path)
            {
                Some(day) => day.and_time(NaiveTime::MIN).and_utc().fixed_offset(),
                None => return Ok(Verdict::Page), // undated: not in Zola's feeds
            },
        };
        let slug = match text_of(meta.get("slug")).filter(|s| !s.is_empty()) {
            Some(slug) => self.slugify(&slug),
            None => match &dated {
                Some((_, Some(rest))) if !self.keep_dates => self.slugify(rest),
                _ => self.slugify(name),
            },
        };
        let (url_key, path) = match text_of(meta.get("path")).filter(|p| !p.trim().is_empty()) {
            Some(path) => {
                let path = path.trim();
                let mut path = if path.starts_with('/') {
                    path.to_owned()
                } else {
                    format!("/{path}")
                };
                if !path.ends_with('/') {
                    path.push('/');
                }
                ("path", path)
            }
            None => {
                let path = if components.is_empty() {
                    format!("/{slug}/")
                } else {
                    format!("/{}/{slug}/", components.join("/"))
                };
                ("slug", path)
            }
        };
        let url = Url::parse(&self.permalink(&path))
            .map_err(|e| field_error(url_key, format!("makes no usable URL: {e}")))?;
        let taxonomies = meta.get("taxonomies").and_then(Value::as_object);
        let terms_of = |name: &str| names(taxonomies.and_then(|t| t.get(name)));
        let categories = if self.has_categories {
            terms_of("categories")
                .into_iter()
                .map(|c| vec![c])
                .collect()
        } else {
            Vec::new()
        };
        let tags = if self.has_tags {
            terms_of("tags")
        } else {
            Vec::new()
        };
        let terms = self
            .others
            .iter()
            .map(|t| (t.name.clone(), terms_of(&t.name)))
            .filter(|(_, terms)| !terms.is_empty())
            .collect();
        let updated = match common::date_text_of(meta.get("updated")) {
            Some(text) => Some(parse_date(&text).map_err(|e| field_error("updated", e))?),
            None => None,
        };
        let post = common::finish(
            meta,
            src,
            &self.site,
            Parts {
                id: common::id(meta, src),
                title: common::title(meta, src, name),
                url,
                published: date,
                updated,
                categories,
                tags,
                terms,
                visible_from: None,
                expires: None,
            },
            url_key,
        )?;
        Ok(Verdict::Post(Box::new(post)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Zola's own examples (`utils/src/slugs.rs`).
    #[test]
    fn slugify_as_zola_does() {
        let zola = |paths| Zola {
            site: Site {
                url: Url::parse("https://example.org/").unwrap(),
                content: "content".into(),
                author: None,
            },
            base: "https://example.org".into(),
            paths,
            keep_dates: false,
            default_language: "en".into(),
            languages: Vec::new(),
            others: Vec::new(),
            has_categories: true,
            has_tags: true,
            fingerprint: 0,
        };
        for (input, on, safe, off) in [
            ("input", "input", "input", "input"),
            ("test ", "test", "test", "test "),
            ("tes t", "tes-t", "tes t", "tes t"),
            ("dot. ", "dot", "dot", "dot. "),
            ("日本", "ri-ben", "日本", "日本"),
            ("héhé", "hehe", "héhé", "héhé"),
            ("test (hey)", "test-hey", "test (hey)", "test (hey)"),
        ] {
            assert_eq!(zola(Slugify::On).slugify(input), on);
            assert_eq!(zola(Slugify::Safe).slugify(input), safe);
            assert_eq!(zola(Slugify::Off).slugify(input), off);
        }
        assert_eq!(
            zola(Slugify::On).permalink("/a/b/"),
            "https://example.org/a/b/"
        );
    }

    #[test]
    fn dates_in_file_names() {
        assert_eq!(
            dated_file_name("2024-01-01-slug"),
            Some(("2024-01-01".into(), Some("slug")))
        );
        assert_eq!(
            dated_file_name("2024-01-01_slug"),
            Some(("2024-01-01".into(), Some("slug")))
        );
        assert_eq!(
            dated_file_name("2024-01-01T10:00:00+02:00-slug"),
            Some(("2024-01-01T10:00:00+02:00".into(), Some("slug")))
        );
        assert_eq!(dated_file_name("2024-13-01-slug"), None);
        assert_eq!(dated_file_name("plain"), None);
        assert_eq!(
            parse_date("2024-01-01T10:00:00").unwrap().to_rfc3339(),
            "2024-01-01T10:00:00+00:00"
        );
    }
}
