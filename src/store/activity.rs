//! What happened day by day, for the operator's page: posts seen and announced, messages
//! made and how they ended, and the latest failures with the receiver's answer. Days are
//! UTC days of the stamps the state keeps (and only as far back as `state.keep_days` keeps
//! sent rows).

use super::db::args;
use super::open::{Queries, Store, StoreError};

/// One day of one notifier's messages, by how they stand now.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct DayOfMessages {
    pub day: String,
    pub notifier: String,
    pub sent: u64,
    /// Waiting for another attempt (tried at least once).
    pub retrying: u64,
    pub failed: u64,
}

/// One day of posts.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct DayOfPosts {
    pub day: String,
    pub seen: u64,
    pub announced: u64,
}

/// A message given up on.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Failure {
    pub notifier: String,
    pub recipient: String,
    pub at: String,
    pub error: String,
}

impl Store {
    /// Messages made since `since` (a stamp), per UTC day and notifier.
    pub fn messages_by_day(&self, since: &str) -> Result<Vec<DayOfMessages>, StoreError> {
        self.rows(
            "SELECT substr(created, 1, 10) AS day, notifier,
                    SUM(CASE WHEN status = 'sent' THEN 1 ELSE 0 END),
                    SUM(CASE WHEN status = 'pending' AND attempts > 0 THEN 1 ELSE 0 END),
                    SUM(CASE WHEN status = 'failed' THEN 1 ELSE 0 END)
             FROM deliveries WHERE created >= ?1 GROUP BY day, notifier ORDER BY day, notifier",
            args![since],
        )?
        .into_iter()
        .map(|row| {
            let n = |i: usize| row.get::<u64>(i).map_err(|e| self.err(e));
            Ok(DayOfMessages {
                day: row.get(0).map_err(|e| self.err(e))?,
                notifier: row.get(1).map_err(|e| self.err(e))?,
                sent: n(2)?,
                retrying: n(3)?,
                failed: n(4)?,
            })
        })
        .collect()
    }

    /// Posts first seen since `since`, per UTC day, and how many of them were announced.
    pub fn posts_by_day(&self, since: &str) -> Result<Vec<DayOfPosts>, StoreError> {
        self.rows(
            "SELECT substr(first_seen, 1, 10) AS day, COUNT(*),
                    SUM(CASE WHEN announced <> 0 THEN 1 ELSE 0 END)
             FROM posts WHERE first_seen >= ?1 GROUP BY day ORDER BY day",
            args![since],
        )?
        .into_iter()
        .map(|row| {
            let n = |i: usize| row.get::<u64>(i).map_err(|e| self.err(e));
            Ok(DayOfPosts {
                day: row.get(0).map_err(|e| self.err(e))?,
                seen: n(1)?,
                announced: n(2)?,
            })
        })
        .collect()
    }

    /// The latest `limit` messages given up on, newest first.
    pub fn recent_failures(&self, limit: u32) -> Result<Vec<Failure>, StoreError> {
        self.rows(
            "SELECT notifier, COALESCE(recipient, ''), created, COALESCE(last_error, '')
             FROM deliveries WHERE status = 'failed' ORDER BY id DESC LIMIT ?1",
            args![i64::from(limit)],
        )?
        .into_iter()
        .map(|row| {
            Ok(Failure {
                notifier: row.get(0).map_err(|e| self.err(e))?,
                recipient: row.get(1).map_err(|e| self.err(e))?,
                at: row.get(2).map_err(|e| self.err(e))?,
                error: row.get(3).map_err(|e| self.err(e))?,
            })
        })
        .collect()
    }
}
