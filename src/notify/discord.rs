//! Discord webhooks (`?wait=true`): one embed per post (title, url, description, thumbnail,
//! timestamp), mentions disabled.
//!
//! Contract: 2,000 characters of content, at most 10 embeds and 6,000 characters of embed
//! text a message (256 a title, 4,096 a description), counted in UTF-16 as Discord does;
//! 429 with `Retry-After` or a JSON `retry_after`; 404 means the webhook is gone.

use serde_json::json;

use super::http;
use super::outcome::{Outcome, classify};
use super::platform::{
    Frame, Platform, Rendered, backslash_escape, header, utf16_len, webhook_endpoint,
};
use crate::settings::raw::RawNotifier;
use crate::settings::{ChatSetup, Endpoint};

pub struct Discord;

const MAX_TOTAL: usize = 6000;
const MAX_TITLE: usize = 256;
const MAX_DESCRIPTION: usize = 4096;

fn title(post: &Rendered) -> String {
    post.title.chars().take(MAX_TITLE).collect()
}

impl ChatSetup for Discord {
    fn name(&self) -> &'static str {
        "discord"
    }

    fn keys(&self) -> &'static [&'static str] {
        &["url"]
    }

    fn endpoint(&self, raw: &RawNotifier) -> Result<Endpoint, (String, String)> {
        let mut endpoint = webhook_endpoint(raw, self.name())?;
        if !endpoint.url.query_pairs().any(|(k, _)| k == "wait") {
            // Without it Discord answers 204 before checking the message.
            endpoint.url.0.query_pairs_mut().append_pair("wait", "true");
        }
        Ok(endpoint)
    }

    fn default_template(&self) -> &'static str {
        include_str!("../../templates/discord.jinja")
    }
}

impl Platform for Discord {
    /// Backslash-escapes Discord markdown, so text shows as written.
    fn escape(&self, text: &str) -> String {
        backslash_escape(text, "\\*_~`|[]()<>")
    }

    fn max_posts(&self) -> usize {
        10
    }

    fn fits(&self, frame: &Frame, posts: &[Rendered]) -> bool {
        let content = header(frame).map_or(0, |h| utf16_len(&h));
        let text: usize = posts
            .iter()
            .map(|p| utf16_len(&title(p)) + utf16_len(&p.text))
            .sum();
        posts.len() <= 10
            && content <= 2000
            && text <= MAX_TOTAL
            && posts.iter().all(|p| utf16_len(&p.text) <= MAX_DESCRIPTION)
    }

    fn payload(&self, frame: &Frame, posts: &[Rendered]) -> serde_json::Value {
        let embeds: Vec<serde_json::Value> = posts
            .iter()
            .map(|post| {
                let mut embed = json!({
                    "title": title(post),
                    "url": post.item.url,
                    "description": post.text,
                    "timestamp": post.item.published,
                });
                if let Some(image) = &post.item.image {
                    embed["thumbnail"] = json!({ "url": image });
                }
                embed
            })
            .collect();
        let mut body = json!({ "embeds": embeds, "allowed_mentions": { "parse": [] } });
        if let Some(head) = header(frame) {
            body["content"] = self.escape(&head).into();
        }
        body
    }

    /// Five requests per two seconds per webhook.
    fn rate(&self) -> (f64, f64) {
        (5.0, 2.5)
    }

    /// Discord states its wait in the header or, in seconds, in the JSON body. With
    /// `?wait=true` (added unless the URL says otherwise) a sent message is answered with the
    /// message, `id` and all; a 204 is what `wait=false` answers.
    fn classify(&self, answer: &http::Answer) -> Outcome {
        if answer.is_success() {
            let has_id = answer
                .json()
                .is_some_and(|body| body["id"].as_str().is_some_and(|id| !id.is_empty()));
            return match has_id || answer.status == 204 {
                true => Outcome::Sent,
                false => answer.unreadable("Discord", "the message with its `id`"),
            };
        }
        let retry_after = answer.retry_after.or_else(|| {
            let body: serde_json::Value = serde_json::from_str(&answer.body).ok()?;
            super::outcome::wait_json_secs(body.get("retry_after")?)
        });
        classify(answer.status, retry_after, &http::snippet(&answer.body))
    }
}
