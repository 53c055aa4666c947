//! What each notifier has done and is doing, as `tidings status` and the operator's page
//! (`/admin`) both show it: one reading, so the two never disagree.

use chrono::{DateTime, Utc};

use crate::settings::{NotifierKind, Settings};
use crate::store::{LaneRows, LaneSummary, Next, NotifierStatus, Store, StoreError};

/// What a lane would do at `now`.
fn lane_summary(
    store: &Store,
    rows: &LaneRows,
    now: DateTime<Utc>,
) -> Result<LaneSummary, StoreError> {
    let messages = store.lane_len(rows)?;
    let (state, until) = match store.lane_peek(rows, now)? {
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

/// Every notifier of `settings`, in order: its counts, its lane at `now`, and (email) how
/// many of its readers bounces and complaints took off.
pub fn notifiers(
    settings: &Settings,
    store: &Store,
    now: DateTime<Utc>,
) -> Result<Vec<NotifierStatus>, StoreError> {
    let suppressed = store.suppressed()?;
    settings
        .notifiers
        .iter()
        .map(|n| {
            let mut status = store.notifier_status(&n.name)?;
            let rows = LaneRows {
                notifier: Some(n.name.clone()),
                ordered: !matches!(n.kind, NotifierKind::Email(_)),
            };
            status.lane = Some(lane_summary(store, &rows, now)?);
            if let NotifierKind::Email(target) = &n.kind {
                for reader in target.readers().iter() {
                    match suppressed.get(&reader.address().to_lowercase()) {
                        Some(true) => status.complained += 1,
                        Some(false) => status.bounced += 1,
                        None => {}
                    }
                }
            }
            Ok(status)
        })
        .collect()
}
