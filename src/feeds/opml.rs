//! `index.opml`: every feed in one file, so a reader can subscribe to all of them at once.
//!
//! Each feed is listed once, in the first of `feeds.formats` (listing the same feed in three
//! formats would subscribe a reader three times). Categories and tags sit in two folders.

use quick_xml::Writer;
use quick_xml::events::{BytesDecl, BytesEnd, BytesStart, BytesText, Event};

use super::plan::{FeedKind, FeedSpec};
use crate::settings::Settings;

/// The OPML 2.0 document listing `feeds`; `url_of` gives a feed's URL.
pub fn render(
    feeds: &[FeedSpec],
    settings: &Settings,
    url_of: impl Fn(&FeedSpec) -> String,
) -> Vec<u8> {
    let mut w = Writer::new_with_indent(Vec::new(), b' ', 2);
    let html_url = settings.site.url.to_string();
    let words = &settings.words;
    let write = |w: &mut Writer<Vec<u8>>| -> std::io::Result<()> {
        w.write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)))?;
        w.write_event(Event::Start(
            BytesStart::new("opml").with_attributes([("version", "2.0")]),
        ))?;
        w.write_event(Event::Start(BytesStart::new("head")))?;
        w.create_element("title")
            .write_text_content(BytesText::new(&words.text(
                "opml_title",
                None,
                &[("site", settings.site.title.clone())],
            )))?;
        if let Some(site) = feeds.first() {
            w.create_element("dateModified")
                .write_text_content(BytesText::new(&site.updated.to_rfc2822()))?;
        }
        w.write_event(Event::End(BytesEnd::new("head")))?;
        w.write_event(Event::Start(BytesStart::new("body")))?;
        for feed in feeds.iter().filter(|f| f.kind == FeedKind::Site) {
            outline(w, feed, &url_of(feed), &html_url)?;
        }
        let (categories, tags) = (
            words.text("opml_categories", None, &[]),
            words.text("opml_tags", None, &[]),
        );
        for (folder, is_member) in [
            (
                categories.as_str(),
                (|k: &FeedKind| matches!(k, FeedKind::Category(_))) as fn(&FeedKind) -> bool,
            ),
            (tags.as_str(), |k: &FeedKind| {
                matches!(k, FeedKind::Tag(_) | FeedKind::Term { .. })
            }),
        ] {
            let members: Vec<&FeedSpec> = feeds.iter().filter(|f| is_member(&f.kind)).collect();
            if members.is_empty() {
                continue;
            }
            w.write_event(Event::Start(
                BytesStart::new("outline").with_attributes([("text", folder), ("title", folder)]),
            ))?;
            for feed in members {
                outline(w, feed, &url_of(feed), &html_url)?;
            }
            w.write_event(Event::End(BytesEnd::new("outline")))?;
        }
        w.write_event(Event::End(BytesEnd::new("body")))?;
        w.write_event(Event::End(BytesEnd::new("opml")))
    };
    write(&mut w).expect("writing to memory cannot fail");
    let mut bytes = w.into_inner();
    bytes.push(b'\n');
    bytes
}

fn outline(
    w: &mut Writer<Vec<u8>>,
    feed: &FeedSpec,
    xml_url: &str,
    html_url: &str,
) -> std::io::Result<()> {
    let element = BytesStart::new("outline").with_attributes([
        ("type", "rss"),
        ("text", feed.title.as_str()),
        ("title", feed.title.as_str()),
        ("xmlUrl", xml_url),
        ("htmlUrl", html_url),
    ]);
    w.write_event(Event::Empty(element))
}
