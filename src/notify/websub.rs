//! WebSub publishing: telling a hub that a feed changed, so that its subscribers hear in
//! seconds instead of at their next poll. The ping only names the feed; the hub fetches it.
//! A ping waits in the outbox like any message, so a hub that is down hears later, once.

use std::time::Duration;

use chrono::{DateTime, Utc};
use url::Url;

use super::http;
use super::outcome::Outcome;

/// The form body of a publish ping for `feed_url`.
pub fn body(feed_url: &str) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .append_pair("hub.mode", "publish")
        .append_pair("hub.url", feed_url)
        .finish()
}

/// Sends one stored ping (its body from [`body`]) to `hub`, once.
pub async fn ping(
    client: &reqwest::Client,
    hub: &Url,
    timeout: Duration,
    body: &str,
    now: DateTime<Utc>,
) -> Outcome {
    let request = http::Request {
        method: reqwest::Method::POST,
        url: hub,
        content_type: "application/x-www-form-urlencoded",
        headers: &[],
        body,
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
            "hub.mode=publish&hub.url=https%3A%2F%2Fexample.org%2Ffeeds%2Fa+b%2Frss.xml%3Fx%3D1%26y"
        );
    }
}
