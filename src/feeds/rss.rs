//! RSS 2.0, written with the `rss` crate so escaping (and `]]>` inside CDATA) is right by
//! construction.
//!
//! Dates are RFC 822 with a numeric offset; the channel's `lastBuildDate` is its newest
//! item's date, never the build time, so an unchanged site gives unchanged bytes. Images go
//! in `media:thumbnail` (an `enclosure` would need a byte length we do not know).

use std::collections::BTreeMap;

use rss::extension::Extension;
use rss::extension::atom::{AtomExtension, Link};
use rss::extension::dublincore::DublinCoreExtension;
use rss::{Category, Channel, Guid, Item};

use super::FeedDoc;
use super::entry::Entry;
use crate::settings::Format;

const MEDIA_NS: &str = "http://search.yahoo.com/mrss/";

/// The feed as RSS 2.0 bytes.
pub fn render(doc: &FeedDoc) -> Vec<u8> {
    let site = &doc.settings.site;
    let updated = doc.spec.updated.to_rfc2822();
    let mut channel = Channel {
        title: doc.spec.title.clone(),
        link: site.url.to_string(),
        description: doc.description(),
        language: site.language.clone(),
        generator: Some(super::GENERATOR.to_owned()),
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
        items: doc.entries.iter().map(|e| item(e)).collect(),
        ..Channel::default()
    };
    if doc.entries.iter().any(|e| e.post.image.is_some()) {
        channel.namespaces.insert("media".into(), MEDIA_NS.into());
    }
    channel
        .pretty_write_to(Vec::with_capacity(64 * 1024), b' ', 2)
        .expect("writing to memory cannot fail")
}

fn item(entry: &Entry) -> Item {
    let post = entry.post;
    let mut categories: Vec<Category> = post
        .categories
        .iter()
        .map(|chain| Category {
            name: chain.join("/"),
            domain: None,
        })
        .collect();
    categories.extend(post.tags.iter().map(|tag| Category {
        name: tag.clone(),
        domain: None,
    }));
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
        pub_date: Some(post.published.to_rfc2822()),
        categories,
        dublin_core_ext: post.author.as_ref().map(|author| DublinCoreExtension {
            creators: vec![author.clone()],
            ..DublinCoreExtension::default()
        }),
        extensions,
        ..Item::default()
    }
}
