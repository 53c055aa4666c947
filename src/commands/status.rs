//! `tidings status`: per notifier, what waits, what failed and what its lane is doing; the
//! last scan; the nodes sharing the state, their heartbeats and the lanes each holds.
//! Reads the state; never creates a state file and never claims anything.

use chrono::{DateTime, Utc};

use super::common::{Context, Status, load};
use crate::store::nodes::NodeStatus;
use crate::store::{NotifierStatus, ScanRecord, Store, StoreError};

/// `tidings status [--json]`.
pub fn status(ctx: &Context, json: bool) -> Status {
    let Some(settings) = load(ctx) else {
        return Status::Failed;
    };
    type Found = (
        Option<ScanRecord>,
        Vec<NotifierStatus>,
        Vec<NodeStatus>,
        DateTime<Utc>,
    );
    let now = ctx.clock.now();
    let read = || -> Result<Found, StoreError> {
        if settings.state_missing() {
            // Nothing has run yet; looking must not create the state file.
            let empty = settings.notifiers.iter().map(|n| NotifierStatus {
                name: n.name.clone(),
                ..NotifierStatus::default()
            });
            return Ok((None, empty.collect(), Vec::new(), now));
        }
        let store = Store::open_for(&settings.state)?;
        // With a shared state, ages and leases are the database's time, as the nodes keep it.
        let now = store.database_now()?.unwrap_or(now);
        let notifiers = crate::overview::notifiers(&settings, &store, now)?;
        Ok((store.last_scan()?, notifiers, store.nodes(now)?, now))
    };
    let (last_scan, notifiers, nodes, now) = match read() {
        Ok(found) => found,
        Err(e) => {
            crate::errln!("error: {e}");
            return Status::Failed;
        }
    };
    if json {
        let doc =
            serde_json::json!({ "last_scan": last_scan, "notifiers": notifiers, "nodes": nodes });
        crate::outln!(
            "{}",
            serde_json::to_string_pretty(&doc).expect("plain values serialize")
        );
        return Status::Clean;
    }
    match &last_scan {
        Some(scan) => crate::outln!(
            "last scan {}: {} posts, {} new, {} with problems, {} ms",
            scan.at,
            scan.posts,
            scan.new_posts,
            scan.problems,
            scan.duration_ms
        ),
        None => crate::outln!("no scan yet: run `tidings run` (or `tidings run --once`)"),
    }
    for n in &notifiers {
        crate::out!(
            "{}: {} queued for digest, {} pending, {} retrying, {} failed, {} sent",
            n.name,
            n.queued,
            n.pending,
            n.retrying,
            n.failed,
            n.sent
        );
        if n.skipped > 0 {
            crate::out!(
                ", {} skipped (unsubscribed or taken off the list while waiting)",
                n.skipped
            );
        }
        if n.signups > 0 {
            crate::out!("; {} signed up", n.signups);
        }
        if n.bounced + n.complained > 0 {
            crate::out!(
                "; {} readers taken off by bounces, {} by complaints",
                n.bounced,
                n.complained
            );
        }
        if let Some(next) = &n.next_attempt {
            crate::out!("; next attempt {next}");
        }
        if let Some(error) = &n.last_error {
            crate::out!("; last error: {error}");
        }
        if let Some(error) = &n.last_failure {
            crate::out!("; last failure: {error}");
        }
        if n.composing > 0 {
            crate::out!("; {} being composed", n.composing);
        }
        if n.unmade > 0 {
            crate::out!(
                "; {} could not be made ({}; fix it, then `tidings retry {}`)",
                n.unmade,
                n.unmade_error.as_deref().unwrap_or("no reason kept"),
                n.name
            );
        }
        if let Some(lane) = &n.lane {
            match &lane.until {
                Some(until) => crate::out!(
                    "; lane waiting until {until}, holding {} messages",
                    lane.messages
                ),
                None => crate::out!("; lane {}", lane.state),
            }
        }
        crate::outln!();
    }
    for node in &nodes {
        crate::outln!(
            "{}",
            node_line(node, now, settings.state.lease.as_secs() as i64)
        );
    }
    Status::Clean
}

/// One node: alive or not by its heartbeat, whether it scans, the lanes it holds.
fn node_line(node: &NodeStatus, now: DateTime<Utc>, lease: i64) -> String {
    let beat = crate::store::parse_stamp(&node.heartbeat);
    let age = (now - beat).num_seconds().max(0);
    let state = match &node.stopped {
        Some(at) => format!("stopped {at}"),
        None if age > lease => {
            format!(
                "dead: silent since {} ({age} s; its leases have run out; forgotten an hour after)",
                node.heartbeat
            )
        }
        None => format!("alive, last heartbeat {age} s ago"),
    };
    let mut line = format!("node {}: {state}", node.name);
    if node.scanner && node.stopped.is_none() {
        line.push_str("; scans");
    }
    if !node.lanes.is_empty() {
        line.push_str(&format!("; holds lanes {}", node.lanes.join(", ")));
    }
    if let Some(ms) = node.clock_offset_ms.filter(|ms| ms.abs() >= 2000) {
        line.push_str(&format!(
            "; its clock is {:.1} s {} the database's (it keeps the database's time)",
            ms.abs() as f64 / 1000.0,
            if ms > 0 { "behind" } else { "ahead of" }
        ));
    }
    line
}
