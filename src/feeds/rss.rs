//! RSS 2.0, written with the `rss` crate so escaping (and `]]>` inside CDATA) is right by
//! construction.
//!
//! Dates are RFC 822 with a numeric offset; the channel's `lastBuildDate` is its newest
//! item's date, never the build time, so an unchanged site gives unchanged bytes. Images go
//! in `media:thumbnail` (an `enclosure` would need a byte length we do not know).
//! Each item is written once and spliced into every feed that lists it ([`splice`]).

use std::collections::BTreeMap;

use rss::extension::Extension;
use rss::extension::atom::{AtomExtension, Link};
use rss::extension::dublincore::DublinCoreExtension;
use rss::{Category, Channel, Guid, Item};

use super::doc::FeedDoc;
use super::entry::{Entry, in_zone, terms};
use super::splice::{self, Place};
use crate::settings::Format;

const MEDIA_NS: &str = "http://search.yahoo.com/mrss/";
/// Declared by the writer when an item has `content:encoded`.
const CONTENT_NS: &str = "http://purl.org/rss/1.0/modules/content/";

/// Items sit two levels down (`rss` > `channel` > `item`), after the channel's own elements.
const PLACE: Place = Place {
    before: b"\n  </channel>",
    lead: b"",
    separator: b"",
    trail: b"",
};

/// The feed as RSS 2.0 bytes, its items spliced in (see [`splice`]).
pub fn render(doc: &FeedDoc) -> Vec<u8> {
    let mut channel = channel(doc);
    // Namespaces the writer declares for the items it is not given here.
    if doc.entries.iter().any(|e| e.content_html.is_some()) {
        channel
            .namespaces
            .insert("content".into(), CONTENT_NS.into());
    }
    if doc.entries.iter().any(|e| e.post.author.is_some()) {
        channel
            .namespaces
            .insert("dc".into(), rss::extension::dublincore::NAMESPACE.into());
    }
    let skeleton = write(&channel);
    let skeleton = doc.link_stylesheet(skeleton, Format::Rss);
    splice::splice(&skeleton, &PLACE, &doc.items(item_bytes))
}

/// One item's bytes, as [`render`] splices them in.
pub fn item_bytes(entry: &Entry) -> Vec<u8> {
    let channel = Channel {
        items: vec![item(entry)],
        ..Channel::default()
    };
    splice::cut(&write(&channel), b"\n    <item>", b"</item>")
}

fn write(channel: &Channel) -> Vec<u8> {
    channel
        .pretty_write_to(Vec::with_capacity(16 * 1024), b' ', 2)
        .expect("writing to memory cannot fail")
}

/// The channel without its items.
fn channel(doc: &FeedDoc) -> Channel {
    let site = &doc.settings.site;
    let updated = in_zone(doc.spec.updated, doc.settings).to_rfc2822();
    let mut channel = Channel {
        title: doc.spec.title.clone(),
        link: site.url.to_string(),
        description: doc.description(),
        language: site.language.clone(),
        generator: Some(super::doc::GENERATOR.to_owned()),
        last_build_date: Some(updated.clone()),
        pub_date: Some(updated),
        atom_ext: Some(AtomExtension {
            links: std::iter::once(Link {
                href: doc.self_url(Format::Rss),
                rel: "self".into(),
                mime_type: Some("application/rss+xml".into()),
                ..Link::default()
            })
            .chain(doc.settings.feeds.hubs.iter().map(|hub| Link {
                href: hub.to_string(),
                rel: "hub".into(),
                ..Link::default()
            }))
            .collect(),
        }),
        ..Channel::default()
    };
    if doc.entries.iter().any(|e| e.post.image.is_some()) {
        channel.namespaces.insert("media".into(), MEDIA_NS.into());
    }
    channel
}

fn item(entry: &Entry) -> Item {
    let post = entry.post;
    let categories: Vec<Category> = terms(post)
        .into_iter()
        .map(|t| Category {
            name: t.term,
            domain: None,
        })
        .collect();
    let mut extensions = BTreeMap::new();
    if let Some(image) = &post.image {
        let thumbnail = Extension {
            name: "media:thumbnail".into(),
            attrs: BTreeMap::from([("url".to_string(), image.clone())]),
            ..Extension::default()
        };
        extensions.insert(
            "media".to_string(),
            BTreeMap::from([("thumbnail".to_string(), vec![thumbnail])]),
        );
    }
    Item {
        title: Some(post.title.clone()),
        link: Some(post.url.clone()),
        description: Some(entry.summary_html.clone()),
        content: entry.content_html.clone(),
        guid: Some(Guid {
            value: entry.guid.clone(),
            permalink: false,
        }),
        pub_date: Some(entry.published.to_rfc2822()),
        categories,
        dublin_core_ext: post.author.as_ref().map(|author| DublinCoreExtension {
            creators: vec![author.clone()],
            ..DublinCoreExtension::default()
        }),
        extensions,
        ..Item::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::feeds::test_docs::{each_doc, whole};

    /// Spliced feeds are the bytes the writer gives for the whole channel.
    #[test]
    fn a_spliced_feed_is_the_whole_written_feed() {
        each_doc(Format::Rss, |doc| {
            let mut channel = channel(doc);
            channel.items = doc.entries.iter().map(|e| item(e)).collect();
            let expected = doc.link_stylesheet(write(&channel), Format::Rss);
            whole(&render(doc), &expected);
        });
    }
}
