//! The scanner: reads the content, rebuilds the feeds, and records what is new — each new
//! post seen, announced to the notifiers that want it (a composition, or a place in a
//! digest queue) and WebSub pings for changed feeds — in one short transaction. It also
//! cuts digests when their schedule fires. It never composes or sends anything: the
//! composer and the lanes take it from the store.

use std::collections::HashMap;
use std::time::Instant;

use chrono::{DateTime, Utc};

use crate::clock::Clock;
use crate::content::{self, Problem};
use crate::feeds::{self, Mode, entry};
use crate::model::Post;
use crate::notify::{self, PostItem};
use crate::progress::Progress;
use crate::settings::{Delivery, Notifier, NotifierKind, Settings};
use crate::settled;
use crate::store::{self, Seen, Store, StoreError};

/// What stops a scan.
#[derive(Debug, thiserror::Error)]
pub enum ScanError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Content(#[from] content::ScanError),
    #[error(transparent)]
    Output(#[from] feeds::OutputError),
}

/// What one scan found and recorded.
#[derive(Debug, Default)]
pub struct ScanReport {
    pub posts: usize,
    pub new_posts: usize,
    /// Posts announced (recorded for at least the notifiers that want them).
    pub announced: usize,
    pub problems: Vec<Problem>,
    pub feeds: feeds::Report,
    /// Nothing could have changed since the last scan (see [`crate::settled`]): nothing was
    /// read, planned or recorded, and `feeds` holds counts but no listing.
    pub settled: bool,
    /// Another node scans for the shared state: this one built its feeds and recorded
    /// nothing.
    pub follower: bool,
}

/// Reads the content and records what is new in its own connection to the state file.
pub struct Scanner<'a> {
    settings: &'a Settings,
    clock: &'a dyn Clock,
    store: Store,
    backfill: Option<usize>,
    /// The front door needs the feed listing, which only a full scan produces.
    needs_listing: bool,
    /// Whether this node held the scanner's role at its last look.
    leading: bool,
    /// When this scanner last pruned the state of old rows (see `store::retention`).
    pruned: Option<DateTime<Utc>>,
    /// When this scanner last read the bounce mailbox.
    bounces_read: Option<DateTime<Utc>>,
}

/// How often, at most, the scanning node reads the bounce mailbox: a site scanning every
/// second would otherwise log in to an IMAP server every second.
const BOUNCES_EVERY: chrono::Duration = chrono::Duration::minutes(1);

/// How often the scanning node prunes what `state.keep_days` no longer keeps.
const PRUNE_EVERY: chrono::Duration = chrono::Duration::hours(1);

impl<'a> Scanner<'a> {
    /// `backfill` is how many of the newest posts the very first scan of an archive
    /// announces (none by default).
    pub fn new(
        settings: &'a Settings,
        clock: &'a dyn Clock,
        store: Store,
        backfill: Option<usize>,
    ) -> Scanner<'a> {
        Scanner {
            settings,
            clock,
            store,
            backfill,
            needs_listing: false,
            leading: false,
            pruned: None,
            bounces_read: None,
        }
    }

    /// Gives the state file's free space back (what sent messages' bodies held); a failure
    /// is only logged.
    pub fn give_space_back(&self) {
        if let Err(e) = self.store.give_space_back() {
            tracing::warn!("giving the state file's space back: {e}");
        }
    }

    /// Prunes old rows when an hour has passed since the last time (only the node that
    /// records does). A failure is logged and tried again at the next scan: pruning is
    /// housekeeping, never a reason to stop scanning.
    fn prune_if_due(&mut self, now: DateTime<Utc>) {
        if self
            .pruned
            .is_some_and(|at| now.signed_duration_since(at) < PRUNE_EVERY)
        {
            return;
        }
        match self.store.prune(now, self.settings.state.keep) {
            Ok(pruned) => {
                self.pruned = Some(now);
                if pruned.deliveries + pruned.scans > 0 {
                    tracing::info!(
                        messages = pruned.deliveries,
                        scans = pruned.scans,
                        pages_freed = pruned.pages_freed,
                        "pruned what state.keep_days no longer keeps"
                    );
                }
            }
            Err(e) => tracing::warn!("pruning the state: {e}"),
        }
    }

    /// Reads the bounce mailbox (`[bounces]`), when there is one, at most once a minute.
    /// A state that cannot be
    /// written stops the scan as it would have anyway; the mailbox's own trouble is only
    /// logged.
    fn read_bounces(&mut self, now: DateTime<Utc>) -> Result<(), StoreError> {
        let (Some(bounces), Some(email)) = (&self.settings.bounces, &self.settings.email) else {
            return Ok(());
        };
        if self
            .bounces_read
            .is_some_and(|at| now.signed_duration_since(at) < BOUNCES_EVERY)
        {
            return Ok(());
        }
        self.bounces_read = Some(now);
        let pass = crate::bounces::read_pass(bounces, email, &mut self.store, now)?;
        if pass.read > 0 {
            tracing::info!(
                reports = pass.read,
                suppressed = pass.suppressed,
                soft = pass.soft,
                unsigned = pass.unsigned,
                "read the bounce mailbox"
            );
        }
        Ok(())
    }

    /// Makes the next scan a full one, whose report carries the feed listing.
    pub fn want_listing(&mut self) {
        self.needs_listing = true;
    }

    /// Whether this node records what is new: always with a state file; with a shared
    /// state, the one node holding the scanner's lease (taken here when free or run out).
    pub fn leads(&mut self) -> Result<bool, StoreError> {
        let leads = self.store.lead_scans(self.clock.now())?;
        if leads != self.leading && self.store.is_shared() {
            if leads {
                tracing::info!(node = %self.store.node(), "this node scans and records new posts");
            } else {
                tracing::info!(node = %self.store.node(), "another node scans now; this one builds its feeds");
            }
        }
        self.leading = leads;
        Ok(leads)
    }

    /// Reads the content, rebuilds the feeds, and records what is new in one transaction
    /// (only the feeds on a node that follows another's scans).
    pub fn scan(&mut self) -> Result<ScanReport, ScanError> {
        let started = Instant::now();
        let now = self.clock.now();
        let settings = self.settings;
        let leader = self.leads()?;
        if leader {
            self.prune_if_due(now);
            self.read_bounces(now)?;
        }
        let found = content::find(settings)?;
        let digest = found.digest;
        let racy = found.is_racy(now.into());
        if let Some(report) = self.settled_scan(digest, now, started, leader)? {
            return Ok(report);
        }
        let cache = content::cache::Use::On(settings.posts_cache_path());
        let scan = content::read(found, settings, &Progress::hidden(), &cache, now.into());
        // Read before the build writes its own manifest.
        let first_scan = leader && !self.store.has_scanned()?;
        if first_scan && feeds::manifest::last_written(&settings.feeds.dir).is_some() {
            tracing::error!(
                "this is the first scan recorded in `{}`, but `{}` holds feeds an earlier state published: if the state was deleted or replaced, every post published since its last scan is now taken for the archive and will NOT be announced (stop, restore the state; or to announce the newest N, start from an empty state with `tidings run --once --backfill N`)",
                settings.state.location.shown(),
                settings.feeds.dir.display()
            );
        }
        let feeds = feeds::build(&scan.posts, settings, now, Mode::Write, false)?;
        if let Some(note) = feeds.left_alone_note(&settings.feeds.dir) {
            tracing::warn!("{note}");
        }
        tracing::debug!(elapsed = ?started.elapsed(), "feeds built");
        let mut report = ScanReport {
            posts: scan.posts.len(),
            problems: scan.problems,
            follower: !leader,
            ..ScanReport::default()
        };
        report.problems.extend(feeds.problems.iter().cloned());
        report.feeds = feeds;
        if !leader {
            // Another node records; this one's feeds are its own, from its own folder.
            self.settle(digest, racy, now, (&scan.posts, scan.drafts), &report, None);
            tracing::info!(
                posts = report.posts,
                "feeds built; another node records new posts"
            );
            return Ok(report);
        }

        if !first_scan && let Some(n) = self.backfill.take() {
            tracing::warn!(
                "--backfill {n} has no effect: this state file has already recorded the archive"
            );
        }
        let by_id: HashMap<&str, &Post> = scan.posts.iter().map(|p| (p.id.as_str(), p)).collect();
        let node = self.store.node().to_owned();
        let tx = self.store.transaction()?;
        for notifier in &settings.notifiers {
            tx.know_notifier(&notifier.name, now)?;
        }
        let known = tx.known_posts()?;
        let changed: Vec<Seen> = scan
            .posts
            .iter()
            .map(|post| Seen {
                id: &post.id,
                hash: post.hash,
                // Announced when the site publishes it.
                published: post.available().with_timezone(&Utc),
            })
            .filter(|seen| !seen.is_in(&known))
            .collect();
        report.new_posts = tx.see_posts(&changed, now)?;
        tracing::debug!(elapsed = ?started.elapsed(), "posts recorded");
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
            // A post the site no longer publishes (expired before it was seen) is not news.
            if position < announce_count && !post.has_expired(now) {
                announce(settings, &tx, post, now)?;
                report.announced += 1;
            }
            tx.mark_announced(&announcement.post_id)?;
        }
        if !first_scan {
            queue_pings(settings, &tx, &report.feeds.changed_urls, now)?;
        }
        // In the same transaction: "has this archive been scanned?" must never be answered
        // "no" for posts that were already recorded, or the next scan would take new posts
        // for the archive and announce nothing.
        // The fence: a node frozen past its lease while it read finds the role gone here,
        // and records nothing (its transaction is rolled back when dropped).
        if !tx.still_scanning(&node, self.clock.now())? {
            tracing::warn!(
                "this node lost the scanner's role while it scanned (frozen or too slow past its lease); another node records"
            );
            self.leading = false;
            report.follower = true;
            report.new_posts = 0;
            report.announced = 0;
            return Ok(report);
        }
        let scan_id = tx.record_scan(
            now,
            i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX),
            report.posts,
            report.new_posts,
            report.problems.len(),
        )?;
        tx.commit()?;
        self.settle(
            digest,
            racy,
            now,
            (&scan.posts, scan.drafts),
            &report,
            Some(scan_id),
        );
        tracing::info!(
            posts = report.posts,
            new = report.new_posts,
            announced = report.announced,
            "scanned"
        );
        Ok(report)
    }

    /// Records this full pass, so the next one can stop after the walk if nothing changed
    /// (the posts read and how many drafts were left out; `scan`: the scan row it recorded,
    /// none on a node that follows another's scans).
    fn settle(
        &mut self,
        digest: u64,
        racy: bool,
        now: DateTime<Utc>,
        (posts, drafts): (&[Post], usize),
        report: &ScanReport,
        scan: Option<i64>,
    ) {
        self.needs_listing = false;
        settled::remember(
            self.settings,
            &settled::Pass {
                content: digest,
                racy,
                now,
                posts,
                drafts,
                feeds: &report.feeds,
                problems: &report.problems,
                scan,
            },
        );
    }

    /// The scan when nothing could have changed since the last one this state recorded: only
    /// the scan itself is recorded, and the last report given again. A follower's record
    /// names no scan (it records none): its feeds stand while its content does.
    fn settled_scan(
        &mut self,
        digest: u64,
        now: DateTime<Utc>,
        started: Instant,
        leader: bool,
    ) -> Result<Option<ScanReport>, ScanError> {
        if self.needs_listing {
            return Ok(None);
        }
        let Some(settled) = settled::still_holds(self.settings, digest, now) else {
            return Ok(None);
        };
        let report = ScanReport {
            posts: settled.posts,
            new_posts: 0,
            announced: 0,
            problems: settled.problems.clone(),
            feeds: feeds::Report {
                feeds: settled.feeds,
                published: settled.published,
                scheduled: settled.scheduled,
                unchanged: settled.files,
                fingerprint: settled.feeds_fingerprint,
                ..feeds::Report::default()
            },
            settled: true,
            follower: !leader,
        };
        if !leader {
            return Ok(settled.scan.is_none().then_some(report));
        }
        if settled.scan.is_none() || settled.scan != self.store.last_scan_id()? {
            return Ok(None);
        }
        let tx = self.store.transaction()?;
        let scan_id = tx.record_scan(
            now,
            i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX),
            settled.posts,
            0,
            settled.problems.len(),
        )?;
        tx.commit()?;
        tracing::debug!(
            posts = settled.posts,
            "scanned: nothing changed since the last scan"
        );
        settled::rerecorded(self.settings, settled, scan_id);
        Ok(Some(report))
    }

    /// When a digest notifier's schedule next fires after it last did.
    pub fn next_digest(&self, notifier: &Notifier) -> Result<Option<DateTime<Utc>>, StoreError> {
        let Delivery::Digest(cron) = &notifier.delivery else {
            return Ok(None);
        };
        let since = self
            .store
            .last_fired(&notifier.name)?
            .unwrap_or_else(|| self.clock.now());
        Ok(cron.next_after(since, self.settings.site.timezone))
    }

    /// The next digest firing of any notifier.
    pub fn next_digests(&self) -> Result<Option<DateTime<Utc>>, StoreError> {
        let mut next: Option<DateTime<Utc>> = None;
        for notifier in &self.settings.notifiers {
            if let Some(slot) = self.next_digest(notifier)? {
                next = Some(next.map_or(slot, |n| n.min(slot)));
            }
        }
        Ok(next)
    }

    /// Cuts a digest for every notifier whose schedule has fired since it last did. Missed
    /// slots (tidings was down) fire once, not once each. Returns how many were cut. With a
    /// shared state only the scanning node cuts.
    pub fn fire_digests(&mut self) -> Result<usize, StoreError> {
        if !self.leads()? {
            return Ok(0);
        }
        let now = self.clock.now();
        let mut cut = 0;
        for notifier in &self.settings.notifiers {
            if let Some(slot) = self.next_digest(notifier)?
                && slot <= now
            {
                cut += usize::from(self.cut_digest(notifier, slot)?);
            }
        }
        Ok(cut)
    }

    /// `tidings send`: cuts a digest notifier's digest now, whatever its schedule says.
    pub fn send_now(&mut self, name: &str) -> Result<bool, StoreError> {
        let settings = self.settings;
        match settings.notifiers.iter().find(|n| n.name == name) {
            Some(notifier) if matches!(notifier.delivery, Delivery::Digest(_)) => {
                self.cut_digest(notifier, self.clock.now())
            }
            _ => Ok(false),
        }
    }

    /// In one transaction: takes the notifier's queue, records it as one composition (none
    /// when nothing is new) and that the schedule fired. `slot` names the digest, so its
    /// message ids are stable. Returns whether there was anything to tell.
    fn cut_digest(&mut self, notifier: &Notifier, slot: DateTime<Utc>) -> Result<bool, StoreError> {
        let now = self.clock.now();
        let before = self.store.last_fired(&notifier.name)?;
        let tx = self.store.transaction()?;
        tx.know_notifier(&notifier.name, now)?;
        // Fired first, as a compare-and-set: if another node cut this slot in between,
        // nothing is taken twice.
        if before.is_some() && !tx.fire_once(&notifier.name, before, now)? {
            tracing::info!(notifier = %notifier.name, "digest already cut by another node");
            return Ok(false);
        }
        let queued = tx.take_queue(&notifier.name)?;
        let (ids, items): (Vec<String>, Vec<serde_json::Value>) = queued
            .iter()
            .filter_map(|(id, json)| Some((id.clone(), serde_json::from_str(json).ok()?)))
            .unzip();
        if !items.is_empty() {
            let key = format!("digest:{}", store::stamp(slot));
            tx.queue_composition(
                &notifier.name,
                "posts.digest",
                &key,
                &serde_json::Value::from(items).to_string(),
                &serde_json::Value::from(ids).to_string(),
                now,
            )?;
        }
        if before.is_none() {
            tx.set_last_fired(&notifier.name, now)?;
        }
        tx.commit()?;
        tracing::info!(notifier = %notifier.name, posts = queued.len(), "digest cut");
        Ok(!queued.is_empty())
    }
}

/// Records one post for every notifier that wants it: a composition for an instant
/// notifier, a place in the queue for a digest.
fn announce(
    settings: &Settings,
    tx: &store::Tx,
    post: &Post,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let (prepared, problem) = entry::prepare(post, settings);
    if let Some(problem) = problem {
        // Announced all the same, with what the front matter says.
        tracing::warn!("{problem}");
    }
    let item = PostItem::from_entry(&prepared);
    let json = serde_json::to_string(&item).unwrap_or_default();
    for notifier in settings.notifiers.iter().filter(|n| n.wants(post)) {
        match &notifier.delivery {
            Delivery::Instant => {
                let ids = serde_json::Value::from(vec![post.id.clone()]).to_string();
                tx.queue_composition(
                    &notifier.name,
                    "posts.published",
                    &format!("post:{}", post.id),
                    &format!("[{json}]"),
                    &ids,
                    now,
                )?;
            }
            Delivery::Digest(_) => {
                tx.enqueue_for_digest(
                    &notifier.name,
                    &post.id,
                    post.published.with_timezone(&Utc),
                    &json,
                )?;
            }
        }
        tracing::debug!(notifier = %notifier.name, post = %post.id, "announced");
    }
    Ok(())
}

/// Queues a publish ping to every WebSub hub for each feed that changed. The first scan of
/// an archive pings nothing: no one can have subscribed to feeds that did not exist.
fn queue_pings(
    settings: &Settings,
    tx: &store::Tx,
    changed: &[String],
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
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
