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
pub mod transport;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures_util::future::join_all;
use tokio::sync::{Notify, Semaphore, watch};

use crate::clock::Clock;
use crate::notify::{self, Outcome, ratelimit::Bucket};
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
}

impl Report {
    pub fn add(&mut self, other: Report) {
        self.sent += other.sent;
        self.retrying += other.retrying;
        self.failed += other.failed;
        self.skipped += other.skipped;
    }
}

/// One lane's fixed parts.
pub struct Lane {
    /// The notifier's name, or `confirm`.
    pub name: String,
    pub rows: LaneRows,
    pub transport: Arc<dyn Transport>,
    pub max_attempts: u32,
    /// The receiver's pace (shared by every lane of one SMTP server).
    pub pacer: Arc<Mutex<Bucket>>,
    /// Attempts under way at once across the lanes sharing it (`email.pool`; 1 elsewhere).
    pub slots: Arc<Semaphore>,
    /// Rows taken at once: 1 for an ordered lane, the pool size for email.
    pub batch: usize,
    /// Email list mail: a reader who unsubscribed while a message waited does not get it.
    pub check_unsubscribed: bool,
}

/// What every lane shares.
#[derive(Clone)]
pub struct Shared {
    pub store: Handle,
    pub clock: &'static dyn Clock,
    pub board: Arc<Board>,
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

/// A store failure: the lane waits this long and looks again.
const STORE_PAUSE: Duration = Duration::from_secs(5);

impl Lane {
    /// Drains the lane. In daemon mode it returns only when told to stop.
    pub async fn run(&self, shared: &Shared, mut mode: Mode) -> Report {
        let mut report = Report::default();
        let timeout = self.transport.timeout().as_secs();
        loop {
            let now = shared.clock.now();
            let rows = self.rows.clone();
            let batch = self.batch;
            let next = shared
                .store
                .call(move |store| store.lane_next(&rows, now, batch, &[]))
                .await;
            let wait_until = match next {
                Ok(Next::Send(list)) if !list.is_empty() => {
                    shared
                        .board
                        .set(&self.name, LaneState::Sending, timeout, now);
                    match self.send_all(shared, list, &mut mode).await {
                        Some(done) => {
                            report.add(done.report);
                            match done.pause_until {
                                Some(until) => Some(until),
                                None => continue,
                            }
                        }
                        None => return report, // stopped mid-attempt: left unmarked
                    }
                }
                Ok(Next::Send(_) | Next::Idle) => {
                    shared.board.set(&self.name, LaneState::Idle, timeout, now);
                    None
                }
                Ok(Next::WaitUntil(until)) => Some(until),
                Err(e) => {
                    tracing::error!(lane = %self.name, "outbox: {e}");
                    shared.board.set(
                        &self.name,
                        LaneState::Broken {
                            error: e.to_string(),
                        },
                        timeout,
                        now,
                    );
                    Some(notify::after(now, STORE_PAUSE))
                }
            };
            if let Some(until) = wait_until {
                let reason = self.head_reason(shared).await;
                shared.board.set(
                    &self.name,
                    LaneState::Waiting {
                        until: crate::store::stamp(until),
                        reason,
                    },
                    timeout,
                    now,
                );
            }
            match &mut mode {
                Mode::Once => return report,
                Mode::Daemon { wake, stop } => {
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
                    tokio::select! {
                        _ = sleep => {}
                        _ = wake.notified() => {}
                        _ = stop.wait_for(|stopped| *stopped) => return report,
                    }
                }
            }
        }
    }

    /// The last error of the lane's waiting head, for the board.
    async fn head_reason(&self, shared: &Shared) -> String {
        let rows = self.rows.clone();
        shared
            .store
            .call(move |store| store.lane_head_error(&rows))
            .await
            .ok()
            .flatten()
            .unwrap_or_else(|| "waiting for its next attempt".into())
    }

    /// Sends a batch side by side (one row for an ordered lane) and records every result in
    /// one transaction. `None` when told to stop (nothing of the batch is recorded: each
    /// message in flight is sent again, with its id, after a restart).
    async fn send_all(
        &self,
        shared: &Shared,
        list: Vec<Delivery>,
        mode: &mut Mode,
    ) -> Option<Sent> {
        let gone = self.unsubscribed(shared, &list).await;
        let attempts = join_all(list.into_iter().map(|d| self.attempt(shared, d, &gone)));
        let verdicts = match mode {
            Mode::Once => attempts.await,
            Mode::Daemon { stop, .. } => tokio::select! {
                verdicts = attempts => verdicts,
                _ = stop.wait_for(|stopped| *stopped) => return None,
            },
        };
        let mut sent = Sent::default();
        let marks: Vec<(i64, Mark)> = verdicts
            .into_iter()
            .map(|verdict| {
                sent.report.add(verdict.report);
                if let Some(until) = verdict.pause_until {
                    sent.pause_until = Some(sent.pause_until.map_or(until, |u| u.max(until)));
                }
                (verdict.id, verdict.mark)
            })
            .collect();
        let recorded = shared.store.call(move |store| store.record(&marks)).await;
        if let Err(e) = recorded {
            // The rows stay pending and are sent again, with the same ids: a repeat, never
            // a loss, and after a pause, never a tight loop of repeats.
            tracing::error!(lane = %self.name, "cannot record the attempts: {e}");
            let pause = notify::after(shared.clock.now(), STORE_PAUSE);
            sent.pause_until = Some(sent.pause_until.map_or(pause, |u| u.max(pause)));
        }
        for _ in 0..sent.report.sent {
            shared.board.sent(&self.name);
        }
        Some(sent)
    }

    /// The rows of `list` whose reader unsubscribed while they waited (email list mail).
    async fn unsubscribed(&self, shared: &Shared, list: &[Delivery]) -> Vec<i64> {
        if !self.check_unsubscribed {
            return Vec::new();
        }
        let readers: Vec<(i64, String, String)> = list
            .iter()
            .filter(|d| d.kind != "confirm")
            .filter_map(|d| Some((d.id, d.notifier.clone(), d.recipient.clone()?)))
            .collect();
        if readers.is_empty() {
            return Vec::new();
        }
        shared
            .store
            .call(move |store| {
                let mut gone = Vec::new();
                for (id, notifier, address) in &readers {
                    if store.is_unsubscribed(notifier, address)? {
                        gone.push(*id);
                    }
                }
                Ok(gone)
            })
            .await
            .unwrap_or_default()
    }

    /// One attempt of one message: what to record, and, when the receiver could not be
    /// reached at all, until when the whole lane should wait.
    async fn attempt(&self, shared: &Shared, delivery: Delivery, gone: &[i64]) -> Verdict {
        let id = delivery.id;
        if delivery.body.is_empty() {
            // Never send an empty message; an older version stored unmade ones so.
            return Verdict::failed(
                id,
                "the message has no body (it was never made); nothing was sent".into(),
            );
        }
        if gone.contains(&id) {
            tracing::info!(lane = %self.name, id = %delivery.message_id, "skipped: unsubscribed");
            return Verdict {
                id,
                mark: Mark::Skipped {
                    reason: "the recipient unsubscribed before it was sent".into(),
                },
                report: Report {
                    skipped: 1,
                    ..Report::default()
                },
                pause_until: None,
            };
        }
        let _slot = self.slots.acquire().await.ok();
        let pace = self
            .pacer
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .reserve(std::time::Instant::now());
        if !pace.is_zero() {
            tracing::debug!(lane = %self.name, ?pace, "pacing to the rate limit");
            tokio::time::sleep(pace).await;
        }
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
                let wait = notify::retry_wait(asked, attempts, &delivery.message_id);
                let next = notify::after(now, wait);
                if asked.is_some() {
                    // The receiver's pause holds every message of this destination.
                    if let Some(until) = std::time::Instant::now().checked_add(wait) {
                        self.pacer
                            .lock()
                            .unwrap_or_else(|p| p.into_inner())
                            .pause(until);
                    }
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
            Outcome::Retry { error, .. }
            | Outcome::Unreachable { error }
            | Outcome::Fail { error } => {
                tracing::error!(lane = %self.name, id = %delivery.message_id, attempt = attempts, "{error}; giving up");
                Verdict::failed(id, error)
            }
        }
    }
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
    /// The receiver was out of reach: the lane waits until then.
    pause_until: Option<DateTime<Utc>>,
}
