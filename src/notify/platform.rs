//! What every chat platform's module speaks: the contract a platform implements (its
//! escaping, limits, payload, request and answer, beside its settings), the parts of a
//! message the shared renderer (`chat`) hands it, and helpers several platforms use.
//! Platform modules import this and nothing of one another.

use std::time::Duration;

use super::http::{self, Answer};
use super::item::PostItem;
use super::outcome::Outcome;
use crate::settings::env::interpolate;
use crate::settings::notify_settings::http_url;
use crate::settings::raw::RawNotifier;
use crate::settings::secret::{SecretSlice, TokenUrl};
use crate::settings::{Chat, ChatSetup, Endpoint};

/// One post, written for the platform.
#[derive(Debug, Clone)]
pub struct Rendered<'a> {
    pub item: &'a PostItem,
    /// The template's output (already escaped).
    pub text: String,
    /// The title as it is sent (shortened when the post alone was too large).
    pub title: String,
}

/// What every message of one notification shares.
pub struct Frame<'a> {
    /// The platform the messages are written for.
    pub platform: &'a dyn Platform,
    /// The words readers see (the digest's header line).
    pub words: &'a crate::i18n::Catalog,
    pub site_title: &'a str,
    pub site_url: &'a str,
    /// A digest gets a header line ("5 new posts on …").
    pub digest: bool,
    /// Posts in the whole notification (across its messages).
    pub total: usize,
    pub chat: &'a Chat,
}

/// How one request goes out.
pub struct Request {
    pub method: reqwest::Method,
    pub url: url::Url,
    pub headers: Vec<(&'static str, String)>,
    pub body: String,
}

/// A platform's contract: everything that differs from one chat service to the next, its
/// settings ([`ChatSetup`]) included. Each platform's module implements it; the registry
/// (`platforms`) lists them.
pub trait Platform: ChatSetup {
    /// Escapes text for the platform's markup (applied to every template value).
    fn escape(&self, text: &str) -> String;
    /// Posts a message may hold.
    fn max_posts(&self) -> usize;
    /// Whether these posts fit one message, counted the platform's way.
    fn fits(&self, frame: &Frame, posts: &[Rendered]) -> bool;
    /// The message body.
    fn payload(&self, frame: &Frame, posts: &[Rendered]) -> serde_json::Value;
    /// A URL as template text: by default made safe inside a Markdown link (the characters
    /// that would end or break one are percent-encoded, which leaves the URL's meaning).
    fn escape_url(&self, url: &str) -> String {
        markdown_url(url)
    }
    /// The documented rate: (burst, messages per second).
    fn rate(&self) -> (f64, f64);
    /// The request for one attempt. Most platforms take a plain POST of the body; some sign
    /// each attempt or name the message in the URL.
    fn request(
        &self,
        chat: &Chat,
        _message_id: &str,
        body: &str,
        _now: chrono::DateTime<chrono::Utc>,
    ) -> Request {
        Request {
            method: reqwest::Method::POST,
            url: chat.endpoint.0.clone(),
            headers: Vec::new(),
            body: body.to_owned(),
        }
    }
    /// Reads the answer. By default the HTTP status decides; platforms that report failures
    /// inside a 200 override this.
    fn classify(&self, answer: &Answer) -> Outcome {
        answer.outcome()
    }
}

/// Backslash-escapes Markdown: the characters in `always` anywhere, and `# + - >` where
/// they would start a heading, list or quote.
pub fn backslash_escape(text: &str, always: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    let mut line_start = true;
    for c in text.chars() {
        if always.contains(c) || (line_start && matches!(c, '#' | '-' | '+' | '>')) {
            out.push('\\');
        }
        out.push(c);
        line_start = c == '\n' || (line_start && c == ' ');
    }
    out
}

/// Percent-encodes the characters that end or break a Markdown link target.
pub fn markdown_url(url: &str) -> String {
    let mut out = String::with_capacity(url.len());
    for c in url.chars() {
        match c {
            '(' => out.push_str("%28"),
            ')' => out.push_str("%29"),
            ' ' => out.push_str("%20"),
            '<' => out.push_str("%3C"),
            '>' => out.push_str("%3E"),
            '\\' => out.push_str("%5C"),
            c => out.push(c),
        }
    }
    out
}

/// HTML text escaping, for platforms whose messages are HTML (`& < > "`).
pub fn html_escape(text: &str) -> String {
    html_escape::encode_double_quoted_attribute(text).into_owned()
}

/// Length in UTF-8 bytes, for platforms that count so.
pub fn byte_len(text: &str) -> usize {
    text.len()
}

/// Length in UTF-16 code units, as JavaScript-based platforms count.
pub fn utf16_len(text: &str) -> usize {
    text.encode_utf16().count()
}

/// The digest header line, before escaping.
pub fn header(frame: &Frame) -> Option<String> {
    frame.digest.then(|| {
        frame.words.text(
            "new_posts_on",
            Some(i64::try_from(frame.total).unwrap_or(i64::MAX)),
            &[("site", frame.site_title.to_owned())],
        )
    })
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
            false => super::outcome::classify(
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
        return super::outcome::classify(
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

/// The `url` of a platform reached through a webhook address (`${VAR}` replaced from the
/// environment), as its settings: errors name the key.
pub fn webhook_endpoint(raw: &RawNotifier, kind: &str) -> Result<Endpoint, (String, String)> {
    let err = |key: &str, message: String| (key.to_owned(), message);
    let text = raw
        .url
        .as_deref()
        .ok_or_else(|| err("url", format!("a {kind} notifier needs its webhook `url`")))?;
    let text = interpolate(text).map_err(|m| err("url", m))?;
    let url = http_url(&text).map_err(|m| err("url", m))?;
    Ok(Endpoint {
        url: TokenUrl(url),
        chat_id: None,
        secret: signing_secret(raw)?,
        auth: None,
    })
}

/// A robot's signing `secret` (`${VAR}` replaced), when one is set.
pub fn signing_secret(raw: &RawNotifier) -> Result<Option<SecretSlice<u8>>, (String, String)> {
    match &raw.secret {
        Some(text) => {
            let bytes = interpolate(text)
                .map_err(|m| ("secret".to_owned(), m))?
                .into_bytes();
            Ok((!bytes.is_empty()).then(|| SecretSlice::from(bytes)))
        }
        None => Ok(None),
    }
}

/// A platform key's text (`${VAR}` replaced), or an error naming it when it is missing.
pub fn required(raw: &RawNotifier, key: &str, why: &str) -> Result<String, (String, String)> {
    let text = raw
        .platform_text(key)
        .filter(|t| !t.trim().is_empty())
        .ok_or_else(|| (key.to_owned(), why.to_owned()))?;
    interpolate(text).map_err(|m| (key.to_owned(), m))
}
