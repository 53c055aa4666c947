//! Hugo's rules, as Hugo 0.1xx applies them (read from its source: `resources/page/
//! permalinks.go`, `page_paths.go`, `common/paths`, `pagemeta`).
//!
//! - Configuration: `hugo.*` or `config.*` (TOML, YAML, JSON) at the site root, merged with
//!   `config/_default/` and `config/production/` (the environment `hugo` builds in), where a
//!   file named after a key (`permalinks.toml`) holds that key. Keys are case-insensitive.
//! - What is a post: a regular page with a date. `_index.*` is a section's list page; files
//!   beside a leaf bundle's `index.*` are its resources; a page without front matter or
//!   without a date is built but is not a post; `draft`, `build.render/list = never` and
//!   `headless` pages are not listed. `publishDate` in the future waits (unless
//!   `buildFuture`), `expiryDate` in the past leaves (unless `buildExpired`).
//! - Dates: `frontmatter.date` (default `date`, `publishDate`, `pubdate`, `published`,
//!   `lastmod`, `modified`) and the others, each keeping its own offset; one without an
//!   offset is read in `timeZone` (default UTC).
//! - Links: front-matter `url` as written; else the first `[permalinks]` rule whose section
//!   matches, expanded (`:year :month :monthname :day :weekday :weekdayname :yearday :section
//!   :sections :title :slug :filename :slugorfilename :contentbasename
//!   :slugorcontentbasename`); else the page's folder and its `slug` or file name. Every part
//!   is made a path as Hugo's `MakePathSanitized` does (only letters, digits, marks and
//!   `._~-#+@/` kept, spaces to hyphens) and lower-cased unless `disablePathToLower`;
//!   `uglyURLs` ends it in `.html`.
//! - Several languages: the default language's content only (`defaultContentLanguage`,
//!   under `/<lang>/` with `defaultContentLanguageInSubdir`); other languages' feeds are not
//!   published.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Datelike, FixedOffset};
use chrono_tz::Tz;
use serde_json::{Map, Value};
use url::Url;

use super::common::{self, Parts, first, is_true, names, text_of};
use super::contract::{FieldError, Generator, Setup, Site, Source, Verdict, field_error};
use crate::content::dates;

/// Hugo's configuration, as far as links, dates and publishing go.
#[derive(Debug)]
pub struct Hugo {
    site: Site,
    base: Url,
    /// The content folder of the default language, below the site root.
    pub content_dir: PathBuf,
    ugly: Ugly,
    lower: bool,
    zone: Tz,
    rules: Vec<Rule>,
    /// The default language and whether its pages live under `/<lang>/`.
    language: String,
    language_in_subdir: bool,
    /// Every configured language (suffixes like `post.fr.md` name one).
    languages: Vec<String>,
    build_future: bool,
    build_expired: bool,
    build_drafts: bool,
    date_keys: Vec<String>,
    publish_keys: Vec<String>,
    expiry_keys: Vec<String>,
    lastmod_keys: Vec<String>,
    /// `publishDir`: where `hugo` writes the site.
    pub publish_dir: String,
    /// The merged configuration, for `init` (title, language, zone).
    pub config: Map<String, Value>,
    fingerprint: u64,
}

/// `uglyURLs`: for every section, or per section.
#[derive(Debug)]
enum Ugly {
    All(bool),
    Sections(Vec<(String, bool)>),
}

/// One `[permalinks]` rule: pages whose path matches the glob get the pattern.
#[derive(Debug)]
struct Rule {
    glob: globset::GlobMatcher,
    pattern: String,
}

/// Hugo's default front-matter keys for each date, lower-cased as Hugo reads them.
const DEFAULT_DATE: &[&str] = &[
    "date",
    "publishdate",
    "pubdate",
    "published",
    "lastmod",
    "modified",
];
const DEFAULT_PUBLISH: &[&str] = &["publishdate", "pubdate", "published", "date"];
const DEFAULT_EXPIRY: &[&str] = &["expirydate", "unpublishdate"];
const DEFAULT_LASTMOD: &[&str] = &[
    "lastmod",
    "modified",
    "date",
    "publishdate",
    "pubdate",
    "published",
];

/// The site configuration file names Hugo looks for at the root, in order.
pub const CONFIG_FILES: [&str; 8] = [
    "hugo.toml",
    "hugo.yaml",
    "hugo.yml",
    "hugo.json",
    "config.toml",
    "config.yaml",
    "config.yml",
    "config.json",
];

/// Hugo's merged configuration, and the texts it was read from.
pub type Config = (Map<String, Value>, Vec<String>);

/// Reads and merges Hugo's configuration at `root`: the root file, then `config/_default/`,
/// then `config/production/`. `Ok(None)` when there is none. Returns the texts read too.
pub fn read_config(root: &Path) -> Result<Option<Config>, String> {
    let mut merged = Map::new();
    let mut texts = Vec::new();
    let mut found = false;
    if let Some(path) = super::config::first_existing(root, &CONFIG_FILES) {
        let text = std::fs::read_to_string(&path)
            .map_err(|e| format!("cannot read `{}`: {e}", path.display()))?;
        merge(
            &mut merged,
            lower_keys(super::config::parse_config(&path, &text)?),
        );
        texts.push(text);
        found = true;
    }
    for env in ["_default", "production"] {
        let dir = root.join("config").join(env);
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        let mut files: Vec<PathBuf> = entries.filter_map(|e| Some(e.ok()?.path())).collect();
        files.sort();
        for path in files {
            let Some(stem) = path.file_stem().and_then(|s| s.to_str()) else {
                continue;
            };
            let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
            if !matches!(ext, "toml" | "yaml" | "yml" | "json") {
                continue;
            }
            let text = std::fs::read_to_string(&path)
                .map_err(|e| format!("cannot read `{}`: {e}", path.display()))?;
            let value = lower_keys(super::config::parse_config(&path, &text)?);
            let stem = stem.to_lowercase();
            if stem == "hugo" || stem == "config" {
                merge(&mut merged, value);
            } else {
                // `languages.en.toml` holds `languages.en`; `menu.en.toml` the English menu,
                // which Hugo keeps under the language (and links do not need).
                let keys: Vec<&str> = stem.split('.').collect();
                let nested = match keys.as_slice() {
                    [key, lang] if *key != "languages" => vec!["languages", lang, key],
                    _ => keys,
                };
                let value = nested.iter().rev().fold(value, |inner, key| {
                    let mut one = Map::new();
                    one.insert((*key).to_owned(), inner);
                    Value::Object(one)
                });
                merge(&mut merged, value);
            }
            texts.push(text);
            found = true;
        }
    }
    Ok(found.then_some((merged, texts)))
}

/// Hugo's configuration keys are case-insensitive: every map key lower-cased.
fn lower_keys(value: Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| (k.to_lowercase(), lower_keys(v)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.into_iter().map(lower_keys).collect()),
        other => other,
    }
}

/// Merges `from` into `into`, maps deeply, later values winning.
fn merge(into: &mut Map<String, Value>, from: Value) {
    let Value::Object(from) = from else {
        return;
    };
    for (key, value) in from {
        match (into.get_mut(&key), value) {
            (Some(Value::Object(old)), Value::Object(new)) => merge(old, Value::Object(new)),
            (_, value) => {
                into.insert(key, value);
            }
        }
    }
}

fn as_bool(value: Option<&Value>) -> bool {
    match value {
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => s.eq_ignore_ascii_case("true"),
        _ => false,
    }
}

/// A `frontmatter.<date>` key list, with `:default` expanded; `:git` and file times are not
/// read (a content checkout's times say nothing of the post).
fn date_keys(config: &Map<String, Value>, which: &str, default: &[&str]) -> Vec<String> {
    let listed: Option<Vec<String>> = config
        .get("frontmatter")
        .and_then(|f| f.get(which))
        .and_then(Value::as_array)
        .map(|keys| {
            keys.iter()
                .filter_map(Value::as_str)
                .map(str::to_lowercase)
                .collect()
        });
    let Some(listed) = listed else {
        return default.iter().map(|k| (*k).to_owned()).collect();
    };
    let mut keys = Vec::new();
    for key in listed {
        match key.as_str() {
            ":default" => keys.extend(default.iter().map(|k| (*k).to_owned())),
            ":filename" => keys.push(key),
            k if k.starts_with(':') => {}
            _ => keys.push(key),
        }
    }
    keys
}

impl Hugo {
    pub fn load(setup: &Setup) -> Result<Hugo, String> {
        let (config, texts) = read_config(setup.root)?.ok_or_else(|| {
            format!(
                "no Hugo configuration in `{}` (hugo.toml, config.toml, config/_default/…)",
                setup.root.display()
            )
        })?;
        let base = config.get("baseurl").and_then(Value::as_str).unwrap_or("/");
        let base = crate::base_url::parse(base)
            .or_else(|_| Url::parse("https://example.org/"))
            .map_err(|e| e.to_string())?;
        let language = config
            .get("defaultcontentlanguage")
            .and_then(Value::as_str)
            .unwrap_or("en")
            .to_lowercase();
        let languages: Vec<String> = config
            .get("languages")
            .and_then(Value::as_object)
            .map(|l| l.keys().map(|k| k.to_lowercase()).collect())
            .unwrap_or_default();
        let content_dir = config
            .get("languages")
            .and_then(|l| l.get(&language))
            .and_then(|l| l.get("contentdir"))
            .or_else(|| config.get("contentdir"))
            .and_then(Value::as_str)
            .unwrap_or("content");
        let zone = match config.get("timezone").and_then(Value::as_str) {
            Some(name) if !name.is_empty() => name
                .parse::<Tz>()
                .map_err(|_| format!("Hugo's `timeZone = \"{name}\"` is not a time zone"))?,
            _ => Tz::UTC,
        };
        let ugly = match config.get("uglyurls") {
            Some(Value::Object(sections)) => Ugly::Sections(
                sections
                    .iter()
                    .map(|(k, v)| (k.to_lowercase(), as_bool(Some(v))))
                    .collect(),
            ),
            other => Ugly::All(as_bool(other)),
        };
        Ok(Hugo {
            site: setup.site.clone(),
            rules: rules(config.get("permalinks"))?,
            content_dir: PathBuf::from(content_dir),
            lower: !as_bool(config.get("disablepathtolower")),
            ugly,
            zone,
            language_in_subdir: as_bool(config.get("defaultcontentlanguageinsubdir")),
            language,
            languages,
            build_future: as_bool(config.get("buildfuture")),
            build_expired: as_bool(config.get("buildexpired")),
            build_drafts: as_bool(config.get("builddrafts")),
            date_keys: date_keys(&config, "date", DEFAULT_DATE),
            publish_keys: date_keys(&config, "publishdate", DEFAULT_PUBLISH),
            expiry_keys: date_keys(&config, "expirydate", DEFAULT_EXPIRY),
            lastmod_keys: date_keys(&config, "lastmod", DEFAULT_LASTMOD),
            publish_dir: config
                .get("publishdir")
                .and_then(Value::as_str)
                .unwrap_or("public")
                .to_owned(),
            fingerprint: super::config::hash_texts(texts.iter().map(String::as_str)),
            base,
            config,
        })
    }

    fn is_ugly(&self, section: &str) -> bool {
        match &self.ugly {
            Ugly::All(all) => *all,
            Ugly::Sections(sections) => sections.iter().any(|(s, on)| s == section && *on),
        }
    }

    /// Whether the file is a resource of a leaf bundle: a folder above it (or its own)
    /// holds an `index.*` content file that is not this file.
    fn in_leaf_bundle(&self, rel: &str) -> bool {
        let mut dir = Path::new(rel).parent();
        while let Some(d) = dir {
            if d.as_os_str().is_empty() {
                return false;
            }
            for name in ["index.md", "index.markdown", "index.html", "index.htm"] {
                let index = d.join(name);
                if index.to_str() != Some(rel) && self.site.content.join(&index).is_file() {
                    return true;
                }
            }
            dir = d.parent();
        }
        false
    }

    /// The page's current section, as Hugo counts sections: the top-level folder, and below
    /// it each folder that has an `_index.*`.
    fn sections(&self, dirs: &[&str]) -> Vec<String> {
        let mut sections = Vec::new();
        for (depth, _) in dirs.iter().enumerate() {
            let path: PathBuf = dirs[..=depth].iter().collect();
            let has_index = ["_index.md", "_index.markdown", "_index.html", "_index.htm"]
                .iter()
                .any(|n| self.site.content.join(&path).join(n).is_file());
            if depth == 0 || has_index {
                sections.push(dirs[depth].to_owned());
            } else {
                break;
            }
        }
        sections
    }

    /// A string made a path part as Hugo makes one (`MakePathSanitized`).
    fn path_part(&self, text: &str) -> String {
        let sane = sanitize(text);
        if self.lower {
            sane.to_lowercase()
        } else {
            sane
        }
    }

    /// Hugo's `urlize`: a path part, percent-encoded (then decoded again when the pattern is
    /// expanded: what matters is the sanitized text).
    fn urlize(&self, text: &str) -> String {
        self.path_part(text)
    }

    fn date_in(&self, text: &str) -> Result<DateTime<FixedOffset>, String> {
        dates::parse(text, self.zone)
    }

    /// The first of `keys` that holds a date (`:filename`: a date the file name starts with).
    fn date(
        &self,
        meta: &Map<String, Value>,
        keys: &[String],
        file_date: Option<DateTime<FixedOffset>>,
    ) -> Result<Option<DateTime<FixedOffset>>, FieldError> {
        for key in keys {
            if key == ":filename" {
                if file_date.is_some() {
                    return Ok(file_date);
                }
                continue;
            }
            if let Some(value) = meta.get(key).filter(|v| !v.is_null()) {
                let text = common::date_text(value)
                    .ok_or_else(|| field_error(static_key(key), "is not a date"))?;
                if text.trim().is_empty() {
                    continue;
                }
                return self
                    .date_in(&text)
                    .map(Some)
                    .map_err(|e| field_error(static_key(key), e));
            }
        }
        Ok(None)
    }
}

/// A date key as an error names it (errors carry `&'static str` keys).
fn static_key(key: &str) -> &'static str {
    [
        "date",
        "publishdate",
        "pubdate",
        "published",
        "lastmod",
        "modified",
        "expirydate",
        "unpublishdate",
    ]
    .into_iter()
    .find(|k| *k == key)
    .unwrap_or("date")
}

/// `[permalinks]` in its forms: `section = pattern` (pages and terms), `[permalinks.page]
/// section = pattern`, and the list of `{ target = { kind, path }, pattern }`.
fn rules(value: Option<&Value>) -> Result<Vec<Rule>, String> {
    let mut rules = Vec::new();
    let glob_of = |section: &str| {
        let section = section.trim_matches([' ', '/']).to_lowercase();
        if section.is_empty() {
            "/*".to_owned()
        } else {
            format!("/{{{section},{section}/**}}")
        }
    };
    let mut add = |glob: &str, pattern: &str| -> Result<(), String> {
        let glob = globset::GlobBuilder::new(glob)
            .literal_separator(true)
            .build()
            .map_err(|e| format!("Hugo's `permalinks`: `{glob}`: {e}"))?
            .compile_matcher();
        rules.push(Rule {
            glob,
            pattern: pattern.to_owned(),
        });
        Ok(())
    };
    match value {
        Some(Value::Object(map)) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            for key in keys {
                match &map[key] {
                    Value::String(pattern) => add(&glob_of(key), pattern)?,
                    Value::Object(by_section) if key == "page" => {
                        let mut sections: Vec<&String> = by_section.keys().collect();
                        sections.sort();
                        for section in sections {
                            if let Some(pattern) = by_section[section].as_str() {
                                add(&glob_of(section), pattern)?;
                            }
                        }
                    }
                    _ => {}
                }
            }
        }
        Some(Value::Array(list)) => {
            for rule in list {
                let Some(pattern) = rule.get("pattern").and_then(Value::as_str) else {
                    continue;
                };
                let target = rule.get("target");
                let kind = target
                    .and_then(|t| t.get("kind"))
                    .and_then(Value::as_str)
                    .unwrap_or("page");
                if kind != "page" {
                    continue;
                }
                let path = target
                    .and_then(|t| t.get("path"))
                    .and_then(Value::as_str)
                    .unwrap_or("**")
                    .to_lowercase();
                add(&path, pattern)?;
            }
        }
        _ => {}
    }
    Ok(rules)
}

/// Hugo's `paths.Sanitize`: letters, digits, marks and `. / \ _ # + ~ - @` (and `%` before
/// two hex digits) are kept; a run of spaces between kept characters becomes one hyphen;
/// anything else is dropped.
pub fn sanitize(text: &str) -> String {
    use unicode_general_category::{GeneralCategory as G, get_general_category};
    let bytes = text.as_bytes();
    let allowed = |i: usize, c: char| -> bool {
        if c == ' ' {
            return false;
        }
        let category = get_general_category(c);
        let letter = matches!(
            category,
            G::UppercaseLetter
                | G::LowercaseLetter
                | G::TitlecaseLetter
                | G::ModifierLetter
                | G::OtherLetter
        );
        let mark = matches!(
            category,
            G::NonspacingMark | G::SpacingMark | G::EnclosingMark
        );
        letter
            || category == G::DecimalNumber
            || mark
            || matches!(c, '.' | '/' | '\\' | '_' | '#' | '+' | '~' | '-' | '@')
            || (c == '%'
                && i + 2 < bytes.len()
                && bytes[i + 1].is_ascii_hexdigit()
                && bytes[i + 2].is_ascii_hexdigit())
    };
    let mut out = String::with_capacity(text.len());
    let mut prepend_hyphen = false;
    let mut was_hyphen = false;
    for (i, c) in text.char_indices() {
        if allowed(i, c) {
            was_hyphen = c == '-';
            if prepend_hyphen {
                if !was_hyphen {
                    out.push('-');
                }
                prepend_hyphen = false;
            }
            out.push(c);
        } else if !out.is_empty() && !was_hyphen && is_go_space(c) {
            prepend_hyphen = true;
        }
    }
    out
}

/// Go's `unicode.IsSpace`.
fn is_go_space(c: char) -> bool {
    matches!(
        c,
        '\t' | '\n' | '\u{0B}' | '\u{0C}' | '\r' | ' ' | '\u{85}' | '\u{A0}'
    ) || (c as u32 > 0xff && c.is_whitespace())
}

/// Go's `url.URL.EscapedPath` of a path: bytes other than `A–Z a–z 0–9 - _ . ~ $ & + , / : ;
/// = @` percent-encoded (upper-case hex); `%XX` already there is kept.
pub fn escape_path(path: &str) -> String {
    let decoded = percent_encoding::percent_decode_str(path).decode_utf8_lossy();
    let mut out = String::with_capacity(decoded.len());
    for b in decoded.bytes() {
        let keep = b.is_ascii_alphanumeric()
            || matches!(
                b,
                b'-' | b'_'
                    | b'.'
                    | b'~'
                    | b'$'
                    | b'&'
                    | b'+'
                    | b','
                    | b'/'
                    | b':'
                    | b';'
                    | b'='
                    | b'@'
            );
        if keep {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A file's parts as Hugo reads its path.
struct PathParts<'a> {
    /// Folders below the content folder (a bundle's own folder excluded).
    dirs: Vec<&'a str>,
    /// The file name without extension and language (a bundle's folder name for `index`).
    base: &'a str,
    /// The language a `name.<lang>.md` file names, if any.
    lang: Option<&'a str>,
    /// `index.md`: a leaf bundle, named after its folder.
    bundle: bool,
}

fn path_parts<'a>(rel: &'a str, languages: &[String]) -> PathParts<'a> {
    let mut segments: Vec<&str> = rel.split('/').collect();
    let file = segments.pop().unwrap_or("");
    let stem = file.rfind('.').map_or(file, |dot| &file[..dot]);
    let (stem, lang) = match stem.rsplit_once('.') {
        Some((name, lang)) if languages.iter().any(|l| l == &lang.to_lowercase()) => {
            (name, Some(lang))
        }
        _ => (stem, None),
    };
    if stem == "index" && !segments.is_empty() {
        let base = segments.pop().unwrap_or("");
        return PathParts {
            dirs: segments,
            base,
            lang,
            bundle: true,
        };
    }
    PathParts {
        dirs: segments,
        base: stem,
        lang,
        bundle: false,
    }
}

impl Generator for Hugo {
    fn name(&self) -> &'static str {
        "hugo"
    }

    fn fingerprint(&self) -> u64 {
        self.fingerprint
    }

    fn interpret(
        &self,
        meta: Option<&Map<String, Value>>,
        src: &Source,
    ) -> Result<Verdict, FieldError> {
        let parts = path_parts(src.rel, &self.languages);
        if parts.base == "_index" || parts.base.starts_with("_index.") {
            return Ok(Verdict::Page); // a section's list page
        }
        if parts
            .lang
            .is_some_and(|lang| !lang.eq_ignore_ascii_case(&self.language))
        {
            return Ok(Verdict::Page); // another language's: not published here
        }
        if !parts.bundle && self.in_leaf_bundle(src.rel) {
            return Ok(Verdict::Page); // a bundle's resource
        }
        let Some(meta) = meta else {
            return Ok(Verdict::Page); // built without a date: not a post
        };
        // Hugo reads front-matter keys case-insensitively.
        let meta: Map<String, Value> = meta
            .iter()
            .map(|(k, v)| (k.to_lowercase(), v.clone()))
            .collect();
        if as_bool(meta.get("draft")) && !self.build_drafts {
            return Ok(Verdict::Draft);
        }
        let build = meta.get("_build").or_else(|| meta.get("build"));
        let never = |key: &str| {
            build
                .and_then(|b| b.get(key))
                .is_some_and(|v| v.as_str() == Some("never") || v.as_bool() == Some(false))
        };
        if never("render") || never("list") || is_true(meta.get("headless")) {
            return Ok(Verdict::Page);
        }
        let file_date = dates::from_file_name(parts.base)
            .map(|(day, _)| dates::in_zone(day.and_time(chrono::NaiveTime::MIN), self.zone));
        let Some(date) = self.date(&meta, &self.date_keys, file_date)? else {
            return Ok(Verdict::Page); // Hugo builds it dated 0001: not a post
        };
        let publish = self.date(&meta, &self.publish_keys, file_date)?;
        let expiry = self.date(&meta, &self.expiry_keys, file_date)?;
        let updated = self
            .date(&meta, &self.lastmod_keys, file_date)?
            .filter(|u| *u != date);
        let visible_from = if self.build_future {
            Some(DateTime::<FixedOffset>::MIN_UTC.fixed_offset())
        } else {
            publish.filter(|p| *p != date)
        };
        let expires = expiry.filter(|_| !self.build_expired);

        let title = common::title(&meta, src, parts.base);
        // With `:filename` among the date keys, the rest of a dated file name is the slug.
        let file_slug = self
            .date_keys
            .iter()
            .any(|k| k == ":filename")
            .then(|| dates::from_file_name(parts.base).map(|(_, rest)| rest.to_owned()))
            .flatten();
        let slug = text_of(meta.get("slug"))
            .filter(|s| !s.trim().is_empty())
            .or(file_slug);
        let (url_key, link) = self.link(&meta, &parts, &title, slug.as_deref(), date)?;
        let url = self
            .base
            .join(link.trim_start_matches('/'))
            .map_err(|e| field_error(url_key, format!("makes no usable URL: {e}")))?;
        let categories = names(first(&meta, &["categories", "category"]).map(|(_, v)| v))
            .into_iter()
            .map(|name| vec![name])
            .collect();
        let tags = names(meta.get("tags"));
        let post = common::finish(
            &meta,
            src,
            &self.site,
            Parts {
                id: common::id(&meta, src),
                title,
                url,
                published: date,
                updated,
                categories,
                tags,
                terms: Vec::new(),
                visible_from,
                expires,
            },
            url_key,
        )?;
        Ok(Verdict::Post(Box::new(post)))
    }
}

impl Hugo {
    /// The page's link below the site root, and the key that made it.
    fn link(
        &self,
        meta: &Map<String, Value>,
        parts: &PathParts,
        title: &str,
        slug: Option<&str>,
        date: DateTime<FixedOffset>,
    ) -> Result<(&'static str, String), FieldError> {
        let prefix = if self.language_in_subdir {
            format!("/{}", self.language)
        } else {
            String::new()
        };
        let section = parts
            .dirs
            .first()
            .map(|s| s.to_lowercase())
            .unwrap_or_default();
        if let Some(url) = text_of(meta.get("url")).filter(|u| !u.trim().is_empty()) {
            let url = url.trim();
            let url = if url.contains(':') {
                self.expand(url, parts, title, slug, date)
            } else {
                url.to_owned()
            };
            let mut link: String = format!(
                "/{}",
                url.split('/')
                    .filter(|s| !s.is_empty())
                    .collect::<Vec<_>>()
                    .join("/")
            );
            let last = link.rsplit('/').next().unwrap_or("");
            if (url.ends_with('/') || !last.contains('.')) && !link.ends_with('/') {
                link.push('/');
            }
            if !prefix.is_empty() && !url.starts_with('/') {
                link = format!("{prefix}{link}");
            }
            return Ok(("url", escape_path(&link.replace('#', "%23"))));
        }
        // The page's path as Hugo matches permalink rules: normalised (lower case, spaces
        // as hyphens), without extension.
        let mut page_path = String::new();
        for dir in &parts.dirs {
            page_path.push('/');
            page_path.push_str(dir);
        }
        page_path.push('/');
        page_path.push_str(parts.base);
        let page_path = page_path.to_lowercase().replace(' ', "-");
        let expanded = self
            .rules
            .iter()
            .find(|rule| rule.glob.is_match(&page_path))
            .map(|rule| self.expand(&rule.pattern, parts, title, slug, date));
        let mut elements: Vec<String> = Vec::new();
        match &expanded {
            Some(expanded) => {
                let decoded = percent_encoding::percent_decode_str(expanded)
                    .decode_utf8_lossy()
                    .into_owned();
                let cleaned = clean_path(&decoded);
                if !cleaned.is_empty() && cleaned != "/" {
                    elements.push(cleaned);
                }
            }
            None => {
                let normal = |s: &str| -> String {
                    if self.lower {
                        s.to_lowercase().replace(' ', "-")
                    } else {
                        s.to_owned()
                    }
                };
                let dir: Vec<String> = parts.dirs.iter().map(|d| normal(d)).collect();
                if !dir.is_empty() {
                    elements.push(dir.join("/"));
                }
                elements.push(match slug {
                    Some(slug) => slug.to_owned(),
                    None => normal(parts.base),
                });
            }
        }
        let ugly = self.is_ugly(&section);
        let mut path = String::new();
        for element in &elements {
            let part = self.path_part(element);
            let part = part.trim_matches('/');
            if part.is_empty() {
                continue;
            }
            path.push('/');
            path.push_str(part);
        }
        if ugly {
            path.push_str(".html");
        } else {
            path.push('/');
        }
        let link = format!("{prefix}{path}").replace('#', "%23");
        Ok(("permalink", escape_path(&link)))
    }

    /// A permalink pattern expanded for this page.
    fn expand(
        &self,
        pattern: &str,
        parts: &PathParts,
        title: &str,
        slug: Option<&str>,
        date: DateTime<FixedOffset>,
    ) -> String {
        let pattern = pattern.replace("\\:", "\u{0}");
        let mut out = String::with_capacity(pattern.len() + 16);
        let mut rest = pattern.as_str();
        while let Some(at) = rest.find(':') {
            out.push_str(&rest[..at]);
            let after = &rest[at + 1..];
            let len = after
                .char_indices()
                .find(|(_, c)| !(c.is_alphanumeric() || *c == '_'))
                .map_or(after.len(), |(i, _)| i);
            let attr = &after[..len];
            let mut consumed = len;
            // `:sections[1:]` and the like.
            let mut cut = None;
            if after[len..].starts_with('[')
                && let Some(close) = after[len..].find(']')
            {
                cut = Some(&after[len..len + close + 1]);
                consumed = len + close + 1;
            }
            match self.attribute(attr, cut, parts, title, slug, date) {
                Some(value) => out.push_str(&value),
                None => {
                    out.push(':');
                    out.push_str(&after[..consumed]);
                }
            }
            rest = &after[consumed..];
        }
        out.push_str(rest);
        out.replace('\u{0}', ":")
    }

    #[allow(clippy::too_many_arguments)]
    fn attribute(
        &self,
        attr: &str,
        cut: Option<&str>,
        parts: &PathParts,
        title: &str,
        slug: Option<&str>,
        date: DateTime<FixedOffset>,
    ) -> Option<String> {
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
            "Sunday",
            "Monday",
            "Tuesday",
            "Wednesday",
            "Thursday",
            "Friday",
            "Saturday",
        ];
        let file_name = if parts.base == "_index" {
            String::new()
        } else {
            self.urlize(parts.base)
        };
        let sections = || self.sections(&parts.dirs);
        Some(match attr {
            "year" => date.year().to_string(),
            "month" => format!("{:02}", date.month()),
            "monthname" => MONTHS[date.month0() as usize].to_owned(),
            "day" => format!("{:02}", date.day()),
            "weekday" => date.weekday().num_days_from_sunday().to_string(),
            "weekdayname" => DAYS[date.weekday().num_days_from_sunday() as usize].to_owned(),
            "yearday" => date.ordinal().to_string(),
            "section" => parts
                .dirs
                .first()
                .map(|s| s.to_lowercase())
                .unwrap_or_default(),
            "sections" => {
                let all = sections();
                slice(&all, cut).join("/")
            }
            "title" => self.urlize(title),
            "slug" => self.urlize(slug.unwrap_or(title)),
            "slugorfilename" => slug.map_or(file_name, |s| self.urlize(s)),
            "filename" | "contentbasename" => file_name,
            "slugorcontentbasename" => slug.map_or(file_name, |s| self.urlize(s)),
            _ => return None,
        })
    }
}

/// `[low:high]`, `[n]` or `[last]` of `items`, as Hugo cuts `:sections`.
fn slice<'a>(items: &'a [String], cut: Option<&str>) -> &'a [String] {
    let Some(cut) = cut.map(|c| c.trim().to_lowercase()) else {
        return items;
    };
    let inner = cut.trim_start_matches('[').trim_end_matches(']');
    let index = |s: &str, low: bool| -> usize {
        match s {
            "" if low => 0,
            "" => items.len(),
            "last" => items.len().saturating_sub(1),
            n => n.parse::<usize>().unwrap_or(0).min(items.len()),
        }
    };
    match inner.split_once(':') {
        Some((low, high)) => {
            let (low, high) = (index(low, true), index(high, false));
            if low <= high { &items[low..high] } else { &[] }
        }
        None => {
            let n = index(inner, true);
            items.get(n..n + 1).unwrap_or(&[])
        }
    }
}

/// Go's `path.Clean` for a slash path.
fn clean_path(path: &str) -> String {
    let rooted = path.starts_with('/');
    let mut out: Vec<&str> = Vec::new();
    for segment in path.split('/') {
        match segment {
            "" | "." => {}
            ".." => {
                if out.last().is_some_and(|s| *s != "..") {
                    out.pop();
                } else if !rooted {
                    out.push("..");
                }
            }
            s => out.push(s),
        }
    }
    let joined = out.join("/");
    if rooted {
        format!("/{joined}")
    } else if joined.is_empty() {
        ".".into()
    } else {
        joined
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Hugo's own examples (`helpers/url_test.go`, `common/paths/path_test.go`).
    #[test]
    fn sanitize_as_hugo_does() {
        for (input, expected) in [
            ("  Foo bar  ", "Foo-bar"),
            ("Foo.Bar/foo_Bar-Foo", "Foo.Bar/foo_Bar-Foo"),
            ("fOO,bar:foobAR", "fOObarfoobAR"),
            ("FOo/BaR.html", "FOo/BaR.html"),
            ("FOo/Ba---R.html", "FOo/Ba---R.html"),
            ("FOo/Ba       R.html", "FOo/Ba-R.html"),
            ("трям/трям", "трям/трям"),
            ("은행", "은행"),
            ("Банковский кассир", "Банковский-кассир"),
            ("संस्कृत", "संस्कृत"),
            ("a%C3%B1ame", "a%C3%B1ame"),
            ("this+is+a+test", "this+is+a+test"),
            ("~foo", "~foo"),
            ("foo--bar", "foo--bar"),
            ("foo - bar", "foo-bar"),
            ("foo# bar", "foo#-bar"),
            ("Vim (text editor)", "Vim-text-editor"),
        ] {
            assert_eq!(sanitize(input), expected, "{input}");
        }
    }

    #[test]
    fn escaped_paths_as_go_writes_them() {
        assert_eq!(escape_path("/posts/新闻/"), "/posts/%E6%96%B0%E9%97%BB/");
        assert_eq!(escape_path("/a+b@c/~d/"), "/a+b@c/~d/");
        assert_eq!(escape_path("/a%23b/"), "/a%23b/");
    }

    #[test]
    fn sections_cut_as_hugo_cuts_them() {
        let all: Vec<String> = ["a", "b", "c"].iter().map(|s| (*s).to_owned()).collect();
        assert_eq!(slice(&all, Some("[1:]")), &all[1..]);
        assert_eq!(slice(&all, Some("[:last]")), &all[..2]);
        assert_eq!(slice(&all, Some("[last]")), &all[2..]);
        assert_eq!(slice(&all, Some("[5]")), &[] as &[String]);
        assert_eq!(clean_path("/2020/01//x/../y/"), "/2020/01/y");
    }
}
