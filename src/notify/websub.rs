//! WebSub publishing: telling a hub that a feed changed, so that its subscribers hear in
//! seconds instead of at their next poll. The ping only names the feed; the hub fetches it.
//! A ping waits in the outbox like any message, so a hub that is down hears later, once.
//!
//! The ping names the feed both ways hubs read it: `hub.topic` (what hubs that follow the
//! W3C spec's subscription vocabulary require, flask-websub among them) and `hub.url` (what
//! Google's and Superfeedr's hubs read). A hub then fetches the feed and checks its `Link`
//! headers (`rel="hub"` and `rel="self"`, which `tidings serve` sends) before it distributes.

use std::time::Duration;

use chrono::{DateTime, Utc};
use url::Url;

use super::http;
use super::outcome::Outcome;

/// The form body of a publish ping for `feed_url`.
pub fn body(feed_url: &str) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .append_pair("hub.mode", "publish")
        .append_pair("hub.topic", feed_url)
        .append_pair("hub.url", feed_url)
        .finish()
}

/// A stored ping as it is sent: one queued by an earlier version names only `hub.url`, and
/// is sent with the topic added.
fn with_topic(stored: &str) -> std::borrow::Cow<'_, str> {
    let mut pairs = url::form_urlencoded::parse(stored.as_bytes());
    if pairs.clone().any(|(key, _)| key == "hub.topic") {
        return stored.into();
    }
    match pairs.find(|(key, _)| key == "hub.url") {
        Some((_, feed)) => body(&feed).into(),
        None => stored.into(),
    }
}

/// Sends one stored ping (its body from [`body`]) to `hub`, once.
pub async fn ping(
    client: &reqwest::Client,
    hub: &Url,
    timeout: Duration,
    body: &str,
    now: DateTime<Utc>,
) -> Outcome {
    let body = with_topic(body);
    let request = http::Request {
        method: reqwest::Method::POST,
        url: hub,
        content_type: "application/x-www-form-urlencoded",
        headers: &[],
        body: &body,
    };
    let receiver = http::Receiver {
        host: hub.host_str().unwrap_or("the hub"),
        key: "feeds.hubs",
    };
    match http::send(client, request, timeout, receiver, now).await {
        Ok(answer) => answer.outcome(),
        Err(outcome) => outcome,
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn ping_body_is_form_encoded() {
        assert_eq!(
            super::body("https://example.org/feeds/a b/rss.xml?x=1&y"),
            "hub.mode=publish&hub.topic=https%3A%2F%2Fexample.org%2Ffeeds%2Fa+b%2Frss.xml%3Fx%3D1%26y\
             &hub.url=https%3A%2F%2Fexample.org%2Ffeeds%2Fa+b%2Frss.xml%3Fx%3D1%26y"
        );
    }

    #[test]
    fn a_ping_stored_without_a_topic_is_sent_with_one() {
        let old = "hub.mode=publish&hub.url=https%3A%2F%2Fexample.org%2Frss.xml";
        assert_eq!(
            super::with_topic(old),
            super::body("https://example.org/rss.xml")
        );
        let new = super::body("https://example.org/rss.xml");
        assert_eq!(super::with_topic(&new), new);
    }
}
