//! Words shown to readers, from a catalog per language: data, not code.
//!
//! English and Simplified Chinese are compiled in (`templates/i18n/*.toml`); a file of the
//! same name in `templates/i18n/` beside the settings rewords any of their keys, and a file
//! for another language adds that language. Templates call `t("key", n=…, name=…)`; a key
//! with `one` and `other` forms is chosen by `n` (Chinese, Japanese and Korean have only
//! `other`), and `{name}` in the text is replaced by the value passed.

use std::collections::HashMap;
use std::path::Path;

use minijinja::value::{Kwargs, Value};
use minijinja::{Environment, Error, ErrorKind};
use serde::Deserialize;

/// One entry: plain text, or forms by number.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
enum Entry {
    Text(String),
    Plural { one: Option<String>, other: String },
}

/// A catalog file: keyed entries, and the phrases of the server's pages keyed by their
/// English text (table `[pages]`).
#[derive(Debug, Deserialize)]
struct File {
    #[serde(default)]
    pages: HashMap<String, String>,
    #[serde(flatten)]
    entries: HashMap<String, Entry>,
}

/// The words of one language.
#[derive(Debug, Clone)]
pub struct Catalog {
    /// The language tag the words are for (`en`, `zh-CN`, …).
    pub language: String,
    entries: HashMap<String, Entry>,
    /// The server's pages: English text → this language's.
    phrases: HashMap<String, String>,
    /// Whether the language has a singular form (`1 post` / `2 posts`).
    has_one: bool,
}

/// The catalog key of the date pattern.
const DATE_FORMAT: &str = "date_format";

const EN: &str = include_str!("../templates/i18n/en.toml");
const ZH_CN: &str = include_str!("../templates/i18n/zh-CN.toml");

fn parse(text: &str, origin: &str) -> Result<File, String> {
    toml::from_str(text).map_err(|e| format!("word catalog `{origin}`: {e}"))
}

impl Catalog {
    /// The catalog for `language` (none: English): the built-in words of that language (or
    /// English), with `templates/i18n/<language>.toml` beside the settings laid over them.
    pub fn load(base: &Path, language: Option<&str>) -> Result<Catalog, String> {
        let language = language.unwrap_or("en").to_owned();
        let lower = language.to_ascii_lowercase();
        let File {
            mut entries,
            pages: mut phrases,
        } = parse(EN, "en")?;
        let mut lay = |file: File| {
            entries.extend(file.entries);
            phrases.extend(file.pages);
        };
        if lower.starts_with("zh") {
            lay(parse(ZH_CN, "zh-CN")?);
        }
        let own = base.join("templates/i18n").join(format!("{language}.toml"));
        if own.is_file() {
            let text = std::fs::read_to_string(&own)
                .map_err(|e| format!("cannot read `{}`: {e}", own.display()))?;
            lay(parse(&text, &own.display().to_string())?);
        }
        let has_one = !["zh", "ja", "ko"].iter().any(|l| lower.starts_with(l));
        // A date pattern chrono cannot read would fail where a date is shown: refused here.
        if let Some(Entry::Text(pattern)) = entries.get(DATE_FORMAT)
            && chrono::format::StrftimeItems::new(pattern)
                .any(|item| matches!(item, chrono::format::Item::Error))
        {
            return Err(format!(
                "word catalog `{language}`: `{DATE_FORMAT} = \"{pattern}\"` is not a date pattern (strftime, e.g. \"%Y-%m-%d\")"
            ));
        }
        Ok(Catalog {
            language,
            entries,
            phrases,
            has_one,
        })
    }

    /// The words for `key`, the form for `n`, with `{name}` replaced from `args`. A key the
    /// catalog lacks shows as itself, so a template typo is visible, never fatal.
    pub fn text(&self, key: &str, n: Option<i64>, args: &[(&str, String)]) -> String {
        let template = match self.entries.get(key) {
            Some(Entry::Text(text)) => text.as_str(),
            Some(Entry::Plural { one, other }) => match (n, one) {
                (Some(1), Some(one)) if self.has_one => one.as_str(),
                _ => other.as_str(),
            },
            None => key,
        };
        let mut out = template.to_owned();
        if let Some(n) = n {
            out = out.replace("{n}", &n.to_string());
        }
        for (name, value) in args {
            out = out.replace(&format!("{{{name}}}"), value);
        }
        out
    }

    /// A date as readers of this language write it (`date_format`, a strftime pattern).
    pub fn date<Tz: chrono::TimeZone>(&self, at: &chrono::DateTime<Tz>) -> String
    where
        Tz::Offset: std::fmt::Display,
    {
        match self.entries.get(DATE_FORMAT) {
            Some(Entry::Text(pattern)) => at.format(pattern).to_string(),
            _ => at.format("%Y-%m-%d").to_string(),
        }
    }

    /// A phrase of the server's pages in this language (the English text when the catalog
    /// has none), with `{name}` replaced from `args`.
    pub fn phrase(&self, english: &str, args: &[(&str, String)]) -> String {
        let mut out = self
            .phrases
            .get(english)
            .map_or(english, String::as_str)
            .to_owned();
        for (name, value) in args {
            out = out.replace(&format!("{{{name}}}"), value);
        }
        out
    }

    /// Adds `t(key, n=…, name=…)` and `p(english, name=…)` to a template environment.
    pub fn register(&self, env: &mut Environment<'_>) {
        let catalog = self.clone();
        env.add_function(
            "t",
            move |key: String, kwargs: Kwargs| -> Result<String, Error> {
                let mut n = None;
                let mut args = Vec::new();
                for name in kwargs.args() {
                    let value: Value = kwargs.get(name)?;
                    if name == "n" {
                        n = Some(i64::try_from(value.clone()).map_err(|_| {
                            Error::new(ErrorKind::InvalidOperation, "`n` must be a number")
                        })?);
                    }
                    args.push((name, value.to_string()));
                }
                Ok(catalog.text(&key, n, &args))
            },
        );
        let catalog = self.clone();
        env.add_function(
            "p",
            move |english: String, kwargs: Kwargs| -> Result<String, Error> {
                let mut args = Vec::new();
                for name in kwargs.args() {
                    let value: Value = kwargs.get(name)?;
                    args.push((name, value.to_string()));
                }
                Ok(catalog.phrase(&english, &args))
            },
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plurals_and_languages() {
        let dir = tempfile::tempdir().unwrap();
        let en = Catalog::load(dir.path(), Some("en")).unwrap();
        let site = [("site", "Example".to_owned())];
        assert_eq!(
            en.text("new_posts_on", Some(1), &site),
            "1 new post on Example"
        );
        assert_eq!(
            en.text("new_posts_on", Some(2), &site),
            "2 new posts on Example"
        );
        let zh = Catalog::load(dir.path(), Some("zh-CN")).unwrap();
        assert_eq!(
            zh.text("new_posts_on", Some(1), &site),
            "Example 有 1 篇新文章"
        );
        assert_eq!(zh.text("unsubscribe", None, &[]), "退订");
        assert_eq!(en.text("no_such_key", None, &[]), "no_such_key");
        // A user's own file rewords a key and leaves the rest.
        std::fs::create_dir_all(dir.path().join("templates/i18n")).unwrap();
        std::fs::write(
            dir.path().join("templates/i18n/zh-CN.toml"),
            "unsubscribe = \"取消订阅\"\n",
        )
        .unwrap();
        let own = Catalog::load(dir.path(), Some("zh-CN")).unwrap();
        assert_eq!(own.text("unsubscribe", None, &[]), "取消订阅");
        assert_eq!(own.text("other_posts", None, &[]), "其他");
        std::fs::write(dir.path().join("templates/i18n/zh-CN.toml"), "x = [").unwrap();
        assert!(Catalog::load(dir.path(), Some("zh-CN")).is_err());
    }

    #[test]
    fn dates_as_each_language_writes_them() {
        let dir = tempfile::tempdir().unwrap();
        let at = chrono::DateTime::parse_from_rfc3339("2022-07-24T00:55:00+08:00").unwrap();
        let en = Catalog::load(dir.path(), Some("en")).unwrap();
        let zh = Catalog::load(dir.path(), Some("zh-CN")).unwrap();
        assert_eq!(en.date(&at), "Jul 24, 2022");
        assert_eq!(zh.date(&at), "2022年7月24日");
        std::fs::create_dir_all(dir.path().join("templates/i18n")).unwrap();
        std::fs::write(
            dir.path().join("templates/i18n/en.toml"),
            "date_format = \"%Q\"\n",
        )
        .unwrap();
        let err = Catalog::load(dir.path(), Some("en")).unwrap_err();
        assert!(err.contains("date_format"), "{err}");
    }

    #[test]
    fn every_built_in_key_is_in_every_built_in_language() {
        let en = parse(EN, "en").unwrap().entries;
        let zh = parse(ZH_CN, "zh-CN").unwrap().entries;
        let mut missing: Vec<&String> = en.keys().filter(|k| !zh.contains_key(*k)).collect();
        missing.extend(zh.keys().filter(|k| !en.contains_key(*k)));
        assert!(missing.is_empty(), "{missing:?}");
    }
}
