//! The post as the rest of the program sees it, whatever file format it came from.
//!
//! A [`Post`] holds what every feed and notifier needs to know about a post, but not its
//! body: bodies are read again (and rendered once) only for the posts that appear in some
//! feed, which keeps a 100,000-post archive small in memory.

use std::path::PathBuf;

use chrono::{DateTime, FixedOffset};

/// How a post's body is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum BodyFormat {
    Markdown,
    Html,
}

/// One published (or scheduled) post. It is serialized only into the parse cache.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Post {
    /// Stable identity: front-matter `id`/`abbrlink`, else the path below the content folder.
    /// It does not change when the post is edited.
    pub id: String,
    /// Path below the content folder, with `/` separators. (The parse cache keys its entries
    /// by it and restores it, with `file`, on loading.)
    #[serde(skip)]
    pub source: String,
    /// The file, as a path the user can open (content folder joined with `source`).
    #[serde(skip)]
    pub file: PathBuf,
    pub format: BodyFormat,
    /// Hash (xxh3) of the file's bytes: it changes exactly when the file does, front matter
    /// or body, so it tells an edit from a reread.
    pub hash: u64,
    /// Plain text: no tags, entities decoded.
    pub title: String,
    /// Absolute, percent-encoded once.
    pub url: String,
    pub published: DateTime<FixedOffset>,
    pub updated: Option<DateTime<FixedOffset>>,
    pub author: Option<String>,
    /// Category chains, each parent first (`[新媒体, 趣头条, 分类]`). A post belongs to every
    /// prefix of every chain.
    pub categories: Vec<Vec<String>>,
    pub tags: Vec<String>,
    /// Absolute URL of the post's image (`headimg`, `thumbnail`, `cover` or `image`).
    pub image: Option<String>,
    /// A summary written in the front matter (`description` or `excerpt`), as Markdown/HTML.
    pub summary: Option<String>,
    /// Terms of the generator's other taxonomies (Zola's custom ones), by taxonomy name.
    pub terms: Vec<(String, Vec<String>)>,
    /// When the generator starts publishing the page, when that is not `published` (Hugo's
    /// `publishDate`; `buildFuture` makes it the distant past).
    pub visible_from: Option<DateTime<FixedOffset>>,
    /// When the generator stops publishing it (Hugo's `expiryDate`).
    pub expires: Option<DateTime<FixedOffset>>,
}

impl Post {
    /// From when the site publishes the post: its own date unless the generator says
    /// otherwise.
    pub fn available(&self) -> DateTime<FixedOffset> {
        self.visible_from.unwrap_or(self.published)
    }

    /// Whether the site publishes the post at `now`: its time has come and has not passed.
    pub fn is_live<Z: chrono::TimeZone>(&self, now: DateTime<Z>) -> bool {
        self.available() <= now && self.expires.is_none_or(|end| end > now)
    }

    /// Whether the post has expired by `now` (it is never announced then).
    pub fn has_expired<Z: chrono::TimeZone>(&self, now: DateTime<Z>) -> bool {
        self.expires.is_some_and(|end| end <= now)
    }

    /// The date that says how fresh the post is: its `updated` date when later than published.
    pub fn freshness(&self) -> DateTime<FixedOffset> {
        match self.updated {
            Some(updated) if updated > self.published => updated,
            _ => self.published,
        }
    }
}
