//! Announcements and digest cuts waiting for the composer.
//!
//! A scan records "post P is to be told to notifier N" (or a digest's posts) here, in its
//! short transaction; the composer makes the messages later, outside any write
//! transaction, and removes the row in the same transaction that stores the last of its
//! messages. A composition that failed (a template error) stays, `failed` with its reason,
//! until `tidings retry` composes it again: no message is ever stored without its body.

use super::db::args;
use super::open::Queries;
use super::open::{Store, StoreError, Tx};
use super::outbox::{NewMessage, insert_all};
use super::stamp::stamp;
use chrono::{DateTime, Utc};

/// One notification to compose.
#[derive(Debug, Clone)]
pub struct Composition {
    pub id: i64,
    pub notifier: String,
    /// `posts.published` or `posts.digest`.
    pub event: String,
    /// Names the notification, so its message ids are stable (`post:<id>`, `digest:<slot>`).
    pub key: String,
    /// JSON array of the posts as messages describe them.
    pub items: String,
    /// JSON array of post ids, one per item.
    pub post_ids: String,
    /// Its place among the notifier's notifications (its own id, or the one it was split
    /// from): its messages' place in the lane.
    pub seq: i64,
}

impl Tx<'_> {
    /// Records a notification to compose; the same (notifier, key) is recorded once.
    pub fn queue_composition(
        &self,
        notifier: &str,
        event: &str,
        key: &str,
        items: &str,
        post_ids: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.exec(
            "INSERT INTO compositions (notifier, event, key, items, post_ids, status, created)
             VALUES (?1, ?2, ?3, ?4, ?5, 'pending', ?6) ON CONFLICT DO NOTHING",
            args![notifier, event, key, items, post_ids, stamp(now)],
        )
        .map(|_| ())
    }
}

impl Store {
    /// Compositions waiting, oldest first (`failed` ones too when `failed` is set).
    pub fn compositions(
        &self,
        notifier: Option<&str>,
        failed: bool,
    ) -> Result<Vec<Composition>, StoreError> {
        self.rows(
            "SELECT id, notifier, event, key, items, post_ids, COALESCE(seq, id) FROM compositions
             WHERE status = CASE WHEN ?2 = 1 THEN 'failed' ELSE 'pending' END
               AND (CAST(?1 AS TEXT) IS NULL OR notifier = ?1)
             ORDER BY id",
            args![notifier, i64::from(failed)],
        )?
        .iter()
        .map(|r| {
            Ok(Composition {
                id: r.get(0)?,
                notifier: r.get(1)?,
                event: r.get(2)?,
                key: r.get(3)?,
                items: r.get(4)?,
                post_ids: r.get(5)?,
                seq: r.get(6)?,
            })
        })
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| self.err(e))
    }

    /// Stores a batch of composed messages in one transaction, and removes the
    /// compositions in `finished` (whose last messages are in this batch or an earlier one)
    /// in the same transaction. Returns how many messages were new (a batch stored again
    /// after a crash adds nothing: message ids are unique).
    pub fn store_composed(
        &mut self,
        messages: &[NewMessage],
        finished: &[i64],
        now: DateTime<Utc>,
    ) -> Result<usize, StoreError> {
        let tx = self.transaction()?;
        let added = insert_all(tx.db, messages, now).map_err(|e| tx.err(e))?;
        for id in finished {
            tx.exec("DELETE FROM compositions WHERE id = ?1", args![*id])?;
        }
        tx.commit()?;
        Ok(added)
    }

    /// The composition could not be made: kept, failed, with the reason.
    /// Claims a composition for this node until the lease ends (renewed by the
    /// heartbeat); false when another node holds it.
    pub fn claim_composition(&self, id: i64, now: DateTime<Utc>) -> Result<bool, StoreError> {
        let claimed = self.exec(
            "UPDATE compositions SET claimed_by = ?2, claimed_until = ?3
             WHERE id = ?1 AND status = 'pending'
               AND (claimed_until IS NULL OR claimed_until < ?4 OR claimed_by = ?2)",
            args![
                id,
                &self.node,
                stamp(super::nodes::lease_end(now, self.lease)),
                stamp(now)
            ],
        )?;
        Ok(claimed > 0)
    }

    /// Replaces a composition by `parts` parts (`#part=K/N` on its key), free for any
    /// node to claim.
    pub fn split_composition(
        &mut self,
        composition: &Composition,
        parts: u64,
    ) -> Result<(), StoreError> {
        let tx = self.transaction()?;
        for k in 0..parts {
            tx.exec(
                "INSERT INTO compositions (notifier, event, key, items, post_ids, status, created, seq)
                 SELECT notifier, event, ?2, items, post_ids, 'pending', created, COALESCE(seq, id)
                 FROM compositions WHERE id = ?1
                 ON CONFLICT DO NOTHING",
                args![composition.id, format!("{}#part={k}/{parts}", composition.key)],
            )?;
        }
        tx.exec(
            "DELETE FROM compositions WHERE id = ?1",
            args![composition.id],
        )?;
        tx.commit()
    }

    pub fn fail_composition(&self, id: i64, error: &str) -> Result<(), StoreError> {
        self.exec(
            "UPDATE compositions SET status = 'failed', error = ?2 WHERE id = ?1",
            args![id, error],
        )
        .map(|_| ())
    }

    /// Puts a notifier's failed compositions back to be composed; returns how many.
    pub fn retry_compositions(&self, notifier: &str) -> Result<usize, StoreError> {
        self.exec(
            "UPDATE compositions SET status = 'pending', error = NULL WHERE notifier = ?1 AND status = 'failed'",
            args![notifier],
        )
    }

    /// (failed compositions, the latest one's error) of a notifier.
    pub fn failed_compositions(&self, notifier: &str) -> Result<(u64, Option<String>), StoreError> {
        let row = self.one(
            "SELECT COUNT(*), (SELECT error FROM compositions WHERE notifier = ?1 AND status = 'failed' ORDER BY id DESC LIMIT 1)
             FROM compositions WHERE notifier = ?1 AND status = 'failed'",
            args![notifier],
        )?;
        (|| Ok((row.get(0)?, row.get(1)?)))().map_err(|e| self.err(e))
    }
}
