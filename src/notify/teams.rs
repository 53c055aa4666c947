//! Microsoft Teams through a Workflows (Power Automate) webhook: a message with one Adaptive
//! Card attachment, each post a container with its linked title, summary and image.
//!
//! Contract: the request body stays under about 28 KB (413 above); 429 when too fast. Card
//! text is Markdown, backslash-escaped.

use serde_json::json;

use super::chat::{Contract, Frame, Rendered, backslash_escape, header};

pub struct Teams;

const MAX_BODY: usize = 27 * 1024;

impl Contract for Teams {
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
