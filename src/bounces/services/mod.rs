//! Bounces and complaints that sending services report by webhook. A relay such as
//! Mailgun, SendGrid or Postmark sends from a return path of its own, so its DSNs never
//! reach `[bounces] maildir`; it posts events instead. `tidings serve` takes them at
//! `POST /bounces/<service>` (`serve::bounce_hooks`), and what they find is recorded like a
//! report from the mailbox (`bounces::record`).
//!
//! Each service is one module here that owns its settings (`[bounces.<service>]`), how its
//! requests prove where they come from (an HMAC, an ECDSA signature, a password), and what
//! its events mean; adding one is a file and a line in `settings::bounce_settings`. An
//! event is believed only from a request that proves itself, and taken once by its key
//! (`store::bounces`, shared by every node): a service's retry, or a request replayed,
//! counts a soft bounce once.

pub mod mailgun;
pub mod postmark;
pub mod sendgrid;

use chrono::{DateTime, Duration, Utc};

use super::report::{Finding, Verdict};
use crate::store::bounces::COMPLAINED;

/// The largest request read: a batch of events (SendGrid posts up to a few hundred).
pub const MAX_BODY_BYTES: usize = 1 << 20;
/// Events read from one request.
pub const MAX_EVENTS: usize = 2000;
/// The longest address SMTP carries.
const MAX_ADDRESS: usize = 254;
/// The longest event id kept as it is (the services' are 22 to 50 characters).
const MAX_ID: usize = 200;
/// How old a signed request may be: services retry a failed post for hours (Mailgun 8,
/// Postmark 10.5, SendGrid 24), and a retry may carry its first signature. No older than
/// the store remembers the keys taken, or a replay could be taken again.
pub const MAX_AGE: Duration = crate::store::bounces::EVENT_KEYS_KEPT;
/// How far ahead of our clock a request's time may be (the service's clock is not ours).
const MAX_AHEAD: Duration = Duration::minutes(5);

/// A sending service's webhook.
pub trait Service: std::fmt::Debug + Send + Sync {
    /// Its name in settings and in the path, `/bounces/<name>`.
    fn name(&self) -> &'static str;
    /// The events of one request, once it has proved that it comes from the service.
    fn read(
        &self,
        headers: &hyper::HeaderMap,
        body: &[u8],
        now: DateTime<Utc>,
    ) -> Result<Posted, Refusal>;
}

/// What a request that proved itself reports.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Posted {
    /// The request's own one-time key, where its proof does not cover the body (Mailgun
    /// signs a token, not the events): a second request with it is not believed.
    pub nonce: Option<String>,
    /// Events about an address's deliverability, each with the service's id for it.
    /// Events of other kinds (delivered, opened, deferred) are left out.
    pub events: Vec<(String, Finding)>,
}

/// Why a request was not taken.
#[derive(Debug, PartialEq, Eq)]
pub enum Refusal {
    /// It did not prove that it comes from the service (answered 403, alike whatever
    /// was wrong, so that a prober learns nothing).
    Unproven(&'static str),
    /// It proved itself but is not what the service sends (answered 400).
    Malformed(String),
}

/// A service's `[bounces.<name>]` table read into its module's settings; an error names
/// the table.
pub fn table<T: serde::de::DeserializeOwned>(
    name: &str,
    table: &toml::Value,
) -> Result<T, (String, String)> {
    T::deserialize(table.clone()).map_err(|e| (format!("bounces.{name}"), e.message().to_owned()))
}

/// Whether a request signed at Unix time `seconds` may still be taken at `now`.
pub fn fresh(seconds: &str, now: DateTime<Utc>) -> Result<(), Refusal> {
    let at = seconds
        .trim()
        .parse::<i64>()
        .ok()
        .and_then(|s| DateTime::from_timestamp(s, 0))
        .ok_or(Refusal::Unproven("its timestamp is not a time"))?;
    let oldest = now
        .checked_sub_signed(MAX_AGE)
        .unwrap_or(DateTime::<Utc>::MIN_UTC);
    let latest = now
        .checked_add_signed(MAX_AHEAD)
        .unwrap_or(DateTime::<Utc>::MAX_UTC);
    if at < oldest {
        return Err(Refusal::Unproven("signed too long ago"));
    }
    if at > latest {
        return Err(Refusal::Unproven("signed in the future"));
    }
    Ok(())
}

/// An address an event names, if it looks like one (the store lowercases it).
pub fn address(text: &str) -> Option<String> {
    let text = text.trim();
    let ok = text.len() <= MAX_ADDRESS
        && text.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty() && !domain.is_empty() && !domain.contains('@')
        })
        && !text.chars().any(|c| c.is_control() || c.is_whitespace());
    ok.then(|| text.to_owned())
}

/// The key an event is taken once by: the service's id for it, or where it gives none
/// (it always should) or one longer than [`MAX_ID`], a digest of the event as posted.
pub fn event_key(service: &str, id: &str, event: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    if !id.trim().is_empty() && id.len() <= MAX_ID {
        return format!("{service}:{}", id.trim());
    }
    let digest = Sha256::digest(event);
    format!("{service}:sha256:{}", crate::hex::encode(&digest[..16]))
}

/// A spam report a service passes on, as the reason kept beside the address.
pub fn spam_report(service: &str) -> Verdict {
    Verdict::Complaint(format!("{COMPLAINED}: spam report ({service})"))
}

/// A service's text (a diagnostic, a reason) as a reason kept beside an address: one
/// line, at most 120 characters.
pub fn said(text: &str) -> String {
    text.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .chars()
        .take(120)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn a_request_is_fresh_for_a_day_and_never_ahead_of_the_clock() {
        let now = at("2026-12-06T12:00:00Z");
        let secs = |t: DateTime<Utc>| t.timestamp().to_string();
        assert!(fresh(&secs(now), now).is_ok());
        assert!(fresh(&secs(now - Duration::hours(24)), now).is_ok());
        assert!(fresh(&secs(now - Duration::hours(26)), now).is_err());
        assert!(fresh(&secs(now + Duration::minutes(4)), now).is_ok());
        assert!(fresh(&secs(now + Duration::minutes(6)), now).is_err());
        for nonsense in ["", "soon", "99999999999999999999", "-99999999999999"] {
            assert!(fresh(nonsense, now).is_err(), "{nonsense}");
        }
    }

    #[test]
    fn an_event_without_an_id_is_known_by_its_digest() {
        assert_eq!(event_key("s", " e1 ", b"x"), "s:e1");
        assert_ne!(event_key("s", "", b"one"), event_key("s", "", b"two"));
        assert_eq!(event_key("s", "", b"one"), event_key("s", "", b"one"));
        assert!(event_key("s", &"x".repeat(500), b"one").len() < 100);
    }

    #[test]
    fn only_a_plain_address_is_taken() {
        assert_eq!(address(" a@example.org "), Some("a@example.org".into()));
        for bad in [
            "",
            "a",
            "@example.org",
            "a@",
            "a@b@c",
            "a b@example.org",
            "a@x\ny",
        ] {
            assert_eq!(address(bad), None, "{bad:?}");
        }
        assert_eq!(address(&format!("{}@example.org", "a".repeat(300))), None);
    }
}
