//! Slack incoming webhooks: `blocks` with one mrkdwn section per post (its image as the
//! section's accessory) and a `text` fallback for notifications.
//!
//! Contract: at most 50 blocks a message and 3,000 characters a section; `& < >` escaped in
//! mrkdwn; 429 with `Retry-After` when over about one message a second.

use serde_json::json;

use super::platform::{Frame, Platform, Rendered, header, utf16_len, webhook_endpoint};
use crate::settings::raw::RawNotifier;
use crate::settings::{ChatSetup, Endpoint};

pub struct Slack;

const MAX_SECTION: usize = 3000;

/// Slack's mrkdwn escaping: only `&`, `<` and `>` are special.
pub fn escape(text: &str) -> String {
    html_escape::encode_text(text).into_owned()
}

impl ChatSetup for Slack {
    fn name(&self) -> &'static str {
        "slack"
    }

    fn keys(&self) -> &'static [&'static str] {
        &["url"]
    }

    fn endpoint(&self, raw: &RawNotifier) -> Result<Endpoint, (String, String)> {
        webhook_endpoint(raw, self.name())
    }

    fn default_template(&self) -> &'static str {
        include_str!("../../templates/slack.jinja")
    }
}

impl Platform for Slack {
    fn escape(&self, text: &str) -> String {
        escape(text)
    }

    /// 50 blocks, one kept for the digest header.
    fn escape_url(&self, url: &str) -> String {
        escape(url)
    }

    fn max_posts(&self) -> usize {
        49
    }

    fn fits(&self, frame: &Frame, posts: &[Rendered]) -> bool {
        posts.len() + usize::from(frame.digest) <= 50
            && posts.iter().all(|p| utf16_len(&p.text) <= MAX_SECTION)
    }

    fn payload(&self, frame: &Frame, posts: &[Rendered]) -> serde_json::Value {
        let mut blocks = Vec::new();
        if let Some(head) = header(frame) {
            let text = format!("*{}*", escape(&head));
            blocks.push(json!({ "type": "section", "text": { "type": "mrkdwn", "text": text } }));
        }
        for post in posts {
            let mut block =
                json!({ "type": "section", "text": { "type": "mrkdwn", "text": post.text } });
            if let Some(image) = &post.item.image {
                block["accessory"] =
                    json!({ "type": "image", "image_url": image, "alt_text": post.title });
            }
            blocks.push(block);
        }
        let fallback = match (header(frame), posts) {
            (Some(head), _) => head,
            (None, [one]) => format!("{}: {}", frame.site_title, one.title),
            (None, _) => format!("{} new posts on {}", posts.len(), frame.site_title),
        };
        json!({ "text": escape(&fallback), "blocks": blocks, "unfurl_links": false })
    }

    /// About one message a second, with a small burst.
    fn rate(&self) -> (f64, f64) {
        (3.0, 1.0)
    }
}
