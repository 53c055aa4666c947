//! The one source of truth for what has been seen and sent: a SQLite file.
//!
//! A new post becomes, in one transaction, "seen" plus one pending delivery per interested
//! instant notifier (or a place in a digest notifier's queue): the outbox. A delivery is marked
//! sent only after the receiver accepted it, so a crash can repeat a message (with the same
//! message id) but never lose one. WAL journaling with `synchronous = FULL` keeps every commit
//! across a crash of the process or the machine. Migrations are append-only, each in its own
//! transaction, recorded in `schema_version`.
//!
//! The functions are grouped by table family: [`posts`], [`digests`] (notifiers and digest
//! queues), [`compositions`] (announcements waiting to be composed), [`outbox`] (deliveries
//! and the lanes that drain them), [`subscribers`] (unsubscribes and sign-ups) and
//! [`stats`] (scans and counts); here, opening, locking and migrating the file.

pub mod compositions;
pub mod digests;
pub mod handle;
pub mod outbox;
pub mod posts;
pub mod stats;
pub mod subscribers;

pub use compositions::Composition;
pub use handle::Handle;
pub use outbox::{Delivery, LaneRows, Mark, NewMessage, Next};
pub use posts::{Announcement, Seen};
pub use stats::{Counts, LaneSummary, NotifierStatus, ScanRecord};
pub use subscribers::{Confirmed, Signup};

use std::fs::File;
use std::path::{Path, PathBuf};

use chrono::{DateTime, SecondsFormat, Utc};
use rusqlite::Connection;

/// Schema changes, in order. Never edit one that has shipped; append.
const MIGRATIONS: &[&str] = &[
    // 1: posts seen, notifiers known, digest queues, the outbox, scan history.
    "CREATE TABLE posts (
        id TEXT PRIMARY KEY,
        hash TEXT NOT NULL,
        first_seen TEXT NOT NULL,
        published TEXT NOT NULL,
        announced INTEGER NOT NULL
    );
    CREATE TABLE notifiers (
        name TEXT PRIMARY KEY,
        added TEXT NOT NULL,
        last_fired TEXT
    );
    CREATE TABLE queue (
        notifier TEXT NOT NULL,
        post_id TEXT NOT NULL,
        published TEXT NOT NULL,
        item TEXT NOT NULL,
        PRIMARY KEY (notifier, post_id)
    );
    CREATE TABLE deliveries (
        id INTEGER PRIMARY KEY,
        message_id TEXT NOT NULL UNIQUE,
        notifier TEXT NOT NULL,
        kind TEXT NOT NULL,
        posts TEXT NOT NULL,
        body TEXT NOT NULL,
        status TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt TEXT NOT NULL,
        last_error TEXT,
        created TEXT NOT NULL,
        sent TEXT
    );
    CREATE INDEX deliveries_due ON deliveries (status, next_attempt);
    CREATE INDEX posts_unannounced ON posts (announced, published);
    CREATE TABLE scans (
        id INTEGER PRIMARY KEY,
        at TEXT NOT NULL,
        duration_ms INTEGER NOT NULL,
        posts INTEGER NOT NULL,
        new_posts INTEGER NOT NULL,
        problems INTEGER NOT NULL
    );",
    // 2: addresses that unsubscribed; notifier '' means from everything.
    "CREATE TABLE unsubscribes (
        address TEXT NOT NULL,
        notifier TEXT NOT NULL,
        at TEXT NOT NULL,
        PRIMARY KEY (address, notifier)
    );",
    // 3: subscribers who signed up on the server's page and confirmed their address.
    "CREATE TABLE signups (
        notifier TEXT NOT NULL,
        address TEXT NOT NULL,
        mailbox TEXT NOT NULL,
        categories TEXT NOT NULL,
        confirmed TEXT NOT NULL,
        PRIMARY KEY (notifier, address)
    );",
    // 4: delivery lanes. Announcements and digest cuts wait as compositions until the
    // composer has made their messages (outside any scan transaction); one that failed to
    // compose stays here to be composed again. Email rows name their recipient, so a lane
    // keeps each reader's messages in order and skips one who unsubscribed. A message that
    // an older version could not make was stored with an empty body: it can never be sent,
    // so it is failed with a reason instead of waiting forever (or going out empty).
    "CREATE TABLE compositions (
        id INTEGER PRIMARY KEY,
        notifier TEXT NOT NULL,
        event TEXT NOT NULL,
        key TEXT NOT NULL,
        items TEXT NOT NULL,
        post_ids TEXT NOT NULL,
        status TEXT NOT NULL,
        error TEXT,
        created TEXT NOT NULL,
        UNIQUE (notifier, key)
    );
    ALTER TABLE deliveries ADD COLUMN recipient TEXT;
    CREATE INDEX deliveries_lane ON deliveries (notifier, status, id);
    CREATE INDEX deliveries_pending ON deliveries (notifier, id, next_attempt, recipient, kind)
        WHERE status = 'pending';
    CREATE INDEX deliveries_reader ON deliveries (notifier, recipient, id, kind)
        WHERE status = 'pending';
    UPDATE deliveries SET status = 'failed',
        last_error = 'the message was never made (template error in an older version); its posts stay in the feeds'
        WHERE body = '' AND status = 'pending';",
];

/// Something went wrong with the state file.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("state file `{path}`: {source}")]
    Sqlite {
        path: PathBuf,
        source: rusqlite::Error,
    },
    #[error("cannot create the folder of state file `{path}`: {source}")]
    Folder {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "another `tidings run` is already working on `{path}`; stop it first (two would send every message twice)"
    )]
    Locked { path: PathBuf },
    #[error("a state-file call stopped unexpectedly: {0}")]
    Task(String),
}

/// Timestamps are stored as fixed-width RFC 3339 UTC text, so they sort as text.
pub fn stamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// Reads a stored timestamp.
pub fn parse_stamp(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text).map_or(DateTime::UNIX_EPOCH, |t| t.with_timezone(&Utc))
}

/// An open state file.
pub struct Store {
    conn: Connection,
    path: PathBuf,
}

/// Switches the file to write-ahead logging once. The switch needs the file to itself and
/// does not wait for other connections, so it is retried for a few seconds.
fn set_wal(conn: &Connection) -> rusqlite::Result<()> {
    let mut tries = 0;
    loop {
        let mode: String = conn.query_row("PRAGMA journal_mode", [], |r| r.get(0))?;
        if mode.eq_ignore_ascii_case("wal") {
            return Ok(());
        }
        match conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get::<_, String>(0)) {
            Ok(_) => return Ok(()),
            Err(rusqlite::Error::SqliteFailure(e, _))
                if e.code == rusqlite::ErrorCode::DatabaseBusy && tries < 50 =>
            {
                tries += 1;
                std::thread::sleep(std::time::Duration::from_millis(100));
            }
            Err(e) => return Err(e),
        }
    }
}

/// Held while a process sends from a state file; released when dropped (or the process dies).
pub struct RunLock {
    _file: File,
}

impl Store {
    /// Opens (creating if needed) the state file and brings its schema up to date.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|source| StoreError::Folder {
                path: path.to_owned(),
                source,
            })?;
        }
        let wrap = |source| StoreError::Sqlite {
            path: path.to_owned(),
            source,
        };
        let conn = Connection::open(path).map_err(wrap)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .map_err(wrap)?;
        set_wal(&conn).map_err(wrap)?;
        conn.execute_batch("PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;")
            .map_err(wrap)?;
        let mut store = Store {
            conn,
            path: path.to_owned(),
        };
        store.migrate().map_err(wrap)?;
        Ok(store)
    }

    /// Takes the run lock: only one process may send from a state file at a time.
    pub fn lock(&self) -> Result<RunLock, StoreError> {
        let lock_path = self.path.with_extension("lock");
        let file = File::create(&lock_path).map_err(|source| StoreError::Folder {
            path: lock_path.clone(),
            source,
        })?;
        match file.try_lock() {
            Ok(()) => Ok(RunLock { _file: file }),
            Err(_) => Err(StoreError::Locked {
                path: self.path.clone(),
            }),
        }
    }

    fn err(&self, source: rusqlite::Error) -> StoreError {
        StoreError::Sqlite {
            path: self.path.clone(),
            source,
        }
    }

    /// Runs one statement; returns the rows it changed.
    fn exec(&self, sql: &str, params: impl rusqlite::Params) -> Result<usize, StoreError> {
        self.conn.execute(sql, params).map_err(|e| self.err(e))
    }

    fn migrate(&mut self) -> rusqlite::Result<()> {
        // Read first: a reader (`tidings status`) of an up-to-date file then writes nothing
        // and never waits for a writer's lock.
        let has_versions: bool = self.conn.query_row(
            "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_version')",
            [],
            |r| r.get(0),
        )?;
        if !has_versions {
            self.conn.execute_batch(
                "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)",
            )?;
        }
        let current: i64 = self.conn.query_row(
            "SELECT COALESCE(MAX(version), 0) FROM schema_version",
            [],
            |r| r.get(0),
        )?;
        for (i, migration) in MIGRATIONS.iter().enumerate().skip(current as usize) {
            let tx = self.conn.transaction()?;
            tx.execute_batch(migration)?;
            tx.execute(
                "INSERT INTO schema_version (version) VALUES (?1)",
                [i as i64 + 1],
            )?;
            tx.commit()?;
        }
        Ok(())
    }

    /// The schema version in the file.
    pub fn schema_version(&self) -> Result<i64, StoreError> {
        self.conn
            .query_row("SELECT MAX(version) FROM schema_version", [], |r| r.get(0))
            .map_err(|e| self.err(e))
    }

    /// Starts a transaction for one scan's worth of changes.
    pub fn transaction(&mut self) -> Result<Tx<'_>, StoreError> {
        let path = self.path.clone();
        let tx = self
            .conn
            .transaction()
            .map_err(|source| StoreError::Sqlite {
                path: path.clone(),
                source,
            })?;
        Ok(Tx { tx, path })
    }
}

/// One transaction: what a scan found, or a digest being cut, commits whole or not at all.
pub struct Tx<'c> {
    tx: rusqlite::Transaction<'c>,
    path: PathBuf,
}

impl Tx<'_> {
    fn err(&self, source: rusqlite::Error) -> StoreError {
        StoreError::Sqlite {
            path: self.path.clone(),
            source,
        }
    }

    /// Runs one statement; returns the rows it changed.
    fn exec(&self, sql: &str, params: impl rusqlite::Params) -> Result<usize, StoreError> {
        self.tx.execute(sql, params).map_err(|e| self.err(e))
    }

    pub fn commit(self) -> Result<(), StoreError> {
        let path = self.path;
        self.tx
            .commit()
            .map_err(|source| StoreError::Sqlite { path, source })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    pub(super) fn at(h: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 27, h, 0, 0).unwrap()
    }

    #[test]
    fn migrations_are_recorded_and_rerun_safely() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state/state.db");
        let store = Store::open(&path).unwrap();
        assert_eq!(store.schema_version().unwrap(), MIGRATIONS.len() as i64);
        drop(store);
        let store = Store::open(&path).unwrap();
        assert_eq!(store.schema_version().unwrap(), MIGRATIONS.len() as i64);
    }

    #[test]
    fn seen_posts_and_edits() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(&dir.path().join("s.db")).unwrap();
        let tx = store.transaction().unwrap();
        let post = Seen {
            id: "a",
            hash: 1,
            published: at(1),
        };
        assert!(tx.see_post(&post, at(2)).unwrap());
        assert!(!tx.see_post(&post, at(3)).unwrap(), "seen again");
        assert!(
            !tx.see_post(&Seen { hash: 2, ..post }, at(4)).unwrap(),
            "an edit is not new"
        );
        assert_eq!(tx.unannounced(at(5)).unwrap().len(), 1);
        tx.mark_announced("a").unwrap();
        assert!(tx.unannounced(at(5)).unwrap().is_empty());
        tx.commit().unwrap();
    }

    /// A state file as version 3 left it, with a message that could not be made (stored
    /// with an empty body, failed) and one pending: the upgrade keeps every row, fails the
    /// bodiless one for good, and `retry` does not send it empty.
    #[test]
    fn a_version_3_state_file_upgrades_keeping_its_rows() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.db");
        {
            let conn = Connection::open(&path).unwrap();
            conn.execute_batch("CREATE TABLE schema_version (version INTEGER NOT NULL)")
                .unwrap();
            for (i, migration) in MIGRATIONS[..3].iter().enumerate() {
                conn.execute_batch(migration).unwrap();
                conn.execute("INSERT INTO schema_version VALUES (?1)", [i as i64 + 1])
                    .unwrap();
            }
            conn.execute_batch(
                "INSERT INTO deliveries (message_id, notifier, kind, posts, body, status, attempts, next_attempt, created)
                 VALUES ('msg_unmade', 'hook', 'post', '[]', '', 'pending', 0, '2026-11-27T00:00:00.000000Z', '2026-11-27T00:00:00.000000Z'),
                        ('msg_ok', 'hook', 'post', '[\"a\"]', '{}', 'pending', 0, '2026-11-27T00:00:00.000000Z', '2026-11-27T00:00:00.000000Z');",
            )
            .unwrap();
        }
        let store = Store::open(&path).unwrap();
        assert_eq!(store.schema_version().unwrap(), MIGRATIONS.len() as i64);
        let due = store.due(at(1)).unwrap();
        assert_eq!(due.len(), 1);
        assert_eq!(due[0].message_id, "msg_ok");
        let status = store.notifier_status("hook").unwrap();
        assert_eq!((status.pending, status.failed), (1, 1));
        assert_eq!(store.retry_failed("hook", at(2)).unwrap(), 0);
    }

    #[test]
    fn one_runner_at_a_time() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("s.db")).unwrap();
        let lock = store.lock().unwrap();
        let other = Store::open(&dir.path().join("s.db")).unwrap();
        assert!(matches!(other.lock(), Err(StoreError::Locked { .. })));
        drop(lock);
        assert!(other.lock().is_ok());
    }
}
