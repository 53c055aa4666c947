//! What a generator is to the rest of tidings: the trait each one implements, what it is
//! given (the site, its setup) and what it answers for one content file.

use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use crate::model::{BodyFormat, Post};
use crate::settings::permalink::Permalink;

/// What a generator makes of one content file.
#[derive(Debug)]
pub enum Verdict {
    /// A post: in the feeds once its time has come.
    Post(Box<Post>),
    /// A draft, or unpublished: never in a feed.
    Draft,
    /// A page the generator builds that is not a post (no date, a section's list page, no
    /// front matter, a bundle's resource): not in the feeds, and not a problem.
    Page,
}

/// A field that makes no sense, with the key it came from.
#[derive(Debug)]
pub struct FieldError {
    pub key: &'static str,
    pub message: String,
}

pub fn field_error(key: &'static str, message: impl Into<String>) -> FieldError {
    FieldError {
        key,
        message: message.into(),
    }
}

/// Where a content file is, for the fields that come from its name.
pub struct Source<'a> {
    /// Path below the content folder, `/`-separated.
    pub rel: &'a str,
    pub format: BodyFormat,
    /// Hash of the file's bytes.
    pub hash: u64,
}

/// A taxonomy (beyond categories and tags) whose terms each get a feed set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Taxonomy {
    /// As the generator names it (`theme-tags`): the front-matter key and the feed folder.
    pub name: String,
}

/// One generator's rules, read from its configuration.
pub trait Generator: Send + Sync + std::fmt::Debug {
    /// `hexo`, `jekyll`, `hugo`, `zola` or `generic`, for messages.
    fn name(&self) -> &'static str;

    /// What one file is. `meta` is its front matter, `None` when it has none.
    fn interpret(
        &self,
        meta: Option<&Map<String, Value>>,
        src: &Source,
    ) -> Result<Verdict, FieldError>;

    /// Taxonomies other than categories and tags, whose terms get feeds.
    fn taxonomies(&self) -> &[Taxonomy] {
        &[]
    }

    /// A hash of the configuration as read: a change to it may change every post (the
    /// parse cache and the feeds manifest are trusted only under the same value).
    fn fingerprint(&self) -> u64;
}

/// What every generator module keeps of tidings' own settings.
#[derive(Debug, Clone)]
pub struct Site {
    /// `site.url`.
    pub url: url::Url,
    /// The content folder tidings reads (`content.dir`, resolved).
    pub content: PathBuf,
    /// `site.author`: the author of posts that name none.
    pub author: Option<String>,
}

/// What a generator's module is built from.
pub struct Setup<'a> {
    pub site: Site,
    /// The generator's site folder (where its configuration is).
    pub root: &'a Path,
    /// The site's own time zone (`site.timezone`).
    pub timezone: chrono_tz::Tz,
    /// Hexo and Jekyll: the zone of the machine that builds the site
    /// (`site.build_timezone`).
    pub build_timezone: Option<chrono_tz::Tz>,
    /// Without a generator: `site.permalink`, `content.categories` and
    /// `feeds.category_map`.
    pub permalink: Permalink,
    pub flat_categories: bool,
    pub category_map: std::collections::BTreeMap<String, String>,
}
