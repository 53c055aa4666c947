//! Sending stored email: over SMTP on pooled connections of our own (`smtp_pool`, where
//! lettre speaks SMTP), or as `.eml` files when no server is configured; and sorting what the server answers into
//! sent, try again, give up, or a setting that must be fixed (naming it).
//!
//! The message itself was built when it entered the outbox (`email`): this only reads the
//! stored envelope and sends the same bytes at every attempt.

use crate::settings::secret::ExposeSecret;

use lettre::transport::smtp::authentication::Credentials;
use lettre::{Address, AsyncFileTransport, AsyncTransport, Tokio1Executor};

use super::smtp_pool::{Pool, SendError};

use super::email::Stored;
use super::outcome::Outcome;
use crate::settings::email_settings::{Email, MailTransport};

/// The envelope sender of mail to `to`: `email.return_path` with `to`'s signed token
/// (`bounces+TOKEN@example.org`, so a bounce names the reader it is about in a way no one
/// else can forge), else the `From` address.
fn return_path(email: &crate::settings::Email, to: &Address) -> Address {
    use secrecy::ExposeSecret;
    match (&email.return_path, &email.secret) {
        (Some(base), Some(secret)) => {
            let token = crate::tokens::return_token(secret.expose_secret(), to.as_ref());
            Address::new(format!("{}+{token}", base.user()), base.domain())
                .unwrap_or_else(|_| base.clone())
        }
        _ => email.from.email.clone(),
    }
}

/// Where messages go.
#[derive(Clone)]
pub enum Mailer {
    Smtp(std::sync::Arc<Pool>),
    Files(AsyncFileTransport<Tokio1Executor>),
    /// lettre's stub, which keeps what it is given: the tests' receiver.
    #[cfg(test)]
    Stub(lettre::transport::stub::AsyncStubTransport),
}

/// Opens the transport `[email]` describes (connections are made lazily and pooled).
pub fn mailer(email: &Email) -> Result<Mailer, String> {
    match &email.transport {
        MailTransport::Files(dir) => {
            std::fs::create_dir_all(dir)
                .map_err(|e| format!("cannot create `{}`: {e}", dir.display()))?;
            Ok(Mailer::Files(AsyncFileTransport::new(dir)))
        }
        MailTransport::Smtp {
            host,
            port,
            tls,
            user,
            password,
        } => {
            let credentials = user.as_ref().map(|user| {
                Credentials::new(
                    user.clone(),
                    password
                        .as_ref()
                        .map(|p| p.expose_secret().to_owned())
                        .unwrap_or_default(),
                )
            });
            Ok(Mailer::Smtp(std::sync::Arc::new(Pool::new(
                host,
                *port,
                *tls,
                credentials,
            )?)))
        }
    }
}

/// Sends one stored message, once.
pub async fn send(mailer: &Mailer, email: &Email, body: &str) -> Outcome {
    let stored: Stored = match serde_json::from_str(body) {
        Ok(stored) => stored,
        Err(e) => {
            return Outcome::Fail {
                error: format!("the stored message is damaged: {e}"),
            };
        }
    };
    let to: Address = match stored.to.parse() {
        Ok(to) => to,
        Err(e) => {
            return Outcome::Fail {
                error: format!("`{}` is not an address: {e}", stored.to),
            };
        }
    };
    let sender = return_path(email, &to);
    let envelope = match lettre::address::Envelope::new(Some(sender), vec![to]) {
        Ok(envelope) => envelope,
        Err(e) => {
            return Outcome::Fail {
                error: format!("no envelope: {e}"),
            };
        }
    };
    let bytes = stored.eml.as_bytes();
    match mailer {
        #[cfg(test)]
        Mailer::Stub(transport) => match transport.send_raw(&envelope, bytes).await {
            Ok(()) => Outcome::Sent,
            Err(e) => Outcome::Retry {
                error: format!("SMTP: {e}"),
                after: None,
            },
        },
        Mailer::Smtp(pool) => {
            // The whole send, connecting included, within the timeout.
            match tokio::time::timeout(email.timeout, pool.send(&envelope, bytes)).await {
                Err(_) => Outcome::Unreachable {
                    error: format!(
                        "no answer from the SMTP server within {}s",
                        email.timeout.as_secs()
                    ),
                },
                Ok(Ok(_)) => Outcome::Sent,
                Ok(Err(e)) => match classify_send(&e) {
                    // The refused sender is the return path when there is one.
                    Outcome::Halt {
                        key: "email.from",
                        error,
                    } if email.return_path.is_some() => Outcome::Halt {
                        key: "email.return_path",
                        error,
                    },
                    outcome => outcome,
                },
            }
        }
        Mailer::Files(transport) => match transport.send_raw(&envelope, bytes).await {
            Ok(_) => Outcome::Sent,
            Err(e) => Outcome::Unreachable {
                error: format!("cannot write the message file: {e}"),
            },
        },
    }
}

/// Connects to the SMTP server as a send would (EHLO, STARTTLS, login), sends nothing, and
/// says how it went; an error names the setting at fault and what to change.
pub async fn connect(email: &Email) -> Result<String, String> {
    let mailer = mailer(email)?;
    let Mailer::Smtp(pool) = mailer else {
        return Ok("none set: messages are written as .eml files into `email.outbox`".into());
    };
    match tokio::time::timeout(email.timeout, pool.check()).await {
        Err(_) => Err(format!(
            "`email.smtp`: no answer from the SMTP server within {}s",
            email.timeout.as_secs()
        )),
        Ok(Ok(())) => Ok(match &email.transport {
            MailTransport::Smtp { user: Some(_), .. } => {
                "connected, greeted and logged in as the settings say; nothing sent".into()
            }
            _ => "connected and greeted, with no login (`email.smtp` names no user: the server must take mail from this machine without one); nothing sent".into(),
        }),
        Ok(Err(e)) => Err(match classify_send(&e) {
            Outcome::Halt { key, error } => format!("`{key}`: {error}"),
            _ => format!("`email.smtp`: SMTP: {e}"),
        }),
    }
}

/// Sorts a failed send: before SMTP began (no connection: try again later; a TLS
/// handshake that failed: a setting to fix), or what the SMTP conversation said.
fn classify_send(e: &SendError) -> Outcome {
    match e {
        SendError::Smtp(e) => classify_smtp(e),
        SendError::Connect(error) => Outcome::Unreachable {
            error: format!("SMTP: {error}"),
        },
        SendError::Tls(error) => {
            let hint = if error
                .to_ascii_lowercase()
                .contains("starttls is not supported")
            {
                NO_STARTTLS
            } else {
                BAD_TLS
            };
            Outcome::Halt {
                key: "email.smtp",
                error: format!("SMTP: {error}; {hint}"),
            }
        }
    }
}

const NO_STARTTLS: &str = "the server offers no STARTTLS: use `smtps://` (port 465) if it speaks TLS at once, or add `?tls=none` for a local relay";
const BAD_TLS: &str = "the TLS handshake failed: check the host name and that the port matches the scheme (`smtps://` 465, `smtp://` 587)";

/// Sorts an SMTP failure: a setting that cannot work halts the lane (naming the key and
/// what to change); a refusal of one recipient fails that message; the rest is tried again.
pub fn classify_smtp(e: &lettre::transport::smtp::Error) -> Outcome {
    let error = format!("SMTP: {e}");
    if let Some((key, hint)) = setting_at_fault(e) {
        return Outcome::Halt {
            key,
            error: format!("{error}; {hint}"),
        };
    }
    if e.is_permanent() {
        Outcome::Fail { error }
    } else if e.is_transient() {
        Outcome::Retry { error, after: None }
    } else {
        Outcome::Unreachable { error }
    }
}

/// Which setting an SMTP failure points at, with what to change; `None` when no setting is
/// at fault (a refused recipient, a busy or unreachable server).
pub fn setting_at_fault(
    e: &lettre::transport::smtp::Error,
) -> Option<(&'static str, &'static str)> {
    let text = e.to_string().to_ascii_lowercase();
    if text.contains("starttls is not supported") {
        return Some(("email.smtp", NO_STARTTLS));
    }
    if e.is_tls() {
        return Some(("email.smtp", BAD_TLS));
    }
    let code = e.status().map(|c| c.to_string());
    match code.as_deref() {
        Some("530" | "534" | "535" | "538") => Some((
            "email.password",
            "the server refused the login: check `email.password` and the user in `email.smtp`",
        )),
        Some(code)
            if code.starts_with('5')
                && (text.contains("sender")
                    || text.contains("5.1.7")
                    || text.contains("5.1.8")) =>
        {
            Some((
                "email.from",
                "the server refuses mail from this sender: use an address it accepts (its own domain, or one it relays for)",
            ))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lettre::transport::stub::AsyncStubTransport;

    fn email() -> Email {
        let text = "[site]\ntitle = \"T\"\nurl = \"https://example.org/\"\n[content]\ndir = \"posts\"\n\
                    [email]\nfrom = \"News <news@example.org>\"\n";
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("posts")).unwrap();
        crate::settings::Settings::parse(text, std::path::Path::new("s.toml"), dir.path())
            .unwrap()
            .email
            .unwrap()
    }

    fn stored(to: &str) -> String {
        serde_json::to_string(&Stored {
            to: to.into(),
            eml: "Subject: hi\r\n\r\nBody\r\n".into(),
        })
        .unwrap()
    }

    /// The stored bytes go out as stored, to the stored recipient, from `email.from`.
    #[tokio::test]
    async fn a_stored_message_is_sent_as_it_was_stored() {
        let stub = AsyncStubTransport::new_ok();
        let mailer = Mailer::Stub(stub.clone());
        assert_eq!(
            send(&mailer, &email(), &stored("ada@example.org")).await,
            Outcome::Sent
        );
        let sent = stub.messages().await;
        assert_eq!(sent.len(), 1);
        let (envelope, bytes) = &sent[0];
        assert_eq!(
            envelope.to(),
            ["ada@example.org".parse::<Address>().unwrap()]
        );
        assert_eq!(
            envelope.from().map(ToString::to_string).as_deref(),
            Some("news@example.org")
        );
        assert_eq!(bytes, "Subject: hi\r\n\r\nBody\r\n");
    }

    /// What the outbox holds cannot make a send panic: a damaged body or an address that
    /// no longer parses fails that message, with the reason.
    #[tokio::test]
    async fn a_damaged_stored_message_fails_and_a_refusal_is_retried() {
        let mailer = Mailer::Stub(AsyncStubTransport::new_ok());
        let email = email();
        assert!(matches!(
            send(&mailer, &email, "{not json").await,
            Outcome::Fail { error } if error.contains("damaged")
        ));
        assert!(matches!(
            send(&mailer, &email, &stored("not an address")).await,
            Outcome::Fail { error } if error.contains("not an address")
        ));
        let refusing = Mailer::Stub(AsyncStubTransport::new_error());
        assert!(matches!(
            send(&refusing, &email, &stored("ada@example.org")).await,
            Outcome::Retry { .. }
        ));
    }
}
