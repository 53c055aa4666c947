//! The pace of mail to one SMTP server, kept where every process sending to it can see it:
//! each node's email lanes and a manual `tidings send` beside them take their turns from
//! one schedule, so together they keep to `email.rate` however many there are.
//!
//! The schedule is one number per server, the time of the next free turn (a "theoretical
//! arrival time", as in the generic cell rate algorithm): a process takes `count` turns
//! at once, starting at that time or, when it lies in the past, at most a burst's span
//! before now, and moves it on by `count` turns. One statement does both, so two processes
//! never get the same turn, on PostgreSQL or in a state file.

use chrono::{DateTime, TimeDelta, Utc};

use super::db::args;
use super::open::{Queries, Store, StoreError};

/// Turns taken at once from a schedule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Turns {
    /// When the first may go.
    pub first: DateTime<Utc>,
    /// Between one and the next.
    pub every: TimeDelta,
    pub count: u32,
}

impl Turns {
    /// When each turn may go.
    pub fn times(&self) -> impl Iterator<Item = DateTime<Utc>> + '_ {
        (0..self.count).map(|i| self.first + self.every * i as i32)
    }
}

impl Store {
    /// Takes `count` turns of `server`'s schedule at `now`: one every `every`, with up to
    /// `burst` of them at once after a quiet spell.
    pub fn take_turns(
        &mut self,
        server: &str,
        count: u32,
        every: TimeDelta,
        burst: u32,
        now: DateTime<Utc>,
    ) -> Result<Turns, StoreError> {
        let every_us = every.num_microseconds().unwrap_or(i64::MAX).max(1);
        let span = every_us.saturating_mul(i64::from(count));
        // The earliest the schedule may restart from: a burst's worth of turns ago.
        let floor = now
            .timestamp_micros()
            .saturating_sub(every_us.saturating_mul(i64::from(burst)));
        let next: i64 = self
            .one(
                "INSERT INTO paces (server, next_turn_us) VALUES (?1, ?2)
                 ON CONFLICT (server) DO UPDATE SET next_turn_us =
                     (CASE WHEN paces.next_turn_us > ?3 THEN paces.next_turn_us ELSE ?3 END) + ?4
                 RETURNING next_turn_us",
                args![server, floor.saturating_add(span), floor, span],
            )?
            .get(0)
            .map_err(|e| self.err(e))?;
        let first = DateTime::from_timestamp_micros(next.saturating_sub(span)).unwrap_or(now);
        Ok(Turns {
            first,
            every: TimeDelta::microseconds(every_us),
            count,
        })
    }

    /// The server asked for a pause (`Retry-After`, a 421): no turn before `until`, for
    /// any process.
    pub fn pause_turns(&mut self, server: &str, until: DateTime<Utc>) -> Result<(), StoreError> {
        let until = until.timestamp_micros();
        self.exec(
            "INSERT INTO paces (server, next_turn_us) VALUES (?1, ?2)
             ON CONFLICT (server) DO UPDATE SET next_turn_us =
                 CASE WHEN paces.next_turn_us > ?2 THEN paces.next_turn_us ELSE ?2 END",
            args![server, until],
        )?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use crate::store::Store;
    use crate::store::testing::{self, at};

    /// A burst after a quiet spell, then one turn per interval, shared by two connections
    /// to one state (two processes): no turn is given twice and together they keep to the
    /// rate. On every back end.
    #[test]
    fn turns_are_shared_and_never_given_twice() {
        for (location, _dir) in testing::fresh() {
            let mut a = Store::connect(&location, "a").unwrap();
            let mut b = Store::connect(&location, "b").unwrap();
            let every = chrono::TimeDelta::milliseconds(200);
            // Quiet until now: a burst of 5 may go at once.
            let first = a.take_turns("smtp:mx:25", 5, every, 5, at(10)).unwrap();
            assert_eq!(first.first, at(10) - every * 5);
            assert!(first.times().all(|t| t < at(10)), "all go at once");
            // The next turns follow on, whoever takes them.
            let second = b.take_turns("smtp:mx:25", 5, every, 5, at(10)).unwrap();
            assert_eq!(second.first, at(10));
            let third = a.take_turns("smtp:mx:25", 2, every, 5, at(10)).unwrap();
            assert_eq!(third.first, at(10) + every * 5);
            let mut all: Vec<_> = first
                .times()
                .chain(second.times())
                .chain(third.times())
                .collect();
            all.dedup();
            assert_eq!(all.len(), 12, "no turn given twice");
            // Another server has its own schedule.
            let other = b.take_turns("smtp:other:25", 1, every, 5, at(10)).unwrap();
            assert_eq!(other.first, at(10) - every * 5);
            // A pause holds every process's next turn until it ends.
            a.pause_turns("smtp:mx:25", at(20)).unwrap();
            let after = b.take_turns("smtp:mx:25", 1, every, 5, at(12)).unwrap();
            assert_eq!(after.first, at(20));
            // Long after, the schedule restarts a burst before now, not from the past.
            let later = a.take_turns("smtp:mx:25", 1, every, 5, at(23)).unwrap();
            assert_eq!(later.first, at(23) - every * 5);
        }
    }
}
