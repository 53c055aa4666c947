//! Secrets held as types that never show them: a `{:?}` of any settings struct, a log line
//! or an error cannot carry a password, a signing key or a token. Strings and keys are
//! `secrecy`'s types (their `Debug` says `[REDACTED]`, and they are wiped when dropped); an
//! address that may hold a token in its path or query (a Slack or Telegram URL) is a
//! [`TokenUrl`], which shows only its host.

use std::fmt;

pub use secrecy::{ExposeSecret, SecretSlice, SecretString};
use url::Url;

/// A URL that may carry a token (in its path, query or user part): used as a URL, shown as
/// its host only.
#[derive(Clone, PartialEq, Eq)]
pub struct TokenUrl(pub Url);

impl TokenUrl {
    /// What may be logged of it: the host.
    pub fn host(&self) -> String {
        self.0
            .host_str()
            .map_or_else(|| "?".to_owned(), str::to_owned)
    }
}

impl std::ops::Deref for TokenUrl {
    type Target = Url;

    fn deref(&self) -> &Url {
        &self.0
    }
}

impl fmt::Debug for TokenUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TokenUrl({}, …)", self.host())
    }
}

/// Bytes (a signing key) as a secret.
pub fn bytes(value: Vec<u8>) -> SecretSlice<u8> {
    SecretSlice::from(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_never_shows_a_secret() {
        let url =
            TokenUrl(Url::parse("https://hooks.example.org/T0/B0/secret-token?key=x").unwrap());
        let shown = format!(
            "{url:?} {:?} {:?}",
            SecretString::from("hunter2"),
            bytes(b"key".to_vec())
        );
        assert!(
            !shown.contains("secret-token")
                && !shown.contains("hunter2")
                && !shown.contains("key=x"),
            "{shown}"
        );
        assert!(shown.contains("hooks.example.org"));
    }
}
