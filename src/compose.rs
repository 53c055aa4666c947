//! The composer: turns announcements and digest cuts (rows in `compositions`) into outbox
//! messages, outside any scan transaction.
//!
//! Messages are made one by one and stored in batches, so a digest to thousands of readers
//! is never whole in memory and never holds the state file's write lock for long; the
//! composition is removed in the transaction that stores its last batch. Composing again
//! after a crash stores nothing twice (message ids are stable and unique). A composition
//! that fails (a template error) stays `failed` with its reason, to be composed again by
//! `tidings retry` once the template is fixed; a recipient whose message cannot be made
//! (an address or name no mail header can carry) is reported and skipped, and everyone
//! else gets theirs.

use std::collections::BTreeSet;
use std::panic::{AssertUnwindSafe, catch_unwind};

use chrono::{DateTime, Utc};

use crate::notify::{self, PostItem, email::Audience, webhook};
use crate::settings::{Delivery, Notifier, NotifierKind, Settings};
use crate::store::{Composition, NewMessage, Store, StoreError};

/// Messages stored per transaction, at most; and at most this many bytes of them (a
/// digest's messages are large: memory stays bounded whatever the digest).
const BATCH: usize = 200;
const BATCH_BYTES: usize = 4 << 20;

/// What a round of composing did.
#[derive(Debug, Default)]
pub struct Report {
    /// Messages put in the outbox.
    pub messages: usize,
    /// Compositions that failed (kept, `failed`).
    pub failed: usize,
    /// Recipients skipped because their message could not be made.
    pub skipped: usize,
    /// Notifiers that got new messages (their lanes are woken).
    pub notifiers: BTreeSet<String>,
}

/// Composes every pending composition (of `only`, when given). Messages of many small
/// notifications share a transaction, so a scan that found 100 posts for 5 notifiers costs
/// a few syncs to disk, not 500.
pub fn compose_pending(
    store: &mut Store,
    settings: &Settings,
    now: DateTime<Utc>,
    only: Option<&str>,
) -> Result<Report, StoreError> {
    compose_pending_of(store, settings, now, only, None)
}

/// [`compose_pending`] for email notifiers alone (`mail` true) or for every other kind
/// (false): the daemon composes each on a thread of its own, so an announcement to a chat
/// or a webhook never waits behind a mailing to many thousands of readers.
pub fn compose_pending_of(
    store: &mut Store,
    settings: &Settings,
    now: DateTime<Utc>,
    only: Option<&str>,
    mail: Option<bool>,
) -> Result<Report, StoreError> {
    let mut report = Report::default();
    let mut batch = Batch::default();
    // A round that split a mailing into parts goes again, for the parts.
    let mut rounds = 0;
    loop {
        let mut split = false;
        for composition in store.compositions(only, false)? {
            let Some(notifier) = settings
                .notifiers
                .iter()
                .find(|n| n.name == composition.notifier)
            else {
                continue; // removed from the settings: kept for when it comes back
            };
            if mail.is_some_and(|mail| mail != matches!(notifier.kind, NotifierKind::Email(_))) {
                continue; // the other composer's
            }
            if store.is_shared() {
                // Another node composes this one; or it is large enough to share out.
                if !store.claim_composition(composition.id, now)? {
                    continue;
                }
                if let Some(parts) = parts_for(store, notifier, &composition)? {
                    store.split_composition(&composition, parts)?;
                    split = true;
                    continue;
                }
            }
            compose_one(
                store,
                settings,
                notifier,
                &composition,
                now,
                &mut batch,
                &mut report,
            )?;
        }
        batch.flush(store, now)?;
        rounds += 1;
        if !split || rounds > 1 {
            return Ok(report);
        }
    }
}

/// Readers per part when nodes share a large mailing out.
const READERS_PER_PART: usize = 500;

/// At most this many parts to one mailing.
const MAX_PARTS: usize = 16;

/// How many parts an email notification not yet split should be composed in, when its
/// readers are many enough for other nodes to help (composing and signing a digest for
/// thousands of readers is the costly part of sending it).
fn parts_for(
    store: &Store,
    notifier: &Notifier,
    composition: &Composition,
) -> Result<Option<u64>, StoreError> {
    let NotifierKind::Email(target) = &notifier.kind else {
        return Ok(None);
    };
    if split_part(&composition.key).1.is_some() {
        return Ok(None);
    }
    let readers = target.readers().len() + store.signups(&notifier.name)?.len();
    let parts = readers.div_ceil(READERS_PER_PART).min(MAX_PARTS);
    Ok((parts > 1).then_some(parts as u64))
}

/// A composition's key without its part (`#part=K/N`, what a split adds), and the part:
/// message ids come from the key alone, so a reader's message has the same id whichever
/// part, and node, made it.
pub fn split_part(key: &str) -> (&str, Option<(u64, u64)>) {
    let Some((base, part)) = key.rsplit_once("#part=") else {
        return (key, None);
    };
    let parsed = part
        .split_once('/')
        .and_then(|(k, n)| Some((k.parse().ok()?, n.parse().ok()?)))
        .filter(|(k, n): &(u64, u64)| k < n);
    match parsed {
        Some(part) => (base, Some(part)),
        None => (key, None),
    }
}

/// Messages waiting to be stored, and the compositions whose last message is among them
/// (removed in the same transaction).
#[derive(Default)]
struct Batch {
    messages: Vec<NewMessage>,
    bytes: usize,
    finished: Vec<i64>,
}

impl Batch {
    fn push(
        &mut self,
        store: &mut Store,
        message: NewMessage,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.bytes += message.body.len();
        self.messages.push(message);
        if self.messages.len() >= BATCH || self.bytes >= BATCH_BYTES {
            self.flush(store, now)?;
        }
        Ok(())
    }

    fn flush(&mut self, store: &mut Store, now: DateTime<Utc>) -> Result<(), StoreError> {
        if !self.messages.is_empty() || !self.finished.is_empty() {
            store.store_composed(&self.messages, &self.finished, now)?;
            self.messages.clear();
            self.finished.clear();
            self.bytes = 0;
        }
        Ok(())
    }
}

/// Composes one notification into the batch.
fn compose_one(
    store: &mut Store,
    settings: &Settings,
    notifier: &Notifier,
    composition: &Composition,
    now: DateTime<Utc>,
    batch: &mut Batch,
    report: &mut Report,
) -> Result<(), StoreError> {
    let started = std::time::Instant::now();
    let stored: Vec<PostItem> = serde_json::from_str(&composition.items).unwrap_or_default();
    let items = for_readers(&stored, settings, notifier);
    let post_ids: Vec<String> = serde_json::from_str(&composition.post_ids).unwrap_or_default();
    let (key, part) = split_part(&composition.key);
    let audience = match notifier.kind {
        NotifierKind::Email(_) => Audience {
            part,
            ..Audience::new(
                &store.signups(&notifier.name)?,
                store.unsubscribed(&notifier.name)?,
            )
        },
        _ => Audience::default(),
    };
    let kind = if composition.event == "posts.digest" {
        "digest"
    } else {
        "post"
    };
    let mut store_error = None;
    let mut made = 0;
    let mut skipped = 0;
    let result = catch_unwind(AssertUnwindSafe(|| {
        compose(
            settings,
            notifier,
            &composition.event,
            key,
            &items,
            &post_ids,
            now,
            &audience,
            &mut |message| match message {
                Made::Message {
                    id,
                    posts,
                    body,
                    recipient,
                } => {
                    let message = NewMessage {
                        message_id: id,
                        notifier: notifier.name.clone(),
                        kind: kind.to_owned(),
                        post_ids: posts,
                        body,
                        recipient,
                        seq: composition.seq,
                    };
                    made += 1;
                    batch.push(store, message, now).map_err(|e| {
                        let text = e.to_string();
                        store_error = Some(e);
                        text
                    })
                }
                Made::Skipped { recipient, error } => {
                    tracing::warn!(notifier = %notifier.name, %recipient, "no message for this recipient: {error}");
                    skipped += 1;
                    Ok(())
                }
            },
        )
    }))
    .unwrap_or_else(|panic| Err(format!("composing stopped: {}", panic_text(&panic))));
    if let Some(e) = store_error {
        return Err(e); // not the message's fault: composed again next round
    }
    report.skipped += skipped;
    report.messages += made;
    if made > 0 {
        report.notifiers.insert(notifier.name.clone());
    }
    match result {
        Ok(_) => {
            batch.finished.push(composition.id);
            tracing::info!(notifier = %notifier.name, key = %composition.key, messages = made, elapsed = ?started.elapsed(), "composed");
        }
        Err(error) => {
            // What was made before the failure is whole, and goes with the batch.
            tracing::error!(notifier = %notifier.name, key = %composition.key, "cannot make the message: {error}; fix it, then `tidings retry {}`", notifier.name);
            store.fail_composition(composition.id, &error)?;
            report.failed += 1;
        }
    }
    Ok(())
}

/// Renders what `notifier` would send for a full notification of made-up posts (as many as
/// a message may hold), keeping nothing: `check` finds a template that fails or runs out of
/// its fuel before a real notification does. The error names the template.
pub fn rehearse(
    settings: &Settings,
    notifier: &Notifier,
    now: DateTime<Utc>,
) -> Result<(), String> {
    let count = notifier.max_posts.min(100);
    let items: Vec<PostItem> = (1..=count)
        .map(|n| PostItem {
            id: format!("urn:uuid:00000000-0000-0000-0000-{n:012}"),
            post_id: format!("sample-{n}.md"),
            title: format!("Sample post {n}"),
            url: format!("{}sample-{n}/", settings.site.url),
            summary: "A sample summary. ".repeat(12),
            categories: vec!["Sample/Category".into()],
            tags: vec!["sample".into()],
            image: None,
            published: now.to_rfc3339(),
            updated: now.to_rfc3339(),
            published_utc: String::new(),
            date: String::new(),
            author: settings.site.author.clone(),
        })
        .collect();
    let items = for_readers(&items, settings, notifier);
    let post_ids: Vec<String> = items.iter().map(|i| i.post_id.clone()).collect();
    let digest = matches!(notifier.delivery, Delivery::Digest(_));
    let event = if digest {
        "posts.digest"
    } else {
        "post.published"
    };
    let discard = &mut |_: Made| Ok(());
    match &notifier.kind {
        NotifierKind::Hub(_) => Ok(()),
        NotifierKind::Email(target) => {
            let email = settings
                .email
                .as_ref()
                .ok_or("email notifiers need an `[email]` table")?;
            let reader = crate::readers::Recipient {
                mailbox: "reader@example.org".parse().expect("a valid address"),
                categories: Vec::new(),
                tags: Vec::new(),
            };
            notify::email::render(
                settings,
                email,
                &notifier.name,
                target,
                &mut std::iter::once(&reader),
                digest,
                notifier.max_posts,
                &items,
                &post_ids,
                now,
                &Audience::default(),
                &mut |_| Ok(()),
            )
        }
        _ => compose(
            settings,
            notifier,
            event,
            "rehearsal",
            &items,
            &post_ids,
            now,
            &Audience::default(),
            discard,
        )
        .map(|_| ()),
    }
}

/// A panic's message.
pub fn panic_text(panic: &Box<dyn std::any::Any + Send>) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic".into())
}

/// What composing hands out, one at a time.
pub enum Made {
    /// A message: its id, the post ids it tells of, its body, and (email) its recipient.
    Message {
        id: String,
        posts: Vec<String>,
        body: String,
        recipient: Option<String>,
    },
    /// A recipient whose message could not be made.
    Skipped { recipient: String, error: String },
}

/// Rendered messages encoded and signed at once, on every core (signing with a 2,048-bit
/// RSA key is the largest single cost of a message: 0.26 of about 1 ms), then handed on
/// in order.
const ENCODED_AT_ONCE: usize = 256;

/// What encoding a rendered email needs.
struct Encoder<'a> {
    settings: &'a Settings,
    email: &'a crate::settings::Email,
    dkim: &'a notify::dkim::Signers,
    notifier: &'a str,
    key: &'a str,
    now: DateTime<Utc>,
}

impl Encoder<'_> {
    /// Encodes and signs `pending` in parallel and hands each to `emit` in order. One
    /// reader's message failing to encode (or lettre panicking on an odd name) skips
    /// that reader only.
    fn encode_and_emit(
        &self,
        pending: &mut Vec<notify::email::Rendered>,
        made: &mut usize,
        emit: &mut dyn FnMut(Made) -> Result<(), String>,
    ) -> Result<(), String> {
        use rayon::prelude::*;
        let encoded: Vec<Result<(String, String), String>> = pending
            .par_iter()
            .map(|rendered| {
                catch_unwind(AssertUnwindSafe(|| {
                    notify::email::encode(
                        self.settings,
                        self.email,
                        self.dkim,
                        self.notifier,
                        self.key,
                        rendered,
                        self.now,
                    )
                }))
                .unwrap_or_else(|panic| Err(panic_text(&panic)))
            })
            .collect();
        for (rendered, encoded) in pending.drain(..).zip(encoded) {
            match encoded {
                Ok((id, body)) => {
                    *made += 1;
                    emit(Made::Message {
                        id,
                        posts: rendered.posts,
                        body,
                        recipient: Some(rendered.recipient),
                    })?;
                }
                Err(error) => emit(Made::Skipped {
                    recipient: rendered.recipient,
                    error,
                })?,
            }
        }
        Ok(())
    }
}

/// Makes the messages of one notification and hands each to `emit`: a webhook gets one
/// message per `max_posts` posts; a chat platform's messages are also cut to its limits;
/// email gets one message per recipient. Returns how many messages were made.
#[allow(clippy::too_many_arguments)]
pub fn compose(
    settings: &Settings,
    notifier: &Notifier,
    event: &str,
    key: &str,
    items: &[PostItem],
    post_ids: &[String],
    now: DateTime<Utc>,
    audience: &Audience,
    emit: &mut dyn FnMut(Made) -> Result<(), String>,
) -> Result<usize, String> {
    let site = settings.site.url.as_str();
    let id_of = |i: usize, n: usize| {
        let key = if n == 1 {
            key.to_owned()
        } else {
            format!("{key}:{}/{n}", i + 1)
        };
        notify::message_id(site, &notifier.name, &key)
    };
    let digest = matches!(notifier.delivery, Delivery::Digest(_));
    let message = |id: String, posts: Vec<String>, body: String| Made::Message {
        id,
        posts,
        body,
        recipient: None,
    };
    match &notifier.kind {
        NotifierKind::Webhook(hook) => {
            let n = items.len().div_ceil(notifier.max_posts);
            for (i, (chunk, ids)) in items
                .chunks(notifier.max_posts)
                .zip(post_ids.chunks(notifier.max_posts))
                .enumerate()
            {
                let id = id_of(i, n);
                let body = webhook::body(settings, hook, &notifier.name, event, &id, now, chunk)?;
                emit(message(id, ids.to_vec(), body))?;
            }
            Ok(n)
        }
        NotifierKind::Email(target) => {
            let email = settings
                .email
                .as_ref()
                .ok_or("email notifiers need an `[email]` table")?;
            let dkim = notify::dkim::Signers::of(email);
            let mut made = 0;
            let mut pending: Vec<notify::email::Rendered> = Vec::with_capacity(ENCODED_AT_ONCE);
            let encoder = Encoder {
                settings,
                email,
                dkim: &dkim,
                notifier: &notifier.name,
                key,
                now,
            };
            // The list as it is now: a reader removed since the settings were read gets
            // nothing, one added gets this message.
            let readers = target.readers();
            notify::email::render(
                settings,
                email,
                &notifier.name,
                target,
                &mut readers.iter(),
                digest,
                notifier.max_posts,
                items,
                post_ids,
                now,
                audience,
                &mut |rendered| {
                    pending.push(rendered);
                    if pending.len() < ENCODED_AT_ONCE {
                        return Ok(());
                    }
                    encoder.encode_and_emit(&mut pending, &mut made, emit)
                },
            )?;
            encoder.encode_and_emit(&mut pending, &mut made, emit)?;
            Ok(made)
        }
        NotifierKind::Hub(_) => Err("a WebSub hub is told of changed feeds, not of posts".into()),
        NotifierKind::Chat(chat) => {
            let parts = notify::chat::messages(settings, chat, digest, items, notifier.max_posts)?;
            let n = parts.len();
            for (i, part) in parts.into_iter().enumerate() {
                let ids = part
                    .posts
                    .iter()
                    .filter_map(|&p| post_ids.get(p).cloned())
                    .collect();
                emit(message(id_of(i, n), ids, part.body))?;
            }
            Ok(n)
        }
    }
}
/// Items as the notifier's readers get them: dates in the site's time zone, written in the
/// language the notifier writes in (an email notifier's `email.language`, else the site's).
pub fn for_readers(items: &[PostItem], settings: &Settings, notifier: &Notifier) -> Vec<PostItem> {
    let words = match (&notifier.kind, &settings.email) {
        (NotifierKind::Email(_), Some(email)) => email.words.as_ref().unwrap_or(&settings.words),
        _ => &settings.words,
    };
    items
        .iter()
        .map(|item| item.for_readers(settings.site.timezone, words))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The daemon's two composers each take their own kind: the one for everything but
    /// mail composes a post's webhook message while a mailing still waits for the other.
    #[test]
    fn each_composer_takes_its_own_kind() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("posts")).unwrap();
        let text = "[site]\ntitle = \"Site\"\nurl = \"https://example.org/\"\n[content]\ndir = \"posts\"\n\
                    [email]\nfrom = \"news@example.org\"\n\
                    [notifiers.letters]\ntype = \"email\"\nto = [\"ada@example.org\", \"bob@example.org\"]\n\
                    [notifiers.hook]\ntype = \"webhook\"\nurl = \"http://127.0.0.1:9/\"\n";
        let settings = Settings::parse(text, std::path::Path::new("s.toml"), dir.path()).unwrap();
        let mut store = Store::open(&dir.path().join("s.db")).unwrap();
        let now = chrono::TimeZone::with_ymd_and_hms(&Utc, 2026, 12, 1, 8, 0, 0).unwrap();
        let item = serde_json::json!([{
            "id": "urn:uuid:1", "post_id": "p1.md", "title": "Post", "url": "https://example.org/p1/",
            "summary": "Summary.", "categories": [], "tags": [],
            "published": "2026-12-01T08:00:00+00:00", "updated": "2026-12-01T08:00:00+00:00",
        }])
        .to_string();
        let tx = store.transaction().unwrap();
        for notifier in ["letters", "hook"] {
            tx.queue_composition(notifier, "posts.new", "p1", &item, "[\"p1.md\"]", now)
                .unwrap();
        }
        tx.commit().unwrap();
        let waiting = |store: &Store| -> Vec<String> {
            let list = store.compositions(None, false).unwrap();
            list.into_iter().map(|c| c.notifier).collect()
        };
        let others = compose_pending_of(&mut store, &settings, now, None, Some(false)).unwrap();
        assert_eq!(others.notifiers, BTreeSet::from(["hook".to_owned()]));
        assert_eq!(
            waiting(&store),
            ["letters"],
            "the mailing waits for its own composer"
        );
        let mail = compose_pending_of(&mut store, &settings, now, None, Some(true)).unwrap();
        assert_eq!(mail.notifiers, BTreeSet::from(["letters".to_owned()]));
        assert_eq!(mail.messages, 2, "one message per reader");
        assert!(waiting(&store).is_empty());
    }
}
