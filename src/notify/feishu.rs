//! Feishu / Lark custom bots: an interactive card (`msg_type: interactive`) with one
//! `lark_md` block per post, signed when the bot has a secret.
//!
//! Contract: `timestamp` (seconds) and `sign` = base64(HMAC-SHA256(key = timestamp + "\n" +
//! secret, message = empty)) in the JSON body of each attempt; about 100 messages a minute
//! and 5 a second; a body under 20 KB; **`code` ≠ 0 in a 200 is a failure**.

use std::time::Duration;

use base64::Engine;
use hmac::{Hmac, KeyInit, Mac};
use serde_json::json;
use sha2::Sha256;

use super::http;
use super::outcome::Outcome;
use super::platform::{
    Frame, Platform, Rendered, Request, app_code, backslash_escape, header, webhook_endpoint,
};
use crate::settings::Chat;
use crate::settings::raw::RawNotifier;
use crate::settings::secret::ExposeSecret;
use crate::settings::{ChatSetup, Endpoint};

pub struct Feishu;

const MAX_BODY: usize = 19 * 1024;

/// The bot signature of one attempt.
pub fn sign(secret: &[u8], timestamp_s: i64) -> String {
    let key = format!("{timestamp_s}\n{}", String::from_utf8_lossy(secret));
    let mac =
        Hmac::<Sha256>::new_from_slice(key.as_bytes()).expect("HMAC takes keys of any length");
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

impl ChatSetup for Feishu {
    fn name(&self) -> &'static str {
        "feishu"
    }

    fn keys(&self) -> &'static [&'static str] {
        &["url", "secret"]
    }

    fn endpoint(&self, raw: &RawNotifier) -> Result<Endpoint, (String, String)> {
        webhook_endpoint(raw, self.name())
    }

    fn default_template(&self) -> &'static str {
        include_str!("../../templates/feishu.jinja")
    }
}

impl Platform for Feishu {
    /// Lark Markdown's escapes.
    fn escape(&self, text: &str) -> String {
        backslash_escape(text, "\\`*_[]$~<")
    }

    fn max_posts(&self) -> usize {
        30
    }

    fn fits(&self, frame: &Frame, posts: &[Rendered]) -> bool {
        // Room is kept for the signature fields added at send time.
        self.payload(frame, posts).to_string().len() + 128 <= MAX_BODY
    }

    fn payload(&self, frame: &Frame, posts: &[Rendered]) -> serde_json::Value {
        let title = header(frame).unwrap_or_else(|| frame.site_title.to_owned());
        let mut elements = Vec::new();
        for (i, post) in posts.iter().enumerate() {
            if i > 0 {
                elements.push(json!({ "tag": "hr" }));
            }
            elements
                .push(json!({ "tag": "div", "text": { "tag": "lark_md", "content": post.text } }));
        }
        json!({
            "msg_type": "interactive",
            "card": {
                "config": { "wide_screen_mode": true },
                "header": { "title": { "tag": "plain_text", "content": title } },
                "elements": elements,
            },
        })
    }

    fn rate(&self) -> (f64, f64) {
        (5.0, 100.0 / 60.0)
    }

    fn request(
        &self,
        chat: &Chat,
        _message_id: &str,
        body: &str,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Request {
        let body = match (
            &chat.secret,
            serde_json::from_str::<serde_json::Value>(body),
        ) {
            (Some(secret), Ok(mut json)) => {
                let timestamp = now.timestamp();
                json["timestamp"] = timestamp.to_string().into();
                json["sign"] = sign(secret.expose_secret(), timestamp).into();
                json.to_string()
            }
            _ => body.to_owned(),
        };
        Request {
            method: reqwest::Method::POST,
            url: chat.endpoint.0.clone(),
            headers: Vec::new(),
            body,
        }
    }

    fn classify(&self, answer: &http::Answer) -> Outcome {
        app_code(
            answer,
            "Feishu",
            &["code", "StatusCode"],
            "msg",
            |code| match code {
                // Rate limited (bot or tenant), or the server is busy.
                9499 | 11232 | 11233 => Some(Some(Duration::from_secs(60))),
                _ => None,
            },
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_uses_the_timestamp_and_secret_as_key() {
        let mac = Hmac::<Sha256>::new_from_slice(b"1599360473\ndemo").unwrap();
        let expected =
            base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
        assert_eq!(sign(b"demo", 1_599_360_473), expected);
    }
}
