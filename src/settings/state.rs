//! `[state]`, validated: where what was seen and sent is kept, this process's name among the
//! nodes sharing it, and how long its leases last. The store takes these, never the whole
//! settings.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::env::interpolate;
use super::raw::RawState;

/// How long a lease (on a lane, a claimed row or composition) lasts unless renewed, by
/// default (`state.lease`).
pub const LEASE: Duration = Duration::from_secs(30);

/// The shortest and longest `state.lease`: shorter, and a slow statement could outlive
/// it; longer, and a dead node's lanes wait too long.
pub const LEASE_RANGE: std::ops::RangeInclusive<u64> = 3..=600;

/// How long the record of a sent message is kept by default (`state.keep_days`).
pub const KEEP_DAYS: u64 = 30;

/// The shortest and longest `state.keep_days`.
pub const KEEP_DAYS_RANGE: std::ops::RangeInclusive<u64> = 1..=3650;

/// `[state]`, validated.
#[derive(Debug, Clone)]
pub struct State {
    /// A SQLite file or a PostgreSQL database.
    pub location: Location,
    /// This process's name among the nodes sharing the state (`TIDINGS_NODE`, else host
    /// and process id).
    pub node: String,
    /// How long a node's leases last unless renewed (`state.lease`).
    pub lease: Duration,
    /// How long a sent message's row and a scan's record are kept (`state.keep_days`).
    pub keep: chrono::Duration,
    /// The SQLite file, or with PostgreSQL the local name the node's own caches (parse
    /// cache, settled record) are kept beside.
    pub path: PathBuf,
}

/// Where the state lives.
#[derive(Clone, PartialEq, Eq)]
pub enum Location {
    /// A SQLite file: one node.
    File(PathBuf),
    /// A PostgreSQL database shared by any number of nodes (the URL may hold a password:
    /// show it only through [`Location::shown`]).
    Postgres(String),
}

/// Debug output (a settings dump, a test's message) never shows the password either.
impl std::fmt::Debug for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Location::File(path) => f.debug_tuple("File").field(path).finish(),
            Location::Postgres(_) => f.debug_tuple("Postgres").field(&self.shown()).finish(),
        }
    }
}

impl Location {
    /// The place as it may appear in messages and logs (no password).
    pub fn shown(&self) -> String {
        match self {
            Location::File(path) => path.display().to_string(),
            Location::Postgres(url) => crate::store::db::redact(url),
        }
    }
}

/// The name this process goes by among the nodes: `TIDINGS_NODE`, else host and process.
pub fn default_node_name() -> String {
    if let Ok(name) = std::env::var("TIDINGS_NODE")
        && !name.trim().is_empty()
    {
        return name.trim().chars().take(100).collect();
    }
    let host = std::fs::read_to_string("/etc/hostname")
        .ok()
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".into());
    format!("{host}:{}", std::process::id())
}

/// Validates `[state]`; errors name the key.
pub fn state(raw: &RawState, base: &Path) -> Result<State, (&'static str, String)> {
    let (location, path) = location(raw, base)?;
    let lease = raw.lease.unwrap_or(LEASE.as_secs());
    if !LEASE_RANGE.contains(&lease) {
        return Err((
            "state.lease",
            format!(
                "{lease} is not between {} and {} seconds",
                LEASE_RANGE.start(),
                LEASE_RANGE.end()
            ),
        ));
    }
    let keep_days = raw.keep_days.unwrap_or(KEEP_DAYS);
    if !KEEP_DAYS_RANGE.contains(&keep_days) {
        return Err((
            "state.keep_days",
            format!(
                "{keep_days} is not between {} and {} days",
                KEEP_DAYS_RANGE.start(),
                KEEP_DAYS_RANGE.end()
            ),
        ));
    }
    Ok(State {
        location,
        node: default_node_name(),
        lease: Duration::from_secs(lease),
        keep: chrono::Duration::days(i64::try_from(keep_days).unwrap_or(i64::MAX)),
        path,
    })
}

/// A SQLite file (`path`, the default) or a PostgreSQL database (`url`).
fn location(raw: &RawState, base: &Path) -> Result<(Location, PathBuf), (&'static str, String)> {
    let Some(url) = &raw.url else {
        let path = base.join(raw.path.as_deref().unwrap_or(".tidings/state.db"));
        return Ok((Location::File(path.clone()), path));
    };
    if raw.path.is_some() {
        return Err((
            "state.url",
            "set `state.path` (a SQLite file) or `state.url` (PostgreSQL), not both".into(),
        ));
    }
    let url = interpolate(url).map_err(|m| ("state.url", m))?;
    if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
        return Err((
            "state.url",
            "must start with `postgres://` (e.g. `postgres://tidings@db.example:5432/tidings`)"
                .into(),
        ));
    }
    crate::store::db::pg_config(&url).map_err(|e| ("state.url", e.0))?;
    // The node's own caches stay on its disk, under a name of their own.
    Ok((Location::Postgres(url), base.join(".tidings/node")))
}
