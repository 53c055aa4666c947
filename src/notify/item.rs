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
    /// RFC 3339.
    pub published: String,
    /// RFC 3339; the published date when the post was never updated.
    pub updated: String,
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
            author: post.author.clone(),
        }
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
    fn message_ids_are_stable_and_distinct() {
        assert_eq!(message_id("u", "n", "p"), message_id("u", "n", "p"));
        assert_ne!(message_id("u", "n", "p"), message_id("u", "m", "p"));
        assert!(message_id("u", "n", "p").starts_with("msg_"));
    }
}
