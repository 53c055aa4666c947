//! `[email]` and the email-specific parts of `[notifiers.<name>]`, validated: the SMTP
//! server (or the `.eml` folder), the sender, DKIM, and every recipient's address, checked
//! when the settings load, with the CSV file and line of a bad one.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use lettre::message::Mailbox;
use url::Url;

use super::env::interpolate;
use super::raw::{RawEmail, RawNotifier};
use super::secret::{SecretSlice, SecretString};
pub use crate::readers::Recipient;
use crate::readers::{Listing, SubscriberList, unusable_name};

/// The longest one request (an SMTP session, an HTTP attempt) may take.
pub const MAX_TIMEOUT_SECONDS: u64 = 600;

/// How messages leave.
#[derive(Debug, Clone)]
pub enum MailTransport {
    Smtp {
        host: String,
        port: u16,
        tls: TlsMode,
        user: Option<String>,
        password: Option<SecretString>,
    },
    /// No server: each message becomes an `.eml` file in this folder.
    Files(PathBuf),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsMode {
    /// TLS from the first byte (`smtps://`, usually port 465).
    Implicit,
    /// STARTTLS, and refuse to go on without it (`smtp://`, usually 587).
    StartTls,
    /// No encryption (`?tls=none`): only for a relay on the same machine or network.
    None,
}

/// A DKIM signing key, read once when the settings load: RSA (PKCS#1 or PKCS#8 PEM) or
/// Ed25519 (RFC 8463, PKCS#8 PEM), as `openssl` writes them. Cloning shares the key.
#[derive(Clone)]
pub struct DkimKey {
    pub selector: String,
    pub key: Arc<DkimKeyPair>,
}

/// The private key itself. RSA signs with aws-lc-rs, the crypto rustls uses here too (0.26
/// ms a signature on this machine, against 0.58 ms for ring and 1.7 ms for the pure-Rust
/// `rsa` crate: at a newsletter's scale it is most of a message's CPU). aws-lc-rs refuses RSA
/// keys under 2048 bits, which RFC 8301 still allows down to 1024, so those sign with the
/// `rsa` crate through mail-auth.
pub enum DkimKeyPair {
    Rsa(aws_lc_rs::rsa::KeyPair),
    OtherRsa(Box<mail_auth::common::crypto::RsaKey<mail_auth::common::crypto::Sha256>>),
    Ed25519(aws_lc_rs::signature::Ed25519KeyPair),
}

impl std::fmt::Debug for DkimKey {
    // The selector and the kind of key, never the key.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = match *self.key {
            DkimKeyPair::Rsa(_) | DkimKeyPair::OtherRsa(_) => "rsa",
            DkimKeyPair::Ed25519(_) => "ed25519",
        };
        write!(f, "DkimKey({}, {kind})", self.selector)
    }
}

impl DkimKey {
    /// Reads `openssl genrsa` (PKCS#1 or PKCS#8 RSA) or `openssl genpkey -algorithm
    /// ed25519` (PKCS#8 Ed25519) output; the error says what to run instead.
    pub fn read(selector: &str, text: &str) -> Result<DkimKey, String> {
        use rustls::pki_types::PrivateKeyDer;
        use rustls::pki_types::pem::PemObject;
        const HOW: &str = "use `openssl genrsa 2048` (RSA) or `openssl genpkey -algorithm ed25519` \
            (Ed25519)";
        let der = PrivateKeyDer::from_pem_slice(text.as_bytes())
            .map_err(|_| format!("is not a private key: {HOW}"))?;
        let rejected = |e: aws_lc_rs::error::KeyRejected| format!("cannot be read ({e}): {HOW}");
        let key = match &der {
            PrivateKeyDer::Pkcs1(pkcs1) => rsa_key(
                aws_lc_rs::rsa::KeyPair::from_der(pkcs1.secret_pkcs1_der()),
                &der,
            )
            .map_err(rejected)?,
            PrivateKeyDer::Pkcs8(pkcs8) => {
                let bytes = pkcs8.secret_pkcs8_der();
                match aws_lc_rs::signature::Ed25519KeyPair::from_pkcs8_maybe_unchecked(bytes) {
                    Ok(pair) => DkimKeyPair::Ed25519(pair),
                    Err(_) => rsa_key(aws_lc_rs::rsa::KeyPair::from_pkcs8(bytes), &der)
                        .map_err(rejected)?,
                }
            }
            _ => return Err(format!("is neither an RSA nor an Ed25519 key: {HOW}")),
        };
        Ok(DkimKey {
            selector: selector.to_owned(),
            key: Arc::new(key),
        })
    }
}

/// An RSA key as aws-lc-rs read it (`parsed`), or, when it refused it (under 2048 bits),
/// as the `rsa` crate reads `der`; one neither reads keeps aws-lc-rs's reason.
fn rsa_key(
    parsed: Result<aws_lc_rs::rsa::KeyPair, aws_lc_rs::error::KeyRejected>,
    der: &rustls::pki_types::PrivateKeyDer<'_>,
) -> Result<DkimKeyPair, aws_lc_rs::error::KeyRejected> {
    parsed.map(DkimKeyPair::Rsa).or_else(|refused| {
        mail_auth::common::crypto::RsaKey::from_key_der(der.clone_key())
            .map(|key| DkimKeyPair::OtherRsa(Box::new(key)))
            .map_err(|_| refused)
    })
}

/// The keys of `dkim` (a list of `{ key, selector }`) or of the older `dkim_key` and
/// `dkim_selector` pair; errors name the key at fault.
fn dkim_keys(raw: &RawEmail, base: &Path) -> Result<Vec<DkimKey>, (String, String)> {
    let read = |path: &str, selector: &str, key: String| {
        let path = base.join(path);
        let text = std::fs::read_to_string(&path).map_err(|e| {
            (
                key.clone(),
                format!("cannot read `{}`: {e}", path.display()),
            )
        })?;
        if selector.trim().is_empty()
            || !selector
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        {
            return Err((
                key.replace(".key", ".selector"),
                format!("`{selector}` is not a DNS label (letters, digits, `-`, `_`, `.`)"),
            ));
        }
        DkimKey::read(selector, &text).map_err(|m| (key, format!("`{}` {m}", path.display())))
    };
    let mut keys = match (&raw.dkim_key, &raw.dkim_selector) {
        (Some(path), Some(selector)) => vec![read(path, selector, "dkim_key".into())?],
        (None, None) => Vec::new(),
        (Some(_), None) => {
            return Err(("dkim_selector".into(), "is needed with `dkim_key`".into()));
        }
        (None, Some(_)) => {
            return Err(("dkim_key".into(), "is needed with `dkim_selector`".into()));
        }
    };
    for (i, entry) in raw.dkim.iter().enumerate() {
        keys.push(read(&entry.key, &entry.selector, format!("dkim[{i}].key"))?);
    }
    let mut selectors: Vec<&str> = keys.iter().map(|k| k.selector.as_str()).collect();
    selectors.sort_unstable();
    if let Some(twice) = selectors.windows(2).find(|w| w[0] == w[1]) {
        return Err((
            "dkim".into(),
            format!(
                "selector `{}` is named twice; each key has its own",
                twice[0]
            ),
        ));
    }
    Ok(keys)
}

/// The slowest pace `email.rate` may set: one message every 100 seconds.
pub const MIN_RATE: f64 = 0.01;
/// The fastest pace `email.rate` may set.
pub const MAX_RATE: f64 = 10_000.0;
/// The most SMTP connections at once.
pub const MAX_POOL: u32 = 64;

/// `[email]`, validated.
#[derive(Debug, Clone)]
pub struct Email {
    pub transport: MailTransport,
    pub from: Mailbox,
    pub reply_to: Option<Mailbox>,
    pub rate: f64,
    pub pool: u32,
    pub unsubscribe_url: Option<Url>,
    /// Signs unsubscribe tokens.
    pub secret: Option<SecretSlice<u8>>,
    /// The DKIM keys, each signing every message (RSA and Ed25519 side by side).
    pub dkim: Vec<DkimKey>,
    /// The words of `email.language`, when set (else the site's).
    pub words: Option<crate::i18n::Catalog>,
    pub timeout: Duration,
    /// The envelope sender bounces go to, before each recipient's token is added.
    pub return_path: Option<lettre::Address>,
}

/// An email notifier's own settings.
#[derive(Debug, Clone)]
pub struct EmailTarget {
    /// The readers named in `to`.
    pub to: Vec<Recipient>,
    /// The subscriber file, read again whenever it changes.
    pub subscribers: Option<Arc<SubscriberList>>,
    /// The subject template's source.
    pub subject: String,
    /// Template name and the HTML and text sources.
    pub template: (String, String, String),
    /// Whether the server's front page offers a sign-up form for it; confirmed sign-ups
    /// are recipients too, from the state file.
    pub signup: bool,
}

impl EmailTarget {
    /// The readers of `to` and of the subscriber file as it is now.
    pub fn readers(&self) -> Readers<'_> {
        Readers {
            to: &self.to,
            listing: self.subscribers.as_ref().map(|list| list.current()),
        }
    }
}

/// The readers an email notifier has at one moment (sign-ups apart: they are in the state).
pub struct Readers<'a> {
    to: &'a [Recipient],
    listing: Option<Arc<Listing>>,
}

impl Readers<'_> {
    /// Every reader, `to` first; an address may come twice (in `to` and in the file).
    pub fn iter(&self) -> impl Iterator<Item = &Recipient> {
        self.to
            .iter()
            .chain(self.listing.iter().flat_map(|l| l.recipients.iter()))
    }

    pub fn len(&self) -> usize {
        self.to.len() + self.listing.as_ref().map_or(0, |l| l.recipients.len())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether `address` (in lower case) is one of them.
    pub fn contains(&self, address: &str) -> bool {
        self.listing
            .as_ref()
            .is_some_and(|l| l.addresses.contains(address))
            || self
                .to
                .iter()
                .any(|r| r.address().to_lowercase() == address)
    }

    /// The subscriber file's rows that were skipped, each `file:line: what is wrong`.
    pub fn skipped(&self) -> &[String] {
        self.listing.as_ref().map_or(&[], |l| &l.skipped)
    }
}

pub const DEFAULT_SUBJECT: &str = "{{ t('subject', n=posts|length, site=site.title) }}";

/// Validates `[email]`; errors name the key below `email`.
pub fn email(raw: &RawEmail, base: &Path) -> Result<Email, (String, String)> {
    let err = |key: &str, message: String| (key.to_owned(), message);
    let from: Mailbox = raw.from.parse().map_err(|e| {
        err(
            "from",
            format!(
                "`{}` is not a sender like `Site <news@example.org>` ({e})",
                raw.from
            ),
        )
    })?;
    let reply_to = match &raw.reply_to {
        Some(text) => Some(
            text.parse::<Mailbox>()
                .map_err(|e| err("reply_to", format!("`{text}` is not an address ({e})")))?,
        ),
        None => None,
    };
    let password = match &raw.password {
        Some(text) => Some(interpolate(text).map_err(|m| err("password", m))?),
        None => None,
    };
    let transport = match &raw.smtp {
        Some(text) => smtp(&interpolate(text).map_err(|m| err("smtp", m))?, password)
            .map_err(|m| err("smtp", m))?,
        None => {
            if password.is_some() {
                return Err(err("password", "is set but `smtp` is not".into()));
            }
            MailTransport::Files(base.join(&raw.outbox))
        }
    };
    if !(MIN_RATE..=MAX_RATE).contains(&raw.rate) {
        return Err(err(
            "rate",
            format!(
                "must be from {MIN_RATE} to {MAX_RATE} messages per second (all email notifiers share it)"
            ),
        ));
    }
    if !(1..=MAX_POOL).contains(&raw.pool) {
        return Err(err(
            "pool",
            format!("must be from 1 to {MAX_POOL} connections"),
        ));
    }
    if !(1..=MAX_TIMEOUT_SECONDS).contains(&raw.timeout_seconds) {
        return Err(err(
            "timeout_seconds",
            format!("must be from 1 to {} seconds", MAX_TIMEOUT_SECONDS),
        ));
    }
    let unsubscribe_url = match &raw.unsubscribe_url {
        Some(text) => {
            let url = Url::parse(text)
                .map_err(|e| err("unsubscribe_url", format!("`{text}` is not a URL ({e})")))?;
            if url.scheme() != "https"
                && url.host_str() != Some("127.0.0.1")
                && url.host_str() != Some("localhost")
            {
                return Err(err(
                    "unsubscribe_url",
                    "must be https:// (mail clients only offer one-click unsubscribe over HTTPS)"
                        .into(),
                ));
            }
            Some(url)
        }
        None => None,
    };
    let secret = match &raw.secret {
        Some(text) => Some(
            interpolate(text)
                .map_err(|m| err("secret", m))?
                .into_bytes(),
        )
        .filter(|s| !s.is_empty()),
        None => None,
    };
    if unsubscribe_url.is_some() && secret.is_none() {
        return Err(err(
            "secret",
            "is needed with `unsubscribe_url`: it signs the unsubscribe links".into(),
        ));
    }
    let dkim = dkim_keys(raw, base).map_err(|(key, m)| err(&key, m))?;
    let words = match &raw.language {
        Some(language) => {
            Some(crate::i18n::Catalog::load(base, Some(language)).map_err(|m| err("language", m))?)
        }
        None => None,
    };
    let return_path = match &raw.return_path {
        Some(text) => {
            let address: lettre::Address = text
                .parse()
                .map_err(|e| err("return_path", format!("`{text}` is not an address ({e})")))?;
            if address.user().contains('+') || address.user().len() > 40 {
                return Err(err(
                    "return_path",
                    format!(
                        "`{text}`: its local part must be at most 40 characters without `+` (each message adds `+` and a 20-character token)"
                    ),
                ));
            }
            Some(address)
        }
        None => None,
    };
    Ok(Email {
        return_path,
        words,
        transport,
        from,
        reply_to,
        rate: raw.rate,
        pool: raw.pool,
        unsubscribe_url,
        secret: secret.map(SecretSlice::from),
        dkim,
        timeout: Duration::from_secs(raw.timeout_seconds),
    })
}

/// `smtp://` / `smtps://` URLs as the README describes them.
fn smtp(text: &str, password: Option<String>) -> Result<MailTransport, String> {
    let url = Url::parse(text).map_err(|_| "is not a URL like `smtp://user@host:587` (the message does not quote it: it may hold a password)".to_owned())?;
    let host = url
        .host_str()
        .filter(|h| !h.is_empty())
        .ok_or("has no host")?
        .to_owned();
    let tls_param = url
        .query_pairs()
        .find(|(k, _)| k == "tls")
        .map(|(_, v)| v.into_owned());
    let (tls, default_port) = match (url.scheme(), tls_param.as_deref()) {
        ("smtps", None) => (TlsMode::Implicit, 465),
        ("smtp", None | Some("required")) => (TlsMode::StartTls, 587),
        ("smtp", Some("none")) => (TlsMode::None, 25),
        (scheme @ ("smtp" | "smtps"), Some(other)) => {
            return Err(format!(
                "`tls={other}` is not known for {scheme}://; use `tls=none` for a plain local relay"
            ));
        }
        (other, _) => return Err(format!("`{other}://` is not `smtp://` or `smtps://`")),
    };
    if !url.password().unwrap_or("").is_empty() {
        return Err(
            "must not hold the password; put it in `email.password` as `${SMTP_PASSWORD}`".into(),
        );
    }
    let user = Some(url.username()).filter(|u| !u.is_empty()).map(|u| {
        percent_encoding::percent_decode_str(u)
            .decode_utf8_lossy()
            .into_owned()
    });
    Ok(MailTransport::Smtp {
        host,
        port: url.port().unwrap_or(default_port),
        tls,
        user,
        password: password.map(SecretString::from),
    })
}

/// The email parts of one notifier; errors name the key below `notifiers.<name>`.
pub fn target(
    raw: &RawNotifier,
    base: &Path,
    digest: bool,
) -> Result<EmailTarget, (String, String)> {
    let err = |key: &str, message: String| (key.to_owned(), message);
    let mut recipients = Vec::new();
    for (i, text) in raw.to.iter().enumerate() {
        let mailbox: Mailbox = text.parse().map_err(|e| {
            err(
                "to",
                format!("item {}: `{text}` is not an email address ({e})", i + 1),
            )
        })?;
        if let Some(problem) = unusable_name(mailbox.name.as_deref()) {
            return Err(err("to", format!("item {}: {problem}", i + 1)));
        }
        recipients.push(Recipient {
            mailbox,
            categories: Vec::new(),
            tags: Vec::new(),
        });
    }
    let mut seen = std::collections::HashSet::new();
    recipients.retain(|r| seen.insert(r.address().to_lowercase()));
    let subscribers = match &raw.subscribers {
        Some(file) => Some(Arc::new(
            SubscriberList::open(&base.join(file)).map_err(|m| err("subscribers", m))?,
        )),
        None => None,
    };
    if recipients.is_empty() && raw.subscribers.is_none() && !raw.signup {
        return Err(err("to", "an email notifier needs recipients: `to = [\"a@example.org\"]`, `subscribers = \"subscribers.csv\"` and/or `signup = true`".into()));
    }
    let subject = raw
        .subject
        .clone()
        .unwrap_or_else(|| DEFAULT_SUBJECT.to_owned());
    minijinja::Environment::new()
        .template_from_str(&subject)
        .map_err(|e| err("subject", format!("is not a valid template: {e}")))?;
    let name = raw
        .template
        .clone()
        .unwrap_or_else(|| if digest { "digest" } else { "instant" }.to_owned());
    let (html, text) = email_templates(base, &name).map_err(|m| err("template", m))?;
    Ok(EmailTarget {
        to: recipients,
        subscribers,
        subject,
        template: (name, html, text),
        signup: raw.signup,
    })
}

/// `templates/<name>.html` and `.txt` beside the settings, else the compiled-in defaults.
fn email_templates(base: &Path, name: &str) -> Result<(String, String), String> {
    if name.contains(['/', '\\']) || name.contains("..") {
        return Err(format!("`{name}` must be a template name in `templates/`"));
    }
    let read = |ext: &str, default: Option<&str>| {
        super::template_source::template_source(base, &format!("{name}.{ext}"), default)
    };
    let (html_default, text_default) = match name {
        "digest" => (
            Some(include_str!("../../templates/digest.html")),
            Some(include_str!("../../templates/digest.txt")),
        ),
        "instant" => (
            Some(include_str!("../../templates/instant.html")),
            Some(include_str!("../../templates/instant.txt")),
        ),
        _ => (None, None),
    };
    Ok((read("html", html_default)?, read("txt", text_default)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn smtp_urls() {
        let t = smtp(
            "smtps://ada%40example.org@mail.example.org",
            Some("pw".into()),
        )
        .unwrap();
        assert!(
            matches!(t, MailTransport::Smtp { ref host, port: 465, tls: TlsMode::Implicit, ref user, .. } if host == "mail.example.org" && user.as_deref() == Some("ada@example.org"))
        );
        assert!(matches!(
            smtp("smtp://h", None).unwrap(),
            MailTransport::Smtp {
                port: 587,
                tls: TlsMode::StartTls,
                ..
            }
        ));
        assert!(matches!(
            smtp("smtp://127.0.0.1:2525?tls=none", None).unwrap(),
            MailTransport::Smtp {
                port: 2525,
                tls: TlsMode::None,
                ..
            }
        ));
        assert!(
            smtp("smtp://u:secret@h", None)
                .unwrap_err()
                .contains("password")
        );
        assert!(smtp("http://h", None).is_err());
        assert!(smtp("smtp://h?tls=maybe", None).is_err());
    }
}
