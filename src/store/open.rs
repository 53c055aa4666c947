//! Opening the state (a SQLite file, locked for one runner, or a PostgreSQL database),
//! migrating it, and the transactions every table family's functions run in.

use std::fs::File;
use std::path::{Path, PathBuf};

use rusqlite::Connection;

use super::db::{self, Db, DbError, Row, Value, args};

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

/// Tables added for several nodes sharing one state: the nodes and their heartbeats, the
/// lanes each holds, and the claims on outbox rows and compositions (who works on a row,
/// until when; not indexed, so taking a claim rewrites no index). A message's place in its lane is its composition's (`seq`, then its own
/// id), no longer the order in which composers on several nodes happened to store it;
/// messages from before have place 0 and go first. SQLite files get all this too: one
/// history for both back ends.
const MIGRATION_NODES: &str = "CREATE TABLE nodes (
        name TEXT PRIMARY KEY,
        started TEXT NOT NULL,
        heartbeat TEXT NOT NULL,
        scanner INTEGER NOT NULL DEFAULT 0,
        stopped TEXT
    );
    CREATE TABLE lanes (
        name TEXT PRIMARY KEY,
        node TEXT NOT NULL,
        since TEXT NOT NULL,
        until TEXT NOT NULL
    );
    ALTER TABLE deliveries ADD COLUMN claimed_by TEXT;
    ALTER TABLE deliveries ADD COLUMN claimed_until TEXT;
    ALTER TABLE compositions ADD COLUMN claimed_by TEXT;
    ALTER TABLE compositions ADD COLUMN claimed_until TEXT;
    ALTER TABLE deliveries ADD COLUMN seq INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE compositions ADD COLUMN seq INTEGER;
    DROP INDEX deliveries_pending;
    CREATE INDEX deliveries_pending ON deliveries (notifier, seq, id, next_attempt, recipient, kind)
        WHERE status = 'pending';
    DROP INDEX deliveries_reader;
    CREATE INDEX deliveries_reader ON deliveries (notifier, recipient, seq, id, kind)
        WHERE status = 'pending';";

/// 6: a row held because a setting was wrong (not attempted) is marked, so that it goes
/// again as soon as the process restarts or `retry` is run, not an hour later. The state
/// also keeps which tidings last upgraded its schema, so an older one can name the version
/// to upgrade to.
const MIGRATION_HALTED: &str =
    "ALTER TABLE deliveries ADD COLUMN halted INTEGER NOT NULL DEFAULT 0;
    CREATE INDEX deliveries_halted ON deliveries (notifier) WHERE halted = 1;
    CREATE TABLE state_info (key TEXT PRIMARY KEY, value TEXT NOT NULL);";

/// Retention: the counts of pruned messages, and an index to find what is old enough; and
/// how far each node's own clock is from the database's.
pub(super) const MIGRATION_RETENTION: &str =
    "CREATE TABLE delivery_totals (notifier TEXT NOT NULL, status TEXT NOT NULL, count INTEGER NOT NULL, PRIMARY KEY (notifier, status));
    CREATE INDEX deliveries_done ON deliveries (status, created) WHERE status IN ('sent', 'skipped');
    ALTER TABLE nodes ADD COLUMN clock_offset_ms INTEGER;
    ALTER TABLE nodes ADD COLUMN instance TEXT;";

/// 8: the pace of mail to each SMTP server, as a schedule every process sending to it
/// takes its turns from (see `store::paces`).
const MIGRATION_PACES: &str =
    "CREATE TABLE paces (server TEXT PRIMARY KEY, next_turn_us INTEGER NOT NULL);";

/// 9: bounces. An address a hard bounce or a complaint took off every list is an
/// unsubscribe from everything (notifier '') with its reason; soft bounces are counted
/// until they reach `bounces.soft_limit`.
const MIGRATION_BOUNCES: &str = "ALTER TABLE unsubscribes ADD COLUMN reason TEXT;
    CREATE TABLE soft_bounces (address TEXT PRIMARY KEY, count INTEGER NOT NULL, last TEXT NOT NULL, status TEXT NOT NULL);";

/// 10: what several readers' messages share, stored once (see `store::bodies`).
const MIGRATION_BODY_PARTS: &str =
    "CREATE TABLE body_parts (hash TEXT PRIMARY KEY, text TEXT NOT NULL, used TEXT NOT NULL);
    CREATE INDEX body_parts_used ON body_parts (used);
    CREATE TABLE body_recipes (id INTEGER PRIMARY KEY, text TEXT NOT NULL, created TEXT NOT NULL);
    CREATE INDEX body_recipes_created ON body_recipes (created);";

/// 11: sending services' bounce events already taken, by the service's id for each (and
/// a Mailgun request's one-time token), kept a day so that a retry or a replay reaching
/// any node counts once (see `serve::bounce_hooks`).
const MIGRATION_BOUNCE_EVENTS: &str =
    "CREATE TABLE bounce_events (key TEXT PRIMARY KEY, at TEXT NOT NULL);
    CREATE INDEX bounce_events_at ON bounce_events (at);";

/// The migrations after the first ones, in order.
const ADDED: [&str; 7] = [
    MIGRATION_NODES,
    MIGRATION_HALTED,
    MIGRATION_RETENTION,
    MIGRATION_PACES,
    MIGRATION_BOUNCES,
    MIGRATION_BODY_PARTS,
    MIGRATION_BOUNCE_EVENTS,
];

use crate::settings::state::{Location, default_node_name};

/// Something went wrong with the state.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("state `{place}`: {message}")]
    Db { place: String, message: String },
    #[error("cannot create the folder of state file `{path}`: {source}")]
    Folder {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "another `tidings run` is already working on `{path}`; stop it first (two would send every message twice)"
    )]
    Locked { path: PathBuf },
    #[error("a state call stopped unexpectedly: {0}")]
    Task(String),
}

/// An open state: a SQLite file or a PostgreSQL connection.
pub struct Store {
    pub(super) db: Db,
    /// The place, as shown in messages.
    pub(super) place: String,
    /// The SQLite file (its run lock sits beside it).
    pub(super) path: Option<PathBuf>,
    /// This process's name among the nodes sharing the state.
    pub(super) node: String,
    /// How long this node's leases last unless renewed.
    pub(super) lease: std::time::Duration,
    /// The SQLite file's identity (device, inode) when it was opened.
    pub(super) identity: Option<(u64, u64)>,
    /// Message body parts read so far (see `store::bodies`).
    pub(super) parts: super::bodies::Cache,
}

/// A file's identity: its device and inode (on Unix; elsewhere none, and nothing is
/// checked).
fn file_identity(path: &Path) -> Option<(u64, u64)> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let meta = std::fs::metadata(path).ok()?;
        Some((meta.dev(), meta.ino()))
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        None
    }
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

fn open_sqlite(path: &Path) -> rusqlite::Result<Connection> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    // A new file gives the space of what is pruned back (see `retention`); this takes
    // effect only before the first table, and is a no-op on an existing file.
    conn.execute_batch("PRAGMA auto_vacuum = INCREMENTAL;")?;
    set_wal(&conn)?;
    conn.execute_batch("PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;")?;
    Ok(conn)
}

/// Held while a process sends from a state file; released when dropped (or the process
/// dies). Several nodes share a PostgreSQL state by leases instead, so there it holds
/// nothing.
pub struct RunLock {
    _file: Option<File>,
}

impl Store {
    /// Opens (creating if needed) a SQLite state file and brings its schema up to date.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        Store::connect(&Location::File(path.to_owned()), &default_node_name())
    }

    /// Opens the state at `location` as node `node` and brings its schema up to date.
    pub fn connect(location: &Location, node: &str) -> Result<Store, StoreError> {
        let place = location.shown();
        let wrap = |e: DbError| StoreError::Db {
            place: place.clone(),
            message: e.0,
        };
        let (db, path) = match location {
            Location::File(path) => {
                if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                    std::fs::create_dir_all(dir).map_err(|source| StoreError::Folder {
                        path: path.to_owned(),
                        source,
                    })?;
                }
                let conn = open_sqlite(path).map_err(|e| wrap(e.into()))?;
                (Db::Sqlite(conn), Some(path.clone()))
            }
            Location::Postgres(url) => {
                let config = db::pg_config(url).map_err(wrap)?;
                let pg = db::Pg::connect(config).map_err(wrap)?;
                (Db::Postgres(Box::new(std::cell::RefCell::new(pg))), None)
            }
        };
        let identity = path.as_deref().and_then(file_identity);
        let mut store = Store {
            db,
            place: place.clone(),
            path,
            node: node.to_owned(),
            lease: crate::settings::state::LEASE,
            identity,
            parts: Default::default(),
        };
        store.migrate().map_err(wrap)?;
        Ok(store)
    }

    /// Opens the state `[state]` names, as this process's node, with its lease.
    pub fn open_for(state: &crate::settings::state::State) -> Result<Store, StoreError> {
        let mut store = Store::connect(&state.location, &state.node)?;
        store.lease = state.lease;
        Ok(store)
    }

    /// How long this node's leases last unless renewed.
    pub fn lease(&self) -> std::time::Duration {
        self.lease
    }

    /// Whether the state is shared through PostgreSQL.
    pub fn is_shared(&self) -> bool {
        self.db.is_postgres()
    }

    /// This process's node name.
    pub fn node(&self) -> &str {
        &self.node
    }

    /// Why the state file at its path is no longer the one this store opened (deleted, or
    /// replaced by another file), if it is not. A connection to a deleted SQLite file goes on
    /// writing to it unseen, so whatever happened next would be lost: the daemon stops.
    pub fn file_replaced(&self) -> Option<String> {
        let (path, opened) = (self.path.as_ref()?, self.identity?);
        match file_identity(path) {
            Some(now) if now == opened => None,
            Some(_) => Some(format!(
                "the state file `{}` was replaced by another file while tidings ran",
                path.display()
            )),
            None => Some(format!(
                "the state file `{}` was deleted while tidings ran",
                path.display()
            )),
        }
    }

    /// Takes the run lock: only one process may send from a state file at a time.
    pub fn lock(&self) -> Result<RunLock, StoreError> {
        let Some(path) = &self.path else {
            return Ok(RunLock { _file: None });
        };
        let lock_path = path.with_extension("lock");
        let file = File::create(&lock_path).map_err(|source| StoreError::Folder {
            path: lock_path.clone(),
            source,
        })?;
        match file.try_lock() {
            Ok(()) => Ok(RunLock { _file: Some(file) }),
            Err(_) => Err(StoreError::Locked { path: path.clone() }),
        }
    }

    /// Applies the migrations the state lacks. SQLite: each in its own transaction, read
    /// first, so a reader (`tidings status`) of an up-to-date file writes nothing and never
    /// waits for a writer's lock. PostgreSQL: all in one transaction under an advisory lock,
    /// so nodes starting together migrate once.
    fn migrate(&mut self) -> Result<(), DbError> {
        let all: Vec<&str> = MIGRATIONS.iter().copied().chain(ADDED).collect();
        if self.db.is_postgres() {
            self.db.batch(&format!(
                "BEGIN; SELECT pg_advisory_xact_lock({MIGRATION_LOCK});
                 CREATE TABLE IF NOT EXISTS schema_version (version BIGINT NOT NULL);"
            ))?;
            let result = (|| {
                let current: i64 = self
                    .db
                    .one("SELECT COALESCE(MAX(version), 0) FROM schema_version", &[])?
                    .get(0)?;
                self.refuse_newer(current, all.len())?;
                for (i, migration) in all.iter().enumerate().skip(current.max(0) as usize) {
                    self.db.batch(&postgres_schema(migration))?;
                    self.db.exec(
                        "INSERT INTO schema_version (version) VALUES (?1)",
                        args![i + 1],
                    )?;
                }
                if (current as usize) < all.len() {
                    self.record_upgrader()?;
                }
                Ok(())
            })();
            return match result {
                Ok(()) => self.db.batch("COMMIT"),
                Err(e) => {
                    let _ = self.db.batch("ROLLBACK");
                    Err(e)
                }
            };
        }
        let has_versions: bool = self
            .db
            .one(
                "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_version')",
                &[],
            )?
            .get(0)?;
        if !has_versions {
            self.db
                .batch("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")?;
        }
        let current: i64 = self
            .db
            .one("SELECT COALESCE(MAX(version), 0) FROM schema_version", &[])?
            .get(0)?;
        self.refuse_newer(current, all.len())?;
        for (i, migration) in all.iter().enumerate().skip(current.max(0) as usize) {
            self.db.batch("BEGIN IMMEDIATE")?;
            let last = i + 1 == all.len();
            let applied = self.db.batch(migration).and_then(|_| {
                self.db.exec(
                    "INSERT INTO schema_version (version) VALUES (?1)",
                    args![i + 1],
                )?;
                if last {
                    self.record_upgrader()?;
                }
                Ok(0)
            });
            match applied {
                Ok(_) => self.db.batch("COMMIT")?,
                Err(e) => {
                    let _ = self.db.batch("ROLLBACK");
                    return Err(e);
                }
            }
        }
        Ok(())
    }

    /// A state whose schema is newer than this program knows was upgraded by a newer
    /// tidings: an older one would misread it, so it is refused, naming the version.
    fn refuse_newer(&self, current: i64, known: usize) -> Result<(), DbError> {
        if current <= known as i64 {
            return Ok(());
        }
        let by: Option<String> = self
            .db
            .row(
                "SELECT value FROM state_info WHERE key = 'schema_written_by'",
                &[],
            )
            .ok()
            .flatten()
            .and_then(|row| row.get(0).ok());
        Err(DbError(format!(
            "this state was written by tidings {} (schema {current}; this tidings {} knows schema {known} at most): upgrade tidings to use it",
            by.as_deref().unwrap_or("of a newer version"),
            env!("CARGO_PKG_VERSION")
        )))
    }

    /// Records that this version of tidings brought the schema up to date.
    fn record_upgrader(&self) -> Result<(), DbError> {
        self.db
            .exec(
                "INSERT INTO state_info (key, value) VALUES ('schema_written_by', ?1)
                 ON CONFLICT (key) DO UPDATE SET value = ?1",
                args![env!("CARGO_PKG_VERSION")],
            )
            .map(|_| ())
    }

    /// The schema version of the state.
    pub fn schema_version(&self) -> Result<i64, StoreError> {
        self.one("SELECT MAX(version) FROM schema_version", &[])?
            .get(0)
            .map_err(|e| self.err(e))
    }

    /// Starts a transaction for one scan's worth of changes. SQLite: `BEGIN IMMEDIATE`
    /// takes the write lock at once, waiting for it (the busy timeout) if another
    /// connection has it. A deferred `BEGIN` that reads first would fail at its first write,
    /// without waiting, whenever another connection (a heartbeat, a lane) had committed in
    /// between: a whole scan lost to a one-row write.
    pub fn transaction(&mut self) -> Result<Tx<'_>, StoreError> {
        let begin = if self.db.is_postgres() {
            "BEGIN"
        } else {
            "BEGIN IMMEDIATE"
        };
        self.db.batch(begin).map_err(|e| self.err(e))?;
        Ok(Tx {
            db: &self.db,
            place: &self.place,
            open: true,
        })
    }
}

/// The advisory lock key nodes migrate under ("tidings" + 1).
const MIGRATION_LOCK: i64 = 0x7469_6469_6e67_7301;

/// A migration as PostgreSQL runs it: 64-bit integers and generated ids where SQLite's
/// `INTEGER` is 64-bit anyway, and byte-order text so stamps and names sort as in SQLite.
fn postgres_schema(migration: &str) -> String {
    let mut sql = migration
        .replace(
            "INTEGER PRIMARY KEY",
            "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY",
        )
        .replace(" INTEGER", " BIGINT")
        .replace(" TEXT", " TEXT COLLATE \"C\"");
    if migration == MIGRATION_BODY_PARTS {
        // A recipe is a message's own part: compressed as message bodies are.
        sql.push_str(
            "\nDO $$ BEGIN ALTER TABLE body_recipes ALTER COLUMN text SET COMPRESSION lz4;
             EXCEPTION WHEN OTHERS THEN NULL; END $$;",
        );
    }
    if migration == MIGRATION_NODES {
        // Message bodies (a digest's are 100 KB each) are compressed with lz4, not pglz:
        // measured here, a 5,000-reader digest was composed in 25 s instead of 41 s and
        // sent in 11 s instead of 15 s. A server built without lz4 keeps pglz.
        sql.push_str(
            "\nDO $$ BEGIN ALTER TABLE deliveries ALTER COLUMN body SET COMPRESSION lz4;
             EXCEPTION WHEN OTHERS THEN NULL; END $$;",
        );
    }
    sql
}

/// One transaction: what a scan found, or a digest being cut, commits whole or not at all
/// (rolled back when dropped uncommitted).
pub struct Tx<'c> {
    pub(super) db: &'c Db,
    pub(super) place: &'c str,
    pub(super) open: bool,
}

impl Tx<'_> {
    pub fn commit(mut self) -> Result<(), StoreError> {
        self.open = false;
        self.db.batch("COMMIT").map_err(|e| self.err(e))
    }
}

/// Running SQL on the state, for a [`Store`] and a [`Tx`] alike: errors name the place.
pub(super) trait Queries {
    fn db(&self) -> &Db;
    fn place(&self) -> &str;

    fn err(&self, e: DbError) -> StoreError {
        StoreError::Db {
            place: self.place().to_owned(),
            message: e.0,
        }
    }

    /// Runs one statement; returns the rows it changed.
    fn exec(&self, sql: &str, args: &[Value]) -> Result<usize, StoreError> {
        self.db()
            .exec(sql, args)
            .map(|n| n as usize)
            .map_err(|e| self.err(e))
    }

    fn rows(&self, sql: &str, args: &[Value]) -> Result<Vec<Row>, StoreError> {
        self.db().rows(sql, args).map_err(|e| self.err(e))
    }

    fn row(&self, sql: &str, args: &[Value]) -> Result<Option<Row>, StoreError> {
        self.db().row(sql, args).map_err(|e| self.err(e))
    }

    fn one(&self, sql: &str, args: &[Value]) -> Result<Row, StoreError> {
        self.db().one(sql, args).map_err(|e| self.err(e))
    }
}

impl Queries for Store {
    fn db(&self) -> &Db {
        &self.db
    }

    fn place(&self) -> &str {
        &self.place
    }
}

impl Queries for Tx<'_> {
    fn db(&self) -> &Db {
        self.db
    }

    fn place(&self) -> &str {
        self.place
    }
}

impl Drop for Tx<'_> {
    fn drop(&mut self) {
        if self.open {
            let _ = self.db.batch("ROLLBACK");
        }
    }
}

/// Fresh states for tests, on each back end they can reach.
#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::testing::{self, at};
    use crate::store::*;

    /// Every migration, the first ones and those added since.
    const VERSIONS: i64 = (MIGRATIONS.len() + ADDED.len()) as i64;

    #[test]
    fn postgres_schema_widens_integers_identifies_keys_and_sorts_text_bytewise() {
        assert_eq!(
            postgres_schema(
                "CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT NOT NULL, n INTEGER DEFAULT 0);"
            ),
            "CREATE TABLE t (id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, \
             name TEXT COLLATE \"C\" NOT NULL, n BIGINT DEFAULT 0);"
        );
        // Every real migration: no 32-bit integer and no text column sorted by a locale is
        // left (the stamps and names must order as SQLite orders them).
        for migration in MIGRATIONS.iter().chain(ADDED.iter()) {
            let sql = postgres_schema(migration);
            assert!(!sql.contains(" INTEGER"), "{sql}");
            assert_eq!(
                sql.matches(" TEXT").count(),
                sql.matches(" TEXT COLLATE \"C\"").count(),
                "{sql}"
            );
        }
        assert!(postgres_schema(MIGRATION_NODES).contains("SET COMPRESSION lz4"));
    }

    #[test]
    fn migrations_are_recorded_and_rerun_safely() {
        for (at, _dir) in testing::fresh() {
            let store = Store::connect(&at, "a").unwrap();
            assert_eq!(store.schema_version().unwrap(), VERSIONS, "{at:?}");
            drop(store);
            let store = Store::connect(&at, "b").unwrap();
            assert_eq!(store.schema_version().unwrap(), VERSIONS, "{at:?}");
        }
    }

    /// A rolled-back transaction leaves nothing; the connection goes on working.
    #[test]
    fn a_dropped_transaction_is_rolled_back() {
        for (mut store, _dir) in testing::stores() {
            let tx = store.transaction().unwrap();
            tx.know_notifier("hook", at(0)).unwrap();
            drop(tx);
            assert_eq!(store.last_fired("hook").unwrap(), None);
            let tx = store.transaction().unwrap();
            tx.know_notifier("hook", at(0)).unwrap();
            tx.commit().unwrap();
            assert_eq!(store.last_fired("hook").unwrap(), Some(at(0)));
        }
    }

    #[test]
    fn seen_posts_and_edits() {
        for (mut store, _dir) in testing::stores() {
            seen_posts_and_edits_on(&mut store);
        }
    }

    fn seen_posts_and_edits_on(store: &mut Store) {
        let tx = store.transaction().unwrap();
        let post = Seen {
            id: "a",
            hash: 1,
            published: at(1),
        };
        assert_eq!(tx.see_posts(std::slice::from_ref(&post), at(2)).unwrap(), 1);
        assert_eq!(
            tx.see_posts(std::slice::from_ref(&post), at(3)).unwrap(),
            0,
            "seen again"
        );
        assert_eq!(
            tx.see_posts(&[Seen { hash: 2, ..post }], at(4)).unwrap(),
            0,
            "an edit is not new"
        );
        assert_eq!(tx.unannounced(at(5)).unwrap().len(), 1);
        let mut many: Vec<String> = (0..1203).map(|i| format!("p{i}")).collect();
        many.push("p0".into()); // a repeated id
        let batch: Vec<Seen> = many
            .iter()
            .map(|id| Seen {
                id,
                hash: 7,
                published: at(1),
            })
            .chain(std::iter::once(Seen { hash: 9, ..post }))
            .collect();
        assert_eq!(
            tx.see_posts(&batch, at(6)).unwrap(),
            1203,
            "new ones counted once; a repeated id and an edit are not new"
        );
        assert_eq!(tx.see_posts(&batch, at(7)).unwrap(), 0, "all seen");
        assert_eq!(tx.known_posts().unwrap()["a"].0, format!("{:016x}", 9));
        tx.mark_announced("a").unwrap();
        let waiting = tx.unannounced(at(5)).unwrap();
        assert_eq!(waiting.len(), 1203);
        assert!(waiting.iter().all(|a| a.post_id != "a"), "announced once");
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
        assert_eq!(store.schema_version().unwrap(), VERSIONS);
        let due = store.due(at(1)).unwrap();
        assert_eq!(due.len(), 1);
        assert_eq!(due[0].message_id, "msg_ok");
        let status = store.notifier_status("hook").unwrap();
        assert_eq!((status.pending, status.failed), (1, 1));
        assert_eq!(store.retry_failed("hook", at(2)).unwrap(), 0);
    }

    /// A state upgraded by a newer tidings is refused, naming that version, never read
    /// half-understood.
    #[test]
    fn a_state_from_a_newer_tidings_is_refused() {
        for (at, _dir) in testing::fresh() {
            let store = Store::connect(&at, "a").unwrap();
            store
                .exec(
                    "INSERT INTO schema_version (version) VALUES (?1)",
                    args![VERSIONS + 1],
                )
                .unwrap();
            store
                .exec(
                    "UPDATE state_info SET value = '9.9.9' WHERE key = 'schema_written_by'",
                    &[],
                )
                .unwrap();
            drop(store);
            let Err(e) = Store::connect(&at, "b") else {
                panic!("{at:?}: a newer state was opened");
            };
            let message = e.to_string();
            assert!(
                message.contains("this state was written by tidings 9.9.9")
                    && message.contains("upgrade tidings"),
                "{message}"
            );
        }
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
