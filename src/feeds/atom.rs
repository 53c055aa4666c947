//! Atom 1.0 (RFC 4287), written with `atom_syndication`.
//!
//! The feed's id is its own URL; each entry's id is the post's stable `urn:uuid`. Summary and
//! content carry `type="html"`. The image is an `enclosure` link, with its type when the URL
//! names one. Each entry is written once and spliced into every feed that lists it
//! ([`splice`]).

use atom_syndication::{
    Category, Content, Entry as AtomEntry, Feed, Generator, Link, Person, Text,
};

use super::doc::FeedDoc;
use super::entry::{Entry, image_type, in_zone, terms};
use super::splice::{self, Place};
use crate::settings::Format;

/// Entries sit one level down, after the feed's own elements.
const PLACE: Place = Place {
    before: b"\n</feed>",
    lead: b"",
    separator: b"",
    trail: b"",
};

/// The feed as Atom bytes, its entries spliced in (see [`splice`]).
pub fn render(doc: &FeedDoc) -> Vec<u8> {
    let skeleton = doc.link_stylesheet(write(&feed(doc), true), Format::Atom);
    splice::splice(&skeleton, &PLACE, &doc.items(item_bytes))
}

/// One entry's bytes, as [`render`] splices them in.
pub fn item_bytes(item: &Entry) -> Vec<u8> {
    let feed = Feed {
        entries: vec![entry(item)],
        ..Feed::default()
    };
    splice::cut(&write(&feed, false), b"\n  <entry>", b"</entry>")
}

fn write(feed: &Feed, declaration: bool) -> Vec<u8> {
    feed.write_with_config(
        Vec::with_capacity(16 * 1024),
        atom_syndication::WriteConfig {
            write_document_declaration: declaration,
            indent_size: Some(2),
        },
    )
    .expect("writing to memory cannot fail")
}

/// The feed without its entries.
fn feed(doc: &FeedDoc) -> Feed {
    let site = &doc.settings.site;
    let self_url = doc.self_url(Format::Atom);
    Feed {
        title: Text::plain(doc.spec.title.clone()),
        id: self_url.clone(),
        updated: in_zone(doc.spec.updated, doc.settings),
        // Atom requires an author on the feed unless every entry has one.
        authors: vec![person(site.author.as_deref().unwrap_or(&site.title))],
        generator: Some(Generator {
            value: "tidings".into(),
            version: Some(env!("CARGO_PKG_VERSION").into()),
            ..Generator::default()
        }),
        links: [
            link(site.url.as_ref(), "alternate", Some("text/html")),
            link(&self_url, "self", Some("application/atom+xml")),
        ]
        .into_iter()
        .chain(
            doc.settings
                .feeds
                .hubs
                .iter()
                .map(|hub| link(hub.as_str(), "hub", None)),
        )
        .collect(),
        subtitle: Some(Text::plain(doc.description())),
        lang: site.language.clone(),
        ..Feed::default()
    }
}

fn entry(entry: &Entry) -> AtomEntry {
    let post = entry.post;
    let mut links = vec![link(&post.url, "alternate", Some("text/html"))];
    if let Some(image) = &post.image {
        links.push(link(image, "enclosure", image_type(image)));
    }
    let categories: Vec<Category> = terms(post)
        .into_iter()
        .map(|t| Category {
            label: t.label,
            term: t.term,
            ..Category::default()
        })
        .collect();
    AtomEntry {
        title: Text::plain(post.title.clone()),
        id: entry.guid.clone(),
        updated: entry.updated,
        published: Some(entry.published),
        authors: post.author.as_deref().map(person).into_iter().collect(),
        links,
        categories,
        summary: Some(Text::html(entry.summary_html.clone())),
        content: entry.content_html.as_ref().map(|html| Content {
            value: Some(html.clone()),
            content_type: Some("html".into()),
            ..Content::default()
        }),
        ..AtomEntry::default()
    }
}

fn person(name: &str) -> Person {
    Person {
        name: name.to_owned(),
        ..Person::default()
    }
}

fn link(href: &str, rel: &str, mime_type: Option<&str>) -> Link {
    Link {
        href: href.to_owned(),
        rel: rel.to_owned(),
        mime_type: mime_type.map(str::to_owned),
        ..Link::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::feeds::test_docs::{each_doc, whole};

    /// Spliced feeds are the bytes the writer gives for the whole feed.
    #[test]
    fn a_spliced_feed_is_the_whole_written_feed() {
        each_doc(Format::Atom, |doc| {
            let mut feed = feed(doc);
            feed.entries = doc.entries.iter().map(|e| entry(e)).collect();
            let expected = doc.link_stylesheet(write(&feed, true), Format::Atom);
            whole(&render(doc), &expected);
        });
    }
}
