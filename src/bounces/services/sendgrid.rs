//! SendGrid's Event Webhook, signed: a JSON array of events, signed with ECDSA P-256 over
//! the `X-Twilio-Email-Event-Webhook-Timestamp` header followed by the body; the
//! signature (base64 DER) is in `X-Twilio-Email-Event-Webhook-Signature`, and the
//! verification key (base64 DER, as SendGrid's settings show it) in `[bounces.sendgrid]`.
//!
//! A `bounce` is hard unless SendGrid calls it `blocked` (the receiving server refused
//! for now: soft); a `spamreport` is a complaint; a `dropped` message whose address
//! SendGrid already holds as bounced or invalid is hard, as a spam reporter a complaint.
//! `deferred` is not counted: SendGrid retries it and reports how it ends.

use aws_lc_rs::signature::{ECDSA_P256_SHA256_ASN1, ParsedPublicKey};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Utc};
use serde::Deserialize;

use super::{MAX_EVENTS, Posted, Refusal, Service, address, event_key, fresh, said, spam_report};
use crate::bounces::report::{Finding, Verdict};
use crate::store::bounces::BOUNCED;

const SIGNATURE: &str = "x-twilio-email-event-webhook-signature";
const TIMESTAMP: &str = "x-twilio-email-event-webhook-timestamp";
/// The longest signature taken (a P-256 DER signature is at most 72 bytes).
const MAX_SIGNATURE: usize = 200;

/// `[bounces.sendgrid]`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Raw {
    /// The verification key SendGrid shows for the signed Event Webhook (base64 DER, or
    /// the same in a PEM `PUBLIC KEY` block).
    pub verification_key: String,
}

#[derive(Debug)]
pub struct SendGrid {
    key: ParsedPublicKey,
}

impl SendGrid {
    /// From the `[bounces.sendgrid]` table as written; an error names its key.
    pub fn from_table(table: &toml::Value) -> Result<SendGrid, (String, String)> {
        SendGrid::from_raw(&super::table("sendgrid", table)?)
    }

    /// From `[bounces.sendgrid]`; an error names its key.
    pub fn from_raw(raw: &Raw) -> Result<SendGrid, (String, String)> {
        let name = "bounces.sendgrid.verification_key";
        let text = crate::settings::env::interpolate(&raw.verification_key)
            .map_err(|m| (name.to_owned(), m))?;
        let base64: String = text
            .lines()
            .filter(|l| !l.trim_start().starts_with("-----"))
            .flat_map(|l| l.chars())
            .filter(|c| !c.is_whitespace())
            .collect();
        let der = STANDARD
            .decode(base64)
            .map_err(|_| (name.to_owned(), "is not base64".to_owned()))?;
        let key = ParsedPublicKey::new(&ECDSA_P256_SHA256_ASN1, der).map_err(|_| {
            (
                name.to_owned(),
                "is not an ECDSA P-256 public key (SubjectPublicKeyInfo)".to_owned(),
            )
        })?;
        Ok(SendGrid { key })
    }
}

#[derive(Deserialize)]
struct Event {
    #[serde(default)]
    email: String,
    #[serde(default)]
    event: String,
    #[serde(default, rename = "type")]
    kind: String,
    #[serde(default)]
    sg_event_id: String,
    #[serde(default)]
    reason: String,
    #[serde(default)]
    status: String,
}

impl Service for SendGrid {
    fn name(&self) -> &'static str {
        "sendgrid"
    }

    fn read(
        &self,
        headers: &hyper::HeaderMap,
        body: &[u8],
        now: DateTime<Utc>,
    ) -> Result<Posted, Refusal> {
        let header = |name| headers.get(name).and_then(|v| v.to_str().ok());
        let signature = header(SIGNATURE)
            .filter(|s| s.len() <= MAX_SIGNATURE)
            .and_then(|s| STANDARD.decode(s.trim()).ok())
            .ok_or(Refusal::Unproven("no signature"))?;
        let timestamp = header(TIMESTAMP).ok_or(Refusal::Unproven("no timestamp"))?;
        let mut signed = Vec::with_capacity(timestamp.len() + body.len());
        signed.extend_from_slice(timestamp.as_bytes());
        signed.extend_from_slice(body);
        self.key
            .verify_sig(&signed, &signature)
            .map_err(|_| Refusal::Unproven("the signature does not match"))?;
        fresh(timestamp, now)?;
        let events: Vec<serde_json::Value> = serde_json::from_slice(body)
            .map_err(|e| Refusal::Malformed(format!("not an array of events: {e}")))?;
        if events.len() > MAX_EVENTS {
            return Err(Refusal::Malformed(format!(
                "{} events, more than {MAX_EVENTS}",
                events.len()
            )));
        }
        let events = events
            .into_iter()
            .filter_map(|value| {
                let posted = value.to_string();
                let event = serde_json::from_value::<Event>(value).ok()?;
                let verdict = verdict(&event)?;
                let address = address(&event.email)?;
                let id = event_key("sendgrid", &event.sg_event_id, posted.as_bytes());
                Some((id, Finding { address, verdict }))
            })
            .collect();
        Ok(Posted {
            nonce: None,
            events,
        })
    }
}

/// What a SendGrid event says of its address, if anything.
fn verdict(event: &Event) -> Option<Verdict> {
    let told = || said(&format!("{} {} (SendGrid)", event.status, event.reason));
    match (event.event.as_str(), event.kind.as_str()) {
        ("bounce", "blocked") => Some(Verdict::Soft(told())),
        ("bounce", _) => Some(Verdict::Hard(format!("{BOUNCED}: {}", told()))),
        ("spamreport", _) => Some(spam_report("SendGrid")),
        ("dropped", _) => match event.reason.as_str() {
            "Bounced Address" | "Invalid" => Some(Verdict::Hard(format!("{BOUNCED}: {}", told()))),
            "Spam Reporting Address" => Some(spam_report("SendGrid")),
            _ => None,
        },
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_lc_rs::encoding::AsDer;
    use aws_lc_rs::rand::SystemRandom;
    use aws_lc_rs::signature::{ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair, KeyPair};

    struct Signer {
        pair: EcdsaKeyPair,
        service: SendGrid,
    }

    fn signer() -> Signer {
        let pkcs8 =
            EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &SystemRandom::new())
                .unwrap();
        let pair =
            EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, pkcs8.as_ref()).unwrap();
        let spki = pair.public_key().as_der().unwrap();
        let key = STANDARD.encode(spki.as_ref());
        let service = SendGrid::from_raw(&Raw {
            verification_key: format!(
                "-----BEGIN PUBLIC KEY-----\n{key}\n-----END PUBLIC KEY-----\n"
            ),
        })
        .unwrap();
        Signer { pair, service }
    }

    fn headers(signer: &Signer, timestamp: &str, body: &[u8]) -> hyper::HeaderMap {
        let mut signed = timestamp.as_bytes().to_vec();
        signed.extend_from_slice(body);
        let signature = signer.pair.sign(&SystemRandom::new(), &signed).unwrap();
        let mut headers = hyper::HeaderMap::new();
        headers.insert(
            SIGNATURE,
            STANDARD.encode(signature.as_ref()).parse().unwrap(),
        );
        headers.insert(TIMESTAMP, timestamp.parse().unwrap());
        headers
    }

    const BATCH: &str = r#"[
        {"email":"dead@example.org","event":"bounce","type":"bounce","status":"5.1.1","reason":"550 5.1.1 no such user","sg_event_id":"b1"},
        {"email":"busy@example.org","event":"bounce","type":"blocked","status":"4.7.1","reason":"try later","sg_event_id":"b2"},
        {"email":"grumpy@example.org","event":"spamreport","sg_event_id":"s1"},
        {"email":"old@example.org","event":"dropped","reason":"Bounced Address","sg_event_id":"d1"},
        {"email":"gone@example.org","event":"dropped","reason":"Unsubscribed Address","sg_event_id":"d2"},
        {"email":"fine@example.org","event":"delivered","sg_event_id":"ok"},
        {"email":"slow@example.org","event":"deferred","sg_event_id":"df"},
        {"odd": true}, 7
    ]"#;

    #[test]
    fn a_signed_batch_says_what_each_event_means() {
        let signer = signer();
        let now = DateTime::from_timestamp(1_796_000_000, 0).unwrap();
        let headers = headers(&signer, "1796000000", BATCH.as_bytes());
        let posted = signer
            .service
            .read(&headers, BATCH.as_bytes(), now)
            .unwrap();
        let got: Vec<(&str, &str, &str)> = posted
            .events
            .iter()
            .map(|(id, f)| (id.as_str(), f.address.as_str(), f.verdict.kind()))
            .collect();
        assert_eq!(
            got,
            [
                ("sendgrid:b1", "dead@example.org", "hard"),
                ("sendgrid:b2", "busy@example.org", "soft"),
                ("sendgrid:s1", "grumpy@example.org", "complaint"),
                ("sendgrid:d1", "old@example.org", "hard"),
            ]
        );
        assert_eq!(posted.nonce, None);
    }

    #[test]
    fn a_changed_body_or_time_or_another_key_proves_nothing() {
        let signer = signer();
        let now = DateTime::from_timestamp(1_796_000_000, 0).unwrap();
        let headers = headers(&signer, "1796000000", BATCH.as_bytes());
        let changed = BATCH.replace("fine@", "victim@");
        assert!(matches!(
            signer.service.read(&headers, changed.as_bytes(), now),
            Err(Refusal::Unproven(_))
        ));
        let mut later = headers.clone();
        later.insert(TIMESTAMP, "1796000001".parse().unwrap());
        assert!(matches!(
            signer.service.read(&later, BATCH.as_bytes(), now),
            Err(Refusal::Unproven(_))
        ));
        let other = self::signer();
        assert!(matches!(
            other.service.read(&headers, BATCH.as_bytes(), now),
            Err(Refusal::Unproven(_))
        ));
        assert!(matches!(
            signer
                .service
                .read(&hyper::HeaderMap::new(), BATCH.as_bytes(), now),
            Err(Refusal::Unproven(_))
        ));
    }

    #[test]
    fn a_key_that_is_not_p256_is_refused_naming_the_setting() {
        for bad in ["not base64!", "AAAA", ""] {
            let err = SendGrid::from_raw(&Raw {
                verification_key: bad.into(),
            })
            .unwrap_err();
            assert_eq!(err.0, "bounces.sendgrid.verification_key");
        }
    }
}
