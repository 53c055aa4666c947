//! `[feeds]`: which feeds are written where, in which formats, with how much of each post,
//! and which WebSub hubs they name.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use url::Url;

use super::raw::RawFeeds;

/// A feed format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Format {
    Rss,
    Atom,
    Json,
}

impl Format {
    /// The file name a feed of this format is written to.
    pub fn file_name(self) -> &'static str {
        match self {
            Format::Rss => "rss.xml",
            Format::Atom => "atom.xml",
            Format::Json => "feed.json",
        }
    }

    /// Every format, for recognising files this program wrote.
    pub const ALL: [Format; 3] = [Format::Rss, Format::Atom, Format::Json];
}

/// What an item carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContentMode {
    /// The summary and the whole post.
    Full,
    /// The summary only.
    Summary,
}

/// `[feeds]`, validated.
#[derive(Debug, Clone)]
pub struct Feeds {
    pub dir: PathBuf,
    /// Always ends with `/`.
    pub url: Url,
    /// In the order given; the first is the one listed in `index.opml`.
    pub formats: Vec<Format>,
    /// `None` means every post.
    pub limit: Option<usize>,
    pub content: ContentMode,
    pub summary_length: usize,
    pub categories: bool,
    pub tags: bool,
    pub category_map: BTreeMap<String, String>,
    pub tag_map: BTreeMap<String, String>,
    /// WebSub hubs named in every feed.
    pub hubs: Vec<Url>,
    /// Whether RSS and Atom feeds name `feed.xsl`, written beside them.
    pub stylesheet: bool,
}

/// `[feeds]`, checked; the feeds' folder must not hold the posts' folder.
pub fn feeds(
    raw: RawFeeds,
    base: &Path,
    site_url: &Url,
    content_dir: &Path,
) -> Result<Feeds, (String, String)> {
    let invalid = |key: &str, message: String| (format!("feeds.{key}"), message);
    let url = match &raw.url {
        Some(u) => crate::base_url::parse(u).map_err(|m| invalid("url", m))?,
        None => site_url
            .join("feeds/")
            .expect("a relative path joins any base URL"),
    };
    let formats = parse_formats(&raw.formats).map_err(|m| invalid("formats", m))?;
    let content = match raw.content.as_str() {
        "full" => ContentMode::Full,
        "summary" => ContentMode::Summary,
        other => {
            return Err(invalid(
                "content",
                format!("`{other}` is not one of `full`, `summary`"),
            ));
        }
    };
    if raw.summary_length == 0 {
        return Err(invalid("summary_length", "must be at least 1".into()));
    }
    check_map(&raw.category_map).map_err(|m| invalid("category_map", m))?;
    check_map(&raw.tag_map).map_err(|m| invalid("tag_map", m))?;
    let dir = base.join(&raw.dir);
    if content_dir.starts_with(&dir) {
        return Err(invalid(
            "dir",
            "must not contain `content.dir` (or be it): posts would sit among the feeds".into(),
        ));
    }
    let hubs = parse_hubs(&raw.hubs).map_err(|m| invalid("hubs", m))?;
    Ok(Feeds {
        dir,
        url,
        formats,
        limit: (raw.limit > 0).then_some(raw.limit),
        content,
        summary_length: raw.summary_length,
        categories: raw.categories,
        tags: raw.tags,
        category_map: raw.category_map,
        tag_map: raw.tag_map,
        hubs,
        stylesheet: raw.stylesheet,
    })
}

fn parse_hubs(texts: &[String]) -> Result<Vec<Url>, String> {
    let mut hubs: Vec<Url> = Vec::new();
    for text in texts {
        let url = Url::parse(text.trim())
            .map_err(|e| format!("`{text}` is not an absolute URL ({e})"))?;
        if url.scheme() != "http" && url.scheme() != "https" {
            return Err(format!("`{text}` must start with `https://` or `http://`"));
        }
        if !hubs.contains(&url) {
            hubs.push(url);
        }
    }
    Ok(hubs)
}

fn parse_formats(names: &[String]) -> Result<Vec<Format>, String> {
    let mut formats = Vec::new();
    for name in names {
        let format = match name.as_str() {
            "rss" => Format::Rss,
            "atom" => Format::Atom,
            "json" => Format::Json,
            other => return Err(format!("`{other}` is not one of `rss`, `atom`, `json`")),
        };
        if !formats.contains(&format) {
            formats.push(format);
        }
    }
    if formats.is_empty() {
        return Err("list at least one of `rss`, `atom`, `json`".into());
    }
    Ok(formats)
}

fn check_map(map: &BTreeMap<String, String>) -> Result<(), String> {
    for (from, to) in map {
        if to.trim().is_empty() {
            return Err(format!("`{from}` is renamed to an empty name"));
        }
    }
    Ok(())
}
