//! What sharing one state between nodes adds: who is alive (heartbeats), who scans (a
//! PostgreSQL advisory lock, held by the scanner's connection and so released when the
//! node or its connection dies), and who drains each ordered lane (a lease in `lanes`).
//!
//! Leases are times in the state, written by the holder and renewed by its heartbeat; a
//! node that stops renewing loses its lanes and its claimed rows when [`LEASE`] runs out,
//! and another node takes them over. A SQLite file has one node (the run lock sees to
//! that), which records its heartbeat and lanes all the same, so `status` reads alike.

use chrono::{DateTime, TimeDelta, Utc};

use super::db::args;
use super::open::Queries;
use super::open::{Store, StoreError};
use super::stamp::{parse_stamp, stamp};

pub use crate::settings::state::{LEASE, LEASE_RANGE};

/// How often a node renews its leases and says it is alive: three times a lease.
pub fn heartbeat_every(lease: std::time::Duration) -> std::time::Duration {
    lease / 3
}

/// How long a node that stopped, or went silent (killed, its machine gone), stays listed
/// in `status` before it is forgotten.
pub const FORGET_AFTER: TimeDelta = TimeDelta::hours(1);

/// How often, with a shared state, a resting lane or composer looks for work other nodes
/// made.
pub const POLL: std::time::Duration = std::time::Duration::from_millis(500);

/// The lease of the scanner's role, among the lanes (no notifier can be named so: its
/// parentheses and space are not a lane name tidings makes).
pub const SCANNER: &str = "(scanner role)";

/// When a lease of `lease` taken at `now` ends.
pub fn lease_end(now: DateTime<Utc>, lease: std::time::Duration) -> DateTime<Utc> {
    now + TimeDelta::milliseconds(lease.as_millis().min(i64::MAX as u128) as i64)
}

/// This process among every node's processes: its host and process id.
fn instance() -> String {
    let host = std::fs::read_to_string("/etc/hostname")
        .ok()
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".into());
    format!("{host}:{}", std::process::id())
}

/// Forgets nodes that stopped or went silent more than [`FORGET_AFTER`] ago.
fn forget_old_nodes(on: &impl Queries, now: DateTime<Utc>) -> Result<(), StoreError> {
    on.exec(
        "DELETE FROM nodes WHERE COALESCE(stopped, heartbeat) < ?1",
        args![stamp(now - FORGET_AFTER)],
    )
    .map(|_| ())
}

/// A node as `status` shows it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct NodeStatus {
    pub name: String,
    pub started: String,
    pub heartbeat: String,
    /// Whether it held the scanner's lock at its last heartbeat.
    pub scanner: bool,
    /// When it stopped cleanly, if it did.
    pub stopped: Option<String>,
    /// The lanes it holds now (lease not run out).
    pub lanes: Vec<String>,
    /// How far its own clock was from the database's at its last heartbeat (the
    /// database's time minus its own), in milliseconds; it follows the database's.
    pub clock_offset_ms: Option<i64>,
}

/// Who holds a lane, when this node does not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeldElsewhere {
    pub node: String,
    pub until: DateTime<Utc>,
}

impl super::open::Tx<'_> {
    /// The fence of a scan's record: whether this node still holds the scanner's lease at
    /// `now`, read with the row locked, so no node takes the role over until this
    /// transaction ends. A node frozen past its lease (and woken) finds it lost and records
    /// nothing. SQLite: always (one process per file).
    pub fn still_scanning(&self, node: &str, now: DateTime<Utc>) -> Result<bool, StoreError> {
        if !self.db.is_postgres() {
            return Ok(true);
        }
        Ok(self
            .row(
                "SELECT 1 FROM lanes WHERE name = ?1 AND node = ?2 AND until >= ?3 FOR UPDATE",
                args![SCANNER, node, stamp(now)],
            )?
            .is_some())
    }
}

impl Store {
    /// Takes (or keeps) the scanner's role, a lease like a lane's: renewed by this node's
    /// heartbeat, taken over by another node when it runs out (a node that dies, or is
    /// frozen, loses it within a lease). SQLite: always this node (one process per file).
    pub fn lead_scans(&self, now: DateTime<Utc>) -> Result<bool, StoreError> {
        if !self.db.is_postgres() {
            return Ok(true);
        }
        Ok(self.hold_lane(SCANNER, now)?.is_none())
    }

    /// Records that this node is alive (and whether it scans), and renews its leases:
    /// its lanes, the rows and compositions it has claimed. Returns how many nodes are
    /// alive (this one included): they share the SMTP server's pace.
    /// `clock_offset`: how far the node's own clock is from the database's (the database's
    /// time minus the node's), when measured.
    pub fn heartbeat(
        &mut self,
        scanner: bool,
        now: DateTime<Utc>,
        clock_offset: Option<TimeDelta>,
    ) -> Result<usize, StoreError> {
        let node = self.node.clone();
        let until = stamp(lease_end(now, self.lease));
        let silent_since = stamp(now - TimeDelta::milliseconds(self.lease.as_millis() as i64));
        let tx = self.transaction()?;
        tx.exec(
            "INSERT INTO nodes (name, started, heartbeat, scanner, clock_offset_ms, instance) VALUES (?1, ?2, ?2, ?3, ?4, ?5)
             ON CONFLICT (name) DO UPDATE SET heartbeat = ?2, scanner = ?3, stopped = NULL, clock_offset_ms = ?4, instance = ?5",
            args![
                &node,
                stamp(now),
                scanner,
                clock_offset.map(|o| o.num_milliseconds()),
                instance()
            ],
        )?;
        // A row someone else holds locked (an operator's open transaction, a lane
        // recording its attempt) is passed over, not waited for: the heartbeat must go
        // on whatever one lane's rows are doing. The lane holding such a row renews it
        // itself when it records, and a lapsed claim is taken back only by the node that
        // holds the lane.
        tx.exec(
            &renewal("lanes", "name", "node = ?1 AND until >= ?3"),
            args![&node, &until, stamp(now)],
        )?;
        for table in ["deliveries", "compositions"] {
            tx.exec(
                &renewal(table, "id", "claimed_by = ?1 AND status = 'pending'"),
                args![&node, &until],
            )?;
        }
        let alive: u64 = tx
            .one(
                "SELECT COUNT(*) FROM nodes WHERE stopped IS NULL AND heartbeat >= ?1",
                args![silent_since],
            )?
            .get(0)
            .map_err(|e| tx.err(e))?;
        forget_old_nodes(&tx, now)?;
        tx.commit()?;
        Ok(alive.max(1) as usize)
    }

    /// The process last recorded under this node's name, if it looks alive at `now` (not
    /// stopped, heartbeat within a lease) and is not this one: its heartbeat and who it
    /// is (`host:pid`). Whether it really lives shows in its next heartbeat.
    pub fn other_instance(
        &self,
        now: DateTime<Utc>,
    ) -> Result<Option<(String, String)>, StoreError> {
        let since = stamp(now - TimeDelta::milliseconds(self.lease.as_millis() as i64));
        let row = self.row(
            "SELECT heartbeat, instance FROM nodes
             WHERE name = ?1 AND stopped IS NULL AND heartbeat >= ?2 AND instance IS NOT NULL AND instance != ?3",
            args![&self.node, since, instance()],
        )?;
        row.map(|r| Ok((r.get(0)?, r.get(1)?)))
            .transpose()
            .map_err(|e: super::db::DbError| self.err(e))
    }

    /// The database's own time (PostgreSQL's `clock_timestamp()`), which every node of a
    /// shared state follows; `None` with a state file, whose one node's clock is the only
    /// one.
    pub fn database_now(&self) -> Result<Option<DateTime<Utc>>, StoreError> {
        if !self.db.is_postgres() {
            return Ok(None);
        }
        let micros: i64 = self
            .one(
                "SELECT CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000000 AS BIGINT)",
                &[],
            )?
            .get(0)
            .map_err(|e| self.err(e))?;
        Ok(DateTime::from_timestamp_micros(micros))
    }

    /// Records the start of this process: a node started again under the same name keeps
    /// no lease of its past life (what it was sending is free to take at once). Only a
    /// daemon is listed as a node; a one-shot command is not.
    pub fn node_started(&mut self, now: DateTime<Utc>, daemon: bool) -> Result<(), StoreError> {
        self.release_all(now)?;
        forget_old_nodes(self, now)?;
        if !daemon {
            return Ok(());
        }
        self.exec(
            "INSERT INTO nodes (name, started, heartbeat, instance) VALUES (?1, ?2, ?2, ?3)
             ON CONFLICT (name) DO UPDATE SET started = ?2, heartbeat = ?2, scanner = 0, stopped = NULL, instance = ?3",
            args![&self.node, stamp(now), instance()],
        )
        .map(|_| ())
    }

    /// A clean stop: gives up every lease at once, so other nodes need not wait for them
    /// to run out.
    pub fn node_stopped(&mut self, now: DateTime<Utc>) -> Result<(), StoreError> {
        self.release_all(now)?;
        self.exec(
            "UPDATE nodes SET stopped = ?2, scanner = 0 WHERE name = ?1",
            args![&self.node, stamp(now)],
        )
        .map(|_| ())
    }

    /// Lets go of this node's leases; with a state file, of every lease (the run lock
    /// says no other process can hold one: any left are a killed process's).
    fn release_all(&mut self, _now: DateTime<Utc>) -> Result<(), StoreError> {
        let node = self.node.clone();
        let everyone = !self.db.is_postgres();
        let tx = self.transaction()?;
        tx.exec(
            "DELETE FROM lanes WHERE node = ?1 OR ?2 = 1",
            args![&node, everyone],
        )?;
        tx.exec(
            "UPDATE deliveries SET claimed_by = NULL, claimed_until = NULL
             WHERE claimed_by = ?1 OR (?2 = 1 AND claimed_by IS NOT NULL)",
            args![&node, everyone],
        )?;
        tx.exec(
            "UPDATE compositions SET claimed_by = NULL, claimed_until = NULL
             WHERE claimed_by = ?1 OR (?2 = 1 AND claimed_by IS NOT NULL)",
            args![&node, everyone],
        )?;
        tx.commit()
    }

    /// Takes or renews the lease on lane `name` for this node. `Ok(None)` when this node
    /// holds it for a lease from `now`; otherwise who does, and until when.
    pub fn hold_lane(
        &self,
        name: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<HeldElsewhere>, StoreError> {
        // The holder may let the lane go between the two statements (its lane ran empty):
        // then there is no row to read, and the lane is taken again.
        for _ in 0..3 {
            self.exec(
                "INSERT INTO lanes (name, node, since, until) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (name) DO UPDATE SET node = excluded.node, until = excluded.until,
                     since = CASE WHEN lanes.node = excluded.node THEN lanes.since ELSE excluded.since END
                 WHERE lanes.node = excluded.node OR lanes.until < excluded.since",
                args![name, &self.node, stamp(now), stamp(lease_end(now, self.lease))],
            )?;
            let Some(holder) =
                self.row("SELECT node, until FROM lanes WHERE name = ?1", args![name])?
            else {
                continue;
            };
            let (node, until): (String, String) = (|| Ok((holder.get(0)?, holder.get(1)?)))()
                .map_err(|e: super::db::DbError| self.err(e))?;
            return Ok((node != self.node).then(|| HeldElsewhere {
                node,
                until: parse_stamp(&until),
            }));
        }
        // Taken and let go three times over: another node is busy with it.
        Ok(Some(HeldElsewhere {
            node: "another node".into(),
            until: now,
        }))
    }

    /// Lets lane `name` go (it is empty), so the node that next has rows for it takes it.
    pub fn release_lane(&self, name: &str) -> Result<(), StoreError> {
        self.exec(
            "DELETE FROM lanes WHERE name = ?1 AND node = ?2",
            args![name, &self.node],
        )
        .map(|_| ())
    }

    /// Every node that ever ran on this state, with the lanes each holds at `now`, the
    /// most recently alive first.
    pub fn nodes(&self, now: DateTime<Utc>) -> Result<Vec<NodeStatus>, StoreError> {
        let lanes = self.rows(
            "SELECT node, name FROM lanes WHERE until >= ?1 AND name != ?2 ORDER BY name",
            args![stamp(now), SCANNER],
        )?;
        let lanes: Vec<(String, String)> = lanes
            .iter()
            .map(|r| Ok((r.get(0)?, r.get(1)?)))
            .collect::<Result<_, super::db::DbError>>()
            .map_err(|e| self.err(e))?;
        self.rows(
            "SELECT name, started, heartbeat, scanner, stopped, clock_offset_ms FROM nodes ORDER BY heartbeat DESC, name",
            &[],
        )?
        .iter()
        .map(|r| {
            let name: String = r.get(0)?;
            Ok(NodeStatus {
                lanes: lanes
                    .iter()
                    .filter(|(node, _)| *node == name)
                    .map(|(_, lane)| lane.clone())
                    .collect(),
                name,
                started: r.get(1)?,
                heartbeat: r.get(2)?,
                scanner: r.get(3)?,
                stopped: r.get(4)?,
                clock_offset_ms: r.get(5)?,
            })
        })
        .collect::<Result<_, super::db::DbError>>()
        .map_err(|e| self.err(e))
    }
}

/// The statement renewing this node's leases in `table` (`?2` the new end): only the rows
/// no one holds locked (`SKIP LOCKED`; SQLite, with no row locks, runs it without).
fn renewal(table: &str, key: &str, mine: &str) -> String {
    let column = if table == "lanes" {
        "until"
    } else {
        "claimed_until"
    };
    format!(
        "UPDATE {table} SET {column} = ?2 WHERE {key} IN \
         (SELECT {key} FROM {table} WHERE {mine} FOR UPDATE SKIP LOCKED)"
    )
}

#[cfg(test)]
mod tests {
    use super::super::testing;
    use super::super::{LaneRows, NewMessage, Next};
    use super::*;
    use chrono::TimeZone;

    fn at(s: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 1, 0, 0, s).unwrap()
    }

    fn mail(id: &str, to: &str) -> NewMessage {
        NewMessage {
            message_id: id.into(),
            notifier: "mail".into(),
            kind: "digest".into(),
            post_ids: vec![],
            body: "x".into(),
            recipient: Some(to.into()),
            seq: 1,
        }
    }

    fn sent(next: Next) -> Vec<String> {
        match next {
            Next::Send(list) => list.into_iter().map(|d| d.message_id).collect(),
            _ => Vec::new(),
        }
    }

    /// One node holds a lane until its lease runs out; then another takes it.
    #[test]
    fn a_lane_is_held_by_one_node_until_its_lease_runs_out() {
        for (at_, _dir) in testing::fresh() {
            let a = Store::connect(&at_, "a").unwrap();
            let b = Store::connect(&at_, "b").unwrap();
            assert_eq!(a.hold_lane("hook", at(0)).unwrap(), None);
            assert_eq!(a.hold_lane("hook", at(10)).unwrap(), None, "renewed");
            let held = b.hold_lane("hook", at(20)).unwrap().unwrap();
            assert_eq!((held.node.as_str(), held.until), ("a", at(40)));
            assert_eq!(b.hold_lane("hook", at(41)).unwrap(), None, "taken over");
            assert!(a.hold_lane("hook", at(42)).unwrap().is_some());
            assert_eq!(b.nodes(at(42)).unwrap().len(), 0, "no heartbeat yet");
        }
    }

    /// Nodes sharing a PostgreSQL state claim disjoint rows of an email lane, one per
    /// reader at a time; a dead node's claims are taken over when they run out.
    #[test]
    fn nodes_claim_disjoint_rows_and_take_over_a_dead_nodes() {
        let Some(url) = testing::postgres_database() else {
            return;
        };
        let at_ = super::super::Location::Postgres(url);
        let mut a = Store::connect(&at_, "a").unwrap();
        let b = Store::connect(&at_, "b").unwrap();
        let batch = [
            mail("r1", "one@example.org"),
            mail("r2", "two@example.org"),
            mail("r1-later", "one@example.org"),
        ];
        a.store_composed(&batch, &[], at(0)).unwrap();
        let lane = LaneRows {
            notifier: Some("mail".into()),
            ordered: false,
        };
        let first = sent(a.lane_next(&lane, at(1), 1).unwrap());
        assert_eq!(first, ["r1"]);
        assert_eq!(
            sent(b.lane_next(&lane, at(1), 10).unwrap()),
            ["r2"],
            "not r1, not r1-later"
        );
        let r2 = b
            .due(at(1))
            .unwrap()
            .into_iter()
            .find(|d| d.message_id == "r2")
            .unwrap();
        b.mark_sent(r2.id, at(1)).unwrap();
        match b.lane_next(&lane, at(2), 10).unwrap() {
            Next::WaitUntil(until) => assert_eq!(until, at(31), "until a's claim runs out"),
            other => panic!("{other:?}"),
        }
        // a dies without marking r1: b takes it over once the claim has run out.
        assert_eq!(sent(b.lane_next(&lane, at(32), 10).unwrap()), ["r1"]);
        assert_eq!(
            a.heartbeat(false, at(33), None).unwrap(),
            1,
            "only a has a heartbeat"
        );
    }
}
