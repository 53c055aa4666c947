//! A feed as a page, for a person who opens its address in a browser. Browsers are dropping
//! XSLT (Chromium shows a deprecation banner over every styled feed, and will show raw XML
//! once it is gone), so `serve` does not rely on it: a request that asks for HTML first gets
//! the feed's items rendered here, from the feed file the build wrote, with the same look
//! and words as `feed.xsl` (which static hosting keeps). Feed readers get the feed.
//!
//! The file is tidings' own output, read with a streaming XML reader (RSS and Atom) or as
//! JSON; its summaries were cleaned by allowlist when the build wrote them and are cleaned
//! again here, so a file changed by hand cannot put a script on the page.

use chrono::{DateTime, FixedOffset};
use quick_xml::Reader;
use quick_xml::events::Event;
use serde::Serialize;

use crate::settings::{Format, Settings};

/// One item as the page shows it.
#[derive(Debug, Default, Serialize, PartialEq)]
pub struct Item {
    pub title: String,
    pub link: String,
    /// In the site's time zone, as its language writes dates.
    pub date: String,
    pub categories: Vec<String>,
    pub image: Option<String>,
    /// Cleaned HTML.
    pub summary: String,
}

/// A feed as the page shows it.
#[derive(Debug, Default, Serialize, PartialEq)]
pub struct Feed {
    pub title: String,
    pub self_url: String,
    pub site_url: String,
    pub media_type: &'static str,
    pub items: Vec<Item>,
}

/// Items shown at most (a feed holds `feeds.limit`; a page of thousands helps no one).
const MAX_ITEMS: usize = 200;

/// Reads a feed file the build wrote; `None` when it is not one (the page then is not
/// offered and the file is served as it is).
pub fn read(format: Format, bytes: &[u8], settings: &Settings) -> Option<Feed> {
    let mut feed = match format {
        Format::Json => read_json(bytes, settings)?,
        Format::Rss | Format::Atom => read_xml(bytes, settings)?,
    };
    feed.media_type = match format {
        Format::Rss => "application/rss+xml",
        Format::Atom => "application/atom+xml",
        Format::Json => "application/feed+json",
    };
    for item in &mut feed.items {
        item.summary = ammonia::clean(&item.summary);
    }
    Some(feed)
}

/// A feed date (RFC 2822 in RSS, RFC 3339 elsewhere) as the site's readers write dates.
fn local_date(text: &str, settings: &Settings) -> String {
    let text = text.trim();
    let parsed: Option<DateTime<FixedOffset>> = DateTime::parse_from_rfc3339(text)
        .or_else(|_| DateTime::parse_from_rfc2822(text))
        .ok();
    parsed.map_or_else(
        || text.to_owned(),
        |at| {
            settings
                .words
                .date(&at.with_timezone(&settings.site.timezone))
        },
    )
}

fn read_json(bytes: &[u8], settings: &Settings) -> Option<Feed> {
    #[derive(serde::Deserialize)]
    struct JsonFeed {
        title: String,
        #[serde(default)]
        home_page_url: String,
        #[serde(default)]
        feed_url: String,
        #[serde(default)]
        items: Vec<JsonItem>,
    }
    #[derive(serde::Deserialize)]
    struct JsonItem {
        #[serde(default)]
        title: String,
        #[serde(default)]
        url: String,
        #[serde(default)]
        date_published: String,
        #[serde(default)]
        tags: Vec<String>,
        image: Option<String>,
        #[serde(default)]
        summary: String,
    }
    let json: JsonFeed = serde_json::from_slice(bytes).ok()?;
    Some(Feed {
        title: json.title,
        self_url: json.feed_url,
        site_url: json.home_page_url,
        media_type: "",
        items: json
            .items
            .into_iter()
            .take(MAX_ITEMS)
            .map(|item| Item {
                title: item.title,
                link: item.url,
                date: local_date(&item.date_published, settings),
                categories: item.tags,
                image: item.image,
                summary: html_escape::encode_text(&item.summary).into_owned(),
            })
            .collect(),
    })
}

/// RSS 2.0 or Atom 1.0 as tidings writes them.
fn read_xml(bytes: &[u8], settings: &Settings) -> Option<Feed> {
    let mut reader = Reader::from_reader(bytes);
    reader.config_mut().trim_text(false);
    let mut feed = Feed::default();
    let mut item: Option<Item> = None;
    // Local names from the root down, to tell an item's title from the channel's.
    let mut path: Vec<String> = Vec::new();
    let mut buf = Vec::new();
    let mut text = String::new();
    loop {
        let event = reader.read_event_into(&mut buf).ok()?;
        match event {
            Event::Start(ref e) | Event::Empty(ref e) => {
                let opened = matches!(event, Event::Start(_));
                let name = String::from_utf8_lossy(e.local_name().as_ref()).into_owned();
                let decoder = reader.decoder();
                let attr = |key: &str| {
                    e.attributes().flatten().find_map(|a| {
                        (a.key.local_name().as_ref() == key.as_bytes())
                            .then(|| {
                                a.decoded_and_normalized_value(
                                    quick_xml::XmlVersion::Implicit1_0,
                                    decoder,
                                )
                                .ok()
                            })
                            .flatten()
                            .map(|v| v.into_owned())
                    })
                };
                match name.as_str() {
                    "item" | "entry" => item = Some(Item::default()),
                    "link" => {
                        let rel = attr("rel");
                        if let Some(href) = attr("href") {
                            match (rel.as_deref(), item.as_mut()) {
                                (Some("self"), None) => feed.self_url = href,
                                (None | Some("alternate"), None) => feed.site_url = href,
                                (None | Some("alternate"), Some(it)) if it.link.is_empty() => {
                                    it.link = href;
                                }
                                (Some("enclosure"), Some(it)) => it.image = Some(href),
                                _ => {}
                            }
                        }
                    }
                    "thumbnail" => {
                        if let (Some(it), Some(url)) = (item.as_mut(), attr("url")) {
                            it.image = Some(url);
                        }
                    }
                    "category" => {
                        if let (Some(it), Some(term)) = (item.as_mut(), attr("term")) {
                            it.categories.push(attr("label").unwrap_or(term));
                        }
                    }
                    _ => {}
                }
                if opened {
                    path.push(name);
                    text.clear();
                }
            }
            Event::Text(t) => {
                if let Ok(decoded) = t.decode() {
                    text.push_str(&decoded);
                }
            }
            // `&lt;` and `&#8212;` arrive on their own.
            Event::GeneralRef(r) => {
                if let Ok(Some(c)) = r.resolve_char_ref() {
                    text.push(c);
                } else if let Ok(name) = r.decode() {
                    text.push_str(
                        quick_xml::escape::resolve_predefined_entity(&name).unwrap_or_default(),
                    );
                }
            }
            Event::CData(c) => text.push_str(&String::from_utf8_lossy(&c)),
            Event::End(_) => {
                let name = path.pop().unwrap_or_default();
                let value = std::mem::take(&mut text).trim().to_owned();
                match (item.as_mut(), name.as_str()) {
                    (Some(_), "item" | "entry") => {
                        if feed.items.len() < MAX_ITEMS {
                            feed.items.extend(item.take());
                        } else {
                            item = None;
                        }
                    }
                    (Some(it), "title") => it.title = value,
                    (Some(it), "link") if it.link.is_empty() && !value.is_empty() => {
                        it.link = value;
                    }
                    (Some(it), "pubDate" | "published") => it.date = local_date(&value, settings),
                    (Some(it), "updated") if it.date.is_empty() => {
                        it.date = local_date(&value, settings);
                    }
                    (Some(it), "category") if !value.is_empty() => it.categories.push(value),
                    (Some(it), "description" | "summary") => it.summary = value,
                    (None, "title") if feed.title.is_empty() => feed.title = value,
                    (None, "link") if feed.site_url.is_empty() => feed.site_url = value,
                    _ => {}
                }
            }
            Event::Eof => break,
            _ => {}
        }
        buf.clear();
    }
    (!feed.title.is_empty() || !feed.items.is_empty()).then_some(feed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(dir: &std::path::Path) -> Settings {
        std::fs::create_dir_all(dir.join("posts")).unwrap();
        Settings::parse(
            "[site]\ntitle = \"T\"\nurl = \"https://example.org/\"\ntimezone = \"Asia/Shanghai\"\nlanguage = \"zh-CN\"\n[content]\ndir = \"posts\"\n",
            std::path::Path::new("settings.toml"),
            dir,
        )
        .unwrap()
    }

    #[test]
    fn rss_atom_and_json_read_alike_with_local_dates_and_clean_summaries() {
        let dir = tempfile::tempdir().unwrap();
        let settings = settings(dir.path());
        let rss = br#"<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0" xmlns:atom="http://www.w3.org/2005/Atom" xmlns:media="http://search.yahoo.com/mrss/"><channel>
<title>T &amp; Co</title><link>https://example.org/</link>
<atom:link href="https://example.org/feeds/rss.xml" rel="self" type="application/rss+xml"/>
<item><title>A &lt;b&gt; &#8212; one</title><link>https://example.org/a/</link>
<description>&lt;p&gt;Hi&lt;/p&gt;&lt;script&gt;alert(1)&lt;/script&gt;</description>
<category>News/World</category><category>tag</category>
<pubDate>Sat, 23 Jul 2022 16:55:00 +0000</pubDate>
<media:thumbnail url="https://example.org/a.jpg"/></item>
</channel></rss>"#;
        let atom = br#"<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>T &amp; Co</title>
<link href="https://example.org/feeds/atom.xml" rel="self"/><link href="https://example.org/" rel="alternate"/>
<entry><title>A &lt;b&gt; &#8212; one</title><link href="https://example.org/a/" rel="alternate" type="text/html"/>
<link href="https://example.org/a.jpg" rel="enclosure"/>
<published>2022-07-23T16:55:00+00:00</published><updated>2022-07-23T16:55:00+00:00</updated>
<category term="News/World" label="News / World"/><category term="tag"/>
<summary type="html">&lt;p&gt;Hi&lt;/p&gt;&lt;script&gt;alert(1)&lt;/script&gt;</summary></entry></feed>"#;
        let json = br#"{"version":"https://jsonfeed.org/version/1.1","title":"T & Co","home_page_url":"https://example.org/","feed_url":"https://example.org/feeds/feed.json",
"items":[{"id":"1","title":"A <b> \u2014 one","url":"https://example.org/a/","date_published":"2022-07-23T16:55:00+00:00","tags":["News/World","tag"],"image":"https://example.org/a.jpg","summary":"Hi"}]}"#;
        for (format, bytes, categories) in [
            (Format::Rss, &rss[..], ["News/World", "tag"]),
            (Format::Atom, &atom[..], ["News / World", "tag"]),
            (Format::Json, &json[..], ["News/World", "tag"]),
        ] {
            let feed = read(format, bytes, &settings).unwrap();
            assert_eq!(feed.title, "T & Co", "{format:?}");
            assert!(feed.self_url.starts_with("https://example.org/feeds/"));
            assert_eq!(feed.site_url, "https://example.org/", "{format:?}");
            let item = &feed.items[0];
            assert_eq!(item.title, "A <b> — one", "{format:?}");
            assert_eq!(item.link, "https://example.org/a/", "{format:?}");
            assert_eq!(item.date, "2022年7月24日", "{format:?}");
            assert_eq!(item.categories, categories, "{format:?}");
            assert_eq!(item.image.as_deref(), Some("https://example.org/a.jpg"));
            assert!(item.summary.contains("Hi") && !item.summary.contains("script"));
        }
        assert!(read(Format::Rss, b"not a feed", &settings).is_none());
        assert!(read(Format::Json, b"[1, 2]", &settings).is_none());
    }
}
