//! One HTTP request with a timeout, as every HTTP notifier sends it; transport failures are
//! already sorted into "try again later", with messages that never quote the URL (it may
//! hold a token).

use std::time::Duration;

use chrono::{DateTime, Utc};

use super::outcome::{Outcome, parse_retry_after};

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
        super::outcome::classify(self.status, self.retry_after, &snippet(&self.body))
    }

    /// Whether the status is a success (2xx).
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The verdict for a success status whose body is not the success a platform documents
    /// (cut short, a proxy's page, another service): the message may not have arrived, so it
    /// is tried again, never counted as sent.
    pub fn unreadable(&self, platform: &str, expected: &str) -> Outcome {
        Outcome::Retry {
            error: format!(
                "HTTP {} but not {platform}'s answer (expected {expected}): `{}`",
                self.status,
                snippet(&self.body)
            ),
            after: self.retry_after,
        }
    }

    /// The body as JSON, when it is JSON.
    pub fn json(&self) -> Option<serde_json::Value> {
        serde_json::from_str(&self.body).ok()
    }
}

/// Who a request goes to, as errors name it: the host (never the whole URL, which may hold a
/// token) and the settings key of its address.
#[derive(Debug, Clone, Copy)]
pub struct Receiver<'a> {
    pub host: &'a str,
    /// E.g. `notifiers.team.url`: what to change when the receiver moved.
    pub key: &'a str,
}

/// Sends `body` as JSON with `method`.
#[allow(clippy::too_many_arguments)]
pub async fn send_json(
    client: &reqwest::Client,
    method: reqwest::Method,
    url: &url::Url,
    timeout: Duration,
    headers: &[(&str, String)],
    body: &str,
    receiver: Receiver<'_>,
    now: DateTime<Utc>,
) -> Result<Answer, Outcome> {
    let request = Request {
        method,
        url,
        content_type: "application/json",
        headers,
        body,
    };
    send(client, request, timeout, receiver, now).await
}

/// One request to make.
pub struct Request<'a> {
    pub method: reqwest::Method,
    pub url: &'a url::Url,
    pub content_type: &'a str,
    pub headers: &'a [(&'a str, String)],
    pub body: &'a str,
}

/// Sends one request, once, to exactly its URL: the client follows no redirect (see
/// [`client`]), and a 3xx is a failure naming where the receiver points, so no header, body
/// or URL part ever reaches an address the operator did not write.
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
    receiver: Receiver<'_>,
    now: DateTime<Utc>,
) -> Result<Answer, Outcome> {
    let host = receiver.host;
    let mut request = client
        .request(method, url.clone())
        .timeout(timeout)
        .header("content-type", content_type)
        .header("user-agent", crate::feeds::GENERATOR);
    for (name, value) in headers {
        request = request.header(*name, value);
    }
    match request.body(body.to_owned()).send().await {
        Ok(response) if response.status().is_redirection() => Err(Outcome::Fail {
            error: moved(&response, url, receiver),
        }),
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

/// The HTTP client every notifier sends with: it never follows a redirect (a receiver's
/// 3xx would otherwise carry the operator's headers, signature and body to another host,
/// and turn a POST into a GET to anywhere) and never sends a `Referer`.
pub fn client() -> Result<reqwest::Client, String> {
    // reqwest takes the process's crypto provider; rustls is built with aws-lc-rs alone, so
    // this is the one there is (a second call finds it installed and changes nothing).
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(5))
        .redirect(reqwest::redirect::Policy::none())
        .referer(false)
        .build()
        .map_err(|e| e.to_string())
}

/// The error for a receiver that answered with a redirect: where it points (its scheme,
/// host and path only: a query could hold someone's token), and which setting to change.
fn moved(response: &reqwest::Response, url: &url::Url, receiver: Receiver<'_>) -> String {
    let status = response.status().as_u16();
    let target = response
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .and_then(|location| url.join(location.trim()).ok())
        .map(|mut to| {
            to.set_query(None);
            to.set_fragment(None);
            let _ = to.set_username("");
            let _ = to.set_password(None);
            to.as_str().chars().take(200).collect::<String>()
        });
    match target {
        Some(to) => format!(
            "{} answered HTTP {status}, moved to {to}; nothing was sent there (tidings follows no redirect): if the receiver really moved, update `{}`",
            receiver.host, receiver.key
        ),
        None => format!(
            "{} answered HTTP {status} (a redirect) without a usable `Location`; nothing was sent elsewhere: check `{}`",
            receiver.host, receiver.key
        ),
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
