//! How fast a lane may send.
//!
//! A chat platform's limit is kept by the lane's own token bucket: one node holds an
//! ordered lane at a time. Mail to one SMTP server goes out from every node's email lanes
//! at once, and from a `tidings send` beside them, so its rate lives in the state
//! (`store::paces`): each process takes a few turns at a time from one schedule, and
//! together they keep to `email.rate` however many they are. (Dividing the rate by the
//! nodes alive, as before, missed the manual `send` and the nodes not seen yet: 8.2
//! messages a second for `rate = 5` with three daemons and a `send`.)

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};

use crate::clock::Clock;
use crate::notify::{outcome::MAX_WAIT, ratelimit::Bucket};
use crate::store::handle::Handle;

/// A lane's pace.
pub enum Pace {
    /// This process's own bucket.
    Own(Mutex<Bucket>),
    /// A schedule in the state, shared by every process sending to one server.
    Shared(SharedPace),
}

/// Turns taken from the state's schedule and not yet used.
pub struct SharedPace {
    /// Which schedule (`smtp:host:port`).
    server: String,
    every: TimeDelta,
    burst: u32,
    /// Turns taken at once: about a tenth of a second's worth, so a fast list asks the
    /// state ten times a second and a slow one once per message.
    block: u32,
    turns: tokio::sync::Mutex<VecDeque<DateTime<Utc>>>,
}

impl Pace {
    /// A bucket of `burst` messages refilled at `per_second`.
    pub fn own(burst: f64, per_second: f64) -> Pace {
        Pace::Own(Mutex::new(Bucket::new(
            burst,
            per_second,
            std::time::Instant::now(),
        )))
    }

    /// `per_second` to `server` (with bursts of as many after a quiet spell), kept
    /// together with every process sharing the state.
    pub fn shared(server: String, per_second: f64) -> Pace {
        let per_second = if per_second.is_finite() && per_second > 0.0 {
            per_second
        } else {
            1.0
        };
        let every = Duration::try_from_secs_f64(1.0 / per_second)
            .ok()
            .and_then(|d| TimeDelta::from_std(d).ok())
            .unwrap_or(TimeDelta::seconds(1))
            .max(TimeDelta::microseconds(1));
        Pace::Shared(SharedPace {
            server,
            every,
            burst: per_second.clamp(1.0, 10_000.0) as u32,
            block: (per_second / 10.0).ceil().clamp(1.0, 64.0) as u32,
            turns: tokio::sync::Mutex::new(VecDeque::new()),
        })
    }

    /// Waits for the next message's turn.
    pub async fn turn(&self, store: &Handle, clock: &'static dyn Clock) {
        let wait = match self {
            Pace::Own(bucket) => crate::sync::lock(bucket).reserve(std::time::Instant::now()),
            Pace::Shared(shared) => shared.next_turn(store, clock).await,
        };
        if !wait.is_zero() {
            tracing::debug!(?wait, "pacing to the rate limit");
            tokio::time::sleep(wait).await;
        }
    }

    /// The receiver asked for a pause: nothing of this pace goes before `until` (`wait`
    /// from now).
    pub async fn pause(&self, store: &Handle, until: DateTime<Utc>, wait: Duration) {
        match self {
            Pace::Own(bucket) => {
                if let Some(until) = std::time::Instant::now().checked_add(wait) {
                    crate::sync::lock(bucket).pause(until);
                }
            }
            Pace::Shared(shared) => {
                shared.turns.lock().await.clear();
                let server = shared.server.clone();
                if let Err(e) = store
                    .call(move |store| store.pause_turns(&server, until))
                    .await
                {
                    tracing::warn!(server = %shared.server, "cannot record the server's pause: {e}");
                }
            }
        }
    }
}

impl SharedPace {
    /// How long until this process's next turn, taking more from the state when it has
    /// none left. Turns left over from long ago are dropped: using them now would go
    /// faster than the schedule allows.
    async fn next_turn(&self, store: &Handle, clock: &'static dyn Clock) -> Duration {
        let mut turns = self.turns.lock().await;
        let now = clock.now();
        let stale = now - self.every * self.burst as i32;
        while turns.front().is_some_and(|t| *t < stale) {
            turns.pop_front();
        }
        if turns.is_empty() {
            let (server, block, every, burst) =
                (self.server.clone(), self.block, self.every, self.burst);
            match store
                .call(move |store| store.take_turns(&server, block, every, burst, now))
                .await
            {
                Ok(taken) => turns.extend(taken.times()),
                Err(e) => {
                    // The lane's own record of the attempt fails too and says so; keep
                    // to the rate on this side meanwhile.
                    tracing::warn!(server = %self.server, "cannot take turns from the state: {e}");
                    return self.every.to_std().unwrap_or(MAX_WAIT).min(MAX_WAIT);
                }
            }
        }
        let Some(turn) = turns.pop_front() else {
            return Duration::ZERO;
        };
        (turn - clock.now())
            .to_std()
            .unwrap_or(Duration::ZERO)
            .min(MAX_WAIT)
    }
}
