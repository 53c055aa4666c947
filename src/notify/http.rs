//! One HTTP request with a timeout, as every HTTP notifier sends it; transport failures are
//! already sorted into "try again later", with messages that never quote the URL (it may
//! hold a token).

use std::time::Duration;

use chrono::{DateTime, Utc};

use super::{Outcome, parse_retry_after};

/// What the receiver answered.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    /// From a `Retry-After` header, capped at a day.
    pub retry_after: Option<Duration>,
    /// The start of the body (enough for an error message or a platform's JSON verdict).
    pub body: String,
}

impl Answer {
    /// The plain HTTP verdict: 2xx sent, 408/425/429/5xx later, any other status never.
    pub fn outcome(&self) -> Outcome {
        super::classify(self.status, self.retry_after, &snippet(&self.body))
    }
}

/// Sends `body` as JSON with `method`. `host` names the receiver in errors.
#[allow(clippy::too_many_arguments)]
pub async fn send_json(
    client: &reqwest::Client,
    method: reqwest::Method,
    url: &url::Url,
    timeout: Duration,
    headers: &[(&str, String)],
    body: &str,
    host: &str,
    now: DateTime<Utc>,
) -> Result<Answer, Outcome> {
    let request = Request {
        method,
        url,
        content_type: "application/json",
        headers,
        body,
    };
    send(client, request, timeout, host, now).await
}

/// One request to make.
pub struct Request<'a> {
    pub method: reqwest::Method,
    pub url: &'a url::Url,
    pub content_type: &'a str,
    pub headers: &'a [(&'a str, String)],
    pub body: &'a str,
}

/// Sends one request, once. `host` names the receiver in errors.
pub async fn send(
    client: &reqwest::Client,
    Request {
        method,
        url,
        content_type,
        headers,
        body,
    }: Request<'_>,
    timeout: Duration,
    host: &str,
    now: DateTime<Utc>,
) -> Result<Answer, Outcome> {
    let mut request = client
        .request(method, url.clone())
        .timeout(timeout)
        .header("content-type", content_type)
        .header("user-agent", crate::feeds::GENERATOR);
    for (name, value) in headers {
        request = request.header(*name, value);
    }
    match request.body(body.to_owned()).send().await {
        Ok(response) => {
            let status = response.status().as_u16();
            let retry_after = response
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| parse_retry_after(v, now));
            let body = read_start(response).await;
            Ok(Answer {
                status,
                retry_after,
                body,
            })
        }
        Err(e) if e.is_timeout() => Err(Outcome::Retry {
            error: format!("no answer from {host} within {}s", timeout.as_secs()),
            after: None,
        }),
        Err(e) if e.is_connect() => Err(Outcome::Retry {
            error: format!("cannot connect to {host}"),
            after: None,
        }),
        Err(e) => Err(Outcome::Retry {
            error: format!("request to {host} failed: {}", e.without_url()),
            after: None,
        }),
    }
}

/// The most of an answer's body that is read: enough for any platform's verdict; a
/// receiver that sends more is not waited for.
const MAX_ANSWER: usize = 64 * 1024;

/// The start of an answer's body (at most [`MAX_ANSWER`] bytes, then 2,000 characters), as
/// text; a body that breaks off or is not UTF-8 gives what could be read.
async fn read_start(mut response: reqwest::Response) -> String {
    let mut bytes = Vec::new();
    while bytes.len() < MAX_ANSWER {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                bytes.extend_from_slice(&chunk[..chunk.len().min(MAX_ANSWER - bytes.len())])
            }
            Ok(None) | Err(_) => break,
        }
    }
    String::from_utf8_lossy(&bytes).chars().take(2000).collect()
}

/// The first line or so of a body, for an error message.
pub fn snippet(body: &str) -> String {
    body.trim().chars().take(200).collect()
}
