//! What `status`, `/healthz` and `/metrics` read: scans recorded, counts by notifier and
//! status.

use super::db::{DbError, args};
use super::open::Queries;
use super::open::{Store, StoreError, Tx};
use super::stamp::stamp;
use chrono::{DateTime, Utc};

/// Per-notifier counts for `tidings status`.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct NotifierStatus {
    pub name: String,
    /// Posts waiting for the next digest.
    pub queued: u64,
    pub pending: u64,
    pub retrying: u64,
    pub failed: u64,
    pub sent: u64,
    pub next_attempt: Option<String>,
    /// The error of the delivery waiting for its next attempt.
    pub last_error: Option<String>,
    /// The error of the latest delivery given up as failed.
    pub last_failure: Option<String>,
    /// Confirmed sign-ups from the server's page.
    pub signups: u64,
    /// Messages dropped unsent because their recipient unsubscribed while they waited.
    pub skipped: u64,
    /// Notifications recorded but not yet composed into messages.
    pub composing: u64,
    /// Notifications whose messages could not be made (`tidings retry` composes them
    /// again), and the latest one's reason.
    pub unmade: u64,
    pub unmade_error: Option<String>,
    /// What the notifier's delivery lane is doing (filled in by `tidings status`).
    pub lane: Option<LaneSummary>,
    /// Its readers taken off every list by a bounce, and by a complaint (filled in by
    /// `tidings status` for email notifiers).
    pub bounced: u64,
    pub complained: u64,
}

/// A lane as `tidings status` shows it.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct LaneSummary {
    /// `idle` (nothing waits), `due` (the next message goes as soon as the lane runs) or
    /// `waiting` (its head waits for `until`).
    pub state: String,
    pub until: Option<String>,
    /// Messages in the lane.
    pub messages: u64,
}

/// Counts for `/metrics`.
#[derive(Debug, Default)]
pub struct Counts {
    pub posts: i64,
    /// (notifier, status, messages).
    pub deliveries: Vec<(String, String, i64)>,
    /// (notifier, confirmed sign-ups).
    pub signups: Vec<(String, i64)>,
}

/// The last scan, for `tidings status`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ScanRecord {
    pub at: String,
    pub duration_ms: i64,
    pub posts: i64,
    pub new_posts: i64,
    pub problems: i64,
}

impl Store {
    /// Posts seen, messages by notifier and status, and sign-ups by notifier.
    pub fn counts(&self) -> Result<Counts, StoreError> {
        let posts = self.one("SELECT COUNT(*) FROM posts", &[])?;
        let deliveries = self.rows(
            "SELECT notifier, status, CAST(SUM(n) AS BIGINT) FROM (
                 SELECT notifier, status, COUNT(*) AS n FROM deliveries GROUP BY notifier, status
                 UNION ALL SELECT notifier, status, count FROM delivery_totals
             ) AS t GROUP BY notifier, status ORDER BY notifier, status",
            &[],
        )?;
        let signups = self.rows(
            "SELECT notifier, COUNT(*) FROM signups GROUP BY notifier ORDER BY notifier",
            &[],
        )?;
        (|| {
            Ok(Counts {
                posts: posts.get(0)?,
                deliveries: deliveries
                    .iter()
                    .map(|r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
                    .collect::<Result<_, DbError>>()?,
                signups: signups
                    .iter()
                    .map(|r| Ok((r.get(0)?, r.get(1)?)))
                    .collect::<Result<_, DbError>>()?,
            })
        })()
        .map_err(|e| self.err(e))
    }

    /// The most recent scan.
    /// The id of the last scan recorded, if any.
    pub fn last_scan_id(&self) -> Result<Option<i64>, StoreError> {
        self.one("SELECT max(id) FROM scans", &[])?
            .get(0)
            .map_err(|e| self.err(e))
    }

    pub fn last_scan(&self) -> Result<Option<ScanRecord>, StoreError> {
        self.row(
            "SELECT at, duration_ms, posts, new_posts, problems FROM scans ORDER BY id DESC LIMIT 1",
            &[],
        )?
        .map(|r| {
            Ok(ScanRecord {
                at: r.get(0)?,
                duration_ms: r.get(1)?,
                posts: r.get(2)?,
                new_posts: r.get(3)?,
                problems: r.get(4)?,
            })
        })
        .transpose()
        .map_err(|e| self.err(e))
    }

    /// Counts for one notifier.
    pub fn notifier_status(&self, name: &str) -> Result<NotifierStatus, StoreError> {
        // Rows of `status` (a constant of ours) kept, and those pruned (`retention`).
        let with_pruned = |status: &str| {
            format!(
                "SELECT (SELECT COUNT(*) FROM deliveries WHERE notifier = ?1 AND status = '{status}')
                      + COALESCE((SELECT count FROM delivery_totals WHERE notifier = ?1 AND status = '{status}'), 0)"
            )
        };
        let count = |sql: &str| -> Result<u64, StoreError> {
            self.one(sql, args![name])?.get(0).map_err(|e| self.err(e))
        };
        let retry: Option<(String, Option<String>)> = self
            .row(
                "SELECT next_attempt, last_error FROM deliveries
                 WHERE notifier = ?1 AND status = 'pending' AND last_error IS NOT NULL ORDER BY next_attempt LIMIT 1",
                args![name],
            )?
            .map(|r| Ok((r.get(0)?, r.get(1)?)))
            .transpose()
            .map_err(|e| self.err(e))?;
        let last_failure: Option<String> = self
            .row(
                "SELECT last_error FROM deliveries WHERE notifier = ?1 AND status = 'failed' ORDER BY id DESC LIMIT 1",
                args![name],
            )?
            .map(|r| r.get::<Option<String>>(0))
            .transpose()
            .map_err(|e| self.err(e))?
            .flatten();
        let (unmade, unmade_error) = self.failed_compositions(name)?;
        Ok(NotifierStatus {
            name: name.to_owned(),
            queued: count("SELECT COUNT(*) FROM queue WHERE notifier = ?1")?,
            pending: count(
                "SELECT COUNT(*) FROM deliveries WHERE notifier = ?1 AND status = 'pending' AND attempts = 0",
            )?,
            retrying: count(
                "SELECT COUNT(*) FROM deliveries WHERE notifier = ?1 AND status = 'pending' AND attempts > 0",
            )?,
            failed: count(
                "SELECT COUNT(*) FROM deliveries WHERE notifier = ?1 AND status = 'failed'",
            )?,
            sent: count(&with_pruned("sent"))?,
            next_attempt: retry.as_ref().map(|(next, _)| next.clone()),
            last_error: retry.and_then(|(_, e)| e),
            last_failure,
            signups: count("SELECT COUNT(*) FROM signups WHERE notifier = ?1")?,
            skipped: count(&with_pruned("skipped"))?,
            composing: count(
                "SELECT COUNT(*) FROM compositions WHERE notifier = ?1 AND status = 'pending'",
            )?,
            unmade,
            unmade_error,
            lane: None,
            bounced: 0,
            complained: 0,
        })
    }
}

impl Tx<'_> {
    /// Records a scan.
    pub fn record_scan(
        &self,
        at: DateTime<Utc>,
        duration_ms: i64,
        posts: usize,
        new_posts: usize,
        problems: usize,
    ) -> Result<i64, StoreError> {
        self.one(
            "INSERT INTO scans (at, duration_ms, posts, new_posts, problems) VALUES (?1, ?2, ?3, ?4, ?5)
             RETURNING id",
            args![stamp(at), duration_ms, posts, new_posts, problems],
        )?
        .get(0)
        .map_err(|e| self.err(e))
    }
}
