//! `tidings status`: per notifier, what waits, what failed and what its lane is doing; the
//! last scan. Reads the state file; never creates it.

use chrono::{DateTime, Utc};

use super::{Context, Status, load};
use crate::settings::NotifierKind;
use crate::store::{LaneRows, LaneSummary, Next, NotifierStatus, ScanRecord, Store, StoreError};

/// What a lane would do at `now`.
fn lane_summary(
    store: &Store,
    rows: &LaneRows,
    now: DateTime<Utc>,
) -> Result<LaneSummary, StoreError> {
    let messages = store.lane_len(rows)?;
    let (state, until) = match store.lane_next(rows, now, 1)? {
        Next::Send(list) if !list.is_empty() => ("due", None),
        Next::WaitUntil(until) => ("waiting", Some(crate::store::stamp(until))),
        _ => ("idle", None),
    };
    Ok(LaneSummary {
        state: state.into(),
        until,
        messages,
    })
}

/// `tidings status [--json]`.
pub fn status(ctx: &Context, json: bool) -> Status {
    let Some(settings) = load(ctx) else {
        return Status::Failed;
    };
    let read = || -> Result<(Option<ScanRecord>, Vec<NotifierStatus>), StoreError> {
        if !settings.state_path.exists() {
            // Nothing has run yet; looking must not create the state file.
            let empty = settings.notifiers.iter().map(|n| NotifierStatus {
                name: n.name.clone(),
                ..NotifierStatus::default()
            });
            return Ok((None, empty.collect()));
        }
        let store = Store::open(&settings.state_path)?;
        let now = ctx.clock.now();
        let notifiers = settings
            .notifiers
            .iter()
            .map(|n| {
                let mut status = store.notifier_status(&n.name)?;
                let rows = LaneRows {
                    notifier: Some(n.name.clone()),
                    ordered: !matches!(n.kind, NotifierKind::Email(_)),
                };
                status.lane = Some(lane_summary(&store, &rows, now)?);
                Ok(status)
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        Ok((store.last_scan()?, notifiers))
    };
    let (last_scan, notifiers) = match read() {
        Ok(found) => found,
        Err(e) => {
            eprintln!("error: {e}");
            return Status::Failed;
        }
    };
    if json {
        let doc = serde_json::json!({ "last_scan": last_scan, "notifiers": notifiers });
        println!(
            "{}",
            serde_json::to_string_pretty(&doc).expect("plain values serialize")
        );
        return Status::Clean;
    }
    match &last_scan {
        Some(scan) => println!(
            "last scan {}: {} posts, {} new, {} with problems, {} ms",
            scan.at, scan.posts, scan.new_posts, scan.problems, scan.duration_ms
        ),
        None => println!("no scan yet: run `tidings run` (or `tidings run --once`)"),
    }
    for n in &notifiers {
        print!(
            "{}: {} queued for digest, {} pending, {} retrying, {} failed, {} sent",
            n.name, n.queued, n.pending, n.retrying, n.failed, n.sent
        );
        if n.skipped > 0 {
            print!(", {} skipped (unsubscribed while waiting)", n.skipped);
        }
        if n.signups > 0 {
            print!("; {} signed up", n.signups);
        }
        if let Some(next) = &n.next_attempt {
            print!("; next attempt {next}");
        }
        if let Some(error) = &n.last_error {
            print!("; last error: {error}");
        }
        if let Some(error) = &n.last_failure {
            print!("; last failure: {error}");
        }
        if n.composing > 0 {
            print!("; {} being composed", n.composing);
        }
        if n.unmade > 0 {
            print!(
                "; {} could not be made ({}; fix it, then `tidings retry {}`)",
                n.unmade,
                n.unmade_error.as_deref().unwrap_or("no reason kept"),
                n.name
            );
        }
        if let Some(lane) = &n.lane {
            match &lane.until {
                Some(until) => print!(
                    "; lane waiting until {until}, holding {} messages",
                    lane.messages
                ),
                None => print!("; lane {}", lane.state),
            }
        }
        println!();
    }
    Status::Clean
}
