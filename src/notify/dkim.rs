//! DKIM signatures (RFC 6376), one per configured key: RSA and Ed25519 side by side, as RFC
//! 8463 advises (a receiver that knows only RSA, such as SpamAssassin's Mail::DKIM, still
//! finds a signature it can check). Each signature is complete on its own and covers the
//! same headers; none covers another.
//!
//! Every header a signature covers is listed twice in its `h=`: a message carries each at
//! most once, so the second listing stands for "no further instance" (§5.4.2) and signs
//! that absence ("over-signing"). A header added on the way, such as a second `Subject:`
//! prepended above the signed one, then breaks the signature instead of being shown to the
//! reader unsigned. (lettre hashes a name listed twice once, which is exactly what a
//! verifier computes for a header present once.)
//!
//! Signing is lettre's; relaxed canonicalization of header and body (§3.4.2, §3.4.4), so
//! the folding mail software (and lettre itself) applies never breaks a signature.

use lettre::Message;
use lettre::message::dkim::{
    DkimCanonicalization, DkimCanonicalizationType, DkimConfig, DkimSigningKey,
};
use lettre::message::header::{HeaderName, Headers};

use crate::settings::email_settings::Email;
use crate::settings::secret::ExposeSecret;

/// The headers every signature covers (RFC 6376 §5.4; RFC 8058 §4 asks for both
/// List-Unsubscribe headers). A header a message does not carry (Reply-To, the list
/// headers of a confirmation) is signed as absent, so it cannot be added on the way.
pub const SIGNED_HEADERS: &[&str] = &[
    "From",
    "To",
    "Subject",
    "Date",
    "Message-ID",
    "MIME-Version",
    "Content-Type",
    "Reply-To",
    "List-Id",
    "List-Unsubscribe",
    "List-Unsubscribe-Post",
];

const SIGNATURE: &str = "DKIM-Signature";

/// The signers of `[email]`'s keys (none without DKIM).
pub struct Signers(Vec<DkimConfig>);

impl Signers {
    /// One signer per key (the keys were checked when the settings loaded), each for the
    /// sender's domain, which is what receivers align DKIM with.
    pub fn of(email: &Email) -> Result<Signers, String> {
        let domain = email.from.email.domain().to_owned();
        email
            .dkim
            .iter()
            .map(|key| {
                let signing = DkimSigningKey::new(key.key.expose_secret(), key.algorithm)
                    .map_err(|e| format!("DKIM key `{}`: {e}", key.selector))?;
                Ok(DkimConfig::new(
                    key.selector.clone(),
                    domain.clone(),
                    signing,
                    SIGNED_HEADERS
                        .iter()
                        .flat_map(|name| [*name, *name])
                        .map(HeaderName::new_from_ascii_str)
                        .collect(),
                    DkimCanonicalization {
                        header: DkimCanonicalizationType::Relaxed,
                        body: DkimCanonicalizationType::Relaxed,
                    },
                ))
            })
            .collect::<Result<Vec<_>, String>>()
            .map(Signers)
    }

    /// The message as it is sent: one `DKIM-Signature` header per key in front of it.
    pub fn sign(&self, message: &Message) -> Vec<u8> {
        let mut out = Vec::new();
        for config in &self.0 {
            // lettre keeps one signature per message (a second replaces the first): each
            // is made on a copy of the unsigned message and written in front of it, folded
            // as lettre folds it.
            let mut copy = message.clone();
            copy.sign(config);
            if let Some(signature) = copy.headers_mut().remove_raw(SIGNATURE) {
                let mut line = Headers::new();
                line.insert_raw(signature);
                out.extend_from_slice(line.to_string().as_bytes());
            }
        }
        out.extend_from_slice(&message.formatted());
        out
    }
}
