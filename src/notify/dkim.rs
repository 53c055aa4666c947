//! DKIM signatures (RFC 6376), one per configured key: RSA and Ed25519 side by side, as RFC
//! 8463 advises (a receiver that knows only RSA, such as SpamAssassin's Mail::DKIM, still
//! finds a signature it can check). Each signature is complete on its own and covers the
//! same headers; none covers another.
//!
//! Every header a signature covers is listed twice in its `h=`: a message carries each at
//! most once, so the second listing stands for "no further instance" (§5.4.2) and signs
//! that absence ("over-signing"). A header added on the way, such as a second `Subject:`
//! prepended above the signed one, then breaks the signature instead of being shown to the
//! reader unsigned.
//!
//! Canonicalization and the header are mail-auth's, relaxed for header and body (§3.4.2,
//! §3.4.4), so the folding mail software applies never breaks a signature. The keys sign
//! with aws-lc-rs (see [`DkimKeyPair`]): one RSA signature per reader is most of what a
//! newsletter costs.

use std::sync::Arc;

use lettre::Message;
use mail_auth::common::crypto::{Algorithm, HashContext, HashImpl, Sha256, SigningKey};
use mail_auth::common::headers::{HeaderWriter, Writable};
use mail_auth::dkim::{Canonicalization, DkimSigner};

use crate::settings::email_settings::{DkimKeyPair, Email};

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

/// The signers of `[email]`'s keys (none without DKIM).
pub struct Signers(Vec<(String, DkimSigner<Key, mail_auth::dkim::Done>)>);

/// A settings key as mail-auth signs with it.
pub struct Key(Arc<DkimKeyPair>);

impl SigningKey for Key {
    type Hasher = Sha256;

    fn sign(&self, input: impl Writable) -> mail_auth::Result<Vec<u8>> {
        let failed = |what: &str| {
            mail_auth::Error::Crypto(mail_auth::common::crypto::CryptoError::Library(
                what.to_owned(),
            ))
        };
        match &*self.0 {
            DkimKeyPair::Rsa(pair) => {
                let mut data = Vec::with_capacity(1024);
                input.write(&mut data);
                let mut signature = vec![0; pair.public_modulus_len()];
                pair.sign(
                    &aws_lc_rs::signature::RSA_PKCS1_SHA256,
                    &aws_lc_rs::rand::SystemRandom::new(),
                    &data,
                    &mut signature,
                )
                .map_err(|_| failed("RSA signing failed"))?;
                Ok(signature)
            }
            DkimKeyPair::OtherRsa(key) => key.sign(input),
            // RFC 8463 §3: Ed25519 signs the SHA-256 of the data, not the data.
            DkimKeyPair::Ed25519(pair) => {
                let mut hash = <Sha256 as HashImpl>::hasher();
                input.write(&mut hash);
                Ok(pair.sign(hash.complete().as_ref()).as_ref().to_vec())
            }
        }
    }

    fn algorithm(&self) -> Algorithm {
        match *self.0 {
            DkimKeyPair::Rsa(_) | DkimKeyPair::OtherRsa(_) => Algorithm::RsaSha256,
            DkimKeyPair::Ed25519(_) => Algorithm::Ed25519Sha256,
        }
    }
}

impl Signers {
    /// One signer per key (the keys were read when the settings loaded), each for the
    /// sender's domain, which is what receivers align DKIM with.
    pub fn of(email: &Email) -> Signers {
        let domain = email.from.email.domain().to_owned();
        Signers(
            email
                .dkim
                .iter()
                .map(|key| {
                    let signer = DkimSigner::from_key(Key(key.key.clone()))
                        .domain(domain.clone())
                        .selector(key.selector.clone())
                        .headers(SIGNED_HEADERS.iter().flat_map(|name| [*name, *name]))
                        .header_canonicalization(Canonicalization::Relaxed)
                        .body_canonicalization(Canonicalization::Relaxed);
                    (key.selector.clone(), signer)
                })
                .collect(),
        )
    }

    /// The message as it is sent: one `DKIM-Signature` header per key in front of it.
    pub fn sign(&self, message: &Message) -> Result<Vec<u8>, String> {
        let formatted = message.formatted();
        let mut out = Vec::with_capacity(formatted.len() + 512 * self.0.len());
        for (selector, signer) in &self.0 {
            let signature = signer
                .sign(&formatted)
                .map_err(|e| format!("DKIM signature `{selector}`: {e}"))?;
            signature.write_header(&mut out);
        }
        out.extend_from_slice(&formatted);
        Ok(out)
    }
}
