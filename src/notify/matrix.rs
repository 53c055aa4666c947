//! Matrix rooms: `m.room.message` with an HTML `formatted_body`, sent with `PUT` and our
//! message id as the transaction id, so a retry of the same message is the same event.
//!
//! Contract: events under 64 KiB; 429 `M_LIMIT_EXCEEDED` with `retry_after_ms`; the access
//! token goes in the `Authorization` header.

use serde_json::json;

use super::http;
use super::outcome::{Outcome, classify};
use super::platform::{Frame, Platform, Rendered, Request, header, html_escape, required};
use crate::settings::Chat;
use crate::settings::notify_settings::{http_url, with_segments};
use crate::settings::raw::RawNotifier;
use crate::settings::secret::{ExposeSecret, SecretString, TokenUrl};
use crate::settings::{ChatSetup, Endpoint};

pub struct Matrix;

const MAX_EVENT: usize = 60 * 1024;

fn html(frame: &Frame, posts: &[Rendered]) -> String {
    let mut parts = Vec::new();
    if let Some(head) = header(frame) {
        parts.push(format!("<h4>{}</h4>", html_escape(&head)));
    }
    parts.extend(
        posts
            .iter()
            .map(|p| format!("<p>{}</p>", p.text.replace('\n', "<br>"))),
    );
    parts.join("\n")
}

fn plain(frame: &Frame, posts: &[Rendered]) -> String {
    let mut parts = Vec::new();
    parts.extend(header(frame));
    parts.extend(
        posts
            .iter()
            .map(|p| format!("{}\n{}\n{}", p.title, p.item.url, p.item.summary)),
    );
    parts.join("\n\n")
}

impl ChatSetup for Matrix {
    fn name(&self) -> &'static str {
        "matrix"
    }

    fn keys(&self) -> &'static [&'static str] {
        &["homeserver", "room_id", "token"]
    }

    fn address_key(&self) -> &'static str {
        "homeserver"
    }

    fn endpoint(&self, raw: &RawNotifier) -> Result<Endpoint, (String, String)> {
        let homeserver = required(
            raw,
            "homeserver",
            "a matrix notifier needs `homeserver`, e.g. `\"https://matrix.example.org\"`",
        )?;
        let homeserver = http_url(&homeserver).map_err(|m| ("homeserver".to_owned(), m))?;
        let room = raw
            .platform_text("room_id")
            .filter(|r| r.starts_with('!') || r.starts_with('#'))
            .ok_or_else(|| {
                (
                    "room_id".to_owned(),
                    "a matrix notifier needs `room_id`, like `!abc:example.org`".to_owned(),
                )
            })?;
        let token = required(
            raw,
            "token",
            "a matrix notifier needs the access `token`, e.g. `\"${MATRIX_TOKEN}\"`",
        )?;
        let url = with_segments(
            homeserver,
            &[
                "_matrix",
                "client",
                "v3",
                "rooms",
                room,
                "send",
                "m.room.message",
            ],
        )
        .map_err(|m| ("homeserver".to_owned(), m))?;
        Ok(Endpoint {
            url: TokenUrl(url),
            chat_id: None,
            secret: None,
            auth: Some(SecretString::from(token)),
        })
    }

    fn default_template(&self) -> &'static str {
        include_str!("../../templates/matrix.jinja")
    }
}

impl Platform for Matrix {
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
        self.payload(frame, posts).to_string().len() <= MAX_EVENT
    }

    fn payload(&self, frame: &Frame, posts: &[Rendered]) -> serde_json::Value {
        json!({
            "msgtype": "m.text",
            "body": plain(frame, posts),
            "format": "org.matrix.custom.html",
            "formatted_body": html(frame, posts),
        })
    }

    fn rate(&self) -> (f64, f64) {
        (10.0, 1.0)
    }

    /// `PUT …/send/m.room.message/{txnId}`: the homeserver drops a repeated transaction.
    fn request(
        &self,
        chat: &Chat,
        message_id: &str,
        body: &str,
        _now: chrono::DateTime<chrono::Utc>,
    ) -> Request {
        let mut url = chat.endpoint.0.clone();
        if let Ok(mut segments) = url.path_segments_mut() {
            segments.push(message_id);
        }
        let headers = chat
            .auth
            .iter()
            .map(|token| ("authorization", format!("Bearer {}", token.expose_secret())))
            .collect();
        Request {
            method: reqwest::Method::PUT,
            url,
            headers,
            body: body.to_owned(),
        }
    }

    /// A sent event is answered with its `event_id`; a success status without one is not
    /// taken as sent (the same transaction id makes the retry harmless).
    fn classify(&self, answer: &http::Answer) -> Outcome {
        if answer.is_success() {
            let has_event = answer
                .json()
                .is_some_and(|body| body["event_id"].as_str().is_some_and(|id| !id.is_empty()));
            return match has_event {
                true => Outcome::Sent,
                false => answer.unreadable("Matrix", "an `event_id`"),
            };
        }
        let retry_after = answer.retry_after.or_else(|| {
            let body: serde_json::Value = serde_json::from_str(&answer.body).ok()?;
            super::outcome::wait_json_millis(&body["retry_after_ms"])
        });
        classify(answer.status, retry_after, &http::snippet(&answer.body))
    }
}
