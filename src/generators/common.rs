//! Reading the front-matter fields every generator shares: titles, authors, images,
//! summaries, category and tag lists, dates as text. Read leniently (a number where a
//! string was expected is fine) but never silently wrong (an impossible date is an error
//! with its key). Each generator module decides dates, URLs and what is published; these
//! are the parts where the generators agree.

use chrono::{DateTime, FixedOffset};
use serde_json::{Map, Value};
use url::Url;

use super::contract::{FieldError, Site, Source, field_error};
use crate::content::markup::plain_title;
use crate::model::Post;

/// What a generator worked out for a post; [`finish`] adds the fields they share.
pub struct Parts {
    pub id: String,
    pub title: String,
    pub url: Url,
    pub published: DateTime<FixedOffset>,
    pub updated: Option<DateTime<FixedOffset>>,
    pub categories: Vec<Vec<String>>,
    pub tags: Vec<String>,
    pub terms: Vec<(String, Vec<String>)>,
    pub visible_from: Option<DateTime<FixedOffset>>,
    pub expires: Option<DateTime<FixedOffset>>,
}

/// The post: `parts` plus its author, image and summary from the front matter. The link
/// must be one a reader can open (http or https): `url_key` names the field that made it.
pub fn finish(
    meta: &Map<String, Value>,
    src: &Source,
    site: &Site,
    parts: Parts,
    url_key: &'static str,
) -> Result<Post, FieldError> {
    if !is_web(&parts.url) {
        return Err(field_error(
            url_key,
            format!(
                "makes the post's link a `{}:` URL; a link must be http or https",
                parts.url.scheme()
            ),
        ));
    }
    check_chains("categories", &parts.categories)?;
    if parts.tags.len() > MAX_TAGS {
        return Err(field_error(
            "tags",
            format!(
                "lists {} tags; at most {MAX_TAGS} are published (each is a feed of its own)",
                parts.tags.len()
            ),
        ));
    }
    let image = first(
        meta,
        &["headimg", "thumbnail", "cover", "image", "featured_image"],
    )
    .and_then(|(key, v)| Some((key, image_text(v)?)))
    .and_then(|(key, img)| {
        let joined = parts.url.join(&img).ok()?;
        if is_web(&joined) {
            Some(String::from(joined))
        } else {
            // Feeds, mail and chat would carry it as an image source: only the web's schemes.
            tracing::warn!(
                "{}: `{key}` is a `{}:` URL, not http or https; the post is published without its image",
                src.rel,
                joined.scheme()
            );
            None
        }
    });
    Ok(Post {
        id: parts.id,
        source: src.rel.to_owned(),
        file: site.content.join(src.rel),
        format: src.format,
        hash: src.hash,
        title: parts.title,
        url: String::from(parts.url),
        published: parts.published,
        updated: parts.updated,
        author: author(meta).or_else(|| site.author.clone()),
        categories: parts.categories,
        tags: parts.tags,
        image,
        summary: first(meta, &["description", "excerpt", "summary"])
            .and_then(|(_, v)| text_of(Some(v)))
            .filter(|s| !s.trim().is_empty()),
        terms: parts.terms,
        visible_from: parts.visible_from,
        expires: parts.expires,
    })
}

/// The post's stable id: front-matter `id` or `abbrlink`, else its path.
pub fn id(meta: &Map<String, Value>, src: &Source) -> String {
    first(meta, &["id", "abbrlink"])
        .and_then(|(_, v)| text_of(Some(v)))
        .filter(|id| !id.is_empty())
        .unwrap_or_else(|| src.rel.to_owned())
}

/// The `title` as plain text; `fallback` when there is none (a list or a table is said in
/// the log: the author meant something).
pub fn title(meta: &Map<String, Value>, src: &Source, fallback: &str) -> String {
    text_of(meta.get("title"))
        .map(|t| plain_title(&t))
        .filter(|t| !t.is_empty())
        .unwrap_or_else(|| {
            if let Some(odd) = meta.get("title").filter(|v| v.is_array() || v.is_object()) {
                tracing::warn!(
                    "{}: `title` is {}, not text; the post is titled `{fallback}` from its file name",
                    src.rel,
                    if odd.is_array() { "a list" } else { "a table" }
                );
            }
            fallback.to_owned()
        })
}

/// The first of `keys` that holds a date, read with `parse` (which knows the generator's
/// zone rules): `Ok(None)` when none is there.
pub fn date_of(
    meta: &Map<String, Value>,
    keys: &[&'static str],
    parse: impl Fn(&str) -> Result<DateTime<FixedOffset>, String>,
) -> Result<Option<(&'static str, DateTime<FixedOffset>)>, FieldError> {
    match first(meta, keys) {
        Some((key, value)) => {
            let text = date_text(value).ok_or_else(|| field_error(key, "is not a date"))?;
            Ok(Some((key, parse(&text).map_err(|e| field_error(key, e))?)))
        }
        None => Ok(None),
    }
}

/// Tags under `tags` (or Zola's `[taxonomies] tags`).
pub fn tags(meta: &Map<String, Value>) -> Vec<String> {
    let taxonomies = meta.get("taxonomies").and_then(Value::as_object);
    names(
        meta.get("tags")
            .or_else(|| taxonomies.and_then(|t| t.get("tags"))),
    )
}

/// `a/b/2021-01-02-post.md` → (`a/b/2021-01-02-post`, `2021-01-02-post`); a page bundle
/// `slug/index.md` is named after its folder.
pub fn split_rel(rel: &str) -> (&str, &str) {
    let without_ext = rel.rfind('.').map_or(rel, |dot| &rel[..dot]);
    let without_index = without_ext.strip_suffix("/index").unwrap_or(without_ext);
    let stem = without_index.rsplit('/').next().unwrap_or(without_index);
    (without_index, stem)
}

/// Whether a URL is one a feed reader, mail client or chat may open or load: `http`/`https`
/// (never `javascript:`, `data:`, `file:` or another app's scheme).
pub fn is_web(url: &Url) -> bool {
    matches!(url.scheme(), "http" | "https")
}

pub fn first<'m>(
    meta: &'m Map<String, Value>,
    keys: &[&'static str],
) -> Option<(&'static str, &'m Value)> {
    keys.iter()
        .find_map(|&k| meta.get(k).filter(|v| !v.is_null()).map(|v| (k, v)))
}

pub fn is_true(value: Option<&Value>) -> bool {
    match value {
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => s.eq_ignore_ascii_case("true"),
        _ => false,
    }
}

/// A scalar as text: strings as they are, numbers and booleans written out, TOML datetimes
/// in their TOML form.
pub fn text_of(value: Option<&Value>) -> Option<String> {
    match value? {
        Value::String(s) => Some(clean_text(s)),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Object(map) => toml_datetime(map),
        _ => None,
    }
}

/// `toml` hands datetimes to other formats as a one-key map.
pub fn toml_datetime(map: &Map<String, Value>) -> Option<String> {
    match map.get("$__toml_private_datetime") {
        Some(Value::String(s)) if map.len() == 1 => Some(s.clone()),
        _ => None,
    }
}

/// A date value's text, when there is one (not null).
pub fn date_text_of(value: Option<&Value>) -> Option<String> {
    value.filter(|v| !v.is_null()).and_then(date_text)
}

pub fn date_text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Object(map) => toml_datetime(map),
        _ => None,
    }
}

/// Drops characters that XML 1.0 forbids, so no front-matter value can break a feed.
pub fn clean_text(text: &str) -> String {
    text.chars().filter(|&c| is_xml_char(c)).collect()
}

/// XML 1.0 `Char`: tab, newline, carriage return, and everything from U+0020 except the
/// non-characters U+FFFE and U+FFFF (Rust strings hold no surrogates).
pub fn is_xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r') || (c >= ' ' && c != '\u{fffe}' && c != '\u{ffff}')
}

/// Category chains with Hexo's rules: a string is one category; a flat list is one chain,
/// parent first; a list holding lists makes each element its own chain.
pub fn chains(value: Option<&Value>) -> Vec<Vec<String>> {
    let chains: Vec<Vec<String>> = match value {
        None => Vec::new(),
        Some(Value::Array(items)) if items.iter().any(Value::is_array) => items
            .iter()
            .map(|item| match item {
                Value::Array(chain) => chain.iter().filter_map(name_of).collect(),
                other => name_of(other).into_iter().collect(),
            })
            .collect(),
        Some(Value::Array(items)) => vec![items.iter().filter_map(name_of).collect()],
        Some(other) => vec![name_of(other).into_iter().collect()],
    };
    let mut unique: Vec<Vec<String>> = Vec::new();
    for chain in chains {
        if !chain.is_empty() && !unique.contains(&chain) {
            unique.push(chain);
        }
    }
    unique
}

/// A category chain deeper than this is refused: each level is a folder of feeds, and no
/// site's categories nest past a few levels (a 2,000-level chain wrote 2,506 files and then
/// failed the whole build on "File name too long").
pub const MAX_CHAIN_DEPTH: usize = 16;

/// The folder path a chain makes, in bytes (each name counts as the at most 200 bytes its
/// folder keeps, plus a separator): within what every common file system allows below a
/// feeds folder.
pub const MAX_CHAIN_BYTES: usize = 1024;

/// At most this many category chains and tags per post: each one is a feed.
pub const MAX_CHAINS: usize = 64;
pub const MAX_TAGS: usize = 256;

/// Refuses categories that would make too many feeds or folders too deep or long, before
/// any feed is planned: the post is reported and skipped, every other post is published.
pub fn check_chains(key: &'static str, chains: &[Vec<String>]) -> Result<(), FieldError> {
    if chains.len() > MAX_CHAINS {
        return Err(field_error(
            key,
            format!(
                "lists {} categories; at most {MAX_CHAINS} are published",
                chains.len()
            ),
        ));
    }
    for chain in chains {
        if chain.len() > MAX_CHAIN_DEPTH {
            return Err(field_error(
                key,
                format!(
                    "is a chain {} levels deep (`{} / …`); at most {MAX_CHAIN_DEPTH} make folders every file system can hold. Several separate categories are written as a list of lists: `[[a], [b]]`",
                    chain.len(),
                    chain[..3].join(" / ")
                ),
            ));
        }
        let bytes: usize = chain.iter().map(|name| name.len().min(200) + 1).sum();
        if bytes > MAX_CHAIN_BYTES {
            return Err(field_error(
                key,
                format!(
                    "makes a folder path of {bytes} bytes; at most {MAX_CHAIN_BYTES} fit every file system"
                ),
            ));
        }
    }
    Ok(())
}

/// Tags: a string or a list of scalars (numbers allowed), without blanks or repeats.
pub fn names(value: Option<&Value>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let items: Vec<&Value> = match value {
        Some(Value::Array(items)) => items.iter().collect(),
        Some(other) => vec![other],
        None => Vec::new(),
    };
    for name in items.into_iter().filter_map(name_of) {
        if !out.contains(&name) {
            out.push(name);
        }
    }
    out
}

/// A category or tag name: trimmed, one line, not empty.
pub fn name_of(value: &Value) -> Option<String> {
    let text = match value {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        _ => return None,
    };
    let folded = crate::content::markup::fold_whitespace(&clean_text(&text));
    (!folded.is_empty()).then_some(folded)
}

/// `author: name`, `author: {name: …}`, or `authors: [a, b]`.
pub fn author(meta: &Map<String, Value>) -> Option<String> {
    let value = first(meta, &["author", "authors"])?.1;
    let name = |v: &Value| match v {
        Value::Object(m) => text_of(m.get("name")),
        other => text_of(Some(other)),
    };
    let text = match value {
        Value::Array(items) => items.iter().filter_map(name).collect::<Vec<_>>().join(", "),
        other => name(other)?,
    };
    let text = crate::content::markup::fold_whitespace(&text);
    (!text.is_empty()).then_some(text)
}

/// An image field: a URL string, or a map with `url`/`path`/`src` (Jekyll themes).
pub fn image_text(value: &Value) -> Option<String> {
    let text = match value {
        Value::Object(m) => ["url", "path", "src"]
            .iter()
            .find_map(|k| text_of(m.get(*k)))?,
        other => text_of(Some(other))?,
    };
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_owned())
}
