//! Signed tokens for links and forms that act without a login: an unsubscribe link in a
//! digest, a sign-up confirmation link, the sign-up form itself. A token carries what it
//! allows (action, address, notifier, and for a sign-up the categories) and until when, signed with HMAC-SHA256 under the site's secret; checking compares in
//! constant time, so a token cannot be forged or guessed byte by byte.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

/// What a valid token allows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    pub action: String,
    pub address: String,
    pub notifier: String,
    pub expires: DateTime<Utc>,
    /// Category paths a sign-up follows (empty for every other action).
    pub categories: Vec<String>,
}

/// Separates categories in the payload; it cannot occur in a category path taken from a form.
const CATEGORY_SEPARATOR: char = '\u{1f}';

/// Why a token was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("the link is damaged")]
    Malformed,
    #[error("the link was not made by this site")]
    BadSignature,
    #[error("the link has expired")]
    Expired,
}

/// Whether a secret a request carries is `expected`, in time that does not tell how much of
/// it was right: both through one HMAC, the MACs compared by `verify_slice`.
pub fn same_secret(given: &[u8], expected: &[u8]) -> bool {
    let expected = mac(b"same secret", expected).finalize().into_bytes();
    mac(b"same secret", given).verify_slice(&expected).is_ok()
}

fn mac(secret: &[u8], payload: &[u8]) -> Hmac<Sha256> {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes keys of any length");
    mac.update(payload);
    mac
}

/// Makes a token: base64url(payload) "." base64url(signature).
pub fn sign(secret: &[u8], grant: &Grant) -> String {
    let mut payload = format!(
        "{}\n{}\n{}\n{}",
        grant.action,
        grant.address,
        grant.notifier,
        grant.expires.timestamp()
    );
    // Only when there are some, so the tokens of every other action keep their old shape
    // (links in digests already sent stay valid).
    if !grant.categories.is_empty() {
        payload.push('\n');
        payload.push_str(&grant.categories.join(&CATEGORY_SEPARATOR.to_string()));
    }
    let signature = mac(secret, payload.as_bytes()).finalize().into_bytes();
    format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(payload),
        URL_SAFE_NO_PAD.encode(signature)
    )
}

/// The token a message's return path carries for its recipient (`bounces+TOKEN@…`, VERP):
/// 20 hex digits of HMAC-SHA256 over the address in lower case. Hex, because mail servers
/// may change the case of a local part; short, because a local part holds 64 characters.
/// A bounce names its recipient; the token proves the bounce answers mail this site sent
/// to that address, so a forged report cannot take a reader off the list.
pub fn return_token(secret: &[u8], address: &str) -> String {
    let digest = mac(
        secret,
        format!("return-path\n{}", address.trim().to_lowercase()).as_bytes(),
    )
    .finalize()
    .into_bytes();
    crate::hex::encode(&digest[..10])
}

/// Whether `token` is `address`'s return-path token (compared in constant time).
pub fn is_return_token(secret: &[u8], address: &str, token: &str) -> bool {
    let Some(expected) = crate::hex::decode(token).filter(|bytes| bytes.len() == 10) else {
        return false;
    };
    let mac = mac(
        secret,
        format!("return-path\n{}", address.trim().to_lowercase()).as_bytes(),
    );
    // Only the first ten bytes are sent: compare those.
    mac.verify_truncated_left(&expected).is_ok()
}

/// Checks a token's signature (in constant time) and expiry.
pub fn verify(secret: &[u8], token: &str, now: DateTime<Utc>) -> Result<Grant, TokenError> {
    let (payload, signature) = token.split_once('.').ok_or(TokenError::Malformed)?;
    let payload = URL_SAFE_NO_PAD
        .decode(payload)
        .map_err(|_| TokenError::Malformed)?;
    let signature = URL_SAFE_NO_PAD
        .decode(signature)
        .map_err(|_| TokenError::Malformed)?;
    mac(secret, &payload)
        .verify_slice(&signature)
        .map_err(|_| TokenError::BadSignature)?;
    let text = String::from_utf8(payload).map_err(|_| TokenError::Malformed)?;
    let parts: Vec<&str> = text.split('\n').collect();
    let (action, address, notifier, expires, categories) = match parts[..] {
        [action, address, notifier, expires] => (action, address, notifier, expires, Vec::new()),
        [action, address, notifier, expires, categories] => (
            action,
            address,
            notifier,
            expires,
            categories
                .split(CATEGORY_SEPARATOR)
                .map(str::to_owned)
                .collect(),
        ),
        _ => return Err(TokenError::Malformed),
    };
    let expires = expires
        .parse::<i64>()
        .ok()
        .and_then(|t| DateTime::from_timestamp(t, 0))
        .ok_or(TokenError::Malformed)?;
    if expires < now {
        return Err(TokenError::Expired);
    }
    Ok(Grant {
        action: action.to_owned(),
        address: address.to_owned(),
        notifier: notifier.to_owned(),
        expires,
        categories,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn only_the_same_secret_is_the_same() {
        assert!(same_secret(b"correct horse", b"correct horse"));
        for other in [
            &b"correct hors"[..],
            b"correct horse ",
            b"Correct horse",
            b"",
        ] {
            assert!(!same_secret(other, b"correct horse"), "{other:?}");
        }
    }

    fn grant() -> Grant {
        Grant {
            action: "unsubscribe".into(),
            address: "ada@example.org".into(),
            notifier: "daily".into(),
            expires: Utc.with_ymd_and_hms(2027, 1, 1, 0, 0, 0).unwrap(),
            categories: Vec::new(),
        }
    }

    /// A return-path token is the address's and no other's, whatever the case.
    #[test]
    fn return_tokens_name_one_address() {
        let token = return_token(b"k", "Ada@Example.org");
        assert_eq!(token.len(), 20);
        assert!(is_return_token(b"k", "ada@example.org", &token));
        assert!(is_return_token(
            b"k",
            "ada@example.org",
            &token.to_uppercase()
        ));
        assert!(!is_return_token(b"k", "bob@example.org", &token));
        assert!(!is_return_token(b"other", "ada@example.org", &token));
        assert!(!is_return_token(b"k", "ada@example.org", &token[..18]));
        assert!(!is_return_token(b"k", "ada@example.org", "zz"));
    }

    #[test]
    fn categories_round_trip() {
        let now = Utc.with_ymd_and_hms(2026, 11, 27, 0, 0, 0).unwrap();
        let with = Grant {
            action: "confirm".into(),
            categories: vec!["新闻/科技".into(), "anime".into()],
            ..grant()
        };
        assert_eq!(verify(b"k", &sign(b"k", &with), now), Ok(with));
    }

    #[test]
    fn round_trip_and_refusals() {
        let now = Utc.with_ymd_and_hms(2026, 11, 27, 0, 0, 0).unwrap();
        let token = sign(b"secret", &grant());
        assert_eq!(verify(b"secret", &token, now), Ok(grant()));
        assert_eq!(verify(b"other", &token, now), Err(TokenError::BadSignature));
        let later = Utc.with_ymd_and_hms(2027, 6, 1, 0, 0, 0).unwrap();
        assert_eq!(verify(b"secret", &token, later), Err(TokenError::Expired));
        assert_eq!(
            verify(b"secret", "garbage", now),
            Err(TokenError::Malformed)
        );
        // Changing one character of the payload breaks the signature.
        let (payload, sig) = token.split_once('.').unwrap();
        let mut tampered = payload.to_owned();
        tampered.replace_range(0..1, if &payload[..1] == "A" { "B" } else { "A" });
        assert!(verify(b"secret", &format!("{tampered}.{sig}"), now).is_err());
    }
}
