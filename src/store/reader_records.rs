//! The readers the state knows, as records an operator can list, export, import and erase:
//! confirmed sign-ups (with the categories they follow) and unsubscribes (from one notifier
//! or from all). Subscriber lists are the operator's own files; these are what tidings keeps.

use serde::{Deserialize, Serialize};

use super::db::args;
use super::open::{Queries, Store, StoreError};

/// One thing the state knows of a reader.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReaderRecord {
    /// The notifier; `*` for an unsubscribe from every notifier.
    pub notifier: String,
    /// Lower case, as addresses compare.
    pub address: String,
    /// `signed_up` or `unsubscribed`.
    pub state: String,
    /// A sign-up's address as typed, display name included (empty for an unsubscribe).
    #[serde(default)]
    pub mailbox: String,
    /// A sign-up's category paths, `|`-separated in CSV (empty: everything).
    #[serde(default)]
    pub categories: Vec<String>,
    /// When it was confirmed, or when the address unsubscribed (RFC 3339).
    pub at: String,
    /// Why an unsubscribe from everything was recorded by tidings, not by the reader:
    /// `bounced: …` or `complained: …`. Empty otherwise.
    #[serde(default)]
    pub reason: String,
}

/// What erasing an address removed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Erased {
    pub signups: u64,
    pub unsubscribes: u64,
    pub messages: u64,
    /// Unsubscribes kept under the address's hash.
    pub kept: u64,
}

/// The notifier an unsubscribe from every notifier is recorded under, and shown as.
const EVERY: (&str, &str) = ("", "*");

impl Store {
    /// Every sign-up and unsubscribe, by notifier and address.
    pub fn reader_records(&self) -> Result<Vec<ReaderRecord>, StoreError> {
        let mut records = Vec::new();
        for row in self.rows(
            "SELECT notifier, address, mailbox, categories, confirmed FROM signups ORDER BY notifier, address",
            &[],
        )? {
            let categories: String = row.get(3).map_err(|e| self.err(e))?;
            records.push(ReaderRecord {
                notifier: row.get(0).map_err(|e| self.err(e))?,
                address: row.get(1).map_err(|e| self.err(e))?,
                state: "signed_up".into(),
                mailbox: row.get(2).map_err(|e| self.err(e))?,
                categories: serde_json::from_str(&categories).unwrap_or_default(),
                at: row.get(4).map_err(|e| self.err(e))?,
                reason: String::new(),
            });
        }
        for row in self.rows(
            "SELECT notifier, address, at, COALESCE(reason, '') FROM unsubscribes ORDER BY notifier, address",
            &[],
        )? {
            let notifier: String = row.get(0).map_err(|e| self.err(e))?;
            records.push(ReaderRecord {
                notifier: if notifier == EVERY.0 {
                    EVERY.1.into()
                } else {
                    notifier
                },
                address: row.get(1).map_err(|e| self.err(e))?,
                state: "unsubscribed".into(),
                mailbox: String::new(),
                categories: Vec::new(),
                at: row.get(2).map_err(|e| self.err(e))?,
                reason: row.get(3).map_err(|e| self.err(e))?,
            });
        }
        records.sort_by(|a, b| {
            (&a.address, &a.notifier, &a.state).cmp(&(&b.address, &b.notifier, &b.state))
        });
        Ok(records)
    }

    /// Records as [`Store::reader_records`] gives them, in one transaction: a sign-up
    /// replaces the one stored for its notifier and address, an unsubscribe is added. A
    /// record of another state is refused before anything is written.
    pub fn import_reader_records(&mut self, records: &[ReaderRecord]) -> Result<(), StoreError> {
        let tx = self.transaction()?;
        for record in records {
            let address = record.address.trim().to_lowercase();
            match record.state.as_str() {
                "signed_up" => {
                    let categories =
                        serde_json::to_string(&record.categories).expect("strings serialize");
                    let mailbox = if record.mailbox.trim().is_empty() {
                        &address
                    } else {
                        record.mailbox.trim()
                    };
                    tx.exec(
                        "INSERT INTO signups (notifier, address, mailbox, categories, confirmed)
                         VALUES (?1, ?2, ?3, ?4, ?5)
                         ON CONFLICT (notifier, address) DO UPDATE SET mailbox = ?3, categories = ?4, confirmed = ?5",
                        args![&record.notifier, &address, mailbox, categories, &record.at],
                    )?;
                }
                "unsubscribed" => {
                    let notifier = if record.notifier == EVERY.1 {
                        EVERY.0
                    } else {
                        record.notifier.as_str()
                    };
                    let reason = Some(record.reason.trim()).filter(|r| !r.is_empty());
                    tx.exec(
                        "INSERT INTO unsubscribes (address, notifier, at, reason) VALUES (?1, ?2, ?3, ?4) ON CONFLICT DO NOTHING",
                        args![&address, notifier, &record.at, reason],
                    )?;
                }
                other => {
                    return Err(StoreError::Db {
                        place: "import".into(),
                        message: format!(
                            "`{address}`: state `{other}` is not `signed_up` or `unsubscribed`"
                        ),
                    });
                }
            }
        }
        tx.commit()
    }

    /// Takes `address`'s sign-up off `notifier` (or off every notifier), without
    /// recording an unsubscribe: they may sign up again. Returns how many went.
    pub fn remove_signup(&self, address: &str, notifier: Option<&str>) -> Result<u64, StoreError> {
        self.exec(
            "DELETE FROM signups WHERE address = ?1 AND (?2 = '' OR notifier = ?2)",
            args![address.trim().to_lowercase(), notifier.unwrap_or("")],
        )
        .map(|n| n as u64)
    }

    /// Deletes every trace of `address`: its sign-ups, its unsubscribes (a bounce's
    /// included), its soft bounces, and every message to it (waiting, failed or sent), in
    /// one transaction. With `keep_suppression`, its unsubscribes (and their reasons) stay
    /// under the address's hash instead ([`super::subscribers::erased_key`]): a list that
    /// names the address again does not mail it.
    pub fn erase_reader(
        &mut self,
        address: &str,
        keep_suppression: bool,
    ) -> Result<Erased, StoreError> {
        let address = address.trim().to_lowercase();
        let erased = self.erase_rows(&address, keep_suppression)?;
        if !self.db.is_postgres() {
            // A SQLite file keeps what it deleted, and earlier versions of changed rows, in
            // its free space until it is overwritten, and its write-ahead log holds pages
            // as they were: the file is rebuilt and the log written back and emptied, so
            // no byte of the address is left. (PostgreSQL's vacuum does this in its time.)
            self.db
                .batch("VACUUM; PRAGMA wal_checkpoint(TRUNCATE);")
                .map_err(|e| self.err(e))?;
        }
        Ok(erased)
    }

    fn erase_rows(&mut self, address: &str, keep_suppression: bool) -> Result<Erased, StoreError> {
        let tx = self.transaction()?;
        let kept = if keep_suppression {
            tx.exec(
                "INSERT INTO unsubscribes (address, notifier, at, reason)
                 SELECT ?2, notifier, at, reason FROM unsubscribes WHERE address = ?1
                 ON CONFLICT DO NOTHING",
                args![address, super::subscribers::erased_key(address)],
            )?
        } else {
            0
        };
        let signups = tx.exec("DELETE FROM signups WHERE address = ?1", args![address])?;
        let unsubscribes = tx.exec(
            "DELETE FROM unsubscribes WHERE address = ?1",
            args![address],
        )?;
        // A message's recipe (`store::bodies`) holds the reader's words: it goes too.
        let recipes: Vec<(i64, String)> = tx
            .rows(
                "SELECT id, body FROM deliveries WHERE recipient = ?1",
                args![address],
            )?
            .iter()
            .map(|row| Ok((row.get(0)?, row.get(1)?)))
            .collect::<Result<_, super::db::DbError>>()
            .map_err(|e| tx.err(e))?;
        let messages = tx.exec(
            "DELETE FROM deliveries WHERE recipient = ?1",
            args![address],
        )?;
        super::bodies::drop_recipes(tx.db, &recipes).map_err(|e| tx.err(e))?;
        tx.exec(
            "DELETE FROM soft_bounces WHERE address = ?1",
            args![address],
        )?;
        tx.commit()?;
        Ok(Erased {
            signups: signups as u64,
            unsubscribes: unsubscribes as u64,
            messages: messages as u64,
            kept: kept as u64,
        })
    }
}
