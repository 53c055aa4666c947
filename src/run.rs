//! The publisher's loop: scan, rebuild feeds, record what is new, cut digests, deliver.
//!
//! `tidings run --once` calls [`Runner::pass`] once; `tidings run` calls the same steps
//! whenever the next one is due and sleeps in between (it does not poll). The store decides
//! what is new and what is owed; the scheduler only decides when.

use std::cell::RefCell;
use std::collections::HashMap;
use std::time::Instant;

use chrono::{DateTime, Utc};
use futures_util::future::join_all;

use crate::clock::Clock;
use crate::content::{self, Problem};
use crate::feeds::{self, Mode, entry};
use crate::model::Post;
use crate::notify::{self, Outcome, PostItem, webhook};
use crate::progress::Progress;
use crate::settings::{Delivery, Notifier, NotifierKind, Settings};
use crate::store::{self, Seen, Store, StoreError};

/// What stops a pass.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Scan(#[from] content::ScanError),
    #[error(transparent)]
    Output(#[from] feeds::OutputError),
    #[error("cannot start a transport: {0}")]
    Client(String),
}

/// What one scan found and recorded.
#[derive(Debug, Default)]
pub struct ScanReport {
    pub posts: usize,
    pub new_posts: usize,
    /// Posts announced (queued for at least the notifiers that want them).
    pub announced: usize,
    pub problems: Vec<Problem>,
    pub feeds: feeds::Report,
    /// Messages that could not even be made (a template error); they are in the outbox as
    /// failed.
    pub unbuildable: usize,
}

/// What one round of deliveries did.
#[derive(Debug, Default, Clone, Copy)]
pub struct DeliveryReport {
    pub sent: usize,
    pub retrying: usize,
    pub failed: usize,
}

/// Owns the state file (and its lock) for as long as it runs.
pub struct Runner<'a> {
    settings: &'a Settings,
    clock: &'a dyn Clock,
    store: Store,
    client: reqwest::Client,
    backfill: Option<usize>,
    /// The email transport, when any notifier sends email.
    mailer: Option<notify::email::Mailer>,
    /// Rate-limit buckets of chat and email notifiers, by name; they live as long as the
    /// process.
    buckets: RefCell<HashMap<String, notify::ratelimit::Bucket>>,
    _lock: store::RunLock,
}

impl<'a> Runner<'a> {
    /// Opens the state file and takes its lock. `backfill` is how many of the newest posts
    /// the very first scan of an archive announces (none by default).
    pub fn new(
        settings: &'a Settings,
        clock: &'a dyn Clock,
        backfill: Option<usize>,
    ) -> Result<Runner<'a>, RunError> {
        let store = Store::open(&settings.state_path)?;
        let lock = store.lock()?;
        let client = reqwest::Client::builder()
            .connect_timeout(std::time::Duration::from_secs(5))
            .build()
            .map_err(|e| RunError::Client(e.to_string()))?;
        let wants_mail = settings
            .notifiers
            .iter()
            .any(|n| matches!(n.kind, NotifierKind::Email(_)));
        let mailer = match (&settings.email, wants_mail) {
            (Some(email), true) => Some(notify::email::mailer(email).map_err(RunError::Client)?),
            _ => None,
        };
        Ok(Runner {
            settings,
            clock,
            mailer,
            store,
            client,
            backfill,
            buckets: RefCell::new(HashMap::new()),
            _lock: lock,
        })
    }

    /// Reads the content, rebuilds the feeds, and records what is new: in one transaction,
    /// each new post is marked seen and queued for every notifier that wants it.
    pub fn scan(&mut self) -> Result<ScanReport, RunError> {
        let started = Instant::now();
        let now = self.clock.now();
        let settings = self.settings;
        let scan = content::scan(settings, &Progress::hidden())?;
        let feeds = feeds::build(&scan.posts, settings, now, Mode::Write)?;
        let mut report = ScanReport {
            posts: scan.posts.len(),
            problems: scan.problems,
            ..ScanReport::default()
        };
        report.problems.extend(feeds.problems.iter().cloned());
        report.feeds = feeds;

        let first_scan = !self.store.has_scanned()?;
        if !first_scan && let Some(n) = self.backfill.take() {
            tracing::warn!(
                "--backfill {n} has no effect: this state file has already recorded the archive"
            );
        }
        let by_id: HashMap<&str, &Post> = scan.posts.iter().map(|p| (p.id.as_str(), p)).collect();
        let tx = self.store.transaction()?;
        for notifier in &settings.notifiers {
            tx.know_notifier(&notifier.name, now)?;
        }
        for post in &scan.posts {
            let seen = Seen {
                id: &post.id,
                hash: post.hash,
                published: post.published.with_timezone(&Utc),
            };
            if tx.see_post(&seen, now)? {
                report.new_posts += 1;
            }
        }
        let due = tx.unannounced(now)?;
        let announce_count = if first_scan {
            self.backfill.take().unwrap_or(0).min(due.len())
        } else {
            due.len()
        };
        if first_scan && due.len() > announce_count {
            tracing::info!(
                recorded = due.len() - announce_count,
                "first scan of this archive: existing posts are recorded as seen and not announced"
            );
        }
        // Oldest first, so instant messages arrive in the order the posts were published.
        for (position, announcement) in due.iter().enumerate().rev() {
            let Some(post) = by_id.get(announcement.post_id.as_str()) else {
                continue; // gone from the folder for now; announced if it comes back
            };
            if position < announce_count {
                report.unbuildable += announce(settings, &tx, post, now)?;
                report.announced += 1;
            }
            tx.mark_announced(&announcement.post_id)?;
        }
        // In the same transaction: "has this archive been scanned?" must never be answered
        // "no" for posts that were already recorded, or the next scan would take new posts
        // for the archive and announce nothing.
        if !first_scan {
            queue_pings(settings, &tx, &report.feeds.changed_urls, now)?;
        }
        tx.record_scan(
            now,
            started.elapsed().as_millis() as i64,
            report.posts,
            report.new_posts,
            report.problems.len(),
        )?;
        tx.commit()?;
        tracing::info!(
            posts = report.posts,
            new = report.new_posts,
            announced = report.announced,
            "scanned"
        );
        Ok(report)
    }

    /// When a digest notifier's schedule next fires after it last did.
    fn next_digest(&self, notifier: &Notifier) -> Result<Option<DateTime<Utc>>, RunError> {
        let Delivery::Digest(cron) = &notifier.delivery else {
            return Ok(None);
        };
        let since = self
            .store
            .last_fired(&notifier.name)?
            .unwrap_or_else(|| self.clock.now());
        Ok(cron.next_after(since, self.settings.site.timezone))
    }

    /// Cuts a digest for every notifier whose schedule has fired since it last did. Missed
    /// slots (tidings was down) fire once, not once each. Returns how many messages were made.
    pub fn fire_digests(&mut self) -> Result<usize, RunError> {
        let now = self.clock.now();
        let mut made = 0;
        for notifier in &self.settings.notifiers {
            match self.next_digest(notifier)? {
                Some(slot) if slot <= now => made += self.cut_digest(notifier, slot)?,
                _ => {}
            }
        }
        Ok(made)
    }

    /// `tidings send`: cuts a digest notifier's digest now, whatever its schedule says.
    pub fn send_now(&mut self, name: &str) -> Result<usize, RunError> {
        let settings = self.settings;
        match settings.notifiers.iter().find(|n| n.name == name) {
            Some(notifier) if matches!(notifier.delivery, Delivery::Digest(_)) => {
                self.cut_digest(notifier, self.clock.now())
            }
            _ => Ok(0),
        }
    }

    /// In one transaction: takes the notifier's queue, puts its messages in the outbox (none
    /// when nothing is new) and records that it fired. `slot` names the digest, so its
    /// message ids are stable.
    fn cut_digest(&mut self, notifier: &Notifier, slot: DateTime<Utc>) -> Result<usize, RunError> {
        let now = self.clock.now();
        let settings = self.settings;
        let tx = self.store.transaction()?;
        tx.know_notifier(&notifier.name, now)?;
        let queued = tx.take_queue(&notifier.name)?;
        let items: Vec<PostItem> = queued
            .iter()
            .filter_map(|(_, json)| serde_json::from_str(json).ok())
            .collect();
        let ids: Vec<String> = queued.iter().map(|(id, _)| id.clone()).collect();
        let key = format!("digest:{}", store::stamp(slot));
        let (messages, _) = if items.is_empty() {
            (0, 0) // nothing new: no empty digest
        } else {
            enqueue_notification(
                settings,
                &tx,
                notifier,
                "posts.digest",
                &key,
                &items,
                &ids,
                now,
            )?
        };
        tx.set_last_fired(&notifier.name, now)?;
        tx.commit()?;
        tracing::info!(notifier = %notifier.name, posts = queued.len(), messages, "digest");
        Ok(messages)
    }

    /// Sends every message that is due. Notifiers are served side by side, so one receiver
    /// that is down never holds up another; one notifier's messages go in order, and after a
    /// failure that may pass its later messages wait for the next round.
    pub async fn deliver(&self) -> Result<DeliveryReport, RunError> {
        let now = self.clock.now();
        let due = self.store.due(now)?;
        let mut by_notifier: Vec<(&Notifier, Vec<store::Delivery>)> = Vec::new();
        for delivery in due {
            let Some(notifier) = self
                .settings
                .notifiers
                .iter()
                .find(|n| n.name == delivery.notifier)
            else {
                continue; // removed from the settings: kept, but not sent
            };
            match by_notifier
                .iter_mut()
                .find(|(n, _)| n.name == notifier.name)
            {
                Some((_, list)) => list.push(delivery),
                None => by_notifier.push((notifier, vec![delivery])),
            }
        }
        let results = join_all(
            by_notifier
                .into_iter()
                .map(|(notifier, list)| self.deliver_to(notifier, list)),
        )
        .await;
        let mut report = DeliveryReport::default();
        for result in results {
            let r = result?;
            report.sent += r.sent;
            report.retrying += r.retrying;
            report.failed += r.failed;
        }
        Ok(report)
    }

    async fn deliver_to(
        &self,
        notifier: &Notifier,
        list: Vec<store::Delivery>,
    ) -> Result<DeliveryReport, RunError> {
        let mut report = DeliveryReport::default();
        // Someone who unsubscribed gets nothing more, not even a message queued before
        // (RFC 8058 asks for "promptly"); a confirmation they asked for still goes.
        let unsubscribed = match notifier.kind {
            NotifierKind::Email(_) => self.store.unsubscribed(&notifier.name)?,
            _ => Default::default(),
        };
        for delivery in list {
            let body = self.store.body(delivery.id)?;
            let gone = !unsubscribed.is_empty()
                && delivery.kind != "confirm"
                && notify::email::recipient_of(&body)
                    .is_some_and(|to| unsubscribed.contains(&to.to_lowercase()));
            if gone {
                self.store
                    .mark_skipped(delivery.id, "the recipient unsubscribed before it was sent")?;
                tracing::info!(notifier = %notifier.name, id = %delivery.message_id, "skipped: unsubscribed");
                continue;
            }
            let outcome = match &notifier.kind {
                NotifierKind::Webhook(hook) => {
                    webhook::send(
                        &self.client,
                        hook,
                        notifier.timeout,
                        &delivery.message_id,
                        &body,
                        self.clock.now(),
                    )
                    .await
                }
                NotifierKind::Chat(chat) => {
                    let (burst, per_second) = notify::chat::contract(chat.platform).rate();
                    self.pace(notifier, burst, per_second).await;
                    notify::send_chat(
                        &self.client,
                        chat,
                        notifier.timeout,
                        &delivery.message_id,
                        &body,
                        self.clock.now(),
                    )
                    .await
                }
                NotifierKind::Hub(hub) => {
                    notify::websub::ping(
                        &self.client,
                        hub,
                        notifier.timeout,
                        &body,
                        self.clock.now(),
                    )
                    .await
                }
                NotifierKind::Email(_) => match (&self.mailer, &self.settings.email) {
                    (Some(mailer), Some(email)) => {
                        self.pace(notifier, email.rate.max(1.0), email.rate).await;
                        notify::email::send(mailer, email, &body).await
                    }
                    _ => Outcome::Unreachable {
                        error: "no `[email]` transport".into(),
                    },
                },
            };
            let now = self.clock.now();
            let attempts = delivery.attempts + 1;
            match outcome {
                Outcome::Sent => {
                    self.store.mark_sent(delivery.id, now)?;
                    report.sent += 1;
                    tracing::info!(notifier = %notifier.name, id = %delivery.message_id, "sent");
                }
                Outcome::Retry { ref error, .. } | Outcome::Unreachable { ref error }
                    if attempts < notifier.max_attempts =>
                {
                    let after = if let Outcome::Retry { after, .. } = outcome {
                        after
                    } else {
                        None
                    };
                    if let Some(after) = after {
                        self.slow_down(notifier, after);
                    }
                    let wait =
                        after.unwrap_or_else(|| notify::backoff(attempts, &delivery.message_id));
                    let next = now
                        + chrono::Duration::from_std(wait).unwrap_or(chrono::Duration::hours(1));
                    self.store
                        .mark_failed_attempt(delivery.id, error, Some(next))?;
                    report.retrying += 1;
                    tracing::warn!(notifier = %notifier.name, id = %delivery.message_id, attempt = attempts, next = %store::stamp(next), "{error}; will retry");
                    // Keep order: a group's later messages wait behind this one. Emails go to
                    // different people, so one recipient's refusal holds up no one else,
                    // unless the server itself is out of reach.
                    let independent = matches!(notifier.kind, NotifierKind::Email(_))
                        && matches!(outcome, Outcome::Retry { .. });
                    if !independent {
                        break;
                    }
                }
                Outcome::Retry { error, .. }
                | Outcome::Unreachable { error }
                | Outcome::Fail { error } => {
                    self.store.mark_failed_attempt(delivery.id, &error, None)?;
                    report.failed += 1;
                    tracing::error!(notifier = %notifier.name, id = %delivery.message_id, attempt = attempts, "{error}; giving up");
                }
            }
        }
        Ok(report)
    }

    /// Waits for the notifier's rate-limit bucket (`burst` messages at once, then
    /// `per_second`).
    async fn pace(&self, notifier: &Notifier, burst: f64, per_second: f64) {
        let wait = self
            .buckets
            .borrow_mut()
            .entry(notifier.name.clone())
            .or_insert_with(|| {
                notify::ratelimit::Bucket::new(burst, per_second, std::time::Instant::now())
            })
            .reserve(std::time::Instant::now());
        if !wait.is_zero() {
            tracing::debug!(notifier = %notifier.name, ?wait, "pacing to the rate limit");
            tokio::time::sleep(wait).await;
        }
    }

    /// A receiver asked for a pause: its bucket waits at least that long.
    fn slow_down(&self, notifier: &Notifier, after: std::time::Duration) {
        if let Some(bucket) = self.buckets.borrow_mut().get_mut(&notifier.name) {
            bucket.pause(std::time::Instant::now() + after);
        }
    }

    /// The next moment there is work: a scan, a digest, or a retry.
    pub fn next_wake(&self, next_scan: DateTime<Utc>) -> Result<DateTime<Utc>, RunError> {
        let mut wake = next_scan;
        for notifier in &self.settings.notifiers {
            if let Some(slot) = self.next_digest(notifier)? {
                wake = wake.min(slot);
            }
        }
        if let Some(due) = self.store.next_due()? {
            wake = wake.min(due);
        }
        Ok(wake)
    }
}

/// Queues one post for every notifier that wants it; returns how many messages could not
/// be made.
fn announce(
    settings: &Settings,
    tx: &store::Tx,
    post: &Post,
    now: DateTime<Utc>,
) -> Result<usize, RunError> {
    let (prepared, problem) = entry::prepare(post, settings);
    if let Some(problem) = problem {
        // Announced all the same, with what the front matter says.
        tracing::warn!("{problem}");
    }
    let item = PostItem::from_entry(&prepared);
    let mut unbuildable = 0;
    for notifier in settings.notifiers.iter().filter(|n| n.wants(post)) {
        match &notifier.delivery {
            Delivery::Instant => {
                let key = format!("post:{}", post.id);
                let items = std::slice::from_ref(&item);
                let ids = std::slice::from_ref(&post.id);
                let (_, failed) = enqueue_notification(
                    settings,
                    tx,
                    notifier,
                    "posts.published",
                    &key,
                    items,
                    ids,
                    now,
                )?;
                unbuildable += failed;
            }
            Delivery::Digest(_) => {
                let json = serde_json::to_string(&item).expect("plain structs serialize");
                tx.enqueue_for_digest(
                    &notifier.name,
                    &post.id,
                    post.published.with_timezone(&Utc),
                    &json,
                )?;
            }
        }
        tracing::info!(notifier = %notifier.name, post = %post.id, "queued");
    }
    Ok(unbuildable)
}

/// Makes the messages of one notification and hands each to `emit` as (message id, post
/// ids, body): a webhook gets one message per `max_posts` posts; a chat platform's messages
/// are also cut to its limits; email gets one message per recipient. Messages are emitted
/// one by one, so a digest to many subscribers never sits whole in memory. Returns how many.
#[allow(clippy::too_many_arguments)]
pub fn compose(
    settings: &Settings,
    notifier: &Notifier,
    event: &str,
    key: &str,
    items: &[PostItem],
    post_ids: &[String],
    now: DateTime<Utc>,
    audience: &notify::email::Audience,
    emit: &mut dyn FnMut(String, Vec<String>, String) -> Result<(), String>,
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
                emit(id, ids.to_vec(), body)?;
            }
            Ok(n)
        }
        NotifierKind::Email(target) => {
            let email = settings
                .email
                .as_ref()
                .ok_or("email notifiers need an `[email]` table")?;
            let dkim = notify::email::dkim(email)?;
            let mut made = 0;
            notify::email::render(
                settings,
                email,
                &notifier.name,
                target,
                digest,
                notifier.max_posts,
                items,
                post_ids,
                now,
                audience,
                &mut |rendered| {
                    let (id, body) = notify::email::encode(
                        settings,
                        email,
                        dkim.as_ref(),
                        &notifier.name,
                        key,
                        &rendered,
                        now,
                    )?;
                    made += 1;
                    emit(id, rendered.posts, body)
                },
            )?;
            Ok(made)
        }
        NotifierKind::Hub(_) => Err("a WebSub hub is told of changed feeds, not of posts".into()),
        NotifierKind::Chat(chat) => {
            let parts = notify::chat::messages(settings, chat, digest, items, notifier.max_posts)?;
            let n = parts.len();
            for (i, part) in parts.into_iter().enumerate() {
                let ids = part.posts.iter().map(|&p| post_ids[p].clone()).collect();
                emit(id_of(i, n), ids, part.body)?;
            }
            Ok(n)
        }
    }
}

/// Queues a publish ping to every WebSub hub for each feed that changed. The first scan of
/// an archive pings nothing: no one can have subscribed to feeds that did not exist.
fn queue_pings(
    settings: &Settings,
    tx: &store::Tx,
    changed: &[String],
    now: DateTime<Utc>,
) -> Result<(), RunError> {
    let hubs = settings
        .notifiers
        .iter()
        .filter(|n| matches!(n.kind, NotifierKind::Hub(_)));
    for hub in hubs {
        for feed_url in changed {
            let key = format!("ping\u{1f}{feed_url}\u{1f}{}", store::stamp(now));
            let id = notify::message_id(settings.site.url.as_str(), &hub.name, &key);
            if tx.enqueue_ping(&id, &hub.name, &notify::websub::body(feed_url), now)? {
                tracing::debug!(hub = %hub.name, feed = %feed_url, "ping queued");
            }
        }
    }
    Ok(())
}

/// Puts one notification's messages in the outbox; returns (messages queued, messages that
/// could not be made). One that could not be made goes in as failed, with the reason, so
/// `status` shows it and `retry` can send it after the template is fixed.
#[allow(clippy::too_many_arguments)]
fn enqueue_notification(
    settings: &Settings,
    tx: &store::Tx,
    notifier: &Notifier,
    event: &str,
    key: &str,
    items: &[PostItem],
    post_ids: &[String],
    now: DateTime<Utc>,
) -> Result<(usize, usize), RunError> {
    let kind = if event == "posts.digest" {
        "digest"
    } else {
        "post"
    };
    let audience = match notifier.kind {
        NotifierKind::Email(_) => notify::email::Audience::new(
            &tx.signups(&notifier.name)?,
            tx.unsubscribed(&notifier.name)?,
        ),
        _ => notify::email::Audience::default(),
    };
    // A store failure stops composing; it is not a fault of the message.
    let mut store_error = None;
    let started = std::time::Instant::now();
    let mut storing = std::time::Duration::ZERO;
    let mut emit = |id: String, ids: Vec<String>, body: String| {
        let insert = std::time::Instant::now();
        let stored = tx
            .enqueue_delivery(&id, &notifier.name, kind, &ids, &body, now)
            .map_err(|e| {
                let message = e.to_string();
                store_error = Some(e);
                message
            });
        storing += insert.elapsed();
        stored
    };
    let result = compose(
        settings, notifier, event, key, items, post_ids, now, &audience, &mut emit,
    );
    tracing::debug!(notifier = %notifier.name, rendering = ?started.elapsed().saturating_sub(storing), ?storing, "composed");
    if let Some(e) = store_error {
        return Err(e.into());
    }
    match result {
        Ok(made) => Ok((made, 0)),
        Err(error) => {
            tracing::error!(notifier = %notifier.name, "{error}");
            let id = notify::message_id(settings.site.url.as_str(), &notifier.name, key);
            tx.enqueue_delivery(&id, &notifier.name, kind, post_ids, "", now)?;
            tx.fail_message(&id, &error)?;
            Ok((1, 1))
        }
    }
}
