//! Postmark's bounce and spam complaint webhooks: one JSON object a request. Postmark does
//! not sign them; it sends the HTTP Basic credentials written into the webhook's URL
//! (`https://user:password@…/bounces/postmark`), which `[bounces.postmark]` holds and
//! which are compared in constant time.
//!
//! `HardBounce` and `BadEmailAddress` are hard; `SoftBounce` and `DnsError` soft; a
//! `SpamComplaint` is a complaint. `Transient` (a delay Postmark retries), auto-replies
//! and the rest say nothing about the mailbox and are not counted.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Utc};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use super::{Posted, Refusal, Service, address, event_key, said, spam_report};
use crate::bounces::report::{Finding, Verdict};
use crate::store::bounces::BOUNCED;

/// `[bounces.postmark]`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Raw {
    /// The user name in the webhook URL given to Postmark.
    pub user: String,
    /// Its password, usually `${POSTMARK_WEBHOOK_PASSWORD}`.
    pub password: String,
}

#[derive(Debug)]
pub struct Postmark {
    /// `user:password`, as Basic authentication sends it before base64.
    credentials: SecretString,
}

/// The shortest password taken: the URL's password is all that stands between anyone who
/// finds the address and the list.
const MIN_PASSWORD: usize = 16;

impl Postmark {
    /// From the `[bounces.postmark]` table as written; an error names its key.
    pub fn from_table(table: &toml::Value) -> Result<Postmark, (String, String)> {
        Postmark::from_raw(&super::table("postmark", table)?)
    }

    /// From `[bounces.postmark]`; an error names its key.
    pub fn from_raw(raw: &Raw) -> Result<Postmark, (String, String)> {
        let password = crate::settings::env::interpolate(&raw.password)
            .map_err(|m| ("bounces.postmark.password".to_owned(), m))?;
        if password.chars().count() < MIN_PASSWORD {
            return Err((
                "bounces.postmark.password".into(),
                format!("must be at least {MIN_PASSWORD} characters"),
            ));
        }
        if raw.user.is_empty() || raw.user.contains(':') {
            return Err((
                "bounces.postmark.user".into(),
                "must be a name without `:`".into(),
            ));
        }
        Ok(Postmark {
            credentials: format!("{}:{password}", raw.user).into(),
        })
    }

    /// Whether the request carries the credentials (compared in constant time).
    fn check(&self, headers: &hyper::HeaderMap) -> Result<(), Refusal> {
        let given = headers
            .get(hyper::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Basic "))
            .and_then(|v| STANDARD.decode(v.trim()).ok())
            .ok_or(Refusal::Unproven("no Basic credentials"))?;
        if crate::tokens::same_secret(&given, self.credentials.expose_secret().as_bytes()) {
            Ok(())
        } else {
            Err(Refusal::Unproven("wrong credentials"))
        }
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Event {
    #[serde(default)]
    record_type: String,
    #[serde(default, rename = "ID")]
    id: serde_json::Value,
    #[serde(default, rename = "Type")]
    kind: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    details: String,
}

impl Service for Postmark {
    fn name(&self) -> &'static str {
        "postmark"
    }

    fn read(
        &self,
        headers: &hyper::HeaderMap,
        body: &[u8],
        _now: DateTime<Utc>,
    ) -> Result<Posted, Refusal> {
        self.check(headers)?;
        let event: Event = serde_json::from_slice(body)
            .map_err(|e| Refusal::Malformed(format!("not a Postmark event: {e}")))?;
        let id = match &event.id {
            serde_json::Value::Number(n) => n.to_string(),
            serde_json::Value::String(s) => s.clone(),
            _ => String::new(),
        };
        let id = event_key("postmark", &id, body);
        let events = verdict(&event)
            .and_then(|verdict| {
                let address = address(&event.email)?;
                Some((id, Finding { address, verdict }))
            })
            .into_iter()
            .collect();
        Ok(Posted {
            nonce: None,
            events,
        })
    }
}

/// What a Postmark event says of its address, if anything.
fn verdict(event: &Event) -> Option<Verdict> {
    let told = || {
        let text = if event.details.trim().is_empty() {
            &event.description
        } else {
            &event.details
        };
        said(&format!("{} {text} (Postmark)", event.kind))
    };
    if event.record_type == "SpamComplaint" || event.kind == "SpamComplaint" {
        return Some(spam_report("Postmark"));
    }
    if event.record_type != "Bounce" {
        return None;
    }
    match event.kind.as_str() {
        "HardBounce" | "BadEmailAddress" => Some(Verdict::Hard(format!("{BOUNCED}: {}", told()))),
        "SoftBounce" | "DnsError" => Some(Verdict::Soft(told())),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn postmark() -> Postmark {
        Postmark::from_raw(&Raw {
            user: "postmark".into(),
            password: "correct horse battery staple".into(),
        })
        .unwrap()
    }

    fn basic(credentials: &str) -> hyper::HeaderMap {
        let mut headers = hyper::HeaderMap::new();
        headers.insert(
            hyper::header::AUTHORIZATION,
            format!("Basic {}", STANDARD.encode(credentials))
                .parse()
                .unwrap(),
        );
        headers
    }

    const HARD: &str = r#"{"RecordType":"Bounce","ID":4323372036854775807,"Type":"HardBounce","TypeCode":1,"Email":"dead@example.org","Description":"The server was unable to deliver your message (ex: unknown user, mailbox not found).","Details":"smtp;550 5.1.1 unknown user"}"#;

    #[test]
    fn with_its_credentials_a_hard_bounce_is_hard() {
        let now = DateTime::from_timestamp(0, 0).unwrap();
        let posted = postmark()
            .read(
                &basic("postmark:correct horse battery staple"),
                HARD.as_bytes(),
                now,
            )
            .unwrap();
        assert_eq!(
            posted.events,
            [(
                "postmark:4323372036854775807".to_owned(),
                Finding {
                    address: "dead@example.org".into(),
                    verdict: Verdict::Hard(
                        "bounced: HardBounce smtp;550 5.1.1 unknown user (Postmark)".into()
                    ),
                }
            )]
        );
    }

    #[test]
    fn without_them_nothing_is_read() {
        let now = DateTime::from_timestamp(0, 0).unwrap();
        for headers in [
            basic("postmark:wrong"),
            basic("other:correct horse battery staple"),
            basic("postmark:correct horse battery staple "),
            hyper::HeaderMap::new(),
        ] {
            assert!(matches!(
                postmark().read(&headers, HARD.as_bytes(), now),
                Err(Refusal::Unproven(_))
            ));
        }
    }

    #[test]
    fn each_kind_has_its_verdict() {
        let now = DateTime::from_timestamp(0, 0).unwrap();
        let headers = basic("postmark:correct horse battery staple");
        let cases = [
            (
                r#"{"RecordType":"SpamComplaint","ID":1,"Type":"SpamComplaint","Email":"a@b.c"}"#,
                Some("complaint"),
            ),
            (
                r#"{"RecordType":"Bounce","ID":2,"Type":"SoftBounce","Email":"a@b.c"}"#,
                Some("soft"),
            ),
            (
                r#"{"RecordType":"Bounce","ID":3,"Type":"Transient","Email":"a@b.c"}"#,
                None,
            ),
            (
                r#"{"RecordType":"Bounce","ID":4,"Type":"AutoResponder","Email":"a@b.c"}"#,
                None,
            ),
            (r#"{"RecordType":"Delivery","ID":5,"Email":"a@b.c"}"#, None),
        ];
        for (event, expected) in cases {
            let posted = postmark().read(&headers, event.as_bytes(), now).unwrap();
            let kind = posted.events.first().map(|(_, f)| f.verdict.kind());
            assert_eq!(kind, expected, "{event}");
        }
    }

    #[test]
    fn a_short_password_is_refused() {
        let err = Postmark::from_raw(&Raw {
            user: "postmark".into(),
            password: "short".into(),
        })
        .unwrap_err();
        assert_eq!(err.0, "bounces.postmark.password");
    }
}
