//! Receivers behind one trait: a lane hands a stored message to its transport and gets back
//! how the attempt went. Each integration lives in its own module under `notify/`; this is
//! the one place that picks the transport for a notifier's type.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::notify::{self, Outcome, webhook, websub};
use crate::settings::{Chat, Email, Notifier, NotifierKind, Webhook};

/// One attempt's future.
pub type Attempt<'a> = Pin<Box<dyn Future<Output = Outcome> + Send + 'a>>;

/// Sends one stored message, once.
pub trait Transport: Send + Sync {
    /// Sends `body` (as the outbox stores it) with its stable `message_id`.
    fn send<'a>(&'a self, message_id: &'a str, body: &'a str, now: DateTime<Utc>) -> Attempt<'a>;
    /// The receiver's documented pace: (burst, messages per second), or `None` for a
    /// receiver with no documented limit.
    fn rate(&self) -> Option<(f64, f64)> {
        None
    }
    /// The longest one attempt can take before its own timeout gives up.
    fn timeout(&self) -> Duration;
}

/// A Standard Webhooks receiver.
pub struct WebhookTransport {
    pub client: reqwest::Client,
    pub hook: Webhook,
    pub timeout: Duration,
    /// The settings key of its address, for errors (`notifiers.<name>.url`).
    pub key: String,
}

impl Transport for WebhookTransport {
    fn send<'a>(&'a self, message_id: &'a str, body: &'a str, now: DateTime<Utc>) -> Attempt<'a> {
        Box::pin(webhook::send(
            &self.client,
            &self.hook,
            &self.key,
            self.timeout,
            message_id,
            body,
            now,
        ))
    }

    fn timeout(&self) -> Duration {
        self.timeout
    }
}

/// A chat platform, speaking its own contract.
pub struct ChatTransport {
    pub client: reqwest::Client,
    pub chat: Chat,
    pub timeout: Duration,
    /// The settings key of its address, for errors.
    pub key: String,
}

impl Transport for ChatTransport {
    fn send<'a>(&'a self, message_id: &'a str, body: &'a str, now: DateTime<Utc>) -> Attempt<'a> {
        Box::pin(notify::chat::send(
            &self.client,
            &self.chat,
            &self.key,
            self.timeout,
            message_id,
            body,
            now,
        ))
    }

    fn rate(&self) -> Option<(f64, f64)> {
        Some(notify::chat::platform(&self.chat).rate())
    }

    fn timeout(&self) -> Duration {
        self.timeout
    }
}

/// A WebSub hub, told which feed changed.
pub struct HubTransport {
    pub client: reqwest::Client,
    pub hub: url::Url,
    pub timeout: Duration,
}

impl Transport for HubTransport {
    fn send<'a>(&'a self, _message_id: &'a str, body: &'a str, now: DateTime<Utc>) -> Attempt<'a> {
        Box::pin(websub::ping(
            &self.client,
            &self.hub,
            self.timeout,
            body,
            now,
        ))
    }

    fn timeout(&self) -> Duration {
        self.timeout
    }
}

/// The SMTP server (or `.eml` folder) of `[email]`, shared by every email lane.
pub struct MailTransport {
    pub mailer: crate::notify::smtp::Mailer,
    pub email: Email,
}

impl MailTransport {
    /// The server this mail goes to, naming its pace in the state (`smtp:host:port`; a
    /// folder of `.eml` files is paced like one too).
    pub fn server(&self) -> String {
        match &self.email.transport {
            crate::settings::email_settings::MailTransport::Smtp { host, port, .. } => {
                format!("smtp:{}:{port}", host.to_ascii_lowercase())
            }
            crate::settings::email_settings::MailTransport::Files(dir) => {
                format!("files:{}", dir.display())
            }
        }
    }
}

impl Transport for MailTransport {
    fn send<'a>(&'a self, _message_id: &'a str, body: &'a str, _now: DateTime<Utc>) -> Attempt<'a> {
        Box::pin(crate::notify::smtp::send(&self.mailer, &self.email, body))
    }

    fn rate(&self) -> Option<(f64, f64)> {
        Some((self.email.rate.max(1.0), self.email.rate))
    }

    fn timeout(&self) -> Duration {
        self.email.timeout
    }
}

/// The transport for a notifier: the one `match` on its type. Email notifiers share
/// `mail`, the one SMTP server's transport.
pub fn for_notifier(
    notifier: &Notifier,
    client: &reqwest::Client,
    mail: Option<&Arc<MailTransport>>,
) -> Result<Arc<dyn Transport>, String> {
    let client = client.clone();
    let timeout = notifier.timeout;
    Ok(match &notifier.kind {
        NotifierKind::Webhook(hook) => Arc::new(WebhookTransport {
            client,
            hook: hook.clone(),
            timeout,
            key: format!("notifiers.{}.url", notifier.name),
        }),
        NotifierKind::Chat(chat) => Arc::new(ChatTransport {
            client,
            chat: chat.clone(),
            timeout,
            key: format!("notifiers.{}.{}", notifier.name, chat.address_key),
        }),
        NotifierKind::Hub(hub) => Arc::new(HubTransport {
            client,
            hub: hub.clone(),
            timeout,
        }),
        NotifierKind::Email(_) => match mail {
            Some(mail) => mail.clone(),
            None => {
                return Err(format!(
                    "notifier {}: email needs an `[email]` table",
                    notifier.name
                ));
            }
        },
    })
}
