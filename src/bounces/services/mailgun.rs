//! Mailgun's webhooks (the JSON kind): `failed` and `complained` events, one a request.
//! Mailgun signs a timestamp and a one-time token with the account's HTTP webhook
//! signing key (HMAC-SHA256, hex); the signature does not cover the event, so the token
//! is taken once ([`Posted::nonce`]) and the timestamp must be recent.
//!
//! A permanent failure for a bounce (`bounce`, or `suppress-bounce`: Mailgun's own list
//! already holds the address) is hard; one for a complaint Mailgun remembers
//! (`suppress-complaint`) is a complaint; `old` (Mailgun gave up retrying) is soft. A
//! temporary failure is not counted: Mailgun retries it and reports how it ends.

use chrono::{DateTime, Utc};
use hmac::{Hmac, KeyInit, Mac};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use sha2::Sha256;

use super::{Posted, Refusal, Service, address, event_key, fresh, said, spam_report};
use crate::bounces::report::{Finding, Verdict};
use crate::store::bounces::BOUNCED;

/// The longest signature read (an HMAC-SHA256 in hex is 64 digits).
const MAX_SIGNATURE: usize = 128;

/// `[bounces.mailgun]`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Raw {
    /// The HTTP webhook signing key, usually `${MAILGUN_WEBHOOK_SIGNING_KEY}`.
    pub signing_key: String,
}

#[derive(Debug)]
pub struct Mailgun {
    signing_key: SecretString,
}

impl Mailgun {
    /// From the `[bounces.mailgun]` table as written; an error names its key.
    pub fn from_table(table: &toml::Value) -> Result<Mailgun, (String, String)> {
        Mailgun::from_raw(&super::table("mailgun", table)?)
    }

    /// From `[bounces.mailgun]`; an error names its key.
    pub fn from_raw(raw: &Raw) -> Result<Mailgun, (String, String)> {
        let key = crate::settings::env::interpolate(&raw.signing_key)
            .map_err(|m| ("bounces.mailgun.signing_key".to_owned(), m))?;
        if key.trim().is_empty() {
            return Err((
                "bounces.mailgun.signing_key".into(),
                "is empty: copy the HTTP webhook signing key from Mailgun's settings".into(),
            ));
        }
        Ok(Mailgun {
            signing_key: key.trim().to_owned().into(),
        })
    }
}

#[derive(Deserialize)]
struct Body {
    signature: Signature,
    #[serde(rename = "event-data")]
    event: Event,
}

#[derive(Deserialize)]
struct Signature {
    timestamp: serde_json::Value,
    token: String,
    signature: String,
}

#[derive(Deserialize)]
struct Event {
    #[serde(default)]
    id: String,
    #[serde(default)]
    event: String,
    #[serde(default)]
    severity: String,
    #[serde(default)]
    reason: String,
    #[serde(default)]
    recipient: String,
    #[serde(default, rename = "delivery-status")]
    status: Option<Status>,
}

#[derive(Deserialize, Default)]
struct Status {
    #[serde(default)]
    code: Option<serde_json::Value>,
    #[serde(default)]
    message: String,
    #[serde(default)]
    description: String,
}

impl Service for Mailgun {
    fn name(&self) -> &'static str {
        "mailgun"
    }

    fn read(
        &self,
        _headers: &hyper::HeaderMap,
        body: &[u8],
        now: DateTime<Utc>,
    ) -> Result<Posted, Refusal> {
        let body: Body =
            serde_json::from_slice(body).map_err(|_| Refusal::Unproven("not a signed event"))?;
        let timestamp = match &body.signature.timestamp {
            serde_json::Value::String(s) => s.clone(),
            serde_json::Value::Number(n) => n.to_string(),
            _ => return Err(Refusal::Unproven("its timestamp is not a time")),
        };
        self.check(&timestamp, &body.signature.token, &body.signature.signature)?;
        fresh(&timestamp, now)?;
        let nonce = Some(format!("mailgun:{}", body.signature.token));
        let id = event_key("mailgun", &body.event.id, body.signature.token.as_bytes());
        let events = verdict(&body.event)
            .and_then(|verdict| {
                let address = address(&body.event.recipient)?;
                Some((id, Finding { address, verdict }))
            })
            .into_iter()
            .collect();
        Ok(Posted { nonce, events })
    }
}

impl Mailgun {
    /// The signature: HMAC-SHA256 of timestamp and token, in hex, compared in constant time.
    fn check(&self, timestamp: &str, token: &str, signature: &str) -> Result<(), Refusal> {
        let given = Some(signature)
            .filter(|s| s.len() <= MAX_SIGNATURE)
            .and_then(crate::hex::decode)
            .ok_or(Refusal::Unproven("the signature is not hex"))?;
        let mut mac = Hmac::<Sha256>::new_from_slice(self.signing_key.expose_secret().as_bytes())
            .map_err(|_| Refusal::Unproven("no signing key"))?;
        mac.update(timestamp.as_bytes());
        mac.update(token.as_bytes());
        mac.verify_slice(&given)
            .map_err(|_| Refusal::Unproven("the signature does not match"))
    }
}

/// What a Mailgun event says of its recipient, if anything.
fn verdict(event: &Event) -> Option<Verdict> {
    let status = event.status.as_ref();
    let told = || {
        let code = status
            .and_then(|s| s.code.as_ref())
            .map(|c| c.to_string().trim_matches('"').to_owned())
            .unwrap_or_default();
        let text = status
            .map(|s| {
                if s.message.trim().is_empty() {
                    s.description.as_str()
                } else {
                    s.message.as_str()
                }
            })
            .unwrap_or("");
        said(&format!("{code} {text} (Mailgun)"))
    };
    match (event.event.as_str(), event.severity.as_str()) {
        ("complained", _) => Some(spam_report("Mailgun")),
        ("failed", "permanent") => match event.reason.as_str() {
            "bounce" | "suppress-bounce" => Some(Verdict::Hard(format!("{BOUNCED}: {}", told()))),
            "suppress-complaint" => Some(spam_report("Mailgun")),
            "old" => Some(Verdict::Soft(told())),
            _ => None, // an ESP block, an unsubscribe Mailgun keeps: not about the mailbox
        },
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "key-test-signing";
    const NOW: i64 = 1_796_000_000;

    fn sign(timestamp: &str, token: &str) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(KEY.as_bytes()).unwrap();
        mac.update(timestamp.as_bytes());
        mac.update(token.as_bytes());
        crate::hex::encode(&mac.finalize().into_bytes())
    }

    fn body(token: &str, signature: &str, event: &str) -> Vec<u8> {
        format!(
            r#"{{"signature":{{"timestamp":"{NOW}","token":"{token}","signature":"{signature}"}},"event-data":{event}}}"#
        )
        .into_bytes()
    }

    fn mailgun() -> Mailgun {
        Mailgun {
            signing_key: KEY.to_owned().into(),
        }
    }

    fn now() -> DateTime<Utc> {
        DateTime::from_timestamp(NOW + 60, 0).unwrap()
    }

    const HARD: &str = r#"{"id":"e1","event":"failed","severity":"permanent","reason":"bounce","recipient":"Dead@Example.org","delivery-status":{"code":550,"message":"5.1.1 The email account that you tried to reach does not exist"}}"#;

    #[test]
    fn a_signed_permanent_bounce_is_hard_and_its_token_is_a_nonce() {
        let token = "t".repeat(50);
        let posted = mailgun()
            .read(
                &hyper::HeaderMap::new(),
                &body(&token, &sign(&NOW.to_string(), &token), HARD),
                now(),
            )
            .unwrap();
        assert_eq!(posted.nonce, Some(format!("mailgun:{token}")));
        assert_eq!(posted.events.len(), 1);
        let (id, finding) = &posted.events[0];
        assert_eq!(id, "mailgun:e1");
        assert_eq!(finding.address, "Dead@Example.org");
        assert_eq!(
            finding.verdict,
            Verdict::Hard(
                "bounced: 550 5.1.1 The email account that you tried to reach does not exist (Mailgun)"
                    .into()
            )
        );
    }

    #[test]
    fn a_wrong_or_missing_signature_proves_nothing() {
        let token = "t".repeat(50);
        let wrong = sign(&NOW.to_string(), "another token");
        for body in [
            body(&token, &wrong, HARD),
            body(&token, "zz", HARD),
            body(&token, "", HARD),
            HARD.as_bytes().to_vec(),
            b"not json".to_vec(),
        ] {
            assert!(matches!(
                mailgun().read(&hyper::HeaderMap::new(), &body, now()),
                Err(Refusal::Unproven(_))
            ));
        }
    }

    #[test]
    fn each_kind_of_event_has_its_verdict() {
        let cases = [
            (
                r#"{"event":"complained","recipient":"a@b.c"}"#,
                Some("complaint"),
            ),
            (
                r#"{"event":"failed","severity":"permanent","reason":"suppress-bounce","recipient":"a@b.c"}"#,
                Some("hard"),
            ),
            (
                r#"{"event":"failed","severity":"permanent","reason":"suppress-complaint","recipient":"a@b.c"}"#,
                Some("complaint"),
            ),
            (
                r#"{"event":"failed","severity":"permanent","reason":"old","recipient":"a@b.c"}"#,
                Some("soft"),
            ),
            (
                r#"{"event":"failed","severity":"permanent","reason":"espblock","recipient":"a@b.c"}"#,
                None,
            ),
            (
                r#"{"event":"failed","severity":"temporary","reason":"generic","recipient":"a@b.c"}"#,
                None,
            ),
            (r#"{"event":"delivered","recipient":"a@b.c"}"#, None),
            (
                r#"{"event":"failed","severity":"permanent","reason":"bounce","recipient":"not an address"}"#,
                None,
            ),
        ];
        for (event, expected) in cases {
            let token = "u".repeat(50);
            let posted = mailgun()
                .read(
                    &hyper::HeaderMap::new(),
                    &body(&token, &sign(&NOW.to_string(), &token), event),
                    now(),
                )
                .unwrap();
            let kind = posted.events.first().map(|(_, f)| f.verdict.kind());
            assert_eq!(kind, expected, "{event}");
        }
    }
}
