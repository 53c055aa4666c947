//! Notifiers known (a new one does not inherit the archive) and digest queues: posts
//! waiting for a digest's next firing, with the item as it will appear.

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, params};

use super::{Store, StoreError, Tx, parse_stamp, stamp};

/// A digest queue's (post id, item JSON) pairs, newest post first.
fn queue_items(conn: &Connection, notifier: &str) -> rusqlite::Result<Vec<(String, String)>> {
    let mut stmt = conn.prepare_cached(
        "SELECT post_id, item FROM queue WHERE notifier = ?1 ORDER BY published DESC, post_id",
    )?;
    let rows = stmt.query_map([notifier], |r| Ok((r.get(0)?, r.get(1)?)))?;
    rows.collect()
}

impl Store {
    /// A digest notifier's queue as it stands (newest first), without taking it.
    pub fn peek_queue(&self, notifier: &str) -> Result<Vec<(String, String)>, StoreError> {
        queue_items(&self.conn, notifier).map_err(|e| self.err(e))
    }

    /// When a digest notifier last fired (or, never having fired, when it was added).
    pub fn last_fired(&self, notifier: &str) -> Result<Option<DateTime<Utc>>, StoreError> {
        let row: Option<(String, Option<String>)> = self
            .conn
            .query_row(
                "SELECT added, last_fired FROM notifiers WHERE name = ?1",
                [notifier],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
            .map_err(|e| self.err(e))?;
        Ok(row.map(|(added, fired)| parse_stamp(fired.as_deref().unwrap_or(&added))))
    }
}

impl Tx<'_> {
    /// Makes sure a notifier is known; a new one starts from `now` (it does not inherit the
    /// archive).
    pub fn know_notifier(&self, name: &str, now: DateTime<Utc>) -> Result<(), StoreError> {
        self.exec(
            "INSERT OR IGNORE INTO notifiers (name, added) VALUES (?1, ?2)",
            params![name, stamp(now)],
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
                "INSERT OR IGNORE INTO queue (notifier, post_id, published, item) VALUES (?1, ?2, ?3, ?4)",
                params![notifier, post_id, stamp(published), item],
            ).map(|_| ())
    }

    /// Takes a digest notifier's whole queue (newest first) and empties it.
    pub fn take_queue(&self, notifier: &str) -> Result<Vec<(String, String)>, StoreError> {
        let items = queue_items(&self.tx, notifier).map_err(|e| self.err(e))?;
        self.exec("DELETE FROM queue WHERE notifier = ?1", [notifier])?;
        Ok(items)
    }

    /// Records that a digest schedule fired.
    pub fn set_last_fired(&self, notifier: &str, at: DateTime<Utc>) -> Result<(), StoreError> {
        self.exec(
            "UPDATE notifiers SET last_fired = ?2 WHERE name = ?1",
            params![notifier, stamp(at)],
        )
        .map(|_| ())
    }
}
