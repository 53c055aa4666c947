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

use super::chat::{Contract, Frame, Rendered, Request, backslash_escape, byte_len, header};
use super::{Outcome, http};
use crate::settings::Chat;

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

impl Contract for DingTalk {
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
        let mut url = chat.endpoint.clone();
        if let Some(secret) = &chat.secret {
            let timestamp = now.timestamp_millis();
            url.query_pairs_mut()
                .append_pair("timestamp", &timestamp.to_string())
                .append_pair("sign", &sign(secret, timestamp));
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

/// Reads a platform's `{code, message}` verdict inside an HTTP answer: success is the code
/// present and 0 (`code_keys` are the names it may go by, first found wins). `transient`
/// maps a non-zero code to `Some(wait)` when retrying can help, `None` when it cannot. A
/// success status without a readable code is not taken as sent: the message may not have
/// arrived, so it is tried again.
pub fn app_code(
    answer: &http::Answer,
    platform: &str,
    code_keys: &[&str],
    message_key: &str,
    transient: impl Fn(i64) -> Option<Option<Duration>>,
) -> Outcome {
    let body = answer.json();
    let found = body.as_ref().and_then(|body| {
        code_keys
            .iter()
            .find_map(|key| body.get(*key).filter(|v| !v.is_null()).map(|v| (*key, v)))
    });
    let Some((code_key, code_value)) = found else {
        return match answer.is_success() {
            true => answer.unreadable(platform, &format!("`{}`", code_keys[0])),
            false => super::classify(
                answer.status,
                answer.retry_after,
                &http::snippet(&answer.body),
            ),
        };
    };
    // A code that is no integer we know (a float, a string, 2^64-1) is a failure we cannot
    // read, never a success.
    let code = code_value.as_i64().unwrap_or(i64::MIN);
    if code == 0 {
        return super::classify(
            answer.status,
            answer.retry_after,
            &http::snippet(&answer.body),
        );
    }
    let message = body
        .as_ref()
        .and_then(|b| b[message_key].as_str())
        .unwrap_or("no message");
    let error = format!(
        "{platform} error {code_value} (`{code_key}`): {}",
        http::snippet(message)
    );
    match transient(code) {
        Some(wait) => Outcome::Retry {
            error,
            after: wait.or(answer.retry_after),
        },
        None if answer.status == 429 || answer.status >= 500 => Outcome::Retry {
            error,
            after: answer.retry_after,
        },
        None => Outcome::Fail { error },
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
