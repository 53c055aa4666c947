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
pub mod config;
pub mod contract;
pub mod generic;
pub mod hexo;
pub mod hugo;
pub mod jekyll;
pub mod zola;

use std::path::{Path, PathBuf};

use crate::model::Post;

pub use config::{first_existing, hash_texts, parse_config, read_config};
pub use contract::{FieldError, Generator, Setup, Site, Source, Taxonomy, Verdict, field_error};

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
