//! Matrix rooms: `m.room.message` with an HTML `formatted_body`, sent with `PUT` and our
//! message id as the transaction id, so a retry of the same message is the same event.
//!
//! Contract: events under 64 KiB; 429 `M_LIMIT_EXCEEDED` with `retry_after_ms`; the access
//! token goes in the `Authorization` header.

use serde_json::json;

use super::chat::{Contract, Frame, Rendered, Request, header, html_escape};
use super::{Outcome, classify, http};
use crate::settings::Chat;

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

impl Contract for Matrix {
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
        let mut url = chat.endpoint.clone();
        if let Ok(mut segments) = url.path_segments_mut() {
            segments.push(message_id);
        }
        let headers = chat
            .auth
            .iter()
            .map(|token| ("authorization", format!("Bearer {token}")))
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
            super::wait_json_millis(&body["retry_after_ms"])
        });
        classify(answer.status, retry_after, &http::snippet(&answer.body))
    }
}
