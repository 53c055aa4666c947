//! The one source of truth for what has been seen and sent: a SQLite file.
//!
//! A new post becomes, in one transaction, "seen" plus one pending delivery per interested
//! instant notifier (or a place in a digest notifier's queue): the outbox. A delivery is marked
//! sent only after the receiver accepted it, so a crash can repeat a message (with the same
//! message id) but never lose one. WAL journaling with `synchronous = FULL` keeps every commit
//! across a crash of the process or the machine. Migrations are append-only, each in its own
//! transaction, recorded in `schema_version`.
//!
//! The functions are grouped by table family: [`outbox`] (deliveries and the lanes that
//! drain them), [`compositions`] (announcements waiting to be composed), and the rest here.

pub mod compositions;
pub mod handle;
pub mod outbox;

pub use compositions::Composition;
pub use handle::Handle;
pub use outbox::{Delivery, LaneRows, Mark, NewMessage, Next};

use std::fs::File;
use std::path::{Path, PathBuf};

use chrono::{DateTime, SecondsFormat, Utc};
use rusqlite::{Connection, OptionalExtension, params};

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
    CREATE INDEX deliveries_reader ON deliveries (notifier, recipient, id) WHERE status = 'pending';
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

fn unsubscribed_from(
    conn: &Connection,
    notifier: &str,
) -> rusqlite::Result<std::collections::HashSet<String>> {
    let mut stmt =
        conn.prepare_cached("SELECT address FROM unsubscribes WHERE notifier IN ('', ?1)")?;
    let rows = stmt.query_map([notifier], |r| r.get(0))?;
    rows.collect()
}

/// A notifier's confirmed sign-ups: (address as typed, category paths), oldest first.
fn signups_of(conn: &Connection, notifier: &str) -> rusqlite::Result<Vec<Signup>> {
    let mut stmt = conn.prepare_cached(
        "SELECT mailbox, categories FROM signups WHERE notifier = ?1 ORDER BY confirmed, address",
    )?;
    let rows = stmt.query_map([notifier], |r| {
        let categories: String = r.get(1)?;
        Ok(Signup {
            address: r.get(0)?,
            categories: serde_json::from_str(&categories).unwrap_or_default(),
        })
    })?;
    rows.collect()
}

/// A digest queue's (post id, item JSON) pairs, newest post first.
fn queue_items(conn: &Connection, notifier: &str) -> rusqlite::Result<Vec<(String, String)>> {
    let mut stmt = conn.prepare_cached(
        "SELECT post_id, item FROM queue WHERE notifier = ?1 ORDER BY published DESC, post_id",
    )?;
    let rows = stmt.query_map([notifier], |r| Ok((r.get(0)?, r.get(1)?)))?;
    rows.collect()
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

/// A post that is due to be announced.
#[derive(Debug, Clone)]
pub struct Announcement {
    pub post_id: String,
}

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

/// A subscriber who signed up on the server's page and confirmed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signup {
    /// As typed (compared in lower case).
    pub address: String,
    /// Category paths (`A/B`) they follow; empty means everything the notifier sends.
    pub categories: Vec<String>,
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

    /// Whether any scan was ever recorded (the first scan of an archive announces nothing).
    pub fn has_scanned(&self) -> Result<bool, StoreError> {
        self.conn
            .query_row("SELECT EXISTS (SELECT 1 FROM scans)", [], |r| r.get(0))
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

    /// Records that `address` wants no more mail from `notifier` (or from any, with `None`).
    /// Addresses are kept in lower case, as they compare.
    pub fn unsubscribe(
        &self,
        address: &str,
        notifier: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let address = address.trim().to_lowercase();
        self.exec(
            "INSERT OR IGNORE INTO unsubscribes (address, notifier, at) VALUES (?1, ?2, ?3)",
            params![address, notifier.unwrap_or(""), stamp(now)],
        )?;
        // A sign-up is forgotten with it: the address is kept only to keep it unsubscribed.
        self.exec(
            "DELETE FROM signups WHERE address = ?1 AND (?2 = '' OR notifier = ?2)",
            params![address, notifier.unwrap_or("")],
        )
        .map(|_| ())
    }

    /// Addresses (lower case) that must not get mail from `notifier`.
    pub fn unsubscribed(
        &self,
        notifier: &str,
    ) -> Result<std::collections::HashSet<String>, StoreError> {
        unsubscribed_from(&self.conn, notifier).map_err(|e| self.err(e))
    }

    /// Stores a confirmed sign-up (again: a second confirmation replaces the categories).
    /// Signing up undoes an earlier unsubscribe from this notifier; one from every notifier
    /// becomes one from each of `others`, so only the notifier asked for starts again.
    pub fn confirm_signup(
        &mut self,
        notifier: &str,
        signup: &Signup,
        others: &[&str],
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let address = signup.address.trim().to_lowercase();
        let categories = serde_json::to_string(&signup.categories).expect("strings serialize");
        let tx = self.transaction()?;
        tx.exec(
            "INSERT INTO signups (notifier, address, mailbox, categories, confirmed)
             VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (notifier, address) DO UPDATE SET mailbox = ?3, categories = ?4, confirmed = ?5",
            params![notifier, address, signup.address.trim(), categories, stamp(now)],
        )?;
        let everything = tx.exec(
            "DELETE FROM unsubscribes WHERE address = ?1 AND notifier = ''",
            [&address],
        )?;
        if everything > 0 {
            for other in others.iter().filter(|o| **o != notifier) {
                tx.exec(
                    "INSERT OR IGNORE INTO unsubscribes (address, notifier, at) VALUES (?1, ?2, ?3)",
                    params![address, other, stamp(now)],
                )?;
            }
        }
        tx.exec(
            "DELETE FROM unsubscribes WHERE address = ?1 AND notifier = ?2",
            params![address, notifier],
        )?;
        tx.commit()
    }

    /// A notifier's confirmed sign-ups.
    pub fn signups(&self, notifier: &str) -> Result<Vec<Signup>, StoreError> {
        signups_of(&self.conn, notifier).map_err(|e| self.err(e))
    }

    /// Posts seen, messages by notifier and status, and sign-ups by notifier.
    pub fn counts(&self) -> Result<Counts, StoreError> {
        let query = || -> rusqlite::Result<Counts> {
            let posts = self
                .conn
                .query_row("SELECT COUNT(*) FROM posts", [], |r| r.get(0))?;
            let mut stmt = self.conn.prepare_cached(
                "SELECT notifier, status, COUNT(*) FROM deliveries GROUP BY notifier, status ORDER BY notifier, status",
            )?;
            let deliveries = stmt
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
                .collect::<rusqlite::Result<_>>()?;
            let mut stmt = self.conn.prepare_cached(
                "SELECT notifier, COUNT(*) FROM signups GROUP BY notifier ORDER BY notifier",
            )?;
            let signups = stmt
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<rusqlite::Result<_>>()?;
            Ok(Counts {
                posts,
                deliveries,
                signups,
            })
        };
        query().map_err(|e| self.err(e))
    }

    /// The most recent scan.
    pub fn last_scan(&self) -> Result<Option<ScanRecord>, StoreError> {
        self.conn
            .query_row(
                "SELECT at, duration_ms, posts, new_posts, problems FROM scans ORDER BY id DESC LIMIT 1",
                [],
                |r| {
                    Ok(ScanRecord {
                        at: r.get(0)?,
                        duration_ms: r.get(1)?,
                        posts: r.get(2)?,
                        new_posts: r.get(3)?,
                        problems: r.get(4)?,
                    })
                },
            )
            .optional()
            .map_err(|e| self.err(e))
    }

    /// Counts for one notifier.
    pub fn notifier_status(&self, name: &str) -> Result<NotifierStatus, StoreError> {
        let count = |sql: &str| -> Result<u64, StoreError> {
            self.conn
                .query_row(sql, [name], |r| r.get::<_, i64>(0))
                .map(|n| n as u64)
                .map_err(|e| self.err(e))
        };
        let retry: Option<(String, Option<String>)> = self
            .conn
            .query_row(
                "SELECT next_attempt, last_error FROM deliveries
                 WHERE notifier = ?1 AND status = 'pending' AND attempts > 0 ORDER BY next_attempt LIMIT 1",
                [name],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
            .map_err(|e| self.err(e))?;
        let last_failure: Option<String> = self
            .conn
            .query_row(
                "SELECT last_error FROM deliveries WHERE notifier = ?1 AND status = 'failed' ORDER BY id DESC LIMIT 1",
                [name],
                |r| r.get(0),
            )
            .optional()
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
            sent: count("SELECT COUNT(*) FROM deliveries WHERE notifier = ?1 AND status = 'sent'")?,
            next_attempt: retry.as_ref().map(|(next, _)| next.clone()),
            last_error: retry.and_then(|(_, e)| e),
            last_failure,
            signups: count("SELECT COUNT(*) FROM signups WHERE notifier = ?1")?,
            skipped: count(
                "SELECT COUNT(*) FROM deliveries WHERE notifier = ?1 AND status = 'skipped'",
            )?,
            composing: count(
                "SELECT COUNT(*) FROM compositions WHERE notifier = ?1 AND status = 'pending'",
            )?,
            unmade,
            unmade_error,
            lane: None,
        })
    }
}

/// One transaction: what a scan found, or a digest being cut, commits whole or not at all.
pub struct Tx<'c> {
    tx: rusqlite::Transaction<'c>,
    path: PathBuf,
}

/// A post as a scan saw it, for [`Tx::see_post`].
pub struct Seen<'a> {
    pub id: &'a str,
    pub hash: u64,
    pub published: DateTime<Utc>,
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

    /// Makes sure a notifier is known; a new one starts from `now` (it does not inherit the
    /// archive).
    pub fn know_notifier(&self, name: &str, now: DateTime<Utc>) -> Result<(), StoreError> {
        self.exec(
            "INSERT OR IGNORE INTO notifiers (name, added) VALUES (?1, ?2)",
            params![name, stamp(now)],
        )
        .map(|_| ())
    }

    /// Records a post; returns true when it was never seen before. An edit updates the hash
    /// and date but announces nothing.
    pub fn see_post(&self, post: &Seen, now: DateTime<Utc>) -> Result<bool, StoreError> {
        let inserted = self.exec(
                "INSERT INTO posts (id, hash, first_seen, published, announced) VALUES (?1, ?2, ?3, ?4, 0)
                 ON CONFLICT (id) DO UPDATE SET hash = excluded.hash, published = excluded.published
                 WHERE posts.hash != excluded.hash OR posts.published != excluded.published",
                params![post.id, format!("{:016x}", post.hash), stamp(now), stamp(post.published)],
            )?;
        // `execute` counts the update too; tell the two apart by first_seen.
        if inserted == 0 {
            return Ok(false);
        }
        let first_seen: String = self
            .tx
            .query_row(
                "SELECT first_seen FROM posts WHERE id = ?1",
                [post.id],
                |r| r.get(0),
            )
            .map_err(|e| self.err(e))?;
        Ok(first_seen == stamp(now))
    }

    /// Posts whose date has come but that were never announced, newest first.
    pub fn unannounced(&self, now: DateTime<Utc>) -> Result<Vec<Announcement>, StoreError> {
        let mut stmt = self
            .tx
            .prepare("SELECT id FROM posts WHERE announced = 0 AND published <= ?1 ORDER BY published DESC, id")
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([stamp(now)], |r| Ok(Announcement { post_id: r.get(0)? }))
            .map_err(|e| self.err(e))?;
        rows.collect::<rusqlite::Result<Vec<_>>>()
            .map_err(|e| self.err(e))
    }

    /// The post has been announced (or deliberately passed over): never again.
    pub fn mark_announced(&self, post_id: &str) -> Result<(), StoreError> {
        self.exec("UPDATE posts SET announced = 1 WHERE id = ?1", [post_id])
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

    /// Addresses (lower case) that must not get mail from `notifier`.
    pub fn unsubscribed(
        &self,
        notifier: &str,
    ) -> Result<std::collections::HashSet<String>, StoreError> {
        unsubscribed_from(&self.tx, notifier).map_err(|e| self.err(e))
    }

    /// A notifier's confirmed sign-ups, as the digest being cut sees them.
    pub fn signups(&self, notifier: &str) -> Result<Vec<Signup>, StoreError> {
        signups_of(&self.tx, notifier).map_err(|e| self.err(e))
    }

    /// Records a scan.
    pub fn record_scan(
        &self,
        at: DateTime<Utc>,
        duration_ms: i64,
        posts: usize,
        new_posts: usize,
        problems: usize,
    ) -> Result<(), StoreError> {
        self.exec(
                "INSERT INTO scans (at, duration_ms, posts, new_posts, problems) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![stamp(at), duration_ms, posts as i64, new_posts as i64, problems as i64],
            ).map(|_| ())
    }

    /// Records that a digest schedule fired.
    pub fn set_last_fired(&self, notifier: &str, at: DateTime<Utc>) -> Result<(), StoreError> {
        self.exec(
            "UPDATE notifiers SET last_fired = ?2 WHERE name = ?1",
            params![notifier, stamp(at)],
        )
        .map(|_| ())
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
