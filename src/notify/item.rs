//! A post as every notifier's message carries it, and the stable id a message keeps through
//! every retry (so a receiver can drop a repeat).

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::feeds::entry::Entry;

/// A post as messages describe it. This is wire format: fields are only ever added.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct PostItem {
    /// The post's stable item id, the same as in the feeds (`urn:uuid:…`).
    pub id: String,
    /// The post's id in the content folder (front-matter `id`, or its path).
    pub post_id: String,
    pub title: String,
    pub url: String,
    /// Plain text.
    pub summary: String,
    /// Category paths, `A/B/C`.
    pub categories: Vec<String>,
    pub tags: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// RFC 3339 (in the site's time zone once [`PostItem::for_readers`] has run).
    pub published: String,
    /// RFC 3339; the published date when the post was never updated.
    pub updated: String,
    /// The instant of `published` in UTC (`…Z`), for machines that compare instants.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub published_utc: String,
    /// The publication date as readers read it: in the site's time zone, written as the
    /// language writes dates (`date_format` in the word catalog).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub date: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
}

impl PostItem {
    pub fn from_entry(entry: &Entry) -> PostItem {
        let post = entry.post;
        PostItem {
            id: entry.guid.clone(),
            post_id: post.id.clone(),
            title: post.title.clone(),
            url: post.url.clone(),
            summary: entry.summary_text.clone(),
            categories: post.categories.iter().map(|c| c.join("/")).collect(),
            tags: post.tags.clone(),
            image: post.image.clone(),
            published: post.published.to_rfc3339(),
            updated: entry.updated.to_rfc3339(),
            published_utc: String::new(),
            date: String::new(),
            author: post.author.clone(),
        }
    }

    /// The item as readers get it, whatever zone its date was written in: `published` and
    /// `updated` in the site's zone `tz`, `published_utc` beside them, and `date` written in
    /// the words' language. (Items are stored as the scan made them, so a change of
    /// `site.timezone` or language applies to everything sent after it.)
    pub fn for_readers(&self, tz: chrono_tz::Tz, words: &crate::i18n::Catalog) -> PostItem {
        let mut item = self.clone();
        if let Ok(published) = chrono::DateTime::parse_from_rfc3339(&self.published) {
            let local = published.with_timezone(&tz);
            item.published = local.to_rfc3339();
            item.published_utc = published
                .with_timezone(&chrono::Utc)
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
            item.date = words.date(&local);
        }
        if let Ok(updated) = chrono::DateTime::parse_from_rfc3339(&self.updated) {
            item.updated = updated.with_timezone(&tz).to_rfc3339();
        }
        item
    }
}

/// A stable message id: the same (notifier, key) always gives the same id, so a receiver can
/// drop a repeat and a retry is recognisably the same message.
pub fn message_id(site_url: &str, notifier: &str, key: &str) -> String {
    let name = format!("{site_url}\u{1f}{notifier}\u{1f}{key}");
    format!(
        "msg_{}",
        Uuid::new_v5(&Uuid::NAMESPACE_URL, name.as_bytes()).simple()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_post_written_in_gmt_reads_in_the_site_zone() {
        let dir = tempfile::tempdir().unwrap();
        let words = crate::i18n::Catalog::load(dir.path(), Some("zh-CN")).unwrap();
        let item = PostItem {
            id: "urn:uuid:1".into(),
            post_id: "a.md".into(),
            title: "A".into(),
            url: "https://example.org/a/".into(),
            summary: String::new(),
            categories: Vec::new(),
            tags: Vec::new(),
            image: None,
            // `Sat, 23 Jul 2022 16:55:00 GMT`
            published: "2022-07-23T16:55:00+00:00".into(),
            updated: "2022-07-23T16:55:00+00:00".into(),
            published_utc: String::new(),
            date: String::new(),
            author: None,
        };
        let local = item.for_readers(chrono_tz::Asia::Shanghai, &words);
        assert_eq!(local.published, "2022-07-24T00:55:00+08:00");
        assert_eq!(local.updated, "2022-07-24T00:55:00+08:00");
        assert_eq!(local.published_utc, "2022-07-23T16:55:00Z");
        assert_eq!(local.date, "2022年7月24日");
    }

    #[test]
    fn message_ids_are_stable_and_distinct() {
        assert_eq!(message_id("u", "n", "p"), message_id("u", "n", "p"));
        assert_ne!(message_id("u", "n", "p"), message_id("u", "m", "p"));
        assert!(message_id("u", "n", "p").starts_with("msg_"));
    }
}
