//! Readers' own choices: addresses that unsubscribed (from one notifier or from all) and
//! confirmed sign-ups from the server's page.

use super::db::{Db, DbError, args};
use super::open::Queries;
use super::open::{Store, StoreError, Tx};
use super::stamp::stamp;
use chrono::{DateTime, Utc};

/// What opening a confirmation link did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Confirmed {
    Subscribed,
    /// This link (or a later one) confirmed already: nothing changed.
    Already,
    /// The address unsubscribed after the link was made: it stays unsubscribed.
    Superseded,
}

/// A subscriber who signed up on the server's page and confirmed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signup {
    /// As typed (compared in lower case).
    pub address: String,
    /// Category paths (`A/B`) they follow; empty means everything the notifier sends.
    pub categories: Vec<String>,
}

/// What an erased address's kept suppression is stored under (`readers erase
/// --keep-suppression`): its SHA-256, so the state no longer holds the address yet still
/// knows not to mail it when the operator's list names it again.
pub fn erased_key(address: &str) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(address.trim().to_lowercase().as_bytes());
    format!("{ERASED}{}", crate::hex::encode(&digest))
}

/// What an erased address's key starts with (no address can: it has no `@`).
pub const ERASED: &str = "sha256:";

fn unsubscribed_from(
    db: &Db,
    notifier: &str,
) -> Result<std::collections::HashSet<String>, DbError> {
    db.rows(
        "SELECT address FROM unsubscribes WHERE notifier IN ('', ?1)",
        args![notifier],
    )?
    .iter()
    .map(|r| r.get(0))
    .collect()
}

fn signups_of(db: &Db, notifier: &str) -> Result<Vec<Signup>, DbError> {
    db.rows(
        "SELECT mailbox, categories FROM signups WHERE notifier = ?1 ORDER BY confirmed, address",
        args![notifier],
    )?
    .iter()
    .map(|r| {
        let categories: String = r.get(1)?;
        Ok(Signup {
            address: r.get(0)?,
            categories: serde_json::from_str(&categories).unwrap_or_default(),
        })
    })
    .collect()
}

impl Store {
    /// Records that `address` wants no more mail from `notifier` (or from any, with `None`).
    /// Addresses are kept in lower case, as they compare.
    pub fn unsubscribe(
        &self,
        address: &str,
        notifier: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let address = address.trim().to_lowercase();
        self.exec(
            "INSERT INTO unsubscribes (address, notifier, at) VALUES (?1, ?2, ?3) ON CONFLICT DO NOTHING",
            args![&address, notifier.unwrap_or(""), stamp(now)],
        )?;
        // A sign-up is forgotten with it: the address is kept only to keep it unsubscribed.
        self.exec(
            "DELETE FROM signups WHERE address = ?1 AND (?2 = '' OR notifier = ?2)",
            args![address, notifier.unwrap_or("")],
        )
        .map(|_| ())
    }

    /// Addresses (lower case) that must not get mail from `notifier`.
    pub fn unsubscribed(
        &self,
        notifier: &str,
    ) -> Result<std::collections::HashSet<String>, StoreError> {
        unsubscribed_from(&self.db, notifier).map_err(|e| self.err(e))
    }

    /// Stores a confirmed sign-up (again: a second confirmation replaces the categories).
    /// Signing up undoes an earlier unsubscribe from this notifier; one from every notifier
    /// becomes one from each of `others`, so only the notifier asked for starts again.
    ///
    /// A link is worth one change: a link `issued` before the address's latest unsubscribe
    /// (from this notifier or from all) or before its current confirmation does nothing, so
    /// a link scanner or an old email opened again cannot undo an unsubscribe.
    pub fn confirm_signup(
        &mut self,
        notifier: &str,
        signup: &Signup,
        others: &[&str],
        issued: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<Confirmed, StoreError> {
        let address = signup.address.trim().to_lowercase();
        let tx = self.transaction()?;
        // A suppression kept when the address was erased is its own again: the person has
        // given the address back, and what follows treats it as any unsubscribe.
        let erased = erased_key(&address);
        tx.exec(
            "INSERT INTO unsubscribes (address, notifier, at, reason)
             SELECT ?1, notifier, at, reason FROM unsubscribes WHERE address = ?2
             ON CONFLICT DO NOTHING",
            args![&address, &erased],
        )?;
        tx.exec(
            "DELETE FROM unsubscribes WHERE address = ?1",
            args![&erased],
        )?;
        let latest = |sql: &str| -> Result<Option<DateTime<Utc>>, StoreError> {
            let at: Option<String> = tx
                .one(sql, args![&address, notifier])?
                .get(0)
                .map_err(|e| tx.err(e))?;
            Ok(at.map(|at| super::stamp::parse_stamp(&at)))
        };
        let unsubscribed =
            latest("SELECT max(at) FROM unsubscribes WHERE address = ?1 AND notifier IN ('', ?2)")?;
        if unsubscribed.is_some_and(|at| at >= issued) {
            return Ok(Confirmed::Superseded);
        }
        let confirmed =
            latest("SELECT max(confirmed) FROM signups WHERE address = ?1 AND notifier = ?2")?;
        if confirmed.is_some_and(|at| at >= issued) {
            return Ok(Confirmed::Already);
        }
        let categories = serde_json::to_string(&signup.categories).expect("strings serialize");
        tx.exec(
            "INSERT INTO signups (notifier, address, mailbox, categories, confirmed)
             VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (notifier, address) DO UPDATE SET mailbox = ?3, categories = ?4, confirmed = ?5",
            args![notifier, &address, signup.address.trim(), categories, stamp(now)],
        )?;
        let everything = tx.exec(
            "DELETE FROM unsubscribes WHERE address = ?1 AND notifier = ''",
            args![&address],
        )?;
        if everything > 0 {
            for other in others.iter().filter(|o| **o != notifier) {
                tx.exec(
                    "INSERT INTO unsubscribes (address, notifier, at) VALUES (?1, ?2, ?3) ON CONFLICT DO NOTHING",
                    args![&address, *other, stamp(now)],
                )?;
            }
        }
        tx.exec(
            "DELETE FROM unsubscribes WHERE address = ?1 AND notifier = ?2",
            args![&address, notifier],
        )?;
        tx.commit()?;
        Ok(Confirmed::Subscribed)
    }

    /// A notifier's confirmed sign-ups.
    pub fn signups(&self, notifier: &str) -> Result<Vec<Signup>, StoreError> {
        signups_of(&self.db, notifier).map_err(|e| self.err(e))
    }
}

impl Tx<'_> {
    /// Addresses (lower case) that must not get mail from `notifier`.
    pub fn unsubscribed(
        &self,
        notifier: &str,
    ) -> Result<std::collections::HashSet<String>, StoreError> {
        unsubscribed_from(self.db, notifier).map_err(|e| self.err(e))
    }

    /// A notifier's confirmed sign-ups, as the digest being cut sees them.
    pub fn signups(&self, notifier: &str) -> Result<Vec<Signup>, StoreError> {
        signups_of(self.db, notifier).map_err(|e| self.err(e))
    }
}
