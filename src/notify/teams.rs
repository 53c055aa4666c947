//! Microsoft Teams through a Workflows (Power Automate) webhook: a message with one Adaptive
//! Card attachment, each post a container with its linked title, summary and image.
//!
//! Contract: the request body stays under about 28 KB (413 above); 429 when too fast. Card
//! text is Markdown, backslash-escaped.

use serde_json::json;

use super::platform::{Frame, Platform, Rendered, backslash_escape, header, webhook_endpoint};
use crate::settings::raw::RawNotifier;
use crate::settings::{ChatSetup, Endpoint};

pub struct Teams;

const MAX_BODY: usize = 27 * 1024;

impl ChatSetup for Teams {
    fn name(&self) -> &'static str {
        "teams"
    }

    fn keys(&self) -> &'static [&'static str] {
        &["url"]
    }

    fn endpoint(&self, raw: &RawNotifier) -> Result<Endpoint, (String, String)> {
        webhook_endpoint(raw, self.name())
    }

    fn default_template(&self) -> &'static str {
        include_str!("../../templates/teams.jinja")
    }
}

impl Platform for Teams {
    fn escape(&self, text: &str) -> String {
        backslash_escape(text, "\\*_~`[]()<>")
    }

    fn max_posts(&self) -> usize {
        50
    }

    fn fits(&self, frame: &Frame, posts: &[Rendered]) -> bool {
        self.payload(frame, posts).to_string().len() <= MAX_BODY
    }

    fn payload(&self, frame: &Frame, posts: &[Rendered]) -> serde_json::Value {
        let mut body = Vec::new();
        if let Some(head) = header(frame) {
            body.push(json!({ "type": "TextBlock", "text": self.escape(&head), "weight": "Bolder", "size": "Medium", "wrap": true }));
        }
        for post in posts {
            let mut items = vec![json!({ "type": "TextBlock", "text": post.text, "wrap": true })];
            if let Some(image) = &post.item.image {
                items.push(json!({ "type": "Image", "url": image, "size": "Medium", "altText": post.title }));
            }
            body.push(json!({ "type": "Container", "separator": true, "items": items }));
        }
        json!({
            "type": "message",
            "attachments": [{
                "contentType": "application/vnd.microsoft.card.adaptive",
                "content": {
                    "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                    "type": "AdaptiveCard",
                    "version": "1.4",
                    "body": body,
                },
            }],
        })
    }

    fn rate(&self) -> (f64, f64) {
        (4.0, 1.0)
    }
}
