//! What every lane is doing, for `/healthz` and the logs: the daemon's lanes write here, the
//! server reads. Nothing here decides anything; the outbox is the truth.

use std::collections::BTreeMap;
use std::sync::Mutex;

use chrono::{DateTime, Utc};
use serde::Serialize;

/// A lane's state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "state")]
pub enum LaneState {
    /// Nothing to send.
    Idle,
    /// An attempt is under way.
    Sending,
    /// The head waits (a retry, a `Retry-After`, a paused server) until `until`.
    Waiting { until: String, reason: String },
    /// The lane cannot read or write the outbox, or its task stopped; it starts again.
    Broken { error: String },
}

/// One lane as the board shows it.
#[derive(Debug, Clone, Serialize)]
pub struct LaneView {
    #[serde(flatten)]
    pub state: LaneState,
    /// When it entered this state (RFC 3339).
    pub since: String,
    /// The longest one attempt may take (the transport's timeout), in seconds.
    #[serde(skip)]
    pub timeout_seconds: u64,
    /// Messages this lane sent since the process started.
    pub sent: u64,
}

/// Every lane's view, by lane name.
#[derive(Debug, Default)]
pub struct Board {
    lanes: Mutex<BTreeMap<String, LaneView>>,
}

impl Board {
    /// Records a lane's new state at `now` (unchanged states keep their `since`).
    pub fn set(&self, lane: &str, state: LaneState, timeout_seconds: u64, now: DateTime<Utc>) {
        let mut lanes = crate::sync::lock(&self.lanes);
        let view = lanes.entry(lane.to_owned()).or_insert_with(|| LaneView {
            state: LaneState::Idle,
            since: crate::store::stamp(now),
            timeout_seconds,
            sent: 0,
        });
        if view.state != state {
            view.state = state;
            view.since = crate::store::stamp(now);
        }
        view.timeout_seconds = timeout_seconds;
    }

    /// Counts a sent message.
    pub fn sent(&self, lane: &str) {
        if let Some(view) = crate::sync::lock(&self.lanes).get_mut(lane) {
            view.sent += 1;
        }
    }

    /// Every lane, by name.
    pub fn snapshot(&self) -> BTreeMap<String, LaneView> {
        crate::sync::lock(&self.lanes).clone()
    }

    /// Lanes that are stuck at `now`: broken, or sending for longer than any attempt may
    /// take (twice the timeout and a minute more: the attempt's own timeout did not end it).
    pub fn stuck(&self, now: DateTime<Utc>) -> Vec<String> {
        self.snapshot()
            .into_iter()
            .filter(|(_, view)| {
                let age = (now - crate::store::parse_stamp(&view.since)).num_seconds();
                match view.state {
                    LaneState::Broken { .. } => true,
                    LaneState::Sending => {
                        age > (view.timeout_seconds.saturating_mul(2) + 60).min(i64::MAX as u64)
                            as i64
                    }
                    _ => false,
                }
            })
            .map(|(name, _)| name)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn a_lane_sending_past_its_timeouts_is_stuck() {
        let board = Board::default();
        let t0 = Utc.with_ymd_and_hms(2026, 12, 1, 0, 0, 0).unwrap();
        board.set("hook", LaneState::Sending, 10, t0);
        board.set("quiet", LaneState::Idle, 10, t0);
        assert!(board.stuck(t0 + chrono::Duration::seconds(79)).is_empty());
        assert_eq!(board.stuck(t0 + chrono::Duration::seconds(81)), ["hook"]);
        board.set(
            "quiet",
            LaneState::Broken {
                error: "disk".into(),
            },
            10,
            t0,
        );
        assert_eq!(board.stuck(t0).len(), 1);
    }
}
