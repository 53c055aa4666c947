//! From parsed front matter to a [`Post`]: the field names and shapes that Hexo, Jekyll, Hugo
//! and Zola use, read leniently (a number where a string was expected is fine) but never
//! silently wrong (an impossible date is an error with its line).

use chrono::NaiveTime;
use serde_json::{Map, Value};
use url::Url;

use super::dates;
use super::markup::plain_title;
use crate::model::{BodyFormat, Post};
use crate::settings::Settings;
use crate::settings::permalink::PermalinkValues;

/// What a file turned out to be.
#[derive(Debug)]
pub enum Outcome {
    Post(Box<Post>),
    /// `draft: true`, `published: false` or under `_drafts/`: never published.
    Draft,
}

/// A field that makes no sense, with the key it came from.
#[derive(Debug)]
pub struct FieldError {
    pub key: &'static str,
    pub message: String,
}

fn field_error(key: &'static str, message: impl Into<String>) -> FieldError {
    FieldError {
        key,
        message: message.into(),
    }
}

/// Where a post's file is, for the fields that come from its name.
pub struct Source<'a> {
    /// Path below the content folder, `/`-separated.
    pub rel: &'a str,
    pub format: BodyFormat,
    /// Hash of the file's bytes.
    pub hash: u64,
}

/// Builds a post from its front matter (an empty map for a file that has none).
pub fn interpret(
    meta: &Map<String, Value>,
    src: &Source,
    settings: &Settings,
) -> Result<Outcome, FieldError> {
    if is_true(meta.get("draft")) || meta.get("published").and_then(Value::as_bool) == Some(false) {
        return Ok(Outcome::Draft);
    }
    let tz = settings.site.timezone;
    let (stem_path, file_stem) = split_rel(src.rel);
    let jekyll = dates::from_file_name(file_stem);
    let slug = text_of(meta.get("slug"))
        .unwrap_or_else(|| jekyll.map_or(file_stem, |(_, s)| s).to_owned());

    let published = match first(meta, &["date", "pubDate", "published_at"]) {
        Some((key, value)) => {
            let text = date_text(value).ok_or_else(|| field_error(key, "is not a date"))?;
            dates::parse(&text, tz).map_err(|e| field_error(key, e))?
        }
        None => {
            let zola_path = text_of(meta.get("path"));
            let day = jekyll
                .map(|(d, _)| d)
                .or_else(|| zola_path.as_deref().and_then(dates::from_url_path))
                .ok_or_else(|| {
                    field_error(
                        "date",
                        "no date: add `date: 2021-06-17 10:00:00` (YAML) or `date = 2021-06-17T10:00:00Z` (TOML), or name the file `YYYY-MM-DD-slug.md`",
                    )
                })?;
            dates::in_zone(day.and_time(NaiveTime::MIN), tz)
        }
    };
    let updated = match first(
        meta,
        &["updated", "lastmod", "last_modified_at", "modified"],
    ) {
        Some((key, value)) => {
            let text = date_text(value).ok_or_else(|| field_error(key, "is not a date"))?;
            Some(dates::parse(&text, tz).map_err(|e| field_error(key, e))?)
        }
        None => None,
    };

    // Zola keeps them under `[taxonomies]`.
    let taxonomies = meta.get("taxonomies").and_then(Value::as_object);
    let (category_key, category_value) = first(meta, &["categories", "category"])
        .or_else(|| first(taxonomies?, &["categories", "category"]))
        .unzip();
    let categories = if settings.content.flat_categories {
        names(category_value)
            .into_iter()
            .map(|name| vec![name])
            .collect()
    } else {
        chains(category_value)
    };
    check_chains(category_key.unwrap_or("categories"), &categories)?;
    let tags = names(
        meta.get("tags")
            .or_else(|| taxonomies.and_then(|t| t.get("tags"))),
    );
    if tags.len() > MAX_TAGS {
        return Err(field_error(
            "tags",
            format!(
                "lists {} tags; at most {MAX_TAGS} are published (each is a feed of its own)",
                tags.len()
            ),
        ));
    }
    let id = first(meta, &["id", "abbrlink"])
        .and_then(|(_, v)| text_of(Some(v)))
        .filter(|id| !id.is_empty())
        .unwrap_or_else(|| src.rel.to_owned());

    let title = text_of(meta.get("title"))
        .map(|t| plain_title(&t))
        .filter(|t| !t.is_empty())
        .unwrap_or_else(|| {
            if let Some(odd) = meta.get("title").filter(|v| v.is_array() || v.is_object()) {
                // A list or a table: the author meant something, the file name stands in.
                tracing::warn!(
                    "{}: `title` is {}, not text; the post is titled `{slug}` from its file name",
                    src.rel,
                    if odd.is_array() { "a list" } else { "a table" }
                );
            }
            slug.clone()
        });

    let url = post_url(
        meta,
        settings,
        &PermalinkValues {
            date: published.with_timezone(&tz),
            title: &title_token(stem_path, &slug),
            name: &slug,
            category: &first_chain_segments(&categories, settings),
            id: &id,
            section: stem_path.split_once('/').map_or("", |(section, _)| section),
            base_name: file_stem,
            categories: &every_category(&categories, settings),
        },
    )?;
    let image = first(
        meta,
        &["headimg", "thumbnail", "cover", "image", "featured_image"],
    )
    .and_then(|(key, v)| Some((key, image_text(v)?)))
    .and_then(|(key, img)| {
        let joined = url.join(&img).ok()?;
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

    Ok(Outcome::Post(Box::new(Post {
        id,
        source: src.rel.to_owned(),
        file: settings.content.dir.join(src.rel),
        format: src.format,
        hash: src.hash,
        title,
        url: String::from(url),
        published,
        updated,
        author: author(meta).or_else(|| settings.site.author.clone()),
        categories,
        tags,
        image,
        summary: first(meta, &["description", "excerpt", "summary"])
            .and_then(|(_, v)| text_of(Some(v)))
            .filter(|s| !s.trim().is_empty()),
    })))
}

/// `a/b/2021-01-02-post.md` → (`a/b/2021-01-02-post`, `2021-01-02-post`); a page bundle
/// `slug/index.md` is named after its folder.
fn split_rel(rel: &str) -> (&str, &str) {
    let without_ext = rel.rfind('.').map_or(rel, |dot| &rel[..dot]);
    let without_index = without_ext.strip_suffix("/index").unwrap_or(without_ext);
    let stem = without_index.rsplit('/').next().unwrap_or(without_index);
    (without_index, stem)
}

/// Hexo's `:title`: the path below the content folder, its last part replaced by the slug.
fn title_token(stem_path: &str, slug: &str) -> String {
    match stem_path.rfind('/') {
        Some(slash) => format!("{}/{slug}", &stem_path[..slash]),
        None => slug.to_owned(),
    }
}

/// Every category the post names, each once, in order (renamed), for Jekyll's `:categories`.
fn every_category(chains: &[Vec<String>], settings: &Settings) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for name in chains.iter().flatten() {
        let name = settings.feeds.category_map.get(name).unwrap_or(name);
        if !out.contains(name) {
            out.push(name.clone());
        }
    }
    out
}

fn first_chain_segments(chains: &[Vec<String>], settings: &Settings) -> Vec<String> {
    chains.first().map_or_else(Vec::new, |chain| {
        chain
            .iter()
            .map(|name| {
                settings
                    .feeds
                    .category_map
                    .get(name)
                    .unwrap_or(name)
                    .clone()
            })
            .collect()
    })
}

/// The post's absolute URL: a front-matter `permalink` (Hexo, Jekyll) or `path` (Zola) wins
/// over the site's pattern.
fn post_url(
    meta: &Map<String, Value>,
    settings: &Settings,
    values: &PermalinkValues,
) -> Result<Url, FieldError> {
    let (key, url) = post_url_unchecked(meta, settings, values)?;
    if is_web(&url) {
        Ok(url)
    } else {
        Err(field_error(
            key,
            format!(
                "makes the post's link a `{}:` URL; a link must be http or https",
                url.scheme()
            ),
        ))
    }
}

/// Whether a URL is one a feed reader, mail client or chat may open or load: `http`/`https`
/// (never `javascript:`, `data:`, `file:` or another app's scheme).
fn is_web(url: &Url) -> bool {
    matches!(url.scheme(), "http" | "https")
}

fn post_url_unchecked(
    meta: &Map<String, Value>,
    settings: &Settings,
    values: &PermalinkValues,
) -> Result<(&'static str, Url), FieldError> {
    let site = &settings.site.url;
    if let Some((key, value)) = first(meta, &["permalink", "path", "url"]) {
        let Some(text) = text_of(Some(value)).filter(|t| !t.trim().is_empty()) else {
            return Err(field_error(key, "is not a URL path"));
        };
        let text = text.trim();
        let mut relative = text.trim_start_matches('/').to_owned();
        if key == "path" && !relative.ends_with('/') {
            relative.push('/'); // Zola serves `path` as a folder
        }
        return site
            .join(&relative)
            .map(|url| (key, url))
            .map_err(|e| field_error(key, format!("`{text}` is not a usable URL path: {e}")));
    }
    site.join(&settings.site.permalink.render(values))
        .map(|url| ("permalink", url))
        .map_err(|e| {
            field_error(
                "permalink",
                format!("the site permalink gives a bad URL: {e}"),
            )
        })
}

fn first<'m>(
    meta: &'m Map<String, Value>,
    keys: &[&'static str],
) -> Option<(&'static str, &'m Value)> {
    keys.iter()
        .find_map(|&k| meta.get(k).filter(|v| !v.is_null()).map(|v| (k, v)))
}

fn is_true(value: Option<&Value>) -> bool {
    match value {
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => s.eq_ignore_ascii_case("true"),
        _ => false,
    }
}

/// A scalar as text: strings as they are, numbers and booleans written out, TOML datetimes
/// in their TOML form.
fn text_of(value: Option<&Value>) -> Option<String> {
    match value? {
        Value::String(s) => Some(clean_text(s)),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Object(map) => toml_datetime(map),
        _ => None,
    }
}

/// `toml` hands datetimes to other formats as a one-key map.
fn toml_datetime(map: &Map<String, Value>) -> Option<String> {
    match map.get("$__toml_private_datetime") {
        Some(Value::String(s)) if map.len() == 1 => Some(s.clone()),
        _ => None,
    }
}

fn date_text(value: &Value) -> Option<String> {
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
fn chains(value: Option<&Value>) -> Vec<Vec<String>> {
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
fn check_chains(key: &'static str, chains: &[Vec<String>]) -> Result<(), FieldError> {
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
fn names(value: Option<&Value>) -> Vec<String> {
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
fn name_of(value: &Value) -> Option<String> {
    let text = match value {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        _ => return None,
    };
    let folded = super::markup::fold_whitespace(&clean_text(&text));
    (!folded.is_empty()).then_some(folded)
}

/// `author: name`, `author: {name: …}`, or `authors: [a, b]`.
fn author(meta: &Map<String, Value>) -> Option<String> {
    let value = first(meta, &["author", "authors"])?.1;
    let name = |v: &Value| match v {
        Value::Object(m) => text_of(m.get("name")),
        other => text_of(Some(other)),
    };
    let text = match value {
        Value::Array(items) => items.iter().filter_map(name).collect::<Vec<_>>().join(", "),
        other => name(other)?,
    };
    let text = super::markup::fold_whitespace(&text);
    (!text.is_empty()).then_some(text)
}

/// An image field: a URL string, or a map with `url`/`path`/`src` (Jekyll themes).
fn image_text(value: &Value) -> Option<String> {
    let text = match value {
        Value::Object(m) => ["url", "path", "src"]
            .iter()
            .find_map(|k| text_of(m.get(*k)))?,
        other => text_of(Some(other))?,
    };
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn settings() -> (tempfile::TempDir, Settings) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("posts")).unwrap();
        let text = "[site]\ntitle = \"T\"\nurl = \"https://example.org/\"\ntimezone = \"Asia/Shanghai\"\n[content]\ndir = \"posts\"\n[feeds]\ncategory_map = { \"新媒体\" = \"media\" }\n";
        let s = Settings::parse(text, std::path::Path::new("s.toml"), dir.path()).unwrap();
        (dir, s)
    }

    fn post(meta: serde_json::Value, rel: &str) -> Result<Post, FieldError> {
        let (_dir, s) = settings();
        let src = Source {
            rel,
            format: BodyFormat::Markdown,
            hash: 0,
        };
        match interpret(meta.as_object().unwrap(), &src, &s)? {
            Outcome::Post(p) => Ok(*p),
            Outcome::Draft => panic!("draft"),
        }
    }

    #[test]
    fn hexo_category_semantics() {
        assert_eq!(chains(Some(&json!("技术"))), vec![vec!["技术"]]);
        assert_eq!(
            chains(Some(&json!(["A", "B", "C"]))),
            vec![vec!["A", "B", "C"]]
        );
        assert_eq!(
            chains(Some(&json!([["A", "B"], "C"]))),
            vec![vec!["A", "B"], vec!["C"]]
        );
        assert_eq!(chains(Some(&json!([" A ", null, 3]))), vec![vec!["A", "3"]]);
        assert_eq!(chains(Some(&json!([]))), Vec::<Vec<String>>::new());
    }

    #[test]
    fn tags_tolerate_numbers_and_repeats() {
        assert_eq!(
            names(Some(&json!(["youji", 1560942895181u64, "youji", ""]))),
            vec!["youji", "1560942895181"]
        );
        assert_eq!(names(Some(&json!("one"))), vec!["one"]);
    }

    #[test]
    fn seed_shaped_post() {
        let p = post(
            json!({"title": "加强基层党建 _ 我为群众办实事", "categories": ["新媒体", "趣头条", "分类"],
                   "date": "Thu, 17 Jun 2021 11:05:02 GMT", "headimg": "https://cors.example/?http://img.example/a.jpeg"}),
            "新媒体/趣头条/分类/加强基层党建 _ 我为群众办实事.md",
        )
        .unwrap();
        assert_eq!(p.published.to_rfc3339(), "2021-06-17T11:05:02+00:00");
        assert_eq!(p.id, "新媒体/趣头条/分类/加强基层党建 _ 我为群众办实事.md");
        assert_eq!(
            p.url,
            "https://example.org/2021/06/17/%E6%96%B0%E5%AA%92%E4%BD%93/%E8%B6%A3%E5%A4%B4%E6%9D%A1/%E5%88%86%E7%B1%BB/%E5%8A%A0%E5%BC%BA%E5%9F%BA%E5%B1%82%E5%85%9A%E5%BB%BA%20_%20%E6%88%91%E4%B8%BA%E7%BE%A4%E4%BC%97%E5%8A%9E%E5%AE%9E%E4%BA%8B/"
        );
        assert_eq!(
            p.image.as_deref(),
            Some("https://cors.example/?http://img.example/a.jpeg")
        );
    }

    #[test]
    fn jekyll_date_from_file_name_and_zola_path() {
        let p = post(json!({"title": "x"}), "2024-12-5-project-defaults.md").unwrap();
        assert_eq!(p.published.to_rfc3339(), "2024-12-05T00:00:00+08:00");
        assert_eq!(p.url, "https://example.org/2024/12/05/project-defaults/");
        let z = post(
            json!({"title": "y", "path": "inside-rust/2020/07/27/1.45.1-prerelease"}),
            "inside-rust/x.md",
        )
        .unwrap();
        assert_eq!(z.published.to_rfc3339(), "2020-07-27T00:00:00+08:00");
        assert_eq!(
            z.url,
            "https://example.org/inside-rust/2020/07/27/1.45.1-prerelease/"
        );
    }

    #[test]
    fn front_matter_permalink_and_id_win() {
        let p = post(json!({"title": "G", "id": 1527, "date": "2024-10-31 22:02:00", "permalink": "/archives/Gossip-算法/"}), "g.md").unwrap();
        assert_eq!(p.id, "1527");
        assert_eq!(
            p.url,
            "https://example.org/archives/Gossip-%E7%AE%97%E6%B3%95/"
        );
        let q = post(
            json!({"title": "G", "date": "2024-10-31", "permalink": "/archives/%E7%AE%97/"}),
            "g.md",
        )
        .unwrap();
        assert_eq!(
            q.url, "https://example.org/archives/%E7%AE%97/",
            "already-encoded paths are not encoded twice"
        );
    }

    #[test]
    fn bad_dates_name_their_key() {
        let err = post(json!({"title": "x", "date": "2021-02-30"}), "x.md").unwrap_err();
        assert_eq!(err.key, "date");
        let err = post(
            json!({"title": "x", "date": "2021-02-01", "updated": true}),
            "x.md",
        )
        .unwrap_err();
        assert_eq!(err.key, "updated");
        let err = post(json!({"title": "x"}), "x.md").unwrap_err();
        assert!(err.message.starts_with("no date"));
    }

    #[test]
    fn drafts() {
        let (_dir, s) = settings();
        let src = Source {
            rel: "a.md",
            format: BodyFormat::Markdown,
            hash: 0,
        };
        for meta in [
            json!({"draft": true}),
            json!({"published": false}),
            json!({"draft": "true"}),
        ] {
            assert!(matches!(
                interpret(meta.as_object().unwrap(), &src, &s).unwrap(),
                Outcome::Draft
            ));
        }
    }

    #[test]
    fn titles_fall_back_to_the_slug_and_lose_tags() {
        let p = post(
            json!({"date": "2021-01-01", "title": "<b>Bold</b> &amp; <i>x</i>\u{0}"}),
            "a.md",
        )
        .unwrap();
        assert_eq!(p.title, "Bold & x");
        let p = post(json!({"date": "2021-01-01"}), "2021-01-01-hello.md").unwrap();
        assert_eq!(p.title, "hello");
    }
}
