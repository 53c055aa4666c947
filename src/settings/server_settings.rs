//! `[server]`, validated: where the web front door listens, how the world reaches it, the
//! secret that signs its links, and the templates of its pages and confirmation email.

use std::net::SocketAddr;
use std::path::Path;

use url::Url;

use super::env::interpolate;
use super::raw::RawServer;
use super::secret::SecretSlice;

/// `[server]`, validated.
#[derive(Debug, Clone)]
pub struct Server {
    pub listen: SocketAddr,
    /// Always ends with `/`.
    pub public_url: Url,
    /// Signs confirmation and unsubscribe tokens.
    pub secret: SecretSlice<u8>,
    pub signups_per_hour: u32,
    /// Whether the client address comes from `X-Forwarded-For` (behind a proxy).
    pub trust_forwarded_for: bool,
    pub pages: Pages,
    /// Opens `/admin` (`Authorization: Bearer …`); without it the page does not exist.
    pub admin_token: Option<SecretSlice<u8>>,
}

/// Template sources: `templates/<file>` beside the settings file, or the compiled-in ones.
#[derive(Debug, Clone)]
pub struct Pages {
    /// `index.html`: the feed list and sign-up forms.
    pub index: String,
    /// `page.html`: every short answer (confirmed, unsubscribed, link expired, …).
    pub page: String,
    /// `feed.html`: a feed as a page, for a browser that opens a feed's address.
    pub feed: String,
    /// `confirm.html` and `confirm.txt`: the double opt-in email.
    pub confirm_html: String,
    pub confirm_txt: String,
}

/// The shortest secret accepted: shorter ones can be guessed offline from one token.
const MIN_SECRET: usize = 16;

/// Validates `[server]`; errors name the key below `server`.
pub fn server(raw: &RawServer, base: &Path) -> Result<Server, (String, String)> {
    let err = |key: &str, message: String| (key.to_owned(), message);
    let listen: SocketAddr = raw.listen.trim().parse().map_err(|_| {
        err(
            "listen",
            format!(
                "`{}` is not an address and port like `127.0.0.1:8080` or `[::]:8080`",
                raw.listen
            ),
        )
    })?;
    let public_url = crate::base_url::parse(&raw.public_url).map_err(|m| err("public_url", m))?;
    let loopback = matches!(
        public_url.host_str(),
        Some("127.0.0.1" | "localhost" | "[::1]")
    );
    if public_url.scheme() != "https" && !loopback {
        return Err(err(
            "public_url",
            "must be https:// (mail clients only offer one-click unsubscribe over HTTPS; http:// is for 127.0.0.1 and localhost)".into(),
        ));
    }
    let admin_token = match &raw.admin_token {
        Some(text) => {
            let token = interpolate(text).map_err(|m| err("admin_token", m))?;
            if token.chars().count() < MIN_SECRET {
                return Err(err(
                    "admin_token",
                    format!("must be at least {MIN_SECRET} characters"),
                ));
            }
            Some(SecretSlice::from(token.into_bytes()))
        }
        None => None,
    };
    let secret = interpolate(&raw.secret).map_err(|m| err("secret", m))?;
    if secret.chars().count() < MIN_SECRET {
        return Err(err(
            "secret",
            format!(
                "must be at least {MIN_SECRET} characters (e.g. `openssl rand -base64 32` in an environment variable)"
            ),
        ));
    }
    if raw.signups_per_hour == 0 {
        return Err(err("signups_per_hour", "must be at least 1".into()));
    }
    let template = |file: &str, default: &str| {
        super::template_source::template_source(base, file, Some(default))
            .map_err(|m| err("templates", m))
    };
    let pages = Pages {
        index: template("index.html", include_str!("../../templates/index.html"))?,
        page: template("page.html", include_str!("../../templates/page.html"))?,
        feed: template("feed.html", include_str!("../../templates/feed.html"))?,
        confirm_html: template("confirm.html", include_str!("../../templates/confirm.html"))?,
        confirm_txt: template("confirm.txt", include_str!("../../templates/confirm.txt"))?,
    };
    Ok(Server {
        listen,
        public_url,
        secret: SecretSlice::from(secret.into_bytes()),
        admin_token,
        signups_per_hour: raw.signups_per_hour,
        trust_forwarded_for: raw.trust_forwarded_for,
        pages,
    })
}
