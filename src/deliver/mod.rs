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
use crate::store::{Delivery, Handle, LaneRows, Next};
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

    /// Sends a batch side by side (one row for an ordered lane). `None` when told to stop.
    async fn send_all(
        &self,
        shared: &Shared,
        list: Vec<Delivery>,
        mode: &mut Mode,
    ) -> Option<Sent> {
        let attempts = join_all(list.into_iter().map(|d| self.attempt(shared, d)));
        let results = match mode {
            Mode::Once => attempts.await,
            Mode::Daemon { stop, .. } => tokio::select! {
                results = attempts => results,
                _ = stop.wait_for(|stopped| *stopped) => return None,
            },
        };
        let mut sent = Sent::default();
        for (result, pause) in results {
            sent.report.add(result);
            if let Some(until) = pause {
                sent.pause_until = Some(
                    sent.pause_until
                        .map_or(until, |u: DateTime<Utc>| u.max(until)),
                );
            }
        }
        Some(sent)
    }

    /// One attempt of one message, recorded. Returns what happened and, when the receiver
    /// could not be reached at all, until when the whole lane should wait.
    async fn attempt(
        &self,
        shared: &Shared,
        delivery: Delivery,
    ) -> (Report, Option<DateTime<Utc>>) {
        let mut report = Report::default();
        if delivery.body.is_empty() {
            // Never send an empty message; an older version stored unmade ones so.
            let error = "the message has no body (it was never made); nothing was sent";
            let pause = self
                .record(shared, delivery.id, move |s, id| {
                    s.mark_failed_attempt(id, error, None)
                })
                .await;
            report.failed = 1;
            return (report, pause);
        }
        if self.check_unsubscribed
            && delivery.kind != "confirm"
            && let Some(address) = delivery.recipient.clone()
        {
            let notifier = delivery.notifier.clone();
            let gone = shared
                .store
                .call(move |store| store.is_unsubscribed(&notifier, &address))
                .await
                .unwrap_or(false);
            if gone {
                let reason = "the recipient unsubscribed before it was sent";
                let pause = self
                    .record(shared, delivery.id, move |s, id| s.mark_skipped(id, reason))
                    .await;
                tracing::info!(lane = %self.name, id = %delivery.message_id, "skipped: unsubscribed");
                report.skipped = 1;
                return (report, pause);
            }
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
        let id = delivery.id;
        match outcome {
            Outcome::Sent => {
                let pause = self
                    .record(shared, id, move |s, id| s.mark_sent(id, now))
                    .await;
                shared.board.sent(&self.name);
                tracing::info!(lane = %self.name, id = %delivery.message_id, "sent");
                report.sent = 1;
                (report, pause)
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
                let error = error.clone();
                tracing::warn!(lane = %self.name, id = %delivery.message_id, attempt = attempts, next = %crate::store::stamp(next), "{error}; will retry");
                let pause = self
                    .record(shared, id, move |s, id| {
                        s.mark_failed_attempt(id, &error, Some(next))
                    })
                    .await;
                report.retrying = 1;
                // A server out of reach holds the whole lane; one reader's refusal does not.
                let unreachable = matches!(outcome, Outcome::Unreachable { .. });
                (report, pause.or(unreachable.then_some(next)))
            }
            Outcome::Retry { error, .. }
            | Outcome::Unreachable { error }
            | Outcome::Fail { error } => {
                tracing::error!(lane = %self.name, id = %delivery.message_id, attempt = attempts, "{error}; giving up");
                let pause = self
                    .record(shared, id, move |s, id| {
                        s.mark_failed_attempt(id, &error, None)
                    })
                    .await;
                report.failed = 1;
                (report, pause)
            }
        }
    }

    /// Writes an attempt's result. A store failure is logged and pauses the lane for
    /// [`STORE_PAUSE`] (the row stays pending and is sent again, with the same id: a repeat,
    /// never a loss, and never a tight loop of repeats).
    async fn record(
        &self,
        shared: &Shared,
        id: i64,
        write: impl FnOnce(&crate::store::Store, i64) -> Result<(), crate::store::StoreError>
        + Send
        + 'static,
    ) -> Option<DateTime<Utc>> {
        match shared.store.call(move |store| write(store, id)).await {
            Ok(()) => None,
            Err(e) => {
                tracing::error!(lane = %self.name, "cannot record an attempt: {e}");
                Some(notify::after(shared.clock.now(), STORE_PAUSE))
            }
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
