//! A post made ready for feeds: its body rendered, cleaned and summarised once, then shared
//! by every feed (site, categories, tags, all formats) that lists it.

use chrono::{DateTime, FixedOffset};
use url::Url;
use uuid::Uuid;

use super::html::{clean_for_feed, first_image_alt, strip_illegal_xml, visible_text};
use crate::content::markup::{self, before_more, cut};
use crate::content::{Problem, read_body};
use crate::model::Post;
use crate::settings::{ContentMode, Settings};

/// What every format needs to write one item.
#[derive(Debug)]
pub struct Entry<'p> {
    pub post: &'p Post,
    /// `urn:uuid:…`, derived from the site URL and the post's stable id, so it survives edits
    /// and renames of the URL.
    pub guid: String,
    /// Cleaned HTML.
    pub summary_html: String,
    /// The same summary as plain text (JSON Feed's `summary`).
    pub summary_text: String,
    /// Cleaned HTML of the whole post; `None` when feeds carry summaries only.
    pub content_html: Option<String>,
    /// When the post was published, in the site's time zone (the same instant as the post
    /// says, written as its readers' clocks show it).
    pub published: DateTime<FixedOffset>,
    /// `published` or `updated`, whichever is later, in the site's time zone.
    pub updated: DateTime<FixedOffset>,
}

/// The item id of a post on a site.
pub fn guid(site_url: &Url, post_id: &str) -> String {
    let name = format!("{site_url}#{post_id}");
    format!(
        "urn:uuid:{}",
        Uuid::new_v5(&Uuid::NAMESPACE_URL, name.as_bytes())
    )
}

/// Renders and cleans one post. A body that cannot be read again (the file vanished since the
/// scan) is reported, and the item still goes out with what the front matter says.
pub fn prepare<'p>(post: &'p Post, settings: &Settings) -> (Entry<'p>, Option<Problem>) {
    let base = Url::parse(&post.url).unwrap_or_else(|_| settings.site.url.clone());
    let needs_body = settings.feeds.content == ContentMode::Full || post.summary.is_none();
    let (body, problem) = if needs_body {
        match read_body(post) {
            Ok(body) => (body, None),
            Err(e) => (
                String::new(),
                Some(Problem {
                    file: post.file.clone(),
                    line: None,
                    message: format!("cannot read the post again to render it: {e}"),
                }),
            ),
        }
    } else {
        (String::new(), None)
    };
    // Characters XML forbids go before the body is rendered: Markdown reads a line holding
    // only a form feed as text, not as the blank line its author saw.
    let body = match strip_illegal_xml(&body) {
        std::borrow::Cow::Borrowed(_) => body,
        std::borrow::Cow::Owned(stripped) => stripped,
    };
    let limit = settings.feeds.summary_length;
    let content = (settings.feeds.content == ContentMode::Full)
        .then(|| clean_for_feed(&markup::to_html(&body, post.format), &base, limit));

    let written_summary = post
        .summary
        .as_deref()
        .map(markup::markdown_to_html)
        .or_else(|| before_more(&body).map(|head| markup::to_html(head, post.format).into_owned()))
        .map(|html| clean_for_feed(&html, &base, usize::MAX));
    let (summary_html, summary_text) = match written_summary {
        Some(cleaned) => (cleaned.html, cleaned.text),
        None => {
            let text = match &content {
                Some(cleaned) => cut(&cleaned.text, limit),
                // Entities in the raw body may still decode to characters XML forbids.
                None => cut(
                    &strip_illegal_xml(&visible_text(&markup::to_html(&body, post.format), limit)),
                    limit,
                ),
            };
            (html_escape::encode_text(&text).into_owned(), text)
        }
    };
    // A post of images alone still says something in its summary (an empty one is not a
    // summary, and validators flag it): the first image's alt text, else the title.
    let (summary_html, summary_text) = if summary_text.trim().is_empty() {
        let html = match &content {
            Some(cleaned) => std::borrow::Cow::Borrowed(cleaned.html.as_str()),
            None => markup::to_html(&body, post.format),
        };
        let words = first_image_alt(&html).unwrap_or_else(|| post.title.clone());
        let words = cut(&words, limit);
        (html_escape::encode_text(&words).into_owned(), words)
    } else {
        (summary_html, summary_text)
    };

    let entry = Entry {
        post,
        guid: guid(&settings.site.url, &post.id),
        summary_html,
        summary_text,
        content_html: content.map(|cleaned| cleaned.html),
        published: in_zone(post.published, settings),
        updated: in_zone(post.freshness(), settings),
    };
    (entry, problem)
}

/// `at` as the site's readers' clocks show it.
pub fn in_zone(at: DateTime<FixedOffset>, settings: &Settings) -> DateTime<FixedOffset> {
    at.with_timezone(&settings.site.timezone).fixed_offset()
}

/// One word an item is filed under: a category path (`A/B`, labelled `A / B`) or a tag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Term {
    pub term: String,
    /// How a category path reads (`A / B`); tags have none.
    pub label: Option<String>,
}

/// The categories then the tags of a post, each word once: a post filed under the category
/// "plugin" and tagged "plugin" (or "Plugin") lists it once, as readers show one list.
pub fn terms(post: &Post) -> Vec<Term> {
    let mut seen = std::collections::HashSet::new();
    let categories = post.categories.iter().map(|chain| Term {
        term: chain.join("/"),
        label: Some(chain.join(" / ")),
    });
    let tags = post.tags.iter().map(|tag| Term {
        term: tag.clone(),
        label: None,
    });
    categories
        .chain(tags)
        .filter(|t| !t.term.trim().is_empty() && seen.insert(t.term.to_lowercase()))
        .collect()
}

/// The MIME type of an image URL, from its extension, when it has a known one.
pub fn image_type(url: &str) -> Option<&'static str> {
    let path = url.split(['?', '#']).next().unwrap_or(url);
    let ext = path.rsplit_once('.')?.1.to_ascii_lowercase();
    Some(match ext.as_str() {
        "jpg" | "jpeg" => "image/jpeg",
        "png" => "image/png",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "avif" => "image/avif",
        "svg" => "image/svg+xml",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guid_is_stable_and_site_scoped() {
        let a = Url::parse("https://a.example/").unwrap();
        let b = Url::parse("https://b.example/").unwrap();
        assert_eq!(guid(&a, "x.md"), guid(&a, "x.md"));
        assert_ne!(guid(&a, "x.md"), guid(&b, "x.md"));
        assert!(guid(&a, "x.md").starts_with("urn:uuid:"));
    }

    #[test]
    fn a_line_of_only_a_form_feed_still_ends_a_paragraph() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("posts")).unwrap();
        let file = dir.path().join("posts/a.md");
        std::fs::write(&file, "---\ntitle: A\n---\nOne.\n\u{c}\nTwo.\n").unwrap();
        let text =
            "[site]\ntitle = \"T\"\nurl = \"https://example.org/\"\n[content]\ndir = \"posts\"\n";
        let settings = Settings::parse(text, std::path::Path::new("s.toml"), dir.path()).unwrap();
        let mut post = crate::feeds::test_docs::post(1);
        post.file = file;
        let (entry, problem) = prepare(&post, &settings);
        assert!(problem.is_none());
        assert_eq!(entry.content_html.unwrap(), "<p>One.</p>\n<p>Two.</p>\n");
    }

    #[test]
    fn image_types() {
        assert_eq!(image_type("https://x/a.JPG?w=1"), Some("image/jpeg"));
        assert_eq!(image_type("https://x/a.jpg@s_2,w_820"), None);
        assert_eq!(image_type("https://x/a"), None);
    }
}
