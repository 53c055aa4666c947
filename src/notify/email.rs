//! Email digests and announcements: one message per recipient (so each carries its own
//! unsubscribe link and no one sees a list of strangers), multipart/alternative with a text
//! and an HTML part from templates, the list headers mail clients use, and optional DKIM.
//!
//! A message is built completely when it enters the outbox (stable `Message-ID`, date,
//! signature), so a retry sends exactly the same bytes. Sending it is [`super::smtp`]'s.

use crate::settings::secret::ExposeSecret;
use std::time::SystemTime;

use chrono::{DateTime, Utc};
use lettre::Message;
use lettre::message::header::{self, ContentTransferEncoding, HeaderName, HeaderValue};
use lettre::message::{Body, Mailbox, MultiPart, SinglePart};
use serde::{Deserialize, Serialize};

use super::dkim::Signers;
use super::item::{PostItem, message_id};
use crate::settings::Settings;
use crate::settings::email_settings::{Email, EmailTarget, Recipient};
use crate::tokens;

/// How long an unsubscribe link in a message keeps working.
const LINK_LIFETIME_DAYS: i64 = 365;

/// What the outbox keeps for one email: the recipient and the complete message.
#[derive(Debug, Serialize, Deserialize)]
pub struct Stored {
    pub to: String,
    pub eml: String,
}

/// One recipient's message, before it is encoded.
#[derive(Debug, Clone)]
pub struct Rendered {
    /// The address, for the envelope and the outbox.
    pub recipient: String,
    /// Name and address, for the `To` header.
    pub mailbox: Mailbox,
    pub subject: String,
    pub text: String,
    pub html: String,
    pub unsubscribe: Unsubscribe,
    /// Post ids the message tells of.
    pub posts: Vec<String>,
    /// The MIME boundary, one for the whole mailing: its messages then differ only where
    /// their readers do, and the state keeps what they share once (`store::bodies`).
    pub boundary: std::sync::Arc<str>,
}

/// Where a recipient unsubscribes.
#[derive(Debug, Clone)]
pub struct Unsubscribe {
    /// One-click HTTPS link with a signed token, when `[email] unsubscribe_url` is set.
    pub https: Option<String>,
    pub mailto: String,
}

impl Unsubscribe {
    /// The link shown in the footer.
    pub fn link(&self) -> &str {
        self.https.as_deref().unwrap_or(&self.mailto)
    }
}

/// The context templates see for one message.
#[derive(Serialize)]
struct Context<'a> {
    site: SiteInfo<'a>,
    notifier: &'a str,
    recipient: RecipientInfo,
    subject: String,
    posts: &'a [&'a PostItem],
    groups: Vec<Group<'a>>,
    total: usize,
    more: usize,
    digest: bool,
    unsubscribe_url: &'a str,
    reason: String,
}

#[derive(Serialize)]
struct SiteInfo<'a> {
    title: &'a str,
    url: &'a str,
    language: Option<&'a str>,
}

#[derive(Serialize)]
struct RecipientInfo {
    email: String,
    name: Option<String>,
}

#[derive(Serialize)]
struct Group<'a> {
    name: String,
    posts: Vec<&'a PostItem>,
}

/// Posts grouped by their first category (in order of first appearance); uncategorised
/// posts last.
fn groups<'a>(posts: &[&'a PostItem], other: &str) -> Vec<Group<'a>> {
    let mut out: Vec<Group> = Vec::new();
    for post in posts {
        let name = post
            .categories
            .first()
            .map(|c| c.replace('/', " / "))
            .unwrap_or_default();
        match out.iter_mut().find(|g| g.name == name) {
            Some(group) => group.posts.push(post),
            None => out.push(Group {
                name,
                posts: vec![post],
            }),
        }
    }
    out.sort_by_key(|g| g.name.is_empty());
    for group in &mut out {
        if group.name.is_empty() {
            group.name = other.to_owned();
        }
    }
    out
}

/// Who a message may go to beyond the notifier's own list, and who must not get one.
#[derive(Debug, Default)]
pub struct Audience {
    /// Confirmed sign-ups from the state file.
    pub signed_up: Vec<Recipient>,
    /// Addresses (lower case) that unsubscribed.
    pub unsubscribed: std::collections::HashSet<String>,
    /// Only the readers of this share `(k, n)`: part k of n, by a hash of the address
    /// (nodes sharing a state compose a large mailing in parts, side by side).
    pub part: Option<(u64, u64)>,
    /// Whether `unsubscribed` holds erased addresses' kept suppressions (by hash).
    pub erased: bool,
}

impl Audience {
    fn unsubscribed(&self, address: &str) -> bool {
        let lower = address.to_lowercase();
        self.unsubscribed.contains(&lower)
            || (self.erased
                && self
                    .unsubscribed
                    .contains(&crate::store::subscribers::erased_key(&lower)))
    }

    /// Whether `address` (lower case) is in this audience's part.
    fn in_part(&self, address: &str) -> bool {
        self.part
            .is_none_or(|(k, n)| n == 0 || xxhash_rust::xxh3::xxh3_64(address.as_bytes()) % n == k)
    }

    /// From the state file's sign-ups; one whose address no longer parses is skipped.
    pub fn new(
        signups: &[crate::store::Signup],
        unsubscribed: std::collections::HashSet<String>,
    ) -> Audience {
        let signed_up = signups
            .iter()
            .filter_map(|signup| {
                Some(Recipient {
                    mailbox: signup.address.parse().ok()?,
                    categories: signup
                        .categories
                        .iter()
                        .map(|path| path.split('/').map(str::to_owned).collect())
                        .collect(),
                    tags: Vec::new(),
                })
            })
            .collect();
        let erased = unsubscribed
            .iter()
            .any(|a| a.starts_with(crate::store::subscribers::ERASED));
        Audience {
            signed_up,
            unsubscribed,
            part: None,
            erased,
        }
    }
}

/// Renders what each reader gets (those who signed up, then `readers`), handing each message
/// to `emit` as it is made. Readers who unsubscribed, or whose own filters leave nothing,
/// get nothing. A digest longer than `max_posts` shows the newest and links
/// to the site for the rest.
#[allow(clippy::too_many_arguments)]
pub fn render<'r>(
    settings: &Settings,
    email: &Email,
    notifier: &str,
    target: &EmailTarget,
    readers: &mut dyn Iterator<Item = &'r Recipient>,
    digest: bool,
    max_posts: usize,
    items: &[PostItem],
    post_ids: &[String],
    now: DateTime<Utc>,
    audience: &'r Audience,
    emit: &mut dyn FnMut(Rendered) -> Result<(), String>,
) -> Result<(), String> {
    let words = mail_words(settings, email);
    let mut html_env = crate::templates::environment();
    words.register(&mut html_env);
    html_env
        .add_template("message.html", &target.template.1)
        .map_err(|e| format!("template `{}.html`: {e}", target.template.0))?;
    let mut text_env = crate::templates::environment();
    words.register(&mut text_env);
    text_env
        .add_template("message.txt", &target.template.2)
        .map_err(|e| format!("template `{}.txt`: {e}", target.template.0))?;
    text_env
        .add_template("subject.txt", &target.subject)
        .map_err(|e| format!("subject: {e}"))?;
    let site_url = settings.site.url.as_str();
    // Readers see the notifier's title where it has one.
    let display_name = settings
        .notifiers
        .iter()
        .find(|n| n.name == notifier)
        .and_then(|n| n.title.clone())
        .unwrap_or_else(|| notifier.to_owned());
    let boundary = mailing_boundary();
    let mut seen = std::collections::HashSet::new();
    // A sign-up first: it is the person's own latest choice of categories.
    for recipient in audience.signed_up.iter().chain(readers) {
        let address = recipient.address();
        if !seen.insert(address.to_lowercase())
            || audience.unsubscribed(&address)
            || !audience.in_part(&address.to_lowercase())
        {
            continue;
        }
        let wanted: Vec<(&PostItem, &String)> = items
            .iter()
            .zip(post_ids)
            .filter(|(item, _)| recipient.wants(&item.categories, &item.tags))
            .collect();
        if wanted.is_empty() {
            continue;
        }
        let shown: Vec<&PostItem> = wanted
            .iter()
            .take(max_posts)
            .map(|(item, _)| *item)
            .collect();
        let unsubscribe = unsubscribe_for(email, notifier, &address, now);
        let reason = words.text(
            "reason",
            None,
            &[
                ("address", address.clone()),
                ("notifier", display_name.clone()),
                ("site", settings.site.title.clone()),
            ],
        );
        let all: Vec<&PostItem> = wanted.iter().map(|(item, _)| *item).collect();
        let mut context = Context {
            site: SiteInfo {
                title: &settings.site.title,
                url: site_url,
                language: settings.site.language.as_deref(),
            },
            notifier,
            recipient: RecipientInfo {
                email: address.clone(),
                name: recipient.mailbox.name.clone(),
            },
            subject: String::new(),
            posts: &all,
            groups: Vec::new(),
            total: wanted.len(),
            more: wanted.len() - shown.len(),
            digest,
            unsubscribe_url: unsubscribe.link(),
            reason,
        };
        let subject = text_env
            .get_template("subject.txt")
            .and_then(|t| t.render(minijinja::value::Serde(&context)))
            .map_err(|e| format!("subject: {e}"))?;
        context.subject = subject.split_whitespace().collect::<Vec<_>>().join(" ");
        context.posts = &shown;
        context.groups = groups(&shown, &words.text("other_posts", None, &[]));
        let html = html_env
            .get_template("message.html")
            .and_then(|t| t.render(minijinja::value::Serde(&context)))
            .map_err(|e| format!("template `{}.html`: {e}", target.template.0))?;
        let text = text_env
            .get_template("message.txt")
            .and_then(|t| t.render(minijinja::value::Serde(&context)))
            .map_err(|e| format!("template `{}.txt`: {e}", target.template.0))?;
        emit(Rendered {
            recipient: address,
            mailbox: recipient.mailbox.clone(),
            subject: context.subject,
            text,
            html,
            unsubscribe: unsubscribe.clone(),
            posts: wanted
                .iter()
                .take(max_posts)
                .map(|(_, id)| (*id).clone())
                .collect(),
            boundary: boundary.clone(),
        })?;
    }
    Ok(())
}

/// A MIME boundary no one can foresee (so no post can carry it), from the process's
/// random hash keys.
fn mailing_boundary() -> std::sync::Arc<str> {
    use std::hash::BuildHasher;
    let random = || std::collections::hash_map::RandomState::new().hash_one(0u8);
    format!("tidings{:016x}{:016x}", random(), random()).into()
}

fn unsubscribe_for(
    email: &Email,
    notifier: &str,
    address: &str,
    now: DateTime<Utc>,
) -> Unsubscribe {
    let subject = format!("unsubscribe {notifier}");
    let mailto = format!(
        "mailto:{}?subject={}",
        email.from.email,
        percent_encoding::utf8_percent_encode(&subject, percent_encoding::NON_ALPHANUMERIC)
    );
    let https = match (&email.unsubscribe_url, &email.secret) {
        (Some(url), Some(secret)) => {
            let grant = tokens::Grant {
                action: "unsubscribe".into(),
                address: address.to_owned(),
                notifier: notifier.to_owned(),
                expires: now + chrono::Duration::days(LINK_LIFETIME_DAYS),
                categories: Vec::new(),
            };
            let mut url = url.clone();
            url.query_pairs_mut()
                .append_pair("token", &tokens::sign(secret.expose_secret(), &grant));
            Some(url.to_string())
        }
        _ => None,
    };
    Unsubscribe { https, mailto }
}

/// Encodes one rendered message with every header, signs it if DKIM is set, and returns the
/// message id and what the outbox stores.
pub fn encode(
    settings: &Settings,
    email: &Email,
    dkim: &Signers,
    notifier: &str,
    key: &str,
    rendered: &Rendered,
    now: DateTime<Utc>,
) -> Result<(String, String), String> {
    let domain = settings
        .site
        .url
        .host_str()
        .unwrap_or("localhost")
        .to_owned();
    let id = message_id(
        settings.site.url.as_str(),
        notifier,
        &format!("{key}\u{1f}{}", rendered.recipient),
    );
    let mut list_unsubscribe = format!("<{}>", rendered.unsubscribe.mailto);
    if let Some(https) = &rendered.unsubscribe.https {
        list_unsubscribe = format!("<{https}>, {list_unsubscribe}");
    }
    let mut builder = Message::builder()
        .from(email.from.clone())
        .to(rendered.mailbox.clone())
        .subject(rendered.subject.clone())
        .date(SystemTime::from(now))
        .message_id(Some(format!("<{id}@{domain}>")));
    if let Some(reply_to) = &email.reply_to {
        builder = builder.reply_to(reply_to.clone());
    }
    let mut headers = vec![
        ("List-Id", format!("<{notifier}.{domain}>")),
        ("List-Unsubscribe", list_unsubscribe),
        ("Auto-Submitted", "auto-generated".to_owned()),
        ("Precedence", "bulk".to_owned()),
    ];
    if rendered.unsubscribe.https.is_some() {
        headers.push((
            "List-Unsubscribe-Post",
            "List-Unsubscribe=One-Click".to_owned(),
        ));
    }
    for (name, value) in headers {
        builder = builder.raw_header(HeaderValue::new(
            HeaderName::new_from_ascii_str(name),
            value,
        ));
    }
    let stored = finish(
        builder,
        rendered.text.clone(),
        rendered.html.clone(),
        dkim,
        &rendered.recipient,
        Some(&rendered.boundary),
    )?;
    Ok((id, stored))
}

/// Adds the text and HTML parts, signs, and returns what the outbox stores.
fn finish(
    builder: lettre::message::MessageBuilder,
    text: String,
    html: String,
    dkim: &Signers,
    to: &str,
    boundary: Option<&str>,
) -> Result<String, String> {
    let (content_type, body) = alternative_body(text, html, boundary)?;
    let message = builder
        .header(header::MIME_VERSION_1_0)
        .header(content_type)
        .body(body)
        .map_err(|e| format!("cannot build the message: {e}"))?;
    let signed = dkim.sign(&message)?;
    let stored = Stored {
        to: to.to_owned(),
        // 7-bit by construction: taken as it is, without a second copy.
        eml: String::from_utf8(signed)
            .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned()),
    };
    Ok(serde_json::to_string(&stored).expect("plain structs serialize"))
}

/// The text and HTML alternatives as a message header and a ready-made body. lettre writes
/// a multipart's Content-Type together with its body, after signing, which would leave
/// Content-Type outside the DKIM signature; lifting it into the message's own headers lets
/// the signature cover it (RFC 6376 §5.4). The parts are already 7-bit (quoted-printable
/// or base64), so the body goes out byte for byte as made.
fn alternative_body(
    text: String,
    html: String,
    boundary: Option<&str>,
) -> Result<(header::ContentType, Body), String> {
    let mut builder = MultiPart::alternative();
    // A boundary must not occur in what it bounds: if the text carries it, lettre's own.
    if let Some(boundary) = boundary.filter(|b| !text.contains(b) && !html.contains(b)) {
        builder = builder.boundary(boundary);
    }
    let part = builder
        .singlepart(SinglePart::plain(text))
        .singlepart(SinglePart::html(html));
    let content_type = part
        .headers()
        .get::<header::ContentType>()
        .ok_or("the multipart has no Content-Type")?;
    let formatted = part.formatted();
    // `formatted` is the part's headers, a blank line, then its body.
    let start = formatted
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|at| at + 4)
        .ok_or("the multipart has no body")?;
    // lettre's chooser would call lines over 76 characters "not 7-bit", and quoted-printable
    // lines are 76 plus the line break; the body is lettre's own 7-bit output, so it is
    // handed over as already encoded (7bit is what RFC 2045 §6.4 allows for a multipart).
    let body = Body::dangerous_pre_encoded(
        formatted[start..].to_vec(),
        ContentTransferEncoding::SevenBit,
    );
    Ok((content_type, body))
}

/// A double opt-in request: who asked, for what, and the link that confirms it.
pub struct Confirmation<'a> {
    pub notifier: &'a str,
    /// How the page and the email name what is subscribed to.
    pub label: &'a str,
    pub to: &'a Mailbox,
    pub categories: &'a [String],
    pub link: &'a str,
    pub hours: i64,
}

/// The confirmation email (templates `confirm.html` and `confirm.txt`), made whole for the
/// outbox like any message; returns the message id and what the outbox stores. It carries no
/// list headers: it is one answer to one request, not list mail.
pub fn confirmation(
    settings: &Settings,
    email: &Email,
    pages: &crate::settings::server_settings::Pages,
    request: &Confirmation,
    now: DateTime<Utc>,
) -> Result<(String, String), String> {
    #[derive(Serialize)]
    struct ConfirmContext<'a> {
        site: SiteInfo<'a>,
        notifier: &'a str,
        label: &'a str,
        address: String,
        categories: &'a [String],
        confirm_url: &'a str,
        hours: i64,
    }
    let context = ConfirmContext {
        site: SiteInfo {
            title: &settings.site.title,
            url: settings.site.url.as_str(),
            language: settings.site.language.as_deref(),
        },
        notifier: request.notifier,
        label: request.label,
        address: request.to.email.to_string(),
        categories: request.categories,
        confirm_url: request.link,
        hours: request.hours,
    };
    let words = mail_words(settings, email);
    let mut env = crate::templates::environment();
    words.register(&mut env);
    env.add_template("confirm.html", &pages.confirm_html)
        .and_then(|()| env.add_template("confirm.txt", &pages.confirm_txt))
        .map_err(|e| format!("confirmation template: {e}"))?;
    let render = |name: &str| {
        env.get_template(name)
            .and_then(|t| t.render(minijinja::value::Serde(&context)))
            .map_err(|e| format!("template `{name}`: {e}"))
    };
    let (html, text) = (render("confirm.html")?, render("confirm.txt")?);
    let domain = settings.site.url.host_str().unwrap_or("localhost");
    let key = format!(
        "confirm\u{1f}{}\u{1f}{}",
        context.address,
        now.timestamp_nanos_opt().unwrap_or_default()
    );
    let id = message_id(settings.site.url.as_str(), request.notifier, &key);
    let mut builder = Message::builder()
        .from(email.from.clone())
        .to(request.to.clone())
        .subject(words.text(
            "confirm_subject",
            None,
            &[("site", settings.site.title.clone())],
        ))
        .date(SystemTime::from(now))
        .message_id(Some(format!("<{id}@{domain}>")))
        .raw_header(HeaderValue::new(
            HeaderName::new_from_ascii_str("Auto-Submitted"),
            "auto-generated".to_owned(),
        ));
    if let Some(reply_to) = &email.reply_to {
        builder = builder.reply_to(reply_to.clone());
    }
    let stored = finish(
        builder,
        text,
        html,
        &Signers::of(email),
        &context.address,
        None,
    )?;
    Ok((id, stored))
}

/// The words mail is written in: `email.language`'s, else the site's.
fn mail_words<'s>(settings: &'s Settings, email: &'s Email) -> &'s crate::i18n::Catalog {
    email.words.as_ref().unwrap_or(&settings.words)
}

/// The recipient of a stored message, if it is one.
pub fn recipient_of(body: &str) -> Option<String> {
    serde_json::from_str::<Stored>(body)
        .ok()
        .map(|stored| stored.to)
}

/// One of `recipients` by address (the first without one), for previews.
pub fn recipient<'r>(recipients: &'r [Recipient], address: Option<&str>) -> Option<&'r Recipient> {
    match address {
        Some(address) => recipients
            .iter()
            .find(|r| r.address().eq_ignore_ascii_case(address)),
        None => recipients.first(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> (tempfile::TempDir, Settings) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("posts")).unwrap();
        let text = "[site]\ntitle = \"Site\"\nurl = \"https://example.org/\"\n[content]\ndir = \"posts\"\n\
                    [email]\nfrom = \"News <news@example.org>\"\nunsubscribe_url = \"https://example.org/u\"\nsecret = \"0123456789abcdef0123\"\n\
                    [notifiers.daily]\ntype = \"email\"\nmode = \"digest\"\nschedule = \"@daily\"\nto = [\"Ada <ada@example.org>\", \"bob@example.org\"]\n";
        let s = Settings::parse(text, std::path::Path::new("s.toml"), dir.path()).unwrap();
        (dir, s)
    }

    fn item(n: usize, category: &str) -> PostItem {
        PostItem {
            id: format!("urn:uuid:{n}"),
            post_id: format!("p{n}.md"),
            title: format!("Post {n} <b>"),
            url: format!("https://example.org/p{n}/"),
            summary: "Summary.".into(),
            categories: vec![category.into()],
            tags: Vec::new(),
            image: None,
            published: "2026-12-01T08:00:00+00:00".into(),
            updated: "2026-12-01T08:00:00+00:00".into(),
            published_utc: String::new(),
            date: String::new(),
            author: None,
        }
    }

    fn rendered(s: &Settings, readers: &[Recipient]) -> Vec<Rendered> {
        let crate::settings::NotifierKind::Email(target) = &s.notifiers[0].kind else {
            unreachable!()
        };
        let items = [item(1, "News"), item(2, "Tech")];
        let ids: Vec<String> = items.iter().map(|i| i.post_id.clone()).collect();
        let now = chrono::DateTime::parse_from_rfc3339("2026-12-01T09:00:00Z")
            .unwrap()
            .to_utc();
        let mut out = Vec::new();
        render(
            s,
            s.email.as_ref().unwrap(),
            "daily",
            target,
            &mut readers.iter(),
            true,
            20,
            &items,
            &ids,
            now,
            &Audience::default(),
            &mut |r| {
                out.push(r);
                Ok(())
            },
        )
        .unwrap();
        out
    }

    /// One message per reader, each with its own unsubscribe link; a reader following one
    /// category gets only its posts; titles are escaped in HTML and kept in text.
    #[test]
    fn each_reader_gets_their_own_message() {
        let (_dir, s) = settings();
        let crate::settings::NotifierKind::Email(target) = &s.notifiers[0].kind else {
            unreachable!()
        };
        let mut readers = target.to.clone();
        readers[1].categories = vec![vec!["Tech".into()]];
        let messages = rendered(&s, &readers);
        assert_eq!(messages.len(), 2);
        assert_eq!(messages[0].recipient, "ada@example.org");
        assert_eq!(messages[0].posts, ["p1.md", "p2.md"]);
        assert_eq!(messages[1].posts, ["p2.md"], "bob follows Tech only");
        assert!(messages[0].html.contains("Post 1 &lt;b&gt;"));
        assert!(messages[0].text.contains("Post 1 <b>"));
        let (a, b) = (
            messages[0].unsubscribe.link(),
            messages[1].unsubscribe.link(),
        );
        assert!(!a.is_empty() && a != b, "one link per reader");
    }

    /// The encoded message is what the outbox stores: the same key gives the same
    /// `Message-ID`, and the list headers mail clients use are there.
    #[test]
    fn encoded_messages_carry_a_stable_id_and_list_headers() {
        let (_dir, s) = settings();
        let crate::settings::NotifierKind::Email(target) = &s.notifiers[0].kind else {
            unreachable!()
        };
        let messages = rendered(&s, &target.to);
        let now = chrono::DateTime::parse_from_rfc3339("2026-12-01T09:00:00Z")
            .unwrap()
            .to_utc();
        let email = s.email.as_ref().unwrap();
        let (id, body) = encode(
            &s,
            email,
            &crate::notify::dkim::Signers::of(email),
            "daily",
            "digest:1",
            &messages[0],
            now,
        )
        .unwrap();
        let (again, _) = encode(
            &s,
            email,
            &crate::notify::dkim::Signers::of(email),
            "daily",
            "digest:1",
            &messages[0],
            now,
        )
        .unwrap();
        assert_eq!(id, again);
        let stored: Stored = serde_json::from_str(&body).unwrap();
        assert_eq!(stored.to, "ada@example.org");
        for header in [
            "Message-ID: <",
            "List-Unsubscribe: <",
            "List-Unsubscribe-Post: List-Unsubscribe=One-Click",
            "To: Ada <ada@example.org>",
        ] {
            assert!(stored.eml.contains(header), "{header}: {}", stored.eml);
        }
        assert_eq!(recipient_of(&body).as_deref(), Some("ada@example.org"));
    }
}
