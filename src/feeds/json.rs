//! JSON Feed 1.1 (<https://jsonfeed.org/version/1.1>).
//!
//! The wire structs here are the format's, not our model's, so a change to `Post` cannot
//! change the feed by accident. Field order is fixed by the structs, so output is stable.
//! Each item is written once and spliced into every feed that lists it ([`splice`]).

use serde::Serialize;

use super::doc::FeedDoc;
use super::entry::{Entry, terms};
use super::splice::{self, Place};
use crate::settings::Format;

/// Items are the last member of the feed object, a list two levels in.
const PLACE: Place = Place {
    before: b"]\n}",
    lead: b"\n",
    separator: b",\n",
    trail: b"\n  ",
};

/// A document holding one item at the depth a feed holds it.
#[derive(Serialize)]
struct Alone<'a> {
    items: [Item<'a>; 1],
}

#[derive(Serialize)]
struct JsonFeed<'a> {
    version: &'static str,
    title: &'a str,
    home_page_url: String,
    feed_url: String,
    #[serde(skip_serializing_if = "str::is_empty")]
    description: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    language: Option<&'a str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    authors: Vec<Author<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    hubs: Vec<Hub<'a>>,
    items: Vec<Item<'a>>,
}

/// A WebSub hub, as JSON Feed names one.
#[derive(Serialize)]
struct Hub<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    url: &'a str,
}

#[derive(Serialize)]
struct Author<'a> {
    name: &'a str,
}

#[derive(Serialize)]
struct Item<'a> {
    id: &'a str,
    url: &'a str,
    title: &'a str,
    content_html: &'a str,
    summary: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    image: Option<&'a str>,
    date_published: String,
    date_modified: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    authors: Vec<Author<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    tags: Vec<String>,
}

/// The feed as JSON Feed bytes, its items spliced in (see [`splice`]).
pub fn render(doc: &FeedDoc) -> Vec<u8> {
    let description = doc.description();
    let feed = feed(doc, &description);
    let skeleton = serde_json::to_vec_pretty(&feed).expect("plain structs always serialize");
    let mut bytes = splice::splice(&skeleton, &PLACE, &doc.items(item_bytes));
    bytes.push(b'\n');
    bytes
}

/// One item's bytes, as [`render`] splices them in.
pub fn item_bytes(entry: &Entry) -> Vec<u8> {
    let alone = Alone {
        items: [item(entry)],
    };
    let doc = serde_json::to_vec_pretty(&alone).expect("plain structs always serialize");
    splice::cut(&doc, b"    {", b"    }")
}

/// The feed without its items.
fn feed<'a>(doc: &'a FeedDoc, description: &'a str) -> JsonFeed<'a> {
    let site = &doc.settings.site;
    JsonFeed {
        version: "https://jsonfeed.org/version/1.1",
        title: &doc.spec.title,
        home_page_url: site.url.to_string(),
        feed_url: doc.self_url(Format::Json),
        description,
        language: site.language.as_deref(),
        authors: site
            .author
            .as_deref()
            .map(|name| Author { name })
            .into_iter()
            .collect(),
        hubs: doc
            .settings
            .feeds
            .hubs
            .iter()
            .map(|hub| Hub {
                kind: "WebSub",
                url: hub.as_str(),
            })
            .collect(),
        items: Vec::new(),
    }
}

fn item<'a>(entry: &'a Entry) -> Item<'a> {
    let post = entry.post;
    let tags: Vec<String> = terms(post).into_iter().map(|t| t.term).collect();
    Item {
        id: &entry.guid,
        url: &post.url,
        title: &post.title,
        // JSON Feed requires content; in summary mode the summary is the content.
        content_html: entry.content_html.as_deref().unwrap_or(&entry.summary_html),
        summary: &entry.summary_text,
        image: post.image.as_deref(),
        date_published: entry.published.to_rfc3339(),
        date_modified: entry.updated.to_rfc3339(),
        authors: post
            .author
            .as_deref()
            .map(|name| Author { name })
            .into_iter()
            .collect(),
        tags,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::feeds::test_docs::{each_doc, whole};

    /// Spliced feeds are the bytes the writer gives for the whole feed.
    #[test]
    fn a_spliced_feed_is_the_whole_written_feed() {
        each_doc(Format::Json, |doc| {
            let description = doc.description();
            let mut feed = feed(doc, &description);
            feed.items = doc.entries.iter().map(|e| item(e)).collect();
            let mut expected = serde_json::to_vec_pretty(&feed).unwrap();
            expected.push(b'\n');
            whole(&render(doc), &expected);
        });
    }
}
