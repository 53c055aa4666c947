//! The one source of truth for what has been seen and sent: a SQLite file by default, or a
//! PostgreSQL database that several nodes share ([`db`] speaks to both; [`nodes`] has what
//! sharing adds: heartbeats, scanner leadership, lane leases).
//!
//! A new post becomes, in one transaction, "seen" plus one pending delivery per interested
//! instant notifier (or a place in a digest notifier's queue): the outbox. A delivery is marked
//! sent only after the receiver accepted it, so a crash can repeat a message (with the same
//! message id) but never lose one. SQLite: WAL journaling with `synchronous = FULL` keeps
//! every commit across a crash of the process or the machine. Migrations are append-only,
//! one history for both back ends, recorded in `schema_version`.
//!
//! The functions are grouped by table family: [`posts`], [`digests`] (notifiers and digest
//! queues), [`compositions`] (announcements waiting to be composed), [`outbox`] (deliveries
//! and the lanes that drain them), [`subscribers`] (unsubscribes and sign-ups) and
//! [`stats`] (scans and counts); [`open`] opens, locks and migrates the state and runs
//! transactions, [`stamp`] is how times are stored. This file only names them.

pub mod activity;
pub mod bodies;
pub mod bounces;
pub mod compositions;
pub mod copy;
pub mod db;
pub mod digests;
pub mod handle;
pub mod nodes;
pub mod open;
pub mod outbox;
pub mod paces;
pub mod posts;
pub mod reader_records;
pub mod retention;
pub mod stamp;
pub mod stats;
pub mod subscribers;

pub use crate::settings::state::{Location, default_node_name};
pub use compositions::Composition;
pub use handle::Handle;
pub use open::{RunLock, Store, StoreError, Tx};
pub use outbox::{Delivery, LaneRows, Mark, NewMessage, Next};
pub use posts::{Announcement, Seen};
pub use stamp::{parse_stamp, stamp};
pub use stats::{Counts, LaneSummary, NotifierStatus, ScanRecord};
pub use subscribers::{Confirmed, Signup};

#[cfg(test)]
pub(crate) mod testing {
    use super::{Location, Store};
    use chrono::{DateTime, TimeZone, Utc};

    /// A digest-like message body for `reader`, large enough to be cut into pieces: the
    /// same long text (CJK and ASCII) for everyone twice, around the reader's own lines.
    pub fn digest_body(reader: &str) -> String {
        let shared: String = (0..300)
            .map(|i| format!("第 {i} 行 the digest says the same to everyone\\r\\n"))
            .collect();
        format!(
            "{{\"to\":\"{reader}\",\"eml\":\"To: {reader}\\r\\n{shared}bye {reader}\\r\\n{shared}\"}}"
        )
    }

    /// An hour of a fixed test day.
    pub fn at(h: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 27, h, 0, 0).unwrap()
    }

    /// A fresh, empty state on every back end the tests can reach: a SQLite file always,
    /// and a new database on the PostgreSQL server `TIDINGS_TEST_POSTGRES` names (`.ci/run`
    /// starts one). The folder keeps the file alive.
    pub fn fresh() -> Vec<(Location, tempfile::TempDir)> {
        let dir = tempfile::tempdir().unwrap();
        let mut all = vec![(Location::File(dir.path().join("s.db")), dir)];
        if let Some(url) = postgres_database() {
            all.push((Location::Postgres(url), tempfile::tempdir().unwrap()));
        }
        all
    }

    /// Opens each of [`fresh`] as node `test`.
    pub fn stores() -> Vec<(Store, tempfile::TempDir)> {
        fresh()
            .into_iter()
            .map(|(at, dir)| (Store::connect(&at, "test").unwrap(), dir))
            .collect()
    }

    /// A new, empty database on the test server, if there is one.
    pub fn postgres_database() -> Option<String> {
        static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let admin = std::env::var("TIDINGS_TEST_POSTGRES").ok()?;
        let name = format!(
            "unit_{}_{}_{}",
            std::process::id(),
            // Unique per test run without reading a clock: a random hasher's key.
            std::hash::BuildHasher::hash_one(&std::collections::hash_map::RandomState::new(), 0),
            NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        );
        let mut client = postgres::Client::connect(&admin, postgres::NoTls)
            .expect("TIDINGS_TEST_POSTGRES names a server that answers");
        client
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .unwrap();
        let mut url = url::Url::parse(&admin).unwrap();
        url.set_path(&name);
        Some(url.to_string())
    }
}
