//! `tidings preview`: the exact payloads a notifier would send next. Writes nothing.

use std::path::Path;

use super::common::{Context, Status, find_notifier, load};
use crate::compose::{Made, compose};
use crate::notify::{self, PostItem};
use crate::settings::{Delivery, NotifierKind};
use crate::store::Store;

/// `tidings preview NOTIFIER [--to EMAIL] [--html FILE]`: the unsent messages as they will
/// go, and the next digest as it would be cut now. Reads the state file; writes nothing there.
pub fn preview(ctx: &Context, name: &str, to: Option<&str>, html_file: Option<&Path>) -> Status {
    let Some(settings) = load(ctx) else {
        return Status::Failed;
    };
    let Some(notifier) = find_notifier(&settings, name) else {
        return Status::Failed;
    };
    if settings.state_missing() {
        crate::outln!("nothing to preview: `tidings run` has not recorded anything yet");
        return Status::Clean;
    }
    let result = (|| -> Result<(), String> {
        let store = Store::open_for(&settings.state).map_err(|e| e.to_string())?;
        let unsent = store.unsent(name).map_err(|e| e.to_string())?;
        for delivery in &unsent {
            crate::outln!(
                "unsent message {} ({} attempts so far):",
                delivery.message_id,
                delivery.attempts
            );
            crate::outln!("{}", readable(&delivery.body));
        }
        let queued = store.peek_queue(name).map_err(|e| e.to_string())?;
        let unsubscribed = store.unsubscribed(name).map_err(|e| e.to_string())?;
        let signups = store.signups(name).map_err(|e| e.to_string())?;
        let mut audience = notify::email::Audience::new(&signups, unsubscribed);
        if !matches!(notifier.delivery, Delivery::Digest(_)) || queued.is_empty() {
            if unsent.is_empty() {
                crate::outln!("nothing queued for {name}");
            }
            return Ok(());
        }
        let stored: Vec<PostItem> = queued
            .iter()
            .filter_map(|(_, json)| serde_json::from_str(json).ok())
            .collect();
        let items = crate::compose::for_readers(&stored, &settings, notifier);
        let ids: Vec<String> = queued.iter().map(|(id, _)| id.clone()).collect();
        let now = ctx.clock.now();
        if let (NotifierKind::Email(target), Some(email)) = (&notifier.kind, &settings.email) {
            let everyone: Vec<_> = std::mem::take(&mut audience.signed_up)
                .into_iter()
                .chain(target.readers().iter().cloned())
                .collect();
            let recipient = notify::email::recipient(&everyone, to)
                .ok_or_else(|| format!("`{}` is not a recipient of {name}", to.unwrap_or("?")))?;
            let mut rendered = Vec::new();
            notify::email::render(
                &settings,
                email,
                name,
                target,
                &mut std::iter::once(recipient),
                true,
                notifier.max_posts,
                &items,
                &ids,
                now,
                &audience,
                &mut |message| {
                    rendered.push(message);
                    Ok(())
                },
            )?;
            let Some(message) = rendered.first() else {
                crate::outln!(
                    "next digest: nothing for {} (unsubscribed, or none of the posts match their filters)",
                    recipient.address()
                );
                return Ok(());
            };
            crate::outln!(
                "next digest for {}: {} of {} queued posts",
                message.recipient,
                message.posts.len(),
                items.len()
            );
            crate::outln!("Subject: {}\n\n{}", message.subject, message.text);
            if let Some(path) = html_file {
                std::fs::write(path, &message.html)
                    .map_err(|e| format!("cannot write `{}`: {e}", path.display()))?;
                crate::outln!("(HTML part written to {})", path.display());
            }
            return Ok(());
        }
        let mut messages = Vec::new();
        compose(
            &settings,
            notifier,
            "posts.digest",
            "preview",
            &items,
            &ids,
            now,
            &audience,
            &mut |made| {
                if let Made::Message { body, .. } = made {
                    messages.push(body);
                }
                Ok(())
            },
        )?;
        let plural = |n: usize, word: &str| {
            if n == 1 {
                format!("1 {word}")
            } else {
                format!("{n} {word}s")
            }
        };
        crate::outln!(
            "next digest: {} in {}",
            plural(items.len(), "post"),
            plural(messages.len(), "message")
        );
        for body in &messages {
            crate::outln!("{}", readable(body));
        }
        Ok(())
    })();
    match result {
        Ok(()) => Status::Clean,
        Err(e) => {
            crate::errln!("error: {e}");
            Status::Failed
        }
    }
}

/// A stored body for people: an email as its message text, JSON pretty-printed.
fn readable(body: &str) -> String {
    if let Ok(stored) = serde_json::from_str::<notify::email::Stored>(body) {
        return stored.eml;
    }
    match serde_json::from_str::<serde_json::Value>(body) {
        Ok(json) => serde_json::to_string_pretty(&json).unwrap_or_else(|_| body.to_owned()),
        Err(_) => body.to_owned(),
    }
}
