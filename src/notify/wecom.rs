//! WeCom (WeChat Work) group robots: `msgtype: markdown`.
//!
//! Contract: content at most 4,096 **bytes** of UTF-8; 20 messages a minute; errors arrive
//! in a 200 with `errcode` ≠ 0, 45009 meaning rate limited.

use std::time::Duration;

use serde_json::json;

use super::http;
use super::outcome::Outcome;
use super::platform::{
    Frame, Platform, Rendered, app_code, backslash_escape, byte_len, header, webhook_endpoint,
};
use crate::settings::raw::RawNotifier;
use crate::settings::{ChatSetup, Endpoint};

pub struct WeCom;

const MAX_CONTENT: usize = 4096;
const MARKDOWN: &str = "\\*_`[]()<>";

fn content(frame: &Frame, posts: &[Rendered]) -> String {
    let mut parts = Vec::new();
    if let Some(head) = header(frame) {
        parts.push(format!("**{}**", backslash_escape(&head, MARKDOWN)));
    }
    parts.extend(posts.iter().map(|p| p.text.clone()));
    parts.join("\n\n")
}

impl ChatSetup for WeCom {
    fn name(&self) -> &'static str {
        "wecom"
    }

    fn keys(&self) -> &'static [&'static str] {
        &["url"]
    }

    fn endpoint(&self, raw: &RawNotifier) -> Result<Endpoint, (String, String)> {
        webhook_endpoint(raw, self.name())
    }

    fn default_template(&self) -> &'static str {
        include_str!("../../templates/wecom.jinja")
    }
}

impl Platform for WeCom {
    fn escape(&self, text: &str) -> String {
        backslash_escape(text, MARKDOWN)
    }

    fn max_posts(&self) -> usize {
        30
    }

    fn fits(&self, frame: &Frame, posts: &[Rendered]) -> bool {
        byte_len(&content(frame, posts)) <= MAX_CONTENT
    }

    fn payload(&self, frame: &Frame, posts: &[Rendered]) -> serde_json::Value {
        json!({ "msgtype": "markdown", "markdown": { "content": content(frame, posts) } })
    }

    fn rate(&self) -> (f64, f64) {
        (20.0, 20.0 / 60.0)
    }

    fn classify(&self, answer: &http::Answer) -> Outcome {
        app_code(answer, "WeCom", &["errcode"], "errmsg", |code| match code {
            45009 => Some(Some(Duration::from_secs(60))), // api freq out of limit
            -1 => Some(None),                             // system busy
            _ => None,
        })
    }
}
