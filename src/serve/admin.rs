//! `/admin`: the operator's page. What was published and announced day by day, what each
//! notifier delivered (sent, waiting to retry, failed) as small charts, each lane now, the
//! latest failures with the receiver's answer, each list's readers, and buttons for
//! `retry` and `send`. Server-rendered, no script: SVG bars sized by attributes, so the
//! page keeps the server's `style-src 'self'` policy.
//!
//! It exists only with `server.admin_token`, and answers only requests that carry it as
//! `Authorization: Bearer …` (compared in constant time; 401 otherwise). A browser gets
//! there through a proxy that adds the header; the buttons' forms carry a token derived
//! from the admin token, so a page elsewhere cannot make that browser press them.

use axum::http::HeaderMap;
use chrono::{DateTime, TimeDelta, Utc};
use hmac::{Hmac, KeyInit, Mac};
use hyper::StatusCode;
use hyper::header::{self, HeaderValue};
use secrecy::ExposeSecret;
use sha2::Sha256;

use super::answer::{Answer, html_answer, plain};
use super::state::State;
use crate::settings::{Delivery, NotifierKind};
use crate::store::NotifierStatus;
use crate::store::activity::{DayOfMessages, DayOfPosts, Failure};

/// Days the charts cover.
const DAYS: i64 = 14;
/// Failures listed.
const FAILURES: u32 = 20;

const TEMPLATE: &str = include_str!("../../templates/admin.html");

/// What the operator asked a button to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Retry,
    Send,
}

/// The answer to a request without the admin token: 404 when there is no admin page, 401
/// when the token is missing or wrong; `None` when it carries the token.
fn refused(state: &State, headers: &HeaderMap) -> Option<Answer> {
    let Some(token) = &state.server.admin_token else {
        return Some(plain(StatusCode::NOT_FOUND, "not found\n"));
    };
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    if crate::tokens::same_secret(given.as_bytes(), token.expose_secret()) {
        return None;
    }
    let mut answer = plain(StatusCode::UNAUTHORIZED, "unauthorized\n");
    answer.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Bearer realm=\"tidings admin\""),
    );
    Some(answer)
}

fn mac(key: &[u8], message: &[u8]) -> Hmac<Sha256> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(message);
    mac
}

/// The token the page's forms carry.
fn form_token(state: &State) -> String {
    let Some(token) = &state.server.admin_token else {
        return String::new();
    };
    crate::hex::encode(
        &mac(token.expose_secret(), b"admin form")
            .finalize()
            .into_bytes()[..16],
    )
}

/// One notifier as the page shows it.
#[derive(serde::Serialize)]
struct Row {
    #[serde(flatten)]
    status: NotifierStatus,
    kind: &'static str,
    digest: bool,
    /// Email: readers on the list or `to`, and of those unsubscribed (by themselves).
    listed: Option<usize>,
    unsubscribed: usize,
    days: Vec<DayOfMessages>,
}

#[derive(serde::Serialize)]
struct View {
    language: String,
    base: String,
    now: String,
    form: String,
    rows: Vec<Row>,
    posts: Vec<DayOfPosts>,
    failures: Vec<Failure>,
    /// The largest day, for the bars' scale (at least 1).
    most: u64,
    most_posts: u64,
}

/// `GET /admin`.
pub async fn page(state: &State, headers: &HeaderMap) -> Answer {
    if let Some(answer) = refused(state, headers) {
        return answer;
    }
    let now = state.clock.now();
    let since = crate::store::stamp(day_start(now - TimeDelta::days(DAYS - 1)));
    let settings = state.settings.clone();
    let read = state
        .with_store(move |store| {
            let statuses = crate::overview::notifiers(&settings, store, now)?;
            let days = store.messages_by_day(&since)?;
            let posts = store.posts_by_day(&since)?;
            let failures = store.recent_failures(FAILURES)?;
            let mut rows = Vec::new();
            for (notifier, status) in settings.notifiers.iter().zip(statuses) {
                let (listed, unsubscribed) = match &notifier.kind {
                    NotifierKind::Email(target) => {
                        let gone = store.unsubscribed(&notifier.name)?;
                        let readers = target.readers();
                        let out = readers
                            .iter()
                            .filter(|r| gone.contains(&r.address().to_lowercase()))
                            .count();
                        let by_bounces = (status.bounced + status.complained) as usize;
                        (Some(readers.len()), out.saturating_sub(by_bounces))
                    }
                    _ => (None, 0),
                };
                rows.push(Row {
                    kind: notifier.kind.name(),
                    digest: matches!(notifier.delivery, Delivery::Digest(_)),
                    listed,
                    unsubscribed,
                    days: days
                        .iter()
                        .filter(|d| d.notifier == notifier.name)
                        .cloned()
                        .collect(),
                    status,
                });
            }
            Ok((rows, posts, failures))
        })
        .await;
    let (rows, posts, failures) = match read {
        Ok(read) => read,
        Err(e) => {
            tracing::error!("admin: {e}");
            return plain(
                StatusCode::SERVICE_UNAVAILABLE,
                "the state cannot be read\n",
            );
        }
    };
    let most = rows
        .iter()
        .flat_map(|r| r.days.iter())
        .map(|d| d.sent + d.retrying + d.failed)
        .max()
        .unwrap_or(0)
        .max(1);
    let most_posts = posts.iter().map(|d| d.seen).max().unwrap_or(0).max(1);
    let view = View {
        language: state
            .settings
            .site
            .language
            .clone()
            .unwrap_or_else(|| "en".into()),
        base: state.base.clone(),
        now: crate::store::stamp(now),
        form: form_token(state),
        rows,
        posts,
        failures,
        most,
        most_posts,
    };
    let mut env = crate::templates::environment();
    // Its words are the catalog's (`[pages]` of `templates/i18n/<language>.toml`).
    state.settings.words.register(&mut env);
    let rendered = env
        .add_template("admin.html", TEMPLATE)
        .and_then(|()| env.get_template("admin.html"))
        .and_then(|t| t.render(minijinja::value::Serde(&view)));
    match rendered {
        Ok(html) => html_answer(StatusCode::OK, html),
        Err(e) => {
            tracing::error!("admin: the page cannot be made: {e}");
            plain(
                StatusCode::INTERNAL_SERVER_ERROR,
                "the page cannot be made\n",
            )
        }
    }
}

/// `POST /admin/retry` and `POST /admin/send` (`notifier`, `form`): put a notifier's
/// failed messages back (and compose again what could not be made), or cut a digest now;
/// then wake the daemon and go back to the page.
pub async fn act(
    state: &State,
    headers: &HeaderMap,
    action: Action,
    fields: &[(String, String)],
) -> Answer {
    if let Some(answer) = refused(state, headers) {
        return answer;
    }
    let field = |name: &str| {
        fields
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let expected = form_token(state);
    let given = field("form").unwrap_or("");
    if given.len() != expected.len()
        || !given
            .bytes()
            .zip(expected.bytes())
            .fold(true, |same, (a, b)| same & (a == b))
    {
        return plain(
            StatusCode::FORBIDDEN,
            "the form did not come from this page\n",
        );
    }
    let name = field("notifier").unwrap_or("").to_owned();
    let Some(notifier) = state.settings.notifiers.iter().find(|n| n.name == name) else {
        return plain(StatusCode::BAD_REQUEST, "no such notifier\n");
    };
    if action == Action::Send && !matches!(notifier.delivery, Delivery::Digest(_)) {
        return plain(StatusCode::BAD_REQUEST, "only a digest is sent now\n");
    }
    let (settings, clock) = (state.settings.clone(), state.clock);
    let done = state
        .with_store(move |store| {
            let now = clock.now();
            match action {
                Action::Retry => {
                    store.retry_failed(&name, now)?;
                    store.retry_compositions(&name)?;
                }
                Action::Send => {
                    let own = crate::store::Store::open_for(&settings.state)?;
                    crate::scanner::Scanner::new(&settings, clock, own, None).send_now(&name)?;
                }
            }
            Ok(())
        })
        .await;
    if let Err(e) = done {
        tracing::error!("admin: {e}");
        return plain(
            StatusCode::SERVICE_UNAVAILABLE,
            "the state cannot be written\n",
        );
    }
    tracing::info!(notifier = %notifier.name, ?action, "done from the admin page");
    state.shared.wake_daemon();
    let mut answer = plain(StatusCode::SEE_OTHER, "");
    if let Ok(location) = HeaderValue::from_str(&format!("{}admin", state.base)) {
        answer.headers_mut().insert(header::LOCATION, location);
    }
    answer
}

/// Midnight (UTC) of `at`'s day.
fn day_start(at: DateTime<Utc>) -> DateTime<Utc> {
    at.date_naive()
        .and_hms_opt(0, 0, 0)
        .map(|t| t.and_utc())
        .unwrap_or(at)
}
