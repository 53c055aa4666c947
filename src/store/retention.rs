//! Keeping the state small: what a sent message leaves behind is a short row (its body and
//! post list are dropped when it is sent), kept `state.keep_days` for `status` and then
//! pruned, its count added to `delivery_totals` so totals stay right. Old scan records go
//! too (the last one stays). A SQLite file gives the space back to the file system.
//!
//! Pending, retrying and failed messages are never pruned: they are work, or what an
//! operator must see.

use chrono::{DateTime, Utc};

use super::db::args;
use super::open::{Queries, Store, StoreError};
use super::stamp::stamp;

/// What a prune removed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Pruned {
    pub deliveries: u64,
    pub scans: u64,
    /// Message body parts no message names any more (see `store::bodies`).
    pub parts: u64,
    /// Pages a SQLite file gave back to the file system.
    pub pages_freed: u64,
}

/// Rows sent or skipped before the cutoff (sent ones by when they were made: a message is
/// sent minutes after it is made, and `created` is indexed).
const DONE: &str = "status IN ('sent', 'skipped') AND created < ?1";

impl Store {
    /// Prunes what is older than `keep` at `now` (see the module's note).
    pub fn prune(
        &mut self,
        now: DateTime<Utc>,
        keep: chrono::Duration,
    ) -> Result<Pruned, StoreError> {
        let Some(cutoff) = now.checked_sub_signed(keep) else {
            return Ok(Pruned::default());
        };
        let cutoff = stamp(cutoff);
        let tx = self.transaction()?;
        tx.exec(
            &format!(
                "INSERT INTO delivery_totals (notifier, status, count)
                 SELECT notifier, status, COUNT(*) FROM deliveries WHERE {DONE} GROUP BY notifier, status
                 ON CONFLICT (notifier, status) DO UPDATE SET count = delivery_totals.count + excluded.count"
            ),
            args![cutoff.clone()],
        )?;
        let deliveries = tx.exec(
            &format!("DELETE FROM deliveries WHERE {DONE}"),
            args![cutoff.clone()],
        )?;
        let scans = tx.exec(
            "DELETE FROM scans WHERE at < ?1 AND id < (SELECT MAX(id) FROM scans)",
            args![cutoff],
        )?;
        if let Some(kept) = now.checked_sub_signed(super::bounces::EVENT_KEYS_KEPT) {
            tx.exec(
                "DELETE FROM bounce_events WHERE at < ?1",
                args![stamp(kept)],
            )?;
        }
        let parts = super::bodies::prune_parts(tx.db, now).map_err(|e| tx.err(e))?;
        tx.commit()?;
        let pages_freed = if deliveries + scans > 0 || parts > 0 {
            self.give_space_back()?
        } else {
            0
        };
        Ok(Pruned {
            deliveries: deliveries as u64,
            scans: scans as u64,
            parts,
            pages_freed,
        })
    }

    /// A SQLite file's free pages back to the file system: at once on a file made with
    /// incremental vacuum (every file this version makes), and by one full `VACUUM` on an
    /// older file once its free pages are a quarter of it (which also switches it over).
    /// PostgreSQL's autovacuum does this itself.
    pub fn give_space_back(&self) -> Result<u64, StoreError> {
        if self.db.is_postgres() {
            return Ok(0);
        }
        let pragma = |name: &str| -> Result<i64, StoreError> {
            self.one(&format!("PRAGMA {name}"), &[])?
                .get(0)
                .map_err(|e| self.err(e))
        };
        let free = pragma("freelist_count")?;
        match pragma("auto_vacuum")? {
            // Stepped to the end, as rows: each step frees one page (a batch would stop
            // after the first).
            2 if free > 0 => {
                self.rows("PRAGMA incremental_vacuum", &[])?;
            }
            _ if free > 0 && free * 4 >= pragma("page_count")? => {
                tracing::info!(
                    free_pages = free,
                    "giving the state file's free space back (once, then as it goes)"
                );
                self.db
                    .batch("PRAGMA auto_vacuum = INCREMENTAL; VACUUM;")
                    .map_err(|e| self.err(e))?;
            }
            _ => return Ok(0),
        }
        Ok(u64::try_from(free - pragma("freelist_count")?).unwrap_or(0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::NewMessage;
    use crate::store::testing::{at, stores};

    fn message(id: &str, body: &str) -> NewMessage {
        NewMessage {
            message_id: id.into(),
            notifier: "letters".into(),
            kind: "digest".into(),
            post_ids: vec!["a".into(), "b".into()],
            body: body.into(),
            recipient: Some(format!("{id}@example.org")),
            seq: 0,
        }
    }

    #[test]
    fn old_sent_rows_go_their_counts_stay_and_work_is_never_pruned() {
        for (mut store, _dir) in stores() {
            let tx = store.transaction().unwrap();
            tx.know_notifier("letters", at(0)).unwrap();
            for id in ["old_sent", "old_failed", "old_pending", "new_sent"] {
                let made = if id.starts_with("old") { at(1) } else { at(20) };
                tx.enqueue_delivery(&message(id, "x".repeat(1000).as_str()), made)
                    .unwrap();
            }
            tx.commit().unwrap();
            let ids = |store: &Store| -> Vec<(String, i64)> {
                store
                    .due(at(23))
                    .unwrap()
                    .into_iter()
                    .map(|d| (d.message_id, d.id))
                    .collect()
            };
            for (message_id, id) in ids(&store) {
                match message_id.as_str() {
                    "old_sent" | "new_sent" => store.mark_sent(id, at(21)).unwrap(),
                    "old_failed" => store.mark_failed_attempt(id, "HTTP 550", None).unwrap(),
                    _ => {}
                }
            }
            let before = store.notifier_status("letters").unwrap();
            assert_eq!((before.sent, before.failed, before.pending), (2, 1, 1));
            // Kept two hours: the row made at 01:00 goes, the one made at 20:00 stays.
            let pruned = store.prune(at(22), chrono::Duration::hours(2)).unwrap();
            assert_eq!(pruned.deliveries, 1);
            let after = store.notifier_status("letters").unwrap();
            assert_eq!((after.sent, after.failed, after.pending), (2, 1, 1));
            let counts = store.counts().unwrap();
            assert!(
                counts
                    .deliveries
                    .contains(&("letters".into(), "sent".into(), 2)),
                "{:?}",
                counts.deliveries
            );
            // Again: nothing more to prune, the totals are not counted twice.
            store.prune(at(22), chrono::Duration::hours(2)).unwrap();
            assert_eq!(store.notifier_status("letters").unwrap().sent, 2);
            let left: Vec<String> = ids(&store).into_iter().map(|(m, _)| m).collect();
            assert_eq!(left, ["old_pending"], "pending work stays");
        }
    }
}

#[cfg(test)]
mod parts {
    use super::*;
    use crate::store::NewMessage;
    use crate::store::testing::{at, digest_body, stores};

    /// A digest-like body: the same long text for everyone, with the reader's own lines.
    fn digest(reader: &str) -> NewMessage {
        NewMessage {
            message_id: format!("m-{reader}"),
            notifier: "letters".into(),
            kind: "digest".into(),
            post_ids: vec!["a".into()],
            body: digest_body(reader),
            recipient: Some(reader.into()),
            seq: 0,
        }
    }

    fn count(store: &Store, sql: &str) -> i64 {
        store.one(sql, &[]).unwrap().get(0).unwrap()
    }

    #[test]
    fn shared_parts_are_stored_once_read_back_whole_and_pruned_when_no_message_names_them() {
        for (mut store, _dir) in stores() {
            let messages: Vec<NewMessage> = (0..20)
                .map(|i| digest(&format!("reader{i}@example.org")))
                .collect();
            let tx = store.transaction().unwrap();
            tx.know_notifier("letters", at(0)).unwrap();
            tx.commit().unwrap();
            store.store_composed(&messages, &[], at(1)).unwrap();
            let whole: usize = messages.iter().map(|m| m.body.len()).sum();
            let kept = count(&store, "SELECT SUM(LENGTH(body)) FROM deliveries")
                + count(&store, "SELECT SUM(LENGTH(text)) FROM body_parts")
                + count(&store, "SELECT SUM(LENGTH(text)) FROM body_recipes");
            assert!(kept * 5 < whole as i64, "kept {kept} of {whole}");
            let unsent = store.unsent("letters").unwrap();
            assert_eq!(unsent.len(), 20);
            for (delivery, message) in unsent.iter().zip(&messages) {
                assert_eq!(delivery.body, message.body, "read back byte for byte");
            }
            // The pieces they share, and a recipe per message.
            let shared = count(&store, "SELECT COUNT(*) FROM body_parts");
            assert!(shared > 0);
            assert_eq!(count(&store, "SELECT COUNT(*) FROM body_recipes"), 20);
            assert!(
                count(&store, "SELECT MAX(LENGTH(body)) FROM deliveries") < 24,
                "a row keeps a pointer"
            );
            // Pending work keeps its parts; so does a failed message once the rest is sent.
            assert_eq!(
                store
                    .prune(at(5), chrono::Duration::hours(1))
                    .unwrap()
                    .parts,
                0
            );
            let ids: Vec<i64> = store.due(at(5)).unwrap().iter().map(|d| d.id).collect();
            store.mark_failed_attempt(ids[0], "HTTP 550", None).unwrap();
            for id in &ids[1..] {
                store.mark_sent(*id, at(5)).unwrap();
            }
            assert_eq!(
                store
                    .prune(at(6), chrono::Duration::hours(1))
                    .unwrap()
                    .parts,
                0
            );
            // A sent message's recipe goes at once; the failed one keeps its own.
            assert_eq!(count(&store, "SELECT COUNT(*) FROM body_recipes"), 1);
            assert_eq!(count(&store, "SELECT COUNT(*) FROM body_parts"), shared);
            // Once no row names them (and the grace after their last use is over), they go.
            store.retry_failed("letters", at(7)).unwrap();
            for d in store.due(at(7)).unwrap() {
                store.mark_sent(d.id, at(7)).unwrap();
            }
            // Within the grace after their last use: kept.
            let mut soon = at(1) + crate::store::bodies::PART_GRACE - chrono::TimeDelta::minutes(1);
            assert_eq!(
                store.prune(soon, chrono::Duration::days(30)).unwrap().parts,
                0
            );
            soon += chrono::TimeDelta::minutes(2);
            let pruned = store.prune(soon, chrono::Duration::days(30)).unwrap();
            assert_eq!(pruned.parts as i64, shared);
            assert_eq!(count(&store, "SELECT COUNT(*) FROM body_parts"), 0);
        }
    }
}

#[cfg(test)]
mod space {
    use super::*;
    use crate::store::NewMessage;
    use crate::store::testing::at;

    #[test]
    fn a_sqlite_file_gives_back_what_sent_bodies_held() {
        for older_file in [false, true] {
            gives_back(older_file);
        }
    }

    /// `older_file`: made before files gave space back as they went (no auto-vacuum), it
    /// is vacuumed once and switched over.
    fn gives_back(older_file: bool) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.db");
        if older_file {
            let conn = rusqlite::Connection::open(&path).unwrap();
            conn.execute_batch("PRAGMA auto_vacuum = NONE; CREATE TABLE t (x);")
                .unwrap();
        }
        let mut store = Store::open(&path).unwrap();
        let tx = store.transaction().unwrap();
        tx.know_notifier("letters", at(0)).unwrap();
        for n in 0..300 {
            let message = NewMessage {
                message_id: format!("m{n}"),
                notifier: "letters".into(),
                kind: "digest".into(),
                post_ids: vec!["a".into()],
                body: "x".repeat(30_000),
                recipient: Some(format!("r{n}@example.org")),
                seq: 0,
            };
            tx.enqueue_delivery(&message, at(1)).unwrap();
        }
        tx.commit().unwrap();
        for d in store.due(at(2)).unwrap() {
            store.mark_sent(d.id, at(2)).unwrap();
        }
        let pages = |store: &Store, name: &str| -> i64 {
            store
                .one(&format!("PRAGMA {name}"), &[])
                .unwrap()
                .get(0)
                .unwrap()
        };
        let before = pages(&store, "page_count");
        let freed = store.give_space_back().unwrap();
        let after = pages(&store, "page_count");
        assert!(freed > 2000, "freed {freed} of {before} pages");
        assert_eq!(pages(&store, "freelist_count"), 0);
        assert_eq!(pages(&store, "auto_vacuum"), 2);
        assert!(after < before / 10, "{after} of {before} pages left");
    }
}
