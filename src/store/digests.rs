//! Notifiers known (a new one does not inherit the archive) and digest queues: posts
//! waiting for a digest's next firing, with the item as it will appear.

use super::db::{Db, DbError, args};
use super::open::Queries;
use super::open::{Store, StoreError, Tx};
use super::stamp::{parse_stamp, stamp};
use chrono::{DateTime, Utc};

/// A digest queue's (post id, item JSON) pairs, newest post first.
fn queue_items(db: &Db, notifier: &str) -> Result<Vec<(String, String)>, DbError> {
    db.rows(
        "SELECT post_id, item FROM queue WHERE notifier = ?1 ORDER BY published DESC, post_id",
        args![notifier],
    )?
    .iter()
    .map(|r| Ok((r.get(0)?, r.get(1)?)))
    .collect()
}

impl Store {
    /// A digest notifier's queue as it stands (newest first), without taking it.
    pub fn peek_queue(&self, notifier: &str) -> Result<Vec<(String, String)>, StoreError> {
        queue_items(&self.db, notifier).map_err(|e| self.err(e))
    }

    /// When a digest notifier last fired (or, never having fired, when it was added).
    pub fn last_fired(&self, notifier: &str) -> Result<Option<DateTime<Utc>>, StoreError> {
        let row: Option<(String, Option<String>)> = self
            .row(
                "SELECT added, last_fired FROM notifiers WHERE name = ?1",
                args![notifier],
            )?
            .map(|r| Ok((r.get(0)?, r.get(1)?)))
            .transpose()
            .map_err(|e| self.err(e))?;
        Ok(row.map(|(added, fired)| parse_stamp(fired.as_deref().unwrap_or(&added))))
    }
}

impl Tx<'_> {
    /// Makes sure a notifier is known; a new one starts from `now` (it does not inherit the
    /// archive).
    pub fn know_notifier(&self, name: &str, now: DateTime<Utc>) -> Result<(), StoreError> {
        self.exec(
            "INSERT INTO notifiers (name, added) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
            args![name, stamp(now)],
        )
        .map(|_| ())
    }

    /// Puts a post in a digest notifier's queue, with the item as it will appear.
    pub fn enqueue_for_digest(
        &self,
        notifier: &str,
        post_id: &str,
        published: DateTime<Utc>,
        item: &str,
    ) -> Result<(), StoreError> {
        self.exec(
            "INSERT INTO queue (notifier, post_id, published, item) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT DO NOTHING",
            args![notifier, post_id, stamp(published), item],
        )
        .map(|_| ())
    }

    /// Takes a digest notifier's whole queue (newest first) and empties it.
    pub fn take_queue(&self, notifier: &str) -> Result<Vec<(String, String)>, StoreError> {
        let items = queue_items(self.db, notifier).map_err(|e| self.err(e))?;
        self.exec("DELETE FROM queue WHERE notifier = ?1", args![notifier])?;
        Ok(items)
    }

    /// Records that a digest schedule fired.
    /// Records that the schedule fired at `at`, if it last fired at `before` (as this
    /// node read it); false when another node fired it in between.
    pub fn fire_once(
        &self,
        notifier: &str,
        before: Option<DateTime<Utc>>,
        at: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let Some(before) = before else {
            return Ok(false);
        };
        let changed = self.exec(
            "UPDATE notifiers SET last_fired = ?2 WHERE name = ?1 AND COALESCE(last_fired, added) = ?3",
            args![notifier, stamp(at), stamp(before)],
        )?;
        Ok(changed > 0)
    }

    pub fn set_last_fired(&self, notifier: &str, at: DateTime<Utc>) -> Result<(), StoreError> {
        self.exec(
            "UPDATE notifiers SET last_fired = ?2 WHERE name = ?1",
            args![notifier, stamp(at)],
        )
        .map(|_| ())
    }
}
