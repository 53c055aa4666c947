//! Telegram Bot API `sendMessage` with `parse_mode: HTML`.
//!
//! Contract: at most 4,096 characters a message, counted in UTF-16 after Telegram parses
//! the HTML (what the reader sees: tags are not counted, an entity is one character); about
//! 20 messages a minute to one group; `&`, `<`, `>` and `"` as entities. Every answer says `ok`: an `ok: false` is a failure even when the
//! HTTP status is not, with `parameters.retry_after` when rate limited.

use serde_json::json;

use super::http;
use super::outcome::{Outcome, classify};
use super::platform::{Frame, Platform, Rendered, header, html_escape, required, utf16_len};
use crate::settings::env::interpolate;
use crate::settings::notify_settings::{http_url, with_segments};
use crate::settings::raw::RawNotifier;
use crate::settings::secret::TokenUrl;
use crate::settings::{ChatSetup, Endpoint};

pub struct Telegram;

const MAX_TEXT: usize = 4096;

fn text(frame: &Frame, posts: &[Rendered]) -> String {
    let mut parts: Vec<String> = Vec::new();
    if let Some(head) = header(frame) {
        parts.push(format!("<b>{}</b>", html_escape(&head)));
    }
    parts.extend(posts.iter().map(|p| p.text.clone()));
    parts.join("\n\n")
}

/// What Telegram counts of an HTML message: its text with the tags taken out and the
/// entities read. Tags are tidings' own (the template's), whose attribute values are
/// escaped, so a `>` always ends one.
pub fn visible(html: &str) -> String {
    let mut text = String::with_capacity(html.len());
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => in_tag = false,
            c if !in_tag => text.push(c),
            _ => {}
        }
    }
    html_escape::decode_html_entities(&text).into_owned()
}

impl ChatSetup for Telegram {
    fn name(&self) -> &'static str {
        "telegram"
    }

    fn keys(&self) -> &'static [&'static str] {
        &["api_base", "token", "chat_id"]
    }

    fn address_key(&self) -> &'static str {
        "api_base"
    }

    fn endpoint(&self, raw: &RawNotifier) -> Result<Endpoint, (String, String)> {
        let err = |key: &str, message: &str| (key.to_owned(), message.to_owned());
        let token = required(
            raw,
            "token",
            "a telegram notifier needs the bot `token`, e.g. `\"${TELEGRAM_TOKEN}\"`",
        )?;
        if token.contains(['/', '?', '#', ' ']) {
            return Err(err("token", "is not a bot token"));
        }
        let chat_id = raw
            .platform_text("chat_id")
            .filter(|c| !c.trim().is_empty())
            .ok_or_else(|| err("chat_id", "a telegram notifier needs `chat_id`"))?
            .to_owned();
        let api = interpolate(
            raw.platform_text("api_base")
                .unwrap_or("https://api.telegram.org"),
        )
        .map_err(|m| ("api_base".to_owned(), m))?;
        let api = http_url(&api).map_err(|m| ("api_base".to_owned(), m))?;
        // Pushed as path segments: joined as text, `bot123:abc` would read as a URL scheme.
        let url = with_segments(api, &[&format!("bot{token}"), "sendMessage"])
            .map_err(|m| ("api_base".to_owned(), m))?;
        Ok(Endpoint {
            url: TokenUrl(url),
            chat_id: Some(chat_id),
            secret: None,
            auth: None,
        })
    }

    fn default_template(&self) -> &'static str {
        include_str!("../../templates/telegram.jinja")
    }
}

impl Platform for Telegram {
    fn escape(&self, text: &str) -> String {
        html_escape(text)
    }

    fn escape_url(&self, url: &str) -> String {
        html_escape(url)
    }

    fn max_posts(&self) -> usize {
        50
    }

    fn fits(&self, frame: &Frame, posts: &[Rendered]) -> bool {
        utf16_len(&visible(&text(frame, posts))) <= MAX_TEXT
    }

    fn payload(&self, frame: &Frame, posts: &[Rendered]) -> serde_json::Value {
        json!({
            "chat_id": frame.chat.chat_id,
            "text": text(frame, posts),
            "parse_mode": "HTML",
            // One post: let Telegram show its page's preview (title, image). A digest: no.
            "link_preview_options": { "is_disabled": frame.digest || posts.len() > 1 },
        })
    }

    /// Twenty messages a minute to one group.
    fn rate(&self) -> (f64, f64) {
        (20.0, 20.0 / 60.0)
    }

    /// Reads the `ok` verdict. Without one, an error status decides (a proxy's error page);
    /// a success status without `"ok": true` is not taken as sent.
    fn classify(&self, answer: &http::Answer) -> Outcome {
        let body = answer
            .json()
            .filter(|b| b.get("ok").is_some_and(|ok| ok.is_boolean()));
        let Some(body) = body else {
            return match answer.is_success() {
                true => answer.unreadable("Telegram", "`\"ok\": true`"),
                false => classify(
                    answer.status,
                    answer.retry_after,
                    &http::snippet(&answer.body),
                ),
            };
        };
        if body["ok"].as_bool() == Some(true) {
            return Outcome::Sent;
        }
        let description = body["description"]
            .as_str()
            .unwrap_or("no description")
            .to_owned();
        let code = body["error_code"]
            .as_u64()
            .unwrap_or(u64::from(answer.status));
        let retry_after = super::outcome::wait_json_secs(&body["parameters"]["retry_after"])
            .or(answer.retry_after);
        let error = format!("Telegram error {code}: {description}");
        if code == 429 || retry_after.is_some() || code >= 500 {
            Outcome::Retry {
                error,
                after: retry_after,
            }
        } else {
            Outcome::Fail { error }
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn tags_are_not_counted_and_an_entity_is_one_character() {
        assert_eq!(
            super::visible(
                "<b><a href=\"https://e.org/?a=1&amp;b=2\">A &amp; B &lt;3</a></b>\n<i>x</i>"
            ),
            "A & B <3\nx"
        );
    }
}
