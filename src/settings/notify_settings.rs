//! `[notifiers.<name>]`, validated: who is told about new posts, how often, and with which
//! secrets.
//!
//! Secrets come from the environment (`${ENV_VAR}` in a value) and are read once, here. They
//! live in types whose `Debug` hides them, so no log line or error message can carry one.

use std::path::Path;
use std::time::Duration;

use url::Url;

use super::env::interpolate;
use super::raw::RawNotifier;
use super::secret::{SecretSlice, SecretString, TokenUrl};
use crate::model::Post;
use crate::schedule::Cron;

/// The most posts one message may hold.
pub const MAX_POSTS: usize = 1000;
/// The most attempts of one message.
pub const MAX_ATTEMPTS: u32 = 100;
pub use super::email_settings::MAX_TIMEOUT_SECONDS;

/// Headers a webhook's `headers` may not set: the HTTP client frames the request itself
/// (a `Transfer-Encoding: chunked` of ours would break every send), and the Standard
/// Webhooks headers and the content type are the message's own.
const RESERVED_HEADERS: &[&str] = &[
    "content-length",
    "transfer-encoding",
    "host",
    "connection",
    "keep-alive",
    "upgrade",
    "te",
    "trailer",
    "expect",
    "proxy-connection",
    "content-type",
    "content-encoding",
    "webhook-id",
    "webhook-timestamp",
    "webhook-signature",
];

/// When a notifier sends.
#[derive(Debug, Clone)]
pub enum Delivery {
    /// One message per post, as soon as the post is published.
    Instant,
    /// One message (split by `max_posts`) each time the schedule fires.
    Digest(Cron),
}

/// One configured receiver.
#[derive(Debug, Clone)]
pub struct Notifier {
    pub name: String,
    /// What readers see it called, when set (`notifiers.<name>.title`).
    pub title: Option<String>,
    pub delivery: Delivery,
    /// Category paths, parent first; a post in a descendant matches too.
    pub categories: Vec<Vec<String>>,
    pub tags: Vec<String>,
    pub max_posts: usize,
    pub max_attempts: u32,
    /// Per request, for HTTP notifiers (email uses `[email] timeout_seconds`).
    pub timeout: Duration,
    pub kind: NotifierKind,
}

/// The receiver's protocol.
#[derive(Debug, Clone)]
pub enum NotifierKind {
    Webhook(Webhook),
    Chat(Chat),
    Email(super::email_settings::EmailTarget),
    /// A WebSub hub, told when a feed changes (from `feeds.hubs`; it hears of no posts).
    Hub(Url),
}

impl NotifierKind {
    /// The `type` it was set up with (`webhook`, `email`, a chat platform's; `websub` for a hub).
    pub fn name(&self) -> &'static str {
        match self {
            NotifierKind::Webhook(_) => "webhook",
            NotifierKind::Chat(chat) => chat.kind,
            NotifierKind::Email(_) => "email",
            NotifierKind::Hub(_) => "websub",
        }
    }
}

/// A chat platform as the settings load it. Each platform's module (in `notify/`)
/// implements it, and the registry that loads the settings hands every one in: the
/// settings never name a platform.
pub trait ChatSetup: Sync {
    /// The `type` that selects it.
    fn name(&self) -> &'static str;
    /// The keys under `notifiers.<name>` it reads, beyond those every notifier has
    /// (`url`, `secret`, or keys of its own).
    fn keys(&self) -> &'static [&'static str];
    /// The key that says where its messages go, for errors (`url`, `api_base`…).
    fn address_key(&self) -> &'static str {
        "url"
    }
    /// Where its messages go, read from its own keys; errors name the key.
    fn endpoint(&self, raw: &RawNotifier) -> Result<Endpoint, (String, String)>;
    /// The compiled-in per-post template.
    fn default_template(&self) -> &'static str;
}

/// Where a chat platform's messages go.
#[derive(Debug, Clone)]
pub struct Endpoint {
    /// It carries the token (a Slack or Discord webhook path, a Telegram bot token).
    pub url: TokenUrl,
    /// Telegram's `chat_id`.
    pub chat_id: Option<String>,
    /// DingTalk's and Feishu's signing secret.
    pub secret: Option<SecretSlice<u8>>,
    /// Matrix's access token (sent as `Authorization: Bearer`).
    pub auth: Option<SecretString>,
}

/// A chat group reached through its platform's webhook or bot API.
#[derive(Debug, Clone)]
pub struct Chat {
    /// The platform's `type` (the registry finds its contract by it).
    pub kind: &'static str,
    /// The settings key that says where its messages go (`url`, `api_base`…).
    pub address_key: &'static str,
    /// Where POSTs go. It carries the token, so it is never logged whole.
    pub endpoint: TokenUrl,
    /// Telegram's `chat_id`.
    pub chat_id: Option<String>,
    /// DingTalk's and Feishu's signing secret.
    pub secret: Option<SecretSlice<u8>>,
    /// Matrix's access token (sent as `Authorization: Bearer`).
    pub auth: Option<SecretString>,
    /// Name and source of the per-post template.
    pub template: (String, String),
}

impl Chat {
    /// What may be logged of the endpoint.
    pub fn host(&self) -> String {
        self.endpoint.host()
    }
}

/// A generic JSON webhook (Standard Webhooks signing).
#[derive(Debug, Clone)]
pub struct Webhook {
    /// May carry a token, so it is never logged whole.
    pub url: TokenUrl,
    /// Header values are often API keys.
    pub headers: Vec<(String, SecretString)>,
    /// The HMAC key.
    pub secret: Option<SecretSlice<u8>>,
    /// Name and source of the template that shapes the body.
    pub template: Option<(String, String)>,
}

impl Webhook {
    /// What may be logged of the URL.
    pub fn host(&self) -> String {
        self.url.host()
    }
}

impl Notifier {
    /// Whether this notifier wants to hear of `post`: any listed category (or a descendant)
    /// or any listed tag; with no filters, every post.
    pub fn wants(&self, post: &Post) -> bool {
        if matches!(self.kind, NotifierKind::Hub(_)) {
            return false;
        }
        if self.categories.is_empty() && self.tags.is_empty() {
            return true;
        }
        let in_category = self.categories.iter().any(|wanted| {
            post.categories
                .iter()
                .any(|chain| chain.starts_with(wanted))
        });
        in_category || self.tags.iter().any(|t| post.tags.contains(t))
    }
}

/// Checks one notifier table. Errors name the key below `notifiers.<name>`.
pub fn validate(
    name: &str,
    raw: RawNotifier,
    base: &Path,
    chats: &[&dyn ChatSetup],
) -> Result<Notifier, (String, String)> {
    let err = |key: &str, message: String| (key.to_owned(), message);
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err(err(
            "",
            "notifier names use letters, digits, `-` and `_`".into(),
        ));
    }
    let title = match raw.title.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(title) if title.chars().count() > 100 || title.chars().any(char::is_control) => {
            return Err(err(
                "title",
                "must be one line of at most 100 characters".into(),
            ));
        }
        Some(title) => Some(title.to_owned()),
    };
    let delivery = match (raw.mode.as_str(), &raw.schedule) {
        ("instant", None) => Delivery::Instant,
        ("instant", Some(_)) => {
            return Err(err(
                "schedule",
                "only digests have a schedule; set `mode = \"digest\"` or remove it".into(),
            ));
        }
        ("digest", Some(expr)) => {
            Delivery::Digest(Cron::parse(expr).map_err(|m| err("schedule", m))?)
        }
        ("digest", None) => {
            return Err(err(
                "schedule",
                "a digest needs a schedule, e.g. `schedule = \"0 8 * * *\"` (08:00 daily)".into(),
            ));
        }
        (other, _) => {
            return Err(err(
                "mode",
                format!("`{other}` is not one of `instant`, `digest`"),
            ));
        }
    };
    if !(1..=MAX_POSTS).contains(&raw.max_posts) {
        return Err(err(
            "max_posts",
            format!("must be from 1 to {MAX_POSTS} posts a message"),
        ));
    }
    if !(1..=MAX_ATTEMPTS).contains(&raw.max_attempts) {
        return Err(err(
            "max_attempts",
            format!("must be from 1 to {MAX_ATTEMPTS}"),
        ));
    }
    let timeout_seconds = match (raw.timeout_seconds, raw.kind.as_str()) {
        (Some(_), "email") => {
            return Err(err(
                "timeout_seconds",
                "does not apply to an `email` notifier; set `email.timeout_seconds`".into(),
            ));
        }
        (Some(seconds), _) if !(1..=MAX_TIMEOUT_SECONDS).contains(&seconds) => {
            return Err(err(
                "timeout_seconds",
                format!("must be from 1 to {MAX_TIMEOUT_SECONDS} seconds"),
            ));
        }
        (Some(seconds), _) => seconds,
        (None, _) => 10,
    };
    let categories = raw
        .categories
        .iter()
        .map(|path| {
            path.split('/')
                .map(|s| s.trim().to_owned())
                .filter(|s| !s.is_empty())
                .collect::<Vec<_>>()
        })
        .filter(|path| !path.is_empty())
        .collect();
    let kind = match raw.kind.as_str() {
        "webhook" => {
            check_keys_apply(&raw, &["url", "headers", "secret"])?;
            NotifierKind::Webhook(webhook(&raw, base)?)
        }
        "email" => {
            check_keys_apply(&raw, &["to", "subscribers", "subject", "signup"])?;
            let digest = matches!(delivery, Delivery::Digest(_));
            NotifierKind::Email(super::email_settings::target(&raw, base, digest)?)
        }
        kind => match chats.iter().find(|c| c.name() == kind) {
            Some(platform) => {
                check_keys_apply(&raw, platform.keys())?;
                NotifierKind::Chat(chat(*platform, &raw, base)?)
            }
            None => {
                let mut known = vec!["email", "webhook"];
                known.extend(chats.iter().map(|c| c.name()));
                let known: Vec<String> = known.iter().map(|k| format!("`{k}`")).collect();
                return Err(err(
                    "type",
                    format!(
                        "`{kind}` is not a notifier type tidings knows; use one of {}",
                        known.join(", ")
                    ),
                ));
            }
        },
    };
    Ok(Notifier {
        name: name.to_owned(),
        title,
        delivery,
        categories,
        tags: raw.tags,
        max_posts: raw.max_posts,
        max_attempts: raw.max_attempts,
        timeout: Duration::from_secs(timeout_seconds),
        kind,
    })
}

/// A key set that this notifier's type does not take is an error, not a silently ignored
/// setting: of the keys some types take, only `takes`.
fn check_keys_apply(raw: &RawNotifier, takes: &[&str]) -> Result<(), (String, String)> {
    let set = [
        ("url", raw.url.is_some()),
        ("headers", !raw.headers.is_empty()),
        ("secret", raw.secret.is_some()),
        ("to", !raw.to.is_empty()),
        ("subscribers", raw.subscribers.is_some()),
        ("subject", raw.subject.is_some()),
        ("signup", raw.signup),
    ];
    let own = raw.platform.keys().map(|k| (k.as_str(), true));
    for (key, is_set) in set.into_iter().chain(own) {
        if is_set && !takes.contains(&key) {
            return Err((
                key.to_owned(),
                format!(
                    "does not apply to a `{}` notifier (it takes {})",
                    raw.kind,
                    if takes.is_empty() {
                        "none of the type-specific keys".to_owned()
                    } else {
                        takes
                            .iter()
                            .map(|k| format!("`{k}`"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    }
                ),
            ));
        }
    }
    Ok(())
}

fn chat(
    platform: &dyn ChatSetup,
    raw: &RawNotifier,
    base: &Path,
) -> Result<Chat, (String, String)> {
    let err = |key: &str, message: String| (key.to_owned(), message);
    let kind = platform.name();
    let endpoint = platform.endpoint(raw)?;
    let template = match &raw.template {
        Some(name) => (
            name.clone(),
            load_template(base, name).map_err(|m| err("template", m))?,
        ),
        None => {
            let name = format!("{kind}.jinja");
            match base.join("templates").join(&name).is_file() {
                true => {
                    let source = load_template(base, &name).map_err(|m| err("template", m))?;
                    (name, source)
                }
                false => (name, platform.default_template().to_owned()),
            }
        }
    };
    Ok(Chat {
        kind,
        address_key: platform.address_key(),
        endpoint: endpoint.url,
        chat_id: endpoint.chat_id,
        secret: endpoint.secret,
        auth: endpoint.auth,
        template,
    })
}

/// `base` with path segments added (each percent-encoded as a segment).
pub fn with_segments(mut base: Url, segments: &[&str]) -> Result<Url, String> {
    base.path_segments_mut()
        .map_err(|_| "cannot hold a path".to_owned())?
        .pop_if_empty()
        .extend(segments);
    Ok(base)
}

/// An absolute http(s) URL; the message never quotes it, since it can hold a token.
pub fn http_url(text: &str) -> Result<Url, String> {
    let url = Url::parse(text.trim()).map_err(|e| format!("not an absolute URL ({e})"))?;
    if url.scheme() != "https" && url.scheme() != "http" {
        return Err("must start with `https://` or `http://`".into());
    }
    Ok(url)
}

fn webhook(raw: &RawNotifier, base: &Path) -> Result<Webhook, (String, String)> {
    let err = |key: &str, message: String| (key.to_owned(), message);
    let url_text = raw
        .url
        .as_deref()
        .ok_or_else(|| err("url", "a webhook needs a `url`".into()))?;
    let url_text = interpolate(url_text).map_err(|m| err("url", m))?;
    let url = http_url(&url_text).map_err(|m| err("url", m))?;
    let mut headers = Vec::new();
    for (name, value) in &raw.headers {
        let key = format!("headers.{name}");
        reqwest::header::HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| err(&key, "is not a valid header name".into()))?;
        if RESERVED_HEADERS
            .iter()
            .any(|reserved| reserved.eq_ignore_ascii_case(name))
        {
            return Err(err(
                &key,
                "is set by tidings or the HTTP client for every request and cannot be changed"
                    .into(),
            ));
        }
        let value = interpolate(value).map_err(|m| err(&key, m))?;
        reqwest::header::HeaderValue::from_str(&value)
            .map_err(|_| err(&key, "has characters a header cannot carry".into()))?;
        headers.push((name.clone(), value));
    }
    let secret = match &raw.secret {
        Some(text) => Some(
            secret_key(&interpolate(text).map_err(|m| err("secret", m))?)
                .map_err(|m| err("secret", m))?,
        ),
        None => None,
    };
    let template = match &raw.template {
        Some(name) => Some((
            name.clone(),
            load_template(base, name).map_err(|m| err("template", m))?,
        )),
        None => None,
    };
    Ok(Webhook {
        url: TokenUrl(url),
        headers: headers
            .into_iter()
            .map(|(name, value)| (name, SecretString::from(value)))
            .collect(),
        secret: secret.map(SecretSlice::from),
        template,
    })
}

/// Standard Webhooks secrets are `whsec_` + base64; anything else is used as its bytes.
fn secret_key(text: &str) -> Result<Vec<u8>, String> {
    use base64::Engine;
    match text.strip_prefix("whsec_") {
        Some(encoded) => base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .map_err(|_| "starts with `whsec_` but the rest is not base64".to_owned()),
        None if text.is_empty() => Err("is empty".into()),
        None => Ok(text.as_bytes().to_vec()),
    }
}

/// Reads `templates/<name>` beside the settings file and checks its syntax now, not at the
/// first delivery.
fn load_template(base: &Path, name: &str) -> Result<String, String> {
    if name.contains("..") || Path::new(name).is_absolute() {
        return Err(format!("`{name}` must be a file name inside `templates/`"));
    }
    let path = base.join("templates").join(name);
    let source = std::fs::read_to_string(&path)
        .map_err(|e| format!("cannot read `{}`: {e}", path.display()))?;
    minijinja::Environment::new()
        .template_from_str(&source)
        .map_err(|e| format!("`{}`: {e}", path.display()))?;
    Ok(source)
}

/// What the notifiers of WebSub hubs are called: `websub:<hub URL>`. A configured
/// notifier's name cannot contain `:`, so the two never meet.
pub const HUB_PREFIX: &str = "websub:";

/// The notifier that carries publish pings to one WebSub hub (from `feeds.hubs`): pings wait
/// in the outbox and are retried like any delivery.
pub fn hub(url: Url) -> Notifier {
    Notifier {
        name: format!("{HUB_PREFIX}{url}"),
        title: None,
        delivery: Delivery::Instant,
        categories: Vec::new(),
        tags: Vec::new(),
        max_posts: 1,
        max_attempts: 10,
        timeout: Duration::from_secs(10),
        kind: NotifierKind::Hub(url),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interpolation_reads_the_environment_and_names_what_is_missing() {
        // SAFETY: the variable name is unique to this test, so no other thread reads it.
        unsafe { std::env::set_var("TIDINGS_TEST_TOKEN_1", "s3cret") };
        assert_eq!(
            interpolate("https://h/x?t=${TIDINGS_TEST_TOKEN_1}").unwrap(),
            "https://h/x?t=s3cret"
        );
        let err = interpolate("${TIDINGS_TEST_MISSING_9}").unwrap_err();
        assert!(err.contains("TIDINGS_TEST_MISSING_9"));
        assert!(interpolate("${oops").is_err());
    }

    #[test]
    fn secrets_never_show_in_debug_output() {
        let hook = Webhook {
            url: TokenUrl(Url::parse("https://hooks.example/T0/secret-token").unwrap()),
            headers: vec![("Authorization".into(), SecretString::from("Bearer abc"))],
            secret: Some(SecretSlice::from(b"whsec".to_vec())),
            template: None,
        };
        let shown = format!("{hook:?}");
        assert!(
            !shown.contains("secret-token")
                && !shown.contains("Bearer")
                && !shown.contains("whsec"),
            "{shown}"
        );
    }

    #[test]
    fn standard_webhooks_secret_format() {
        assert_eq!(secret_key("whsec_aGVsbG8=").unwrap(), b"hello");
        assert_eq!(secret_key("plain").unwrap(), b"plain");
        assert!(secret_key("whsec_!!").is_err());
    }
}
