//! Signing up and leaving: the front page's forms, `POST /subscribe` (which only sends a
//! confirmation email), `GET /confirm` (which stores the subscriber), and the one-click
//! `/unsubscribe` of RFC 8058.
//!
//! Nothing here tells whether an address is already subscribed: `/subscribe` answers the same
//! for every well-formed address. Links and forms carry HMAC-signed, expiring tokens
//! ([`crate::tokens`]); a post from another site is refused by its `Origin` and
//! `Sec-Fetch-Site` headers; each client address may sign up a few times an hour, and each
//! address gets at most one confirmation email per ten minutes.

use crate::settings::secret::ExposeSecret;
use std::net::IpAddr;
use std::time::Duration;

use axum::Form;
use axum::extract::Request;
use axum::extract::rejection::FormRejection;
use chrono::DateTime;
use hyper::StatusCode;
use hyper::body::Bytes;
use hyper::header::{self, HeaderValue};
use lettre::message::Mailbox;

use super::answer::{Answer, html_answer};
use super::body::{self, Unread};
use super::pages::{self, Field, Page, PageForm, SignupForm};
use super::state::{State, page};
use crate::notify::email::{Confirmation, confirmation};
use crate::settings::{Delivery, Notifier, NotifierKind};
use crate::store::{Confirmed, Signup};
use crate::tokens::{self, Grant, TokenError};

/// How long a confirmation link works.
const CONFIRM_HOURS: i64 = 48;
/// How long the front page's form can be sent.
const FORM_HOURS: i64 = 24;
/// The largest form accepted (an address and a list of categories).
pub(super) const MAX_FORM_BYTES: usize = 16 * 1024;
/// A form body must arrive within this time.
const BODY_TIMEOUT: Duration = Duration::from_secs(10);
/// The longest address SMTP carries.
const MAX_ADDRESS: usize = 254;
/// The email notifiers that offer a sign-up form.
fn signup_notifiers(state: &State) -> impl Iterator<Item = &Notifier> {
    state
        .settings
        .notifiers
        .iter()
        .filter(|n| matches!(&n.kind, NotifierKind::Email(target) if target.signup))
}

/// How pages and emails name what a notifier sends.
fn label(state: &State, notifier: &Notifier) -> String {
    if let Some(title) = &notifier.title {
        return title.clone();
    }
    let key = match notifier.delivery {
        Delivery::Digest(_) => "digest_label",
        Delivery::Instant => "instant_label",
    };
    state
        .settings
        .words
        .text(key, None, &[("name", notifier.name.clone())])
}

/// How pages name the notifier a link is for, as the sign-up page names it (its title); a
/// notifier no longer in the settings by its key.
fn what_is_sent(state: &State, notifier: &str) -> String {
    state
        .settings
        .notifiers
        .iter()
        .find(|n| n.name == notifier)
        .map_or_else(|| format!("“{notifier}”"), |n| label(state, n))
}

/// A phrase of these pages in the site's language (`[pages]` of the word catalog).
fn phrase(state: &State, english: &str, args: &[(&str, String)]) -> String {
    state.settings.words.phrase(english, args)
}

/// `GET /`: every feed, and a form per notifier that takes sign-ups.
pub async fn index(state: &State) -> Answer {
    let listing = state.shared.listing();
    let now = state.clock.now();
    let forms: Vec<SignupForm> = signup_notifiers(state)
        .map(|notifier| SignupForm {
            notifier: notifier.name.clone(),
            label: label(state, notifier),
            token: tokens::sign(
                state.server.secret.expose_secret(),
                &Grant {
                    action: "form".into(),
                    address: String::new(),
                    notifier: notifier.name.clone(),
                    expires: now + chrono::Duration::hours(FORM_HOURS),
                    categories: Vec::new(),
                },
            ),
            categories: pages::category_choices(&listing, &notifier.categories),
        })
        .collect();
    match state
        .pages
        .index(&state.settings, &state.base, &listing, &forms)
    {
        Ok(html) => html_answer(StatusCode::OK, html),
        Err(e) => {
            tracing::error!("{e}");
            super::answer::plain(
                StatusCode::INTERNAL_SERVER_ERROR,
                "the page template failed\n",
            )
        }
    }
}

fn answer(state: &State, status: StatusCode, title: &'static str, message: String) -> Answer {
    page(
        state,
        status,
        &Page {
            title,
            message,
            form: None,
        },
    )
}

/// The page for a request the state file could not take just now (the daemon held it too
/// long, or the disk failed): nothing was lost, and the same request works later.
fn try_again(state: &State, what: &str) -> Answer {
    answer(
        state,
        StatusCode::SERVICE_UNAVAILABLE,
        "Please try again",
        phrase(
            state,
            "{what} could not be stored just now. Please try again in a minute.",
            &[("what", phrase(state, what, &[]))],
        ),
    )
}

/// Whether a form post came from a page of this site. Browsers send `Sec-Fetch-Site` and
/// `Origin` with every cross-site POST; a client that sends neither is not a browser a
/// forged page could drive.
fn same_site(state: &State, headers: &hyper::HeaderMap) -> bool {
    let get = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    if let Some(site) = get("sec-fetch-site")
        && site != "same-origin"
        && site != "none"
    {
        return false;
    }
    let Some(origin) = get("origin") else {
        return true;
    };
    if origin == state.server.public_url.origin().ascii_serialization() {
        return true;
    }
    // Reached directly rather than through `public_url` (e.g. on the listen address).
    get("host").is_some_and(|host| {
        origin == format!("http://{host}") || origin == format!("https://{host}")
    })
}

/// Reads a small request body, refusing one too large or too slow.
async fn read_body(request: Request) -> Result<Bytes, (StatusCode, &'static str)> {
    body::read(request, MAX_FORM_BYTES, BODY_TIMEOUT)
        .await
        .map_err(|unread| {
            let message = match unread {
                Unread::TooSlow => "The form took too long to arrive.",
                Unread::TooLarge => "The form is too large.",
            };
            (unread.status(), message)
        })
}

/// The fields of the sign-up form.
#[derive(Default)]
struct SignupFields {
    email: String,
    notifier: String,
    form_token: String,
    trap: String,
    categories: Vec<String>,
}

fn parse_fields(pairs: Vec<(String, String)>) -> SignupFields {
    let mut fields = SignupFields::default();
    for (name, value) in pairs {
        match name.as_str() {
            "email" => fields.email = value.trim().to_owned(),
            "notifier" => fields.notifier = value,
            "form_token" => fields.form_token = value,
            "website" => fields.trap = value,
            "category" => fields.categories.push(value),
            _ => {}
        }
    }
    fields
}

/// The form as the extractor read it (within the body limit): a body too large or not a
/// form at all is refused with a page saying so; one that cannot be read as fields is a
/// form with none.
pub type FormFields = Result<Form<Vec<(String, String)>>, FormRejection>;

/// `POST /subscribe`: checks the form and queues a confirmation email.
pub async fn subscribe(
    state: &State,
    client: IpAddr,
    headers: &hyper::HeaderMap,
    form: FormFields,
) -> Answer {
    if let Err(wait) = state.signup.admit(client) {
        let mut refused = answer(
            state,
            StatusCode::TOO_MANY_REQUESTS,
            "Too many sign-ups",
            phrase(
                state,
                "Too many sign-ups came from your network just now. Please try again later.",
                &[],
            ),
        );
        refused.headers_mut().insert(
            header::RETRY_AFTER,
            HeaderValue::from(wait.as_secs().max(1)),
        );
        return refused;
    }
    if !same_site(state, headers) {
        return answer(
            state,
            StatusCode::FORBIDDEN,
            "Sign-up refused",
            phrase(
                state,
                "This form can only be sent from this site's own page.",
                &[],
            ),
        );
    }
    let pairs = match form {
        Ok(Form(pairs)) => pairs,
        Err(rejection) if rejection.status() == StatusCode::UNSUPPORTED_MEDIA_TYPE => {
            return answer(
                state,
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "Sign-up refused",
                phrase(state, "Please use the form on the front page.", &[]),
            );
        }
        Err(rejection) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            return answer(
                state,
                StatusCode::PAYLOAD_TOO_LARGE,
                "Sign-up refused",
                phrase(state, "The form is too large.", &[]),
            );
        }
        Err(_) => Vec::new(),
    };
    let fields = parse_fields(pairs);
    let Some(notifier) = signup_notifiers(state).find(|n| n.name == fields.notifier) else {
        return answer(
            state,
            StatusCode::BAD_REQUEST,
            "Sign-up refused",
            phrase(
                state,
                "This sign-up form is no longer offered; reload the front page.",
                &[],
            ),
        );
    };
    let now = state.clock.now();
    let form_ok = tokens::verify(state.server.secret.expose_secret(), &fields.form_token, now)
        .is_ok_and(|grant| grant.action == "form" && grant.notifier == notifier.name);
    if !form_ok {
        return answer(
            state,
            StatusCode::BAD_REQUEST,
            "Sign-up refused",
            phrase(
                state,
                "The form has expired. Reload the front page and try again.",
                &[],
            ),
        );
    }
    let Some(address) = signup_address(&fields.email) else {
        return answer(
            state,
            StatusCode::BAD_REQUEST,
            "Sign-up refused",
            phrase(
                state,
                "“{value}” is not an email address.",
                &[("value", truncate(&fields.email, 80))],
            ),
        );
    };
    let offered = pages::category_choices(&state.shared.listing(), &notifier.categories);
    let mut categories = Vec::new();
    for wanted in &fields.categories {
        if !offered.iter().any(|c| &c.path == wanted) {
            return answer(
                state,
                StatusCode::BAD_REQUEST,
                "Sign-up refused",
                phrase(
                    state,
                    "“{value}” is not a category offered here; reload the front page.",
                    &[("value", truncate(wanted, 80))],
                ),
            );
        }
        if !categories.contains(wanted) {
            categories.push(wanted.clone());
        }
    }
    let check_inbox = || {
        answer(
            state,
            StatusCode::OK,
            "Check your inbox",
            phrase(
                state,
                "If {address} can receive email, a message with a confirmation link is on its way. Nothing will be sent until you open it.",
                &[("address", address.to_string())],
            ),
        )
    };
    // A filled trap field is a bot: it gets the same answer and no email.
    if !fields.trap.is_empty()
        || !state
            .signup
            .first_in_a_while(&notifier.name, address.as_ref())
    {
        return check_inbox();
    }
    match queue_confirmation(state, notifier, &address, categories, now).await {
        Ok(()) => check_inbox(),
        Err(e) => {
            tracing::error!(notifier = %notifier.name, "sign-up: {e}");
            try_again(state, "Your sign-up")
        }
    }
}

/// An address as the sign-up form takes it: a plain `local@host.domain`, the way people
/// write their address. Quoted local parts (`"victim"@example.org`) and `[ip]` literals are
/// valid mail syntax but name nobody a list should mail, and would let one mailbox be
/// written many ways past the per-address limit; they are refused, like anything over
/// 254 characters.
fn signup_address(text: &str) -> Option<lettre::Address> {
    let text = text.trim();
    if text.len() > MAX_ADDRESS {
        return None;
    }
    let address: lettre::Address = text.parse().ok()?;
    let (local, domain) = (address.user(), address.domain());
    let atom =
        |c: char| !c.is_ascii() || c.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~".contains(c);
    let dot_atom = !local.is_empty()
        && local
            .split('.')
            .all(|part| !part.is_empty() && part.chars().all(atom));
    let host = domain.contains('.')
        && domain.split('.').all(|label| {
            !label.is_empty() && label.chars().all(|c| c.is_alphanumeric() || c == '-')
        });
    (dot_atom && host).then_some(address)
}

async fn queue_confirmation(
    state: &State,
    notifier: &Notifier,
    address: &lettre::Address,
    categories: Vec<String>,
    now: DateTime<chrono::Utc>,
) -> Result<(), String> {
    let email = state
        .settings
        .email
        .as_ref()
        .ok_or("an email notifier without `[email]`")?;
    let grant = Grant {
        action: "confirm".into(),
        address: address.to_string(),
        notifier: notifier.name.clone(),
        expires: now + chrono::Duration::hours(CONFIRM_HOURS),
        categories,
    };
    let mut link = state
        .server
        .public_url
        .join("confirm")
        .expect("a relative path joins any base URL");
    link.query_pairs_mut().append_pair(
        "token",
        &tokens::sign(state.server.secret.expose_secret(), &grant),
    );
    let to = Mailbox::new(None, address.clone());
    let label = label(state, notifier);
    let request = Confirmation {
        notifier: &notifier.name,
        label: &label,
        to: &to,
        categories: &grant.categories,
        link: link.as_str(),
        hours: CONFIRM_HOURS,
    };
    let (id, body) = confirmation(&state.settings, email, &state.server.pages, &request, now)?;
    let message = crate::store::NewMessage {
        message_id: id,
        notifier: notifier.name.clone(),
        kind: "confirm".into(),
        post_ids: Vec::new(),
        body,
        recipient: Some(address.to_string()),
        seq: 0,
    };
    state
        .with_store(move |store| store.enqueue(&message, now))
        .await?;
    state.shared.wake_daemon();
    tracing::info!(notifier = %notifier.name, "confirmation queued");
    Ok(())
}

fn truncate(text: &str, chars: usize) -> String {
    let mut short: String = text.chars().take(chars).collect();
    if short.len() < text.len() {
        short.push('…');
    }
    short
}

/// Checks a link's token for `action`; a refusal says what to do instead.
fn check_link(state: &State, token: &str, action: &str) -> Result<Grant, &'static str> {
    match tokens::verify(
        state.server.secret.expose_secret(),
        token,
        state.clock.now(),
    ) {
        Ok(grant) if grant.action == action => Ok(grant),
        Err(TokenError::Expired) if action == "confirm" => {
            Err("This confirmation link has expired. Please sign up again on the front page.")
        }
        Err(TokenError::Expired) => {
            Err("This link has expired. Use the unsubscribe link in a more recent email.")
        }
        Ok(_) | Err(_) => Err(
            "This link is damaged or was not made by this site. Copy the whole link from the email.",
        ),
    }
}

/// The page for a link that does not work.
fn refused_link(state: &State, message: &str) -> Answer {
    answer(
        state,
        StatusCode::BAD_REQUEST,
        "This link does not work",
        phrase(state, message, &[]),
    )
}

/// `GET /confirm?token=…`: stores the subscriber.
pub async fn confirm(state: &State, token: &str) -> Answer {
    let grant = match check_link(state, token, "confirm") {
        Ok(grant) => grant,
        Err(message) => return refused_link(state, message),
    };
    let Some(notifier) = signup_notifiers(state).find(|n| n.name == grant.notifier) else {
        return answer(
            state,
            StatusCode::GONE,
            "No longer offered",
            phrase(state, "This list no longer takes sign-ups.", &[]),
        );
    };
    let others: Vec<String> = state
        .settings
        .notifiers
        .iter()
        .filter(|n| matches!(n.kind, NotifierKind::Email(_)))
        .map(|n| n.name.clone())
        .collect();
    let signup = Signup {
        address: grant.address.clone(),
        categories: grant.categories.clone(),
    };
    let name = notifier.name.clone();
    let now = state.clock.now();
    // Confirmation tokens are made to last CONFIRM_HOURS: that far back is when it was made.
    let issued = grant.expires - chrono::Duration::hours(CONFIRM_HOURS);
    let stored = state
        .with_store(move |store| {
            let others: Vec<&str> = others.iter().map(String::as_str).collect();
            store.confirm_signup(&name, &signup, &others, issued, now)
        })
        .await;
    match stored {
        Err(e) => {
            tracing::error!(notifier = %notifier.name, "confirmation: {e}");
            return try_again(state, "Your confirmation");
        }
        Ok(Confirmed::Superseded) => {
            return answer(
                state,
                StatusCode::CONFLICT,
                "This link does not work",
                phrase(
                    state,
                    "{address} unsubscribed after this link was sent, so it no longer subscribes. To subscribe again, sign up on the front page.",
                    &[("address", grant.address.clone())],
                ),
            );
        }
        Ok(Confirmed::Already) => {}
        Ok(Confirmed::Subscribed) => {
            tracing::info!(notifier = %notifier.name, "sign-up confirmed");
        }
    }
    let following = if grant.categories.is_empty() {
        String::new()
    } else {
        phrase(
            state,
            " Categories: {categories}.",
            &[("categories", grant.categories.join(", "))],
        )
    };
    answer(
        state,
        StatusCode::OK,
        "You are subscribed",
        phrase(
            state,
            "{address} will receive {label}.",
            &[
                ("address", grant.address.clone()),
                ("label", label(state, notifier)),
            ],
        ) + &following,
    )
}

/// `GET /unsubscribe?token=…`: one button (mail scanners follow links; only a POST acts).
pub fn unsubscribe_page(state: &State, token: &str) -> Answer {
    let grant = match check_link(state, token, "unsubscribe") {
        Ok(grant) => grant,
        Err(message) => return refused_link(state, message),
    };
    let what = what_is_sent(state, &grant.notifier);
    page(
        state,
        StatusCode::OK,
        &Page {
            title: "Unsubscribe",
            message: phrase(
                state,
                "Stop sending {what} to {address}?",
                &[("what", what), ("address", grant.address.clone())],
            ),
            form: Some(PageForm {
                action: format!(
                    "{}unsubscribe?token={}",
                    state.base,
                    url::form_urlencoded::byte_serialize(token.as_bytes()).collect::<String>()
                ),
                button: "Unsubscribe",
                label: String::new(),
                fields: vec![Field {
                    name: "List-Unsubscribe",
                    value: "One-Click".into(),
                }],
            }),
        },
    )
}

/// `POST /unsubscribe?token=…` (RFC 8058 one-click, or the page's button): done at once.
pub async fn unsubscribe(state: &State, token: &str, request: Request) -> Answer {
    let grant = match check_link(state, token, "unsubscribe") {
        Ok(grant) => grant,
        Err(message) => return refused_link(state, message),
    };
    // The body (`List-Unsubscribe=One-Click`) says nothing the token does not; it is read so
    // the connection stays usable, and bounded like any other.
    if let Err((status, message)) = read_body(request).await {
        return answer(
            state,
            status,
            "Unsubscribe failed",
            phrase(state, message, &[]),
        );
    }
    let (address, notifier) = (grant.address.clone(), grant.notifier.clone());
    let now = state.clock.now();
    let stored = state
        .with_store(move |store| store.unsubscribe(&address, Some(&notifier), now))
        .await;
    if let Err(e) = stored {
        tracing::error!(notifier = %grant.notifier, "unsubscribe: {e}");
        return try_again(state, "Your unsubscribe");
    }
    tracing::info!(notifier = %grant.notifier, "unsubscribed");
    answer(
        state,
        StatusCode::OK,
        "You are unsubscribed",
        phrase(
            state,
            "{address} is unsubscribed from {what}.",
            &[
                ("address", grant.address.clone()),
                ("what", what_is_sent(state, &grant.notifier)),
            ],
        ),
    )
}
