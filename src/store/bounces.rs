//! What bounces did to the list: an address a hard bounce or a complaint took off is an
//! unsubscribe from everything (notifier `''`) that keeps its reason, so every check that
//! keeps mail from an unsubscribed reader (composing, the lane's last look, sign-ups)
//! keeps it from a dead or complaining address too, on every node. Soft bounces are counted
//! per address until they reach the limit.

use chrono::{DateTime, Utc};

use super::db::args;
use super::open::{Queries, Store, StoreError};
use super::stamp::stamp;

/// Why an address was taken off, as `unsubscribes.reason` starts.
pub const BOUNCED: &str = "bounced";
pub const COMPLAINED: &str = "complained";

/// How long a sending service's event key is remembered: longer than any service retries
/// a post (SendGrid, the longest, for 24 hours), so a retry is known as one.
pub const EVENT_KEYS_KEPT: chrono::Duration = chrono::Duration::hours(25);

impl Store {
    /// Takes `address` off every list for `reason` (`bounced: 5.1.1 …`, `complained: abuse`).
    /// Whether it was on until now.
    pub fn suppress(
        &mut self,
        address: &str,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let address = address.trim().to_lowercase();
        let tx = self.transaction()?;
        let added = tx.exec(
            "INSERT INTO unsubscribes (address, notifier, at, reason) VALUES (?1, '', ?2, ?3)
             ON CONFLICT (address, notifier) DO NOTHING",
            args![&address, stamp(now), reason],
        )?;
        tx.exec("DELETE FROM signups WHERE address = ?1", args![&address])?;
        tx.exec(
            "DELETE FROM soft_bounces WHERE address = ?1",
            args![&address],
        )?;
        tx.commit()?;
        Ok(added > 0)
    }

    /// Counts a soft bounce (`status`, e.g. `4.2.2`) for `address`; at `limit` of them the
    /// address is taken off. Returns the count, and whether it was taken off now.
    pub fn soft_bounce(
        &mut self,
        address: &str,
        status: &str,
        now: DateTime<Utc>,
        limit: u32,
    ) -> Result<(u32, bool), StoreError> {
        let address = address.trim().to_lowercase();
        let count: i64 = self
            .one(
                "INSERT INTO soft_bounces (address, count, last, status) VALUES (?1, 1, ?2, ?3)
                 ON CONFLICT (address) DO UPDATE SET count = soft_bounces.count + 1, last = ?2, status = ?3
                 RETURNING count",
                args![&address, stamp(now), status],
            )?
            .get(0)
            .map_err(|e| self.err(e))?;
        let count = u32::try_from(count).unwrap_or(u32::MAX);
        if count < limit {
            return Ok((count, false));
        }
        let reason = format!("{BOUNCED}: {count} soft bounces, the last {status}");
        let suppressed = self.suppress(&address, &reason, now)?;
        Ok((count, suppressed))
    }

    /// Takes each of a sending service's event keys not taken before, in one transaction
    /// (the same key posted to two nodes at once is taken by one); for each, whether it
    /// was taken now.
    pub fn take_bounce_events(
        &mut self,
        keys: &[String],
        now: DateTime<Utc>,
    ) -> Result<Vec<bool>, StoreError> {
        let tx = self.transaction()?;
        let mut taken = Vec::with_capacity(keys.len());
        for key in keys {
            let added = tx.exec(
                "INSERT INTO bounce_events (key, at) VALUES (?1, ?2) ON CONFLICT (key) DO NOTHING",
                args![key, stamp(now)],
            )?;
            taken.push(added > 0);
        }
        tx.commit()?;
        Ok(taken)
    }

    /// Gives keys back: what their events said could not be recorded, so that the
    /// service's retry is taken.
    pub fn give_back_bounce_events(&mut self, keys: &[String]) -> Result<(), StoreError> {
        let tx = self.transaction()?;
        for key in keys {
            tx.exec("DELETE FROM bounce_events WHERE key = ?1", args![key])?;
        }
        tx.commit()
    }

    /// Every address bounces or complaints took off, with whether it complained.
    pub fn suppressed(&self) -> Result<std::collections::HashMap<String, bool>, StoreError> {
        self.rows(
            "SELECT address, reason FROM unsubscribes WHERE notifier = '' AND reason IS NOT NULL",
            &[],
        )?
        .into_iter()
        .map(|row| {
            let address: String = row.get(0).map_err(|e| self.err(e))?;
            let reason: String = row.get(1).map_err(|e| self.err(e))?;
            Ok((address, reason.starts_with(COMPLAINED)))
        })
        .collect()
    }
}

#[cfg(test)]
mod tests {
    use crate::store::testing::{self, at};

    /// A service's event key is taken once until given back, on every back end, and
    /// forgotten by `prune` a day after.
    #[test]
    fn a_bounce_event_is_taken_once_until_given_back_or_pruned() {
        for (mut store, _dir) in testing::stores() {
            let keys = ["mailgun:t1".to_owned(), "mailgun:e1".to_owned()];
            assert_eq!(
                store.take_bounce_events(&keys, at(1)).unwrap(),
                [true, true]
            );
            let again = ["mailgun:e1".to_owned(), "mailgun:e2".to_owned()];
            assert_eq!(
                store.take_bounce_events(&again, at(1)).unwrap(),
                [false, true]
            );
            store.give_back_bounce_events(&keys[1..]).unwrap();
            assert_eq!(
                store.take_bounce_events(&keys, at(2)).unwrap(),
                [false, true]
            );
            let later = at(2) + super::EVENT_KEYS_KEPT + chrono::Duration::hours(1);
            store.prune(later, chrono::Duration::days(30)).unwrap();
            assert_eq!(
                store.take_bounce_events(&keys, later).unwrap(),
                [true, true]
            );
        }
    }

    /// A hard bounce takes the address off every list at once; soft ones only at the
    /// limit; a complaint like a hard bounce. On every back end.
    #[test]
    fn hard_bounces_and_complaints_suppress_soft_ones_count() {
        for (mut store, _dir) in testing::stores() {
            assert!(
                store
                    .suppress("Dead@Example.org", "bounced: 5.1.1", at(1))
                    .unwrap()
            );
            assert!(
                !store
                    .suppress("dead@example.org", "bounced: 5.1.1", at(2))
                    .unwrap()
            );
            assert!(store.is_unsubscribed("any", "dead@example.org").unwrap());
            assert_eq!(
                store
                    .soft_bounce("full@example.org", "4.2.2", at(1), 3)
                    .unwrap(),
                (1, false)
            );
            assert_eq!(
                store
                    .soft_bounce("full@example.org", "4.2.2", at(2), 3)
                    .unwrap(),
                (2, false)
            );
            assert!(!store.is_unsubscribed("any", "full@example.org").unwrap());
            assert_eq!(
                store
                    .soft_bounce("full@example.org", "4.2.2", at(3), 3)
                    .unwrap(),
                (3, true)
            );
            assert!(store.is_unsubscribed("any", "full@example.org").unwrap());
            store
                .suppress("angry@example.org", "complained: abuse", at(4))
                .unwrap();
            assert_eq!(
                store
                    .soft_bounce("slow@example.org", "4.4.1", at(4), 3)
                    .unwrap(),
                (1, false)
            );
            let suppressed = store.suppressed().unwrap();
            assert_eq!(
                suppressed.len(),
                3,
                "a soft bounce below the limit takes no one off"
            );
            assert!(!suppressed["dead@example.org"]);
            assert!(!suppressed["full@example.org"]);
            assert!(suppressed["angry@example.org"], "complained");
        }
    }
}
