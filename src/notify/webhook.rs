//! The generic JSON webhook, signed per Standard Webhooks.
//!
//! Each request carries `webhook-id` (the message id: the same on every retry),
//! `webhook-timestamp` (Unix seconds of this attempt) and, when a secret is set,
//! `webhook-signature: v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">`, so a receiver
//! can verify the sender and drop repeats.

use base64::Engine;
use chrono::{DateTime, Utc};
use hmac::{Hmac, KeyInit, Mac};
use serde::Serialize;
use sha2::Sha256;

use super::http;
use super::item::PostItem;
use super::outcome::Outcome;
use crate::settings::secret::ExposeSecret;
use crate::settings::{Settings, Webhook};

/// The default body. Wire format: fields are only ever added.
#[derive(Debug, Serialize)]
pub struct Payload<'a> {
    /// `posts.published` (an instant message) or `posts.digest`.
    #[serde(rename = "type")]
    pub event: &'a str,
    /// The message id, as in the `webhook-id` header.
    pub id: &'a str,
    /// When the message was made (RFC 3339).
    pub timestamp: String,
    pub notifier: &'a str,
    pub site: SiteInfo<'a>,
    pub posts: &'a [PostItem],
}

#[derive(Debug, Serialize)]
pub struct SiteInfo<'a> {
    pub title: &'a str,
    pub url: &'a str,
}

/// Makes the body of a message: the default payload, or the notifier's template rendered
/// with the same fields (which must give valid JSON).
pub fn body(
    settings: &Settings,
    hook: &Webhook,
    notifier: &str,
    event: &str,
    message_id: &str,
    created: DateTime<Utc>,
    posts: &[PostItem],
) -> Result<String, String> {
    let payload = Payload {
        event,
        id: message_id,
        timestamp: crate::store::stamp(created),
        notifier,
        site: SiteInfo {
            title: &settings.site.title,
            url: settings.site.url.as_str(),
        },
        posts,
    };
    let Some((name, source)) = &hook.template else {
        return Ok(serde_json::to_string(&payload).expect("plain structs serialize"));
    };
    let mut env = crate::templates::bare();
    // JSON templates escape values with `|tojson`; HTML auto-escaping would corrupt them.
    env.set_auto_escape_callback(|_| minijinja::AutoEscape::None);
    let rendered = env
        .render_str(source, minijinja::value::Serde(&payload))
        .map_err(|e| format!("template `{name}`: {e}"))?;
    serde_json::from_str::<serde_json::Value>(&rendered).map_err(|e| {
        format!("template `{name}` did not give JSON ({e}); use `|tojson` for values")
    })?;
    Ok(rendered)
}

/// `v1,` + base64(HMAC-SHA256(secret, "{id}.{timestamp}.{body}")).
pub fn sign(secret: &[u8], message_id: &str, timestamp: i64, body: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes keys of any length");
    mac.update(format!("{message_id}.{timestamp}.{body}").as_bytes());
    format!(
        "v1,{}",
        base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
    )
}

/// Sends one message, once.
pub async fn send(
    client: &reqwest::Client,
    hook: &Webhook,
    key: &str,
    timeout: std::time::Duration,
    message_id: &str,
    body: &str,
    now: DateTime<Utc>,
) -> Outcome {
    let timestamp = now.timestamp();
    let mut headers = vec![
        ("webhook-id", message_id.to_owned()),
        ("webhook-timestamp", timestamp.to_string()),
    ];
    if let Some(secret) = &hook.secret {
        headers.push((
            "webhook-signature",
            sign(secret.expose_secret(), message_id, timestamp, body),
        ));
    }
    for (name, value) in &hook.headers {
        headers.push((name.as_str(), value.expose_secret().to_owned()));
    }
    match http::send_json(
        client,
        reqwest::Method::POST,
        &hook.url,
        timeout,
        &headers,
        body,
        http::Receiver {
            host: &hook.host(),
            key,
        },
        now,
    )
    .await
    {
        Ok(answer) => answer.outcome(),
        Err(outcome) => outcome,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example from the Standard Webhooks specification.
    #[test]
    fn signature_matches_the_spec_example() {
        let secret = base64::engine::general_purpose::STANDARD
            .decode("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
            .unwrap();
        let body = r#"{"test": 2432232314}"#;
        assert_eq!(
            sign(&secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
    }
}
