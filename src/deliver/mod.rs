//! Delivery lanes: one per notifier, plus one for confirmation mail. A lane drains its own
//! rows of the outbox with its own order, pacing and backoff, so nothing one receiver does
//! (answer slowly, refuse, ask for a day's pause) reaches another lane.
//!
//! An ordered lane (webhooks, chat, hubs) sends its oldest pending message and nothing
//! after it until that one is done: a head waiting for a retry holds its notifier's later
//! messages, never another lane's. An email lane sends each reader's oldest message, up to
//! `email.pool` at once, through the one SMTP server's pace shared by every email lane.
//! Every wait a receiver asks for is clamped ([`crate::notify::MAX_WAIT`]); a row is marked
//! sent only after the receiver accepted it.

pub mod board;
pub mod pace;
pub mod transport;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures_util::future::join_all;
use tokio::sync::{Notify, Semaphore, watch};

use crate::clock::Clock;
use crate::notify::{self, Outcome};
use crate::store::nodes::HeldElsewhere;
use crate::store::{Delivery, Handle, LaneRows, Mark, Next};
pub use board::{Board, LaneState};
pub use transport::Transport;

/// What one lane (or all of them) did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Report {
    pub sent: usize,
    pub retrying: usize,
    pub failed: usize,
    pub skipped: usize,
    /// Messages held because a setting is wrong (not counted as attempts).
    pub halted: usize,
}

impl Report {
    pub fn add(&mut self, other: Report) {
        self.sent += other.sent;
        self.retrying += other.retrying;
        self.failed += other.failed;
        self.skipped += other.skipped;
        self.halted += other.halted;
    }
}

/// One lane's fixed parts.
pub struct Lane {
    /// The notifier's name, or `confirm`.
    pub name: String,
    pub rows: LaneRows,
    pub transport: Arc<dyn Transport>,
    pub max_attempts: u32,
    /// The receiver's pace (shared by every lane of one SMTP server, and through the
    /// state by every process sending to it).
    pub pacer: Arc<pace::Pace>,
    /// Attempts under way at once across the lanes sharing it (`email.pool`; 1 elsewhere).
    pub slots: Arc<Semaphore>,
    /// Rows taken at once: 1 for an ordered lane, the pool size for email.
    pub batch: usize,
    /// Email list mail: the notifier's readers, so that one who unsubscribed, or was taken
    /// off the list, while a message waited does not get it.
    pub readers: Option<crate::settings::EmailTarget>,
    /// Until when this node holds the lane's lease, as it last took it (ordered lanes: one
    /// node drains one at a time; email lanes are shared, row by row).
    pub held_until: Mutex<Option<DateTime<Utc>>>,
    /// With a shared state, the lane's own connection: a row lock or a slow statement on
    /// one lane holds up no other lane and no heartbeat. `None`: the shared one (a state
    /// file, where one process writes at a time anyway).
    pub store: Option<Handle>,
}

/// What every lane shares.
#[derive(Clone)]
pub struct Shared {
    pub store: Handle,
    /// The node's clock; with a shared state, set by the database's (`following`).
    pub clock: &'static dyn Clock,
    /// With a shared state, the clock above as it follows the database's: each heartbeat
    /// measures it again.
    pub following: Option<&'static crate::clock::Following>,
    pub board: Arc<Board>,
    /// With a state other nodes share: how often a resting lane looks for rows they made
    /// (their composers cannot wake this node's lanes). `None` with a state file.
    pub poll: Option<Duration>,
    /// How long this node's leases last (`state.lease`).
    pub lease: Duration,
}

/// How a lane runs.
pub enum Mode {
    /// Send what is due now, then return (`run --once`, `send`).
    Once,
    /// Until `stop` turns true; `wake` says new rows may be there.
    Daemon {
        wake: Arc<Notify>,
        stop: watch::Receiver<bool>,
    },
}

/// A store failure: the lane waits this long and looks again, twice as long after each
/// failure in a row, up to [`STORE_PAUSE_CAP`]; it logs once per wait, not once per poll.
const STORE_PAUSE: Duration = Duration::from_secs(5);
const STORE_PAUSE_CAP: Duration = Duration::from_secs(300);

/// The wait after `failures` store failures in a row.
fn store_pause(failures: u32) -> Duration {
    STORE_PAUSE
        .saturating_mul(1u32 << failures.saturating_sub(1).min(16))
        .min(STORE_PAUSE_CAP)
}

/// A setting that cannot work (`Outcome::Halt`): the lane tries again this much later, in
/// case the server was wrong rather than the setting; fixing it and restarting is sooner.
const HALT_PAUSE: Duration = Duration::from_secs(3600);

impl Lane {
    /// The connection this lane works on.
    fn store<'a>(&'a self, shared: &'a Shared) -> &'a Handle {
        self.store.as_ref().unwrap_or(&shared.store)
    }

    /// Drains the lane. In daemon mode it returns only when told to stop.
    ///
    /// Each round trip to the state file records the last batch's results and reads the
    /// next batch in one call, so a busy lane costs one blocking hop per batch.
    pub async fn run(&self, shared: &Shared, mut mode: Mode) -> Report {
        let mut report = Report::default();
        let timeout = self.transport.timeout().as_secs();
        let mut marks: Vec<(i64, Mark)> = Vec::new();
        // After a halt (a wrong setting), wake-ups are ignored until the pause is over:
        // every scan wakes every lane, and a misconfigured server is not to be tried again
        // each time.
        let mut held_until: Option<DateTime<Utc>> = None;
        // Store failures in a row (the state unreachable): the pause grows with them.
        let mut failures: u32 = 0;
        loop {
            let now = shared.clock.now();
            let step = self.step(shared, std::mem::take(&mut marks), now).await;
            if step.is_ok() && failures > 0 {
                tracing::info!(lane = %self.name, failures, "the state answers again");
                failures = 0;
            }
            let wait_until = match step {
                Ok(Step::HeldElsewhere(other)) => {
                    let state = LaneState::Waiting {
                        until: crate::store::stamp(other.until),
                        reason: format!("node {} sends this lane", other.node),
                    };
                    shared.board.set(&self.name, state, timeout, now);
                    Some(other.until)
                }
                Ok(Step::Next(Next::Send(list), gone)) if !list.is_empty() => {
                    shared
                        .board
                        .set(&self.name, LaneState::Sending, timeout, now);
                    let Some(done) = self.send_all(shared, list, &gone, &mut mode).await else {
                        return report; // stopped mid-attempt: left unmarked, sent again
                    };
                    report.add(done.report);
                    marks = done.marks;
                    if let Some(error) = done.halt {
                        // An operator must act: health says so until the lane sends again.
                        tracing::error!(lane = %self.name, "{error}; nothing more is sent until it is fixed (then restart)");
                        let state = LaneState::Broken { error };
                        shared.board.set(&self.name, state, timeout, now);
                        held_until = done.pause_until;
                    }
                    match done.pause_until {
                        Some(until) => Some(until),
                        None => continue,
                    }
                }
                Ok(Step::Next(Next::Send(_) | Next::Idle, _)) => {
                    shared.board.set(&self.name, LaneState::Idle, timeout, now);
                    None
                }
                Ok(Step::Next(Next::WaitUntil(until), _)) => {
                    let reason = self.head_reason(shared).await;
                    let state = LaneState::Waiting {
                        until: crate::store::stamp(until),
                        reason,
                    };
                    shared.board.set(&self.name, state, timeout, now);
                    Some(until)
                }
                Err(e) => {
                    // The rows stay pending (a batch not recorded is sent again, with the
                    // same ids): a pause, never a tight loop of repeats.
                    failures = failures.saturating_add(1);
                    let pause = store_pause(failures);
                    tracing::error!(lane = %self.name, failures, "outbox: {e}; looking again in {} s", pause.as_secs());
                    let state = LaneState::Broken {
                        error: e.to_string(),
                    };
                    shared.board.set(&self.name, state, timeout, now);
                    Some(notify::after(now, pause))
                }
            };
            if !marks.is_empty() {
                // Recorded before the lane waits or returns.
                let batch = std::mem::take(&mut marks);
                if let Err(e) = self
                    .store(shared)
                    .call(move |store| store.record(&batch))
                    .await
                {
                    tracing::error!(lane = %self.name, "cannot record the attempts: {e}");
                }
            }
            match &mut mode {
                Mode::Once => return report,
                Mode::Daemon { wake, stop } => {
                    // Rows other nodes make, and leases they let go, are looked for (not
                    // while the state does not answer: its pause is kept).
                    let poll = shared.poll.filter(|_| failures == 0);
                    let wait_until = match (wait_until, poll) {
                        (Some(until), Some(poll)) => {
                            Some(until.min(notify::after(shared.clock.now(), poll)))
                        }
                        (None, Some(poll)) => Some(notify::after(shared.clock.now(), poll)),
                        (wait_until, None) => wait_until,
                    };
                    let sleep = async {
                        match wait_until {
                            Some(until) => {
                                let wait = (until - shared.clock.now())
                                    .to_std()
                                    .unwrap_or(Duration::ZERO)
                                    .min(notify::MAX_WAIT);
                                tokio::time::sleep(wait).await;
                            }
                            None => std::future::pending::<()>().await,
                        }
                    };
                    let held = held_until.is_some_and(|until| until > shared.clock.now());
                    let woken = async {
                        if held {
                            std::future::pending::<()>().await;
                        }
                        wake.notified().await;
                    };
                    tokio::select! {
                        _ = sleep => {}
                        _ = woken => {}
                        _ = stop.wait_for(|stopped| *stopped) => return report,
                    }
                }
            }
        }
    }

    /// One round trip: records `marks`, makes sure this node holds an ordered lane, then
    /// reads what to do next and which of those rows' readers unsubscribed while they
    /// waited.
    async fn step(
        &self,
        shared: &Shared,
        marks: Vec<(i64, Mark)>,
        now: DateTime<Utc>,
    ) -> Result<Step, crate::store::StoreError> {
        let rows = self.rows.clone();
        let batch = self.batch;
        let readers = self.readers.clone();
        let name = self.name.clone();
        let poll = shared.poll.is_some();
        let lease = shared.lease;
        // With a shared state, an ordered lane is drained by the node holding its lease (a
        // state file has one process: the run lock sees to it). The lease is taken again
        // when half of it is gone (the heartbeat renews it too): a busy lane does not
        // write its lease at every message.
        let renew = rows.ordered
            && poll
            && crate::sync::lock(&self.held_until)
                .is_none_or(|until| until < crate::store::nodes::lease_end(now, lease / 2));
        let step = self
            .store(shared)
            .call(move |store| {
                if !marks.is_empty() {
                    store.record(&marks)?;
                }
                if renew && let Some(other) = store.hold_lane(&name, now)? {
                    return Ok(Step::HeldElsewhere(other));
                }
                let next = store.lane_next(&rows, now, batch)?;
                if rows.ordered && poll && matches!(next, Next::Idle) {
                    // Nothing to send: the node whose composer makes the next row takes it.
                    store.release_lane(&name)?;
                }
                let gone = match (&readers, &next) {
                    (Some(readers), Next::Send(list)) => gone_readers(store, readers, list)?,
                    _ => Vec::new(),
                };
                Ok(Step::Next(next, gone))
            })
            .await;
        if renew || poll {
            let held = match &step {
                Ok(Step::Next(Next::Idle, _)) if poll => None,
                Ok(Step::Next(..)) if renew => Some(crate::store::nodes::lease_end(now, lease)),
                Ok(Step::Next(..)) => *crate::sync::lock(&self.held_until),
                _ => None,
            };
            *crate::sync::lock(&self.held_until) = held;
        }
        step
    }

    /// The last error of the lane's waiting head, for the board.
    async fn head_reason(&self, shared: &Shared) -> String {
        let rows = self.rows.clone();
        self.store(shared)
            .call(move |store| store.lane_head_error(&rows))
            .await
            .ok()
            .flatten()
            .unwrap_or_else(|| "waiting for its next attempt".into())
    }

    /// Sends a batch side by side (one row for an ordered lane); the results are recorded
    /// by the next round trip. `None` when told to stop (nothing of the batch is recorded:
    /// each message in flight is sent again, with its id, after a restart).
    async fn send_all(
        &self,
        shared: &Shared,
        list: Vec<Delivery>,
        gone: &[(i64, &'static str)],
        mode: &mut Mode,
    ) -> Option<Sent> {
        let attempts = join_all(list.into_iter().map(|d| self.attempt(shared, d, gone)));
        let verdicts = match mode {
            Mode::Once => attempts.await,
            Mode::Daemon { stop, .. } => tokio::select! {
                verdicts = attempts => verdicts,
                _ = stop.wait_for(|stopped| *stopped) => return None,
            },
        };
        let mut sent = Sent::default();
        for verdict in verdicts {
            sent.report.add(verdict.report);
            if let Some(until) = verdict.pause_until {
                sent.pause_until = Some(sent.pause_until.map_or(until, |u| u.max(until)));
            }
            if let Mark::Halted { error, .. } = &verdict.mark {
                sent.halt = Some(error.clone());
            }
            sent.marks.push((verdict.id, verdict.mark));
        }
        for _ in 0..sent.report.sent {
            shared.board.sent(&self.name);
        }
        Some(sent)
    }

    /// One attempt of one message: what to record, and, when the receiver could not be
    /// reached at all, until when the whole lane should wait.
    async fn attempt(
        &self,
        shared: &Shared,
        delivery: Delivery,
        gone: &[(i64, &'static str)],
    ) -> Verdict {
        let id = delivery.id;
        if delivery.body.is_empty() {
            // Never send an empty message; an older version stored unmade ones so.
            return Verdict::failed(
                id,
                "the message has no body (it was never made); nothing was sent".into(),
            );
        }
        if let Some((_, reason)) = gone.iter().find(|(row, _)| *row == id) {
            tracing::info!(lane = %self.name, id = %delivery.message_id, "skipped: {reason}");
            return Verdict {
                id,
                mark: Mark::Skipped {
                    reason: (*reason).into(),
                },
                report: Report {
                    skipped: 1,
                    ..Report::default()
                },
                pause_until: None,
            };
        }
        let _slot = self.slots.acquire().await.ok();
        self.pacer.turn(self.store(shared), shared.clock).await;
        let outcome = self
            .transport
            .send(&delivery.message_id, &delivery.body, shared.clock.now())
            .await;
        let now = shared.clock.now();
        let attempts = delivery.attempts.saturating_add(1);
        match outcome {
            Outcome::Sent => {
                tracing::info!(lane = %self.name, id = %delivery.message_id, "sent");
                Verdict {
                    id,
                    mark: Mark::Sent { at: now },
                    report: Report {
                        sent: 1,
                        ..Report::default()
                    },
                    pause_until: None,
                }
            }
            Outcome::Retry { ref error, .. } | Outcome::Unreachable { ref error }
                if attempts < self.max_attempts =>
            {
                let asked = if let Outcome::Retry { after, .. } = outcome {
                    after
                } else {
                    None
                };
                let cap = match self.rows.ordered {
                    true => notify::ORDERED_CAP,
                    false => notify::READER_CAP,
                };
                let wait = notify::retry_wait(asked, attempts, &delivery.message_id, cap);
                let next = notify::after(now, wait);
                if asked.is_some() {
                    // The receiver's pause holds every message of this destination.
                    self.pacer.pause(self.store(shared), next, wait).await;
                }
                tracing::warn!(lane = %self.name, id = %delivery.message_id, attempt = attempts, next = %crate::store::stamp(next), "{error}; will retry");
                // A server out of reach holds the whole lane; one reader's refusal does not.
                let unreachable = matches!(outcome, Outcome::Unreachable { .. });
                Verdict {
                    id,
                    mark: Mark::Retry {
                        error: error.clone(),
                        next,
                    },
                    report: Report {
                        retrying: 1,
                        ..Report::default()
                    },
                    pause_until: unreachable.then_some(next),
                }
            }
            Outcome::Halt { key, error } => {
                let error = format!("`{key}`: {error}");
                let until = notify::after(now, HALT_PAUSE);
                Verdict {
                    id,
                    mark: Mark::Halted { error, until },
                    report: Report {
                        halted: 1,
                        ..Report::default()
                    },
                    pause_until: Some(until),
                }
            }
            Outcome::Retry { error, .. }
            | Outcome::Unreachable { error }
            | Outcome::Fail { error } => {
                tracing::error!(lane = %self.name, id = %delivery.message_id, attempt = attempts, "{error}; giving up");
                Verdict::failed(id, error)
            }
        }
    }
}

/// The rows of `list` whose reader must not get them any more, with why: unsubscribed, or
/// no longer on the notifier's list (`to`, the subscriber file as it is now, or a
/// confirmed sign-up). A lane's rows are one notifier's: their readers are asked about at
/// once.
fn gone_readers(
    store: &crate::store::Store,
    readers: &crate::settings::EmailTarget,
    list: &[Delivery],
) -> Result<Vec<(i64, &'static str)>, crate::store::StoreError> {
    let list: Vec<&Delivery> = list.iter().filter(|d| d.kind != "confirm").collect();
    let Some(first) = list.first() else {
        return Ok(Vec::new());
    };
    let addresses: Vec<String> = list.iter().filter_map(|d| d.recipient.clone()).collect();
    let unsubscribed = store.unsubscribed_among(&first.notifier, &addresses)?;
    let listed = readers.readers();
    let unlisted: Vec<String> = addresses
        .iter()
        .filter(|a| !listed.contains(&a.to_lowercase()))
        .cloned()
        .collect();
    let signed_up = store.signed_up_among(&first.notifier, &unlisted)?;
    Ok(list
        .iter()
        .filter_map(|d| {
            let address = d.recipient.as_deref()?.to_lowercase();
            if unsubscribed.contains(&address) {
                Some((d.id, "the recipient unsubscribed before it was sent"))
            } else if unlisted.contains(&address) && !signed_up.contains(&address) {
                Some((
                    d.id,
                    "the recipient was taken off the list before it was sent",
                ))
            } else {
                None
            }
        })
        .collect())
}

/// What a lane does next.
enum Step {
    /// Send, wait or rest, as the outbox says; with the rows whose readers are gone, and why.
    Next(Next, Vec<(i64, &'static str)>),
    /// Another node drains this ordered lane until its lease ends.
    HeldElsewhere(HeldElsewhere),
}

/// One attempt's result, to record.
struct Verdict {
    id: i64,
    mark: Mark,
    report: Report,
    pause_until: Option<DateTime<Utc>>,
}

impl Verdict {
    fn failed(id: i64, error: String) -> Verdict {
        Verdict {
            id,
            mark: Mark::Failed { error },
            report: Report {
                failed: 1,
                ..Report::default()
            },
            pause_until: None,
        }
    }
}

/// What a batch did.
#[derive(Default)]
struct Sent {
    report: Report,
    /// What to record.
    marks: Vec<(i64, Mark)>,
    /// A setting is wrong: the error naming it.
    halt: Option<String>,
    /// The receiver was out of reach: the lane waits until then.
    pause_until: Option<DateTime<Utc>>,
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_store_pause_doubles_to_its_cap() {
        let waits: Vec<u64> = (1..=9).map(|n| super::store_pause(n).as_secs()).collect();
        assert_eq!(waits, [5, 10, 20, 40, 80, 160, 300, 300, 300]);
        assert_eq!(super::store_pause(u32::MAX).as_secs(), 300);
    }
}
