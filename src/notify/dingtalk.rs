//! DingTalk custom robots: `msgtype: markdown`, signed when the robot has a secret.
//!
//! Contract: `timestamp` (ms) and `sign` = base64(HMAC-SHA256(key = secret, message =
//! timestamp + "\n" + secret)), URL-encoded, as query parameters of each attempt; 20
//! messages a minute (over it the robot is throttled for ten minutes); **errors arrive as
//! HTTP 200 with `errcode` ≠ 0**.

use std::time::Duration;

use base64::Engine;
use hmac::{Hmac, KeyInit, Mac};
use serde_json::json;
use sha2::Sha256;

use super::http;
use super::outcome::Outcome;
use super::platform::{
    Frame, Platform, Rendered, Request, app_code, backslash_escape, byte_len, header,
    webhook_endpoint,
};
use crate::settings::Chat;
use crate::settings::raw::RawNotifier;
use crate::settings::secret::ExposeSecret;
use crate::settings::{ChatSetup, Endpoint};

pub struct DingTalk;

const MAX_TEXT: usize = 18 * 1024;

/// The robot signature of one attempt.
pub fn sign(secret: &[u8], timestamp_ms: i64) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes keys of any length");
    mac.update(format!("{timestamp_ms}\n{}", String::from_utf8_lossy(secret)).as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

fn text(frame: &Frame, posts: &[Rendered]) -> String {
    let mut parts = Vec::new();
    if let Some(head) = header(frame) {
        parts.push(format!("#### {}", backslash_escape(&head, MARKDOWN)));
    }
    parts.extend(posts.iter().map(|p| p.text.clone()));
    parts.join("\n\n")
}

const MARKDOWN: &str = "\\*_~`[]()<>";

impl ChatSetup for DingTalk {
    fn name(&self) -> &'static str {
        "dingtalk"
    }

    fn keys(&self) -> &'static [&'static str] {
        &["url", "secret"]
    }

    fn endpoint(&self, raw: &RawNotifier) -> Result<Endpoint, (String, String)> {
        webhook_endpoint(raw, self.name())
    }

    fn default_template(&self) -> &'static str {
        include_str!("../../templates/dingtalk.jinja")
    }
}

impl Platform for DingTalk {
    fn escape(&self, text: &str) -> String {
        backslash_escape(text, MARKDOWN)
    }

    fn max_posts(&self) -> usize {
        30
    }

    fn fits(&self, frame: &Frame, posts: &[Rendered]) -> bool {
        byte_len(&text(frame, posts)) <= MAX_TEXT
    }

    fn payload(&self, frame: &Frame, posts: &[Rendered]) -> serde_json::Value {
        // The title is what the notification preview shows: plain text.
        let title = header(frame)
            .unwrap_or_else(|| posts.first().map(|p| p.title.clone()).unwrap_or_default());
        json!({ "msgtype": "markdown", "markdown": { "title": title, "text": text(frame, posts) } })
    }

    fn rate(&self) -> (f64, f64) {
        (20.0, 20.0 / 60.0)
    }

    fn request(
        &self,
        chat: &Chat,
        _message_id: &str,
        body: &str,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Request {
        let mut url = chat.endpoint.0.clone();
        if let Some(secret) = &chat.secret {
            let timestamp = now.timestamp_millis();
            url.query_pairs_mut()
                .append_pair("timestamp", &timestamp.to_string())
                .append_pair("sign", &sign(secret.expose_secret(), timestamp));
        }
        Request {
            method: reqwest::Method::POST,
            url,
            headers: Vec::new(),
            body: body.to_owned(),
        }
    }

    fn classify(&self, answer: &http::Answer) -> Outcome {
        app_code(
            answer,
            "DingTalk",
            &["errcode"],
            "errmsg",
            |code| match code {
                // Sending too fast: the robot is throttled for ten minutes.
                130101 => Some(Some(Duration::from_secs(600))),
                -1 => Some(None), // system busy
                _ => None,
            },
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The worked example from DingTalk's robot documentation, recomputed independently.
    #[test]
    fn signature_formula() {
        let secret = b"SEC000000000000000000000";
        let got = sign(secret, 1_577_262_236_757);
        let mut mac = Hmac::<Sha256>::new_from_slice(secret).unwrap();
        mac.update(b"1577262236757\nSEC000000000000000000000");
        assert_eq!(
            got,
            base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
        );
    }
}
