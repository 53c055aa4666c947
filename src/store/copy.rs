//! `tidings state copy`: moves a state, whole, to another back end (a SQLite file into
//! PostgreSQL when one machine is no longer enough, or back). Every row keeps its id and
//! status: a post seen stays seen and announced, a message sent stays sent, so the nodes
//! that start on the copy announce nothing again. Claims and leases are not copied: they
//! belong to the processes of the old state.

use super::db::{Row, Value};
use super::open::Queries;
use super::open::{Store, StoreError};

/// Each table with the columns that carry over, in an order with a unique key (rows are
/// read in pages of [`PAGE`]).
const TABLES: &[(&str, &str, &str)] = &[
    ("posts", "id, hash, first_seen, published, announced", "id"),
    ("notifiers", "name, added, last_fired", "name"),
    (
        "queue",
        "notifier, post_id, published, item",
        "notifier, post_id",
    ),
    (
        "deliveries",
        "id, message_id, notifier, kind, posts, body, status, attempts, next_attempt, last_error, created, sent, recipient, seq",
        "id",
    ),
    (
        "scans",
        "id, at, duration_ms, posts, new_posts, problems",
        "id",
    ),
    (
        "delivery_totals",
        "notifier, status, count",
        "notifier, status",
    ),
    (
        "unsubscribes",
        "address, notifier, at, reason",
        "address, notifier",
    ),
    ("soft_bounces", "address, count, last, status", "address"),
    ("bounce_events", "key, at", "key"),
    ("body_parts", "hash, text, used", "hash"),
    ("body_recipes", "id, text, created", "id"),
    (
        "signups",
        "notifier, address, mailbox, categories, confirmed",
        "notifier, address",
    ),
    (
        "compositions",
        "id, notifier, event, key, items, post_ids, status, error, created, seq",
        "id",
    ),
];

/// Rows read and written at a time: memory stays bounded whatever the state holds.
const PAGE: usize = 1000;

/// Tables whose ids the target must go on counting from.
const COUNTED: &[&str] = &["deliveries", "scans", "compositions", "body_recipes"];

/// What a copy moved: rows per table.
#[derive(Debug, Default)]
pub struct Copied {
    pub tables: Vec<(&'static str, u64)>,
}

/// Why a copy did not happen.
#[derive(Debug, thiserror::Error)]
pub enum CopyError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("`{0}` already holds a state (posts, messages or scans); copy only into an empty one")]
    NotEmpty(String),
}

impl Store {
    /// Whether the state holds nothing a copy could overwrite.
    fn is_empty(&self) -> Result<bool, StoreError> {
        let total: i64 = self
            .one(
                "SELECT (SELECT COUNT(*) FROM posts) + (SELECT COUNT(*) FROM deliveries)
                      + (SELECT COUNT(*) FROM scans) + (SELECT COUNT(*) FROM signups)",
                &[],
            )?
            .get(0)
            .map_err(|e| self.err(e))?;
        Ok(total == 0)
    }
}

/// Copies every row of `from` into `to`, which must be empty, in one transaction of the
/// target: a copy that stops half-way leaves the target as it was.
pub fn copy(from: &mut Store, to: &mut Store) -> Result<Copied, CopyError> {
    if !to.is_empty()? {
        return Err(CopyError::NotEmpty(to.place.clone()));
    }
    let postgres = to.db.is_postgres();
    // The source is read in one transaction too: one consistent picture.
    from.db.batch("BEGIN").map_err(|e| from.err(e))?;
    let copied = (|| {
        let tx = to.transaction()?;
        let mut copied = Copied::default();
        for (table, columns, order) in TABLES {
            let width = columns.split(',').count();
            let marks: Vec<String> = (1..=width).map(|i| format!("?{i}")).collect();
            let insert = format!(
                "INSERT INTO {table} ({columns}) VALUES ({})",
                marks.join(", ")
            );
            let select =
                format!("SELECT {columns} FROM {table} ORDER BY {order} LIMIT ?1 OFFSET ?2");
            let mut done = 0u64;
            loop {
                let page: Vec<Row> =
                    from.rows(&select, &[Value::from(PAGE), Value::Int(done as i64)])?;
                for row in &page {
                    let values: Vec<Value> = (0..width).map(|i| row.value(i)).collect();
                    tx.exec(&insert, &values)?;
                }
                done += page.len() as u64;
                if page.len() < PAGE {
                    break;
                }
            }
            copied.tables.push((table, done));
        }
        if postgres {
            for table in COUNTED {
                tx.one(
                    &format!(
                        "SELECT setval(pg_get_serial_sequence('{table}', 'id'), COALESCE((SELECT MAX(id) FROM {table}), 0) + 1, false)"
                    ),
                    &[],
                )?;
            }
        }
        tx.commit()?;
        Ok(copied)
    })();
    let _ = from.db.batch("ROLLBACK");
    copied
}
