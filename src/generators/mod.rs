//! Site generators: one module per generator (Hexo, Jekyll, Hugo, Zola) that reads the
//! generator's own configuration and, for each content file, decides what that generator
//! would publish: whether the file is a post at all, its date, its URL, its categories, tags
//! and other taxonomies. A feed item's link is only right if it is the page the generator
//! wrote, so each module follows its generator's source for these rules (and is tested
//! against what the real generator published for recorded sites: `tests/generators/`).
//!
//! Without `site.generator`, the [`generic`] rules apply: the site's permalink pattern and
//! the field names every generator uses, as tidings read sites before these modules.
//!
//! Adding a generator is a new module here and a line in [`load`].

pub mod common;
pub mod generic;
pub mod hexo;
pub mod hugo;
pub mod jekyll;
pub mod zola;

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

/// The generators tidings knows, by the name `site.generator` takes.
pub const NAMES: [&str; 4] = ["hexo", "jekyll", "hugo", "zola"];

/// Reads generator `name`'s configuration from `setup.root` (the generic rules without a
/// name). Errors say which file and what.
pub fn load(name: Option<&str>, setup: &Setup) -> Result<Box<dyn Generator>, String> {
    let Some(name) = name else {
        return Ok(Box::new(generic::Generic::new(setup)));
    };
    match name {
        "hexo" => Ok(Box::new(hexo::Hexo::load(setup)?)),
        "jekyll" => Ok(Box::new(jekyll::Jekyll::load(setup)?)),
        "hugo" => Ok(Box::new(hugo::Hugo::load(setup)?)),
        "zola" => Ok(Box::new(zola::Zola::load(setup)?)),
        other => Err(format!(
            "`{other}` is not a generator tidings knows; use one of {}",
            NAMES.map(|n| format!("`{n}`")).join(", ")
        )),
    }
}

/// Reads a configuration file as JSON values: TOML, YAML or JSON by its extension.
/// `Ok(None)` when there is no such file.
pub fn read_config(path: &Path) -> Result<Option<Value>, String> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("cannot read `{}`: {e}", path.display())),
    };
    parse_config(path, &text).map(Some)
}

/// Parses configuration text by the file's extension.
pub fn parse_config(path: &Path, text: &str) -> Result<Value, String> {
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
    let value = match ext {
        "toml" => toml::from_str::<Value>(text).map_err(|e| e.to_string()),
        "yaml" | "yml" => serde_norway::from_str::<Value>(text).map_err(|e| e.to_string()),
        "json" => serde_json::from_str::<Value>(text).map_err(|e| e.to_string()),
        _ => Err("not a TOML, YAML or JSON file".into()),
    };
    let value = value.map_err(|e| format!("`{}` cannot be read: {e}", path.display()))?;
    // An empty YAML file is null: no settings, not an error.
    Ok(if value.is_null() {
        Value::Object(Map::new())
    } else {
        value
    })
}

/// A hash of configuration files' text (what a generator read), for [`Generator::fingerprint`].
pub fn hash_texts<'a>(texts: impl IntoIterator<Item = &'a str>) -> u64 {
    let mut h = xxhash_rust::xxh3::Xxh3::new();
    for text in texts {
        h.update(&(text.len() as u64).to_le_bytes());
        h.update(text.as_bytes());
    }
    h.digest()
}

/// A post whose link points at no page in the generator's output.
#[derive(Debug)]
pub struct Missing<'a> {
    pub post: &'a Post,
    /// The file the link would be served from, below the output folder.
    pub expected: PathBuf,
}

/// Every post of `posts` whose link points at no page file in `output` (the folder the
/// generator wrote for the site at `site`): `…/slug/` must be `slug/index.html` there, a
/// link to a file that file. Links to another host are not checked.
pub fn missing_pages<'a>(output: &Path, site: &url::Url, posts: &[&'a Post]) -> Vec<Missing<'a>> {
    posts
        .iter()
        .filter_map(|post| {
            let expected = page_file(site, &post.url)?;
            // A link without `.html` (Hexo's `pretty_urls`, servers that add it) may be
            // served from `<link>.html` too.
            let served = output.join(&expected).is_file()
                || (!post.url.ends_with('/')
                    && output.join(expected.with_extension("html")).is_file())
                || output.join(&expected).join("index.html").is_file();
            (!served).then_some(Missing { post, expected })
        })
        .collect()
}

/// The file below the output folder that serves `link` (None for another host).
pub fn page_file(site: &url::Url, link: &str) -> Option<PathBuf> {
    let link = url::Url::parse(link).ok()?;
    if link.host_str() != site.host_str() {
        return None;
    }
    let below = link
        .path()
        .strip_prefix(site.path())
        .unwrap_or(link.path().trim_start_matches('/'));
    let decoded = percent_encoding::percent_decode_str(below).decode_utf8_lossy();
    let mut file: PathBuf = decoded
        .split('/')
        .filter(|s| !s.is_empty() && *s != "..")
        .collect();
    if decoded.is_empty() || decoded.ends_with('/') {
        file.push("index.html");
    }
    Some(file)
}

/// The first of `names` in `dir` that exists.
pub fn first_existing(dir: &Path, names: &[&str]) -> Option<PathBuf> {
    names.iter().map(|n| dir.join(n)).find(|p| p.is_file())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_are_served_from_these_files() {
        let site = url::Url::parse("https://example.org/docs/").unwrap();
        let file = |link: &str| page_file(&site, link).map(|p| p.display().to_string());
        assert_eq!(
            file("https://example.org/docs/a/b/").as_deref(),
            Some("a/b/index.html")
        );
        assert_eq!(
            file("https://example.org/docs/a/b.html").as_deref(),
            Some("a/b.html")
        );
        assert_eq!(
            file("https://example.org/docs/%E6%96%B0%20x/").as_deref(),
            Some("新 x/index.html")
        );
        assert_eq!(
            file("https://example.org/Special/").as_deref(),
            Some("Special/index.html")
        );
        assert_eq!(file("https://elsewhere.org/x/"), None);
    }
}
