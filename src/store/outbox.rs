//! The outbox: every message that is owed to a receiver, and the queries delivery lanes
//! drain it with.
//!
//! A row is `pending` until the receiver accepts it (`sent`), trying again cannot help
//! (`failed`), or its recipient unsubscribed while it waited (`skipped`). A lane reads only
//! its own rows: one notifier's, or every confirmation mail. An ordered lane (webhooks, chat,
//! hubs) always looks at its oldest pending row, so a head waiting for a retry holds the rest;
//! an email lane looks at each recipient's oldest pending row, so one reader's refusal holds
//! up only that reader.

use chrono::{DateTime, Utc};

use super::db::{Db, DbError, Row, args};
use super::open::Queries;
use super::open::{Store, StoreError, Tx};
use super::stamp::{parse_stamp, stamp};
use super::{bodies, nodes};

/// One message in the outbox.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub id: i64,
    pub message_id: String,
    pub notifier: String,
    /// `post`, `digest`, `confirm` or `ping`.
    pub kind: String,
    /// Empty when a listing leaves bodies out.
    pub body: String,
    pub attempts: u32,
    /// Email: the recipient's address in lower case.
    pub recipient: Option<String>,
    pub next_attempt: DateTime<Utc>,
}

/// A new message for the outbox.
#[derive(Debug, Clone)]
pub struct NewMessage {
    pub message_id: String,
    pub notifier: String,
    pub kind: String,
    pub post_ids: Vec<String>,
    pub body: String,
    /// Email: the recipient (kept in lower case, as addresses compare).
    pub recipient: Option<String>,
    /// Its place in its lane: the composition's (0 for a message made outside one).
    pub seq: i64,
}

/// What became of one attempt, to record.
#[derive(Debug, Clone)]
pub enum Mark {
    /// The receiver accepted it.
    Sent { at: DateTime<Utc> },
    /// Try again at `next`.
    Retry { error: String, next: DateTime<Utc> },
    /// Given up, with the reason.
    Failed { error: String },
    /// Never to be sent: its reader unsubscribed while it waited.
    Skipped { reason: String },
    /// Held, not attempted: a setting is wrong. Looked at again at `until`.
    Halted { error: String, until: DateTime<Utc> },
}

/// Which rows a lane drains.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LaneRows {
    /// One notifier's rows (confirmation mail excluded), or with `None` every notifier's
    /// confirmation mail.
    pub notifier: Option<String>,
    /// The oldest row holds the rest (true), or each recipient's oldest row holds only that
    /// recipient's later ones (false).
    pub ordered: bool,
}

impl LaneRows {
    /// The SQL condition (parameter ?1 is the notifier, unused for confirmations).
    fn condition(&self) -> &'static str {
        match self.notifier {
            Some(_) => "d.notifier = ?1 AND d.kind != 'confirm' AND d.status = 'pending'",
            None => "(CAST(?1 AS TEXT) IS NULL) AND d.kind = 'confirm' AND d.status = 'pending'",
        }
    }
}

/// What a lane should do next.
#[derive(Debug, Clone)]
pub enum Next {
    /// Send these, in this order (each recipient's oldest; an ordered lane's one head).
    Send(Vec<Delivery>),
    /// Nothing is due before this time.
    WaitUntil(DateTime<Utc>),
    /// The lane is empty.
    Idle,
}

/// A row that is its recipient's oldest pending one (rows without a recipient stand alone).
const HEAD: &str = "NOT EXISTS (SELECT 1 FROM deliveries e WHERE e.notifier = d.notifier
    AND e.status = 'pending' AND e.recipient = d.recipient
    AND (e.seq < d.seq OR (e.seq = d.seq AND e.id < d.id))
    AND (e.kind = 'confirm') = (d.kind = 'confirm'))";

/// A row none of whose notifier's earlier notifications is still being composed (perhaps
/// on another node): a message never overtakes one that is not made yet.
const MADE_IN_ORDER: &str = "NOT EXISTS (SELECT 1 FROM compositions c WHERE c.notifier = d.notifier
    AND c.status = 'pending' AND COALESCE(c.seq, c.id) < d.seq)";

/// Pending rows, read through an index that holds every column a lane filters and orders
/// by: a row's own record is never read to choose it (its body comes before the columns
/// added later, so reading one means reading the whole message).
const PENDING: &str = "deliveries d INDEXED BY deliveries_pending";

/// A row's columns but its body (read by [`Store::with_bodies`] when it is sent).
const LISTED: &str =
    "d.id, d.message_id, d.notifier, '', d.attempts, d.kind, d.recipient, d.next_attempt";

/// A row not claimed by another node (or whose claim ran out): ?2 is now, ?4 this node.
const FREE: &str = "(d.claimed_until IS NULL OR d.claimed_until < ?2 OR d.claimed_by = ?4)";

fn row(r: &Row) -> Result<Delivery, DbError> {
    let next: String = r.get(7)?;
    Ok(Delivery {
        id: r.get(0)?,
        message_id: r.get(1)?,
        notifier: r.get(2)?,
        body: r.get(3)?,
        attempts: r.get(4)?,
        kind: r.get(5)?,
        recipient: r.get(6)?,
        next_attempt: parse_stamp(&next),
    })
}

fn deliveries_of(rows: &[Row]) -> Result<Vec<Delivery>, DbError> {
    rows.iter().map(row).collect()
}

/// Adds pending messages to the outbox, their large bodies packed (see `store::bodies`);
/// a message id is unique, so the same message queued twice is there once. Returns how
/// many were added.
pub(super) fn insert_all(
    db: &Db,
    messages: &[NewMessage],
    now: DateTime<Utc>,
) -> Result<usize, DbError> {
    let batch: Vec<(&str, &str)> = messages
        .iter()
        .map(|m| {
            (
                m.body.as_str(),
                m.recipient.as_deref().unwrap_or(&m.message_id),
            )
        })
        .collect();
    let packed = bodies::pack(&batch);
    bodies::store_parts(db, &packed.parts, now)?;
    let mut added = 0;
    for (message, kept) in messages.iter().zip(packed.bodies) {
        let body = match kept {
            bodies::Kept::Whole(body) => body,
            bodies::Kept::Recipe(recipe) => bodies::store_recipe(db, &recipe, now)?,
        };
        if insert(db, message, &body, now)? {
            added += 1;
        } else {
            // Already there (composed again after a crash): the new recipe is no one's.
            bodies::forget(db, &body)?;
        }
    }
    Ok(added)
}

/// Adds one pending message with its body as stored.
fn insert(db: &Db, message: &NewMessage, body: &str, now: DateTime<Utc>) -> Result<bool, DbError> {
    let posts = serde_json::to_string(&message.post_ids).unwrap_or_else(|_| "[]".into());
    db.exec(
        "INSERT INTO deliveries (message_id, notifier, kind, posts, body, status, next_attempt, created, recipient, seq)
         VALUES (?1, ?2, ?3, ?4, ?5, 'pending', ?6, ?6, ?7, ?8) ON CONFLICT DO NOTHING",
        args![
            &message.message_id,
            &message.notifier,
            &message.kind,
            posts,
            body,
            stamp(now),
            message.recipient.as_deref().map(str::to_lowercase),
            message.seq,
        ],
    )
    .map(|n| n > 0)
}

// Every mark applies to a pending row only and ends any claim on it: a node whose claim
// ran out while it sent cannot undo what the node that took over recorded.

fn mark_sent(db: &Db, id: i64, now: DateTime<Utc>) -> Result<(), DbError> {
    let was = pending_bodies(db, &[id])?;
    db.exec(
        "UPDATE deliveries SET status = 'sent', attempts = attempts + 1, sent = ?2, last_error = NULL, body = '', posts = '',
                halted = 0, claimed_by = NULL, claimed_until = NULL
         WHERE id = ?1 AND status = 'pending'",
        args![id, stamp(now)],
    )?;
    bodies::drop_recipes(db, &was)
}

/// The stored bodies of those of `ids` still pending that point to a recipe (whose recipe
/// goes once the row is marked done).
fn pending_bodies(db: &Db, ids: &[i64]) -> Result<Vec<(i64, String)>, DbError> {
    let mut found = Vec::new();
    for chunk in ids.chunks(200) {
        let marks: Vec<String> = (2..chunk.len() + 2).map(|i| format!("?{i}")).collect();
        let mut values = vec![super::db::Value::from(format!("{}%", '\u{1}'))];
        values.extend(chunk.iter().map(|id| super::db::Value::from(*id)));
        for row in db.rows(
            &format!(
                // By id: see `mark_all_sent`.
                "SELECT id, body FROM deliveries NOT INDEXED
                 WHERE id IN ({}) AND status = 'pending' AND body LIKE ?1",
                marks.join(", ")
            ),
            &values,
        )? {
            found.push((row.get(0)?, row.get(1)?));
        }
    }
    Ok(found)
}

/// Marks every row of `ids` sent at `at`, in one statement.
fn mark_all_sent(db: &Db, ids: &[i64], at: DateTime<Utc>) -> Result<(), DbError> {
    let was = pending_bodies(db, ids)?;
    for chunk in ids.chunks(200) {
        let marks: Vec<String> = (2..chunk.len() + 2).map(|i| format!("?{i}")).collect();
        let mut values = vec![super::db::Value::from(stamp(at))];
        values.extend(chunk.iter().map(|id| super::db::Value::from(*id)));
        db.exec(
            &format!(
                // By id (NOT INDEXED leaves the rowid): SQLite's planner would otherwise walk
                // the status index through every pending row, 100,000 in a large mailing,
                // once per batch of 200.
                "UPDATE deliveries NOT INDEXED SET status = 'sent', attempts = attempts + 1, sent = ?1, last_error = NULL,
                        body = '', posts = '', claimed_by = NULL, claimed_until = NULL
                 WHERE id IN ({}) AND status = 'pending'",
                marks.join(", ")
            ),
            &values,
        )?;
    }
    bodies::drop_recipes(db, &was)
}

fn mark_skipped(db: &Db, id: i64, reason: &str) -> Result<(), DbError> {
    let was = pending_bodies(db, &[id])?;
    db.exec(
        "UPDATE deliveries SET status = 'skipped', last_error = ?2, body = '', posts = '', claimed_by = NULL, claimed_until = NULL
         WHERE id = ?1 AND status = 'pending'",
        args![id, reason],
    )?;
    bodies::drop_recipes(db, &was)
}

/// Keeps the row pending with its attempts as they were (the receiver never judged it),
/// the reason shown in `status`.
fn mark_halted(db: &Db, id: i64, error: &str, until: DateTime<Utc>) -> Result<(), DbError> {
    db.exec(
        "UPDATE deliveries SET last_error = ?2, next_attempt = ?3, halted = 1, claimed_by = NULL, claimed_until = NULL
         WHERE id = ?1 AND status = 'pending'",
        args![id, error, stamp(until)],
    )
    .map(|_| ())
}

fn mark_failed_attempt(
    db: &Db,
    id: i64,
    error: &str,
    next: Option<DateTime<Utc>>,
) -> Result<(), DbError> {
    let (status, next_attempt) = match next {
        Some(next) => ("pending", Some(stamp(next))),
        None => ("failed", None),
    };
    db.exec(
        "UPDATE deliveries SET status = ?2, attempts = attempts + 1, last_error = ?3, halted = 0,
                next_attempt = COALESCE(CAST(?4 AS TEXT), next_attempt), claimed_by = NULL, claimed_until = NULL
         WHERE id = ?1 AND status = 'pending'",
        args![id, status, error, next_attempt],
    )
    .map(|_| ())
}

impl Store {
    /// What lane `rows` should do at `now`: at most `limit` rows to send, with their
    /// bodies, or when to look again.
    pub fn lane_next(
        &self,
        rows: &LaneRows,
        now: DateTime<Utc>,
        limit: usize,
    ) -> Result<Next, StoreError> {
        let next = if self.db.is_postgres() {
            self.claim_next(rows, now, limit)
        } else {
            self.select_next(rows, now, limit)
        };
        next.map_err(|e| self.err(e))
    }

    /// What lane `rows` would do at `now`, read without claiming anything (`status`).
    pub fn lane_peek(&self, rows: &LaneRows, now: DateTime<Utc>) -> Result<Next, StoreError> {
        self.select_next(rows, now, 1).map_err(|e| self.err(e))
    }

    /// One process sends from a SQLite file: the lane's next rows are read, not claimed.
    fn select_next(
        &self,
        rows: &LaneRows,
        now: DateTime<Utc>,
        limit: usize,
    ) -> Result<Next, DbError> {
        let condition = rows.condition();
        let notifier = rows.notifier.as_deref();
        // Rows are chosen without their bodies (a digest's are large, and a sort would
        // carry every one of them), then the chosen few are read whole.
        if rows.ordered {
            let head = self
                .db
                .row(
                    &format!(
                        "SELECT {LISTED} FROM {PENDING} WHERE {condition} ORDER BY d.id LIMIT 1"
                    ),
                    args![notifier],
                )?
                .map(|r| row(&r))
                .transpose()?;
            return Ok(match head {
                None => Next::Idle,
                Some(head) if head.next_attempt > now => Next::WaitUntil(head.next_attempt),
                Some(head) => Next::Send(self.with_bodies(vec![head])?),
            });
        }
        // Each recipient's oldest pending row; rows without a recipient stand alone.
        let ready = deliveries_of(&self.db.rows(
            &format!(
                "SELECT {LISTED} FROM {PENDING} WHERE {condition} AND {HEAD} AND {MADE_IN_ORDER}
                   AND d.next_attempt <= ?2
                 ORDER BY d.seq, d.id LIMIT ?3"
            ),
            args![notifier, stamp(now), limit],
        )?)?;
        if !ready.is_empty() {
            return Ok(Next::Send(self.with_bodies(ready)?));
        }
        let next: Option<String> = self
            .db
            .one(
                &format!(
                    "SELECT MIN(d.next_attempt) FROM {PENDING} WHERE {condition} AND {HEAD} AND {MADE_IN_ORDER}"
                ),
                args![notifier],
            )?
            .get(0)?;
        Ok(match next {
            Some(next) => Next::WaitUntil(parse_stamp(&next)),
            None => Next::Idle,
        })
    }

    /// Nodes sharing a PostgreSQL state claim the rows they send, for a lease
    /// (renewed by the heartbeat while the node lives): a row another node holds is
    /// skipped (`SKIP LOCKED` while it is being claimed, its claim after), and taken over
    /// when that claim runs out. An ordered lane's head claimed elsewhere holds the lane.
    fn claim_next(
        &self,
        rows: &LaneRows,
        now: DateTime<Utc>,
        limit: usize,
    ) -> Result<Next, DbError> {
        let condition = rows.condition();
        let notifier = rows.notifier.as_deref();
        let until = stamp(nodes::lease_end(now, self.lease));
        if rows.ordered {
            let head = self.db.row(
                &format!(
                    "SELECT {LISTED}, d.claimed_by, d.claimed_until, {MADE_IN_ORDER} FROM {PENDING}
                     WHERE {condition} ORDER BY d.seq, d.id LIMIT 1"
                ),
                args![notifier],
            )?;
            let Some(head) = head else {
                return Ok(Next::Idle);
            };
            let (claimed_by, claimed_until): (Option<String>, Option<String>) =
                (head.get(8)?, head.get(9)?);
            if !head.get::<bool>(10)? {
                return Ok(Next::Idle); // an earlier message is still being made
            }
            let head = row(&head)?;
            if head.next_attempt > now {
                return Ok(Next::WaitUntil(head.next_attempt));
            }
            if let (Some(by), Some(until)) = (claimed_by, claimed_until.map(|u| parse_stamp(&u)))
                && by != self.node
                && until >= now
            {
                return Ok(Next::WaitUntil(until));
            }
            let claimed = self.db.exec(
                "UPDATE deliveries SET claimed_by = ?4, claimed_until = ?3
                 WHERE id = ?1 AND status = 'pending'
                   AND (claimed_until IS NULL OR claimed_until < ?2 OR claimed_by = ?4)",
                args![head.id, stamp(now), until, &self.node],
            )?;
            if claimed == 0 {
                // Another node claimed it in between: look again shortly.
                return Ok(Next::WaitUntil(now + chrono::TimeDelta::seconds(1)));
            }
            return Ok(Next::Send(self.with_bodies(vec![head])?));
        }
        let mut claimed = deliveries_of(&self.db.rows(
            &format!(
                "UPDATE deliveries SET claimed_by = ?4, claimed_until = ?5
                 WHERE id IN (SELECT d.id FROM deliveries d
                     WHERE {condition} AND {HEAD} AND {MADE_IN_ORDER} AND d.next_attempt <= ?2 AND {FREE}
                     ORDER BY d.seq, d.id LIMIT ?3 FOR UPDATE SKIP LOCKED)
                 RETURNING id, message_id, notifier, body, attempts, kind, recipient, next_attempt"
            ),
            args![notifier, stamp(now), limit, &self.node, until],
        )?)?;
        if !claimed.is_empty() {
            claimed.sort_by_key(|d| d.id); // one recipient each: any order keeps theirs
            return Ok(Next::Send(self.unpacked(claimed)?));
        }
        let waits = self.db.one(
            &format!(
                "SELECT MIN(d.next_attempt), MIN(d.claimed_until) FROM deliveries d
                 WHERE {condition} AND {HEAD} AND {MADE_IN_ORDER}"
            ),
            args![notifier],
        )?;
        let (next, claim): (Option<String>, Option<String>) = (waits.get(0)?, waits.get(1)?);
        Ok(match next.map(|n| parse_stamp(&n)) {
            None => Next::Idle,
            Some(next) if next > now => Next::WaitUntil(next),
            // Due rows, all claimed by other nodes: look again when the first claim ends.
            Some(_) => Next::WaitUntil(
                claim
                    .map(|c| parse_stamp(&c))
                    .filter(|c| *c > now)
                    .unwrap_or_else(|| nodes::lease_end(now, self.lease)),
            ),
        })
    }

    /// Reads the bodies of rows listed without them.
    fn with_bodies(&self, mut list: Vec<Delivery>) -> Result<Vec<Delivery>, DbError> {
        for delivery in &mut list {
            let stored = self
                .db
                .one(
                    "SELECT body FROM deliveries WHERE id = ?1",
                    args![delivery.id],
                )?
                .get(0)?;
            delivery.body = bodies::unpack(&self.db, &self.parts, stored)?;
        }
        Ok(list)
    }

    /// Rows read with their bodies as stored, with their bodies as made.
    fn unpacked(&self, mut list: Vec<Delivery>) -> Result<Vec<Delivery>, DbError> {
        for delivery in &mut list {
            let stored = std::mem::take(&mut delivery.body);
            delivery.body = bodies::unpack(&self.db, &self.parts, stored)?;
        }
        Ok(list)
    }

    /// The last error of the lane's row that is due first (what the lane waits out).
    pub fn lane_head_error(&self, rows: &LaneRows) -> Result<Option<String>, StoreError> {
        // The ordered lane's head is its oldest row; an email lane waits for its earliest.
        let order = if rows.ordered {
            "d.id"
        } else {
            "d.next_attempt, d.id"
        };
        self.row(
            &format!(
                "SELECT d.last_error FROM deliveries d WHERE {} ORDER BY {order} LIMIT 1",
                rows.condition()
            ),
            args![rows.notifier.as_deref()],
        )?
        .map(|r| r.get::<Option<String>>(0))
        .transpose()
        .map(Option::flatten)
        .map_err(|e| self.err(e))
    }

    /// How many rows wait in a lane.
    pub fn lane_len(&self, rows: &LaneRows) -> Result<u64, StoreError> {
        self.one(
            &format!(
                "SELECT COUNT(*) FROM deliveries d WHERE {}",
                rows.condition()
            ),
            args![rows.notifier.as_deref()],
        )?
        .get(0)
        .map_err(|e| self.err(e))
    }

    /// Every pending delivery that is due, oldest first, without bodies (for tests and
    /// tools; lanes use [`Store::lane_next`]).
    pub fn due(&self, now: DateTime<Utc>) -> Result<Vec<Delivery>, StoreError> {
        self.deliveries(
            "''",
            "d.status = 'pending' AND d.next_attempt <= ?1",
            &stamp(now),
        )
    }

    /// A notifier's messages not yet sent (pending or retrying), oldest first, with bodies.
    pub fn unsent(&self, notifier: &str) -> Result<Vec<Delivery>, StoreError> {
        self.deliveries(
            "d.body",
            "d.status = 'pending' AND d.notifier = ?1",
            notifier,
        )
    }

    /// Deliveries matching `condition` (with one parameter), oldest first.
    fn deliveries(
        &self,
        body: &str,
        condition: &str,
        param: &str,
    ) -> Result<Vec<Delivery>, StoreError> {
        let sql = format!(
            "SELECT d.id, d.message_id, d.notifier, {body}, d.attempts, d.kind, d.recipient, d.next_attempt
             FROM {PENDING} WHERE {condition} ORDER BY d.id"
        );
        deliveries_of(&self.rows(&sql, args![param])?)
            .and_then(|list| self.unpacked(list))
            .map_err(|e| self.err(e))
    }

    /// Adds one message to the outbox (a sign-up's confirmation email).
    pub fn enqueue(&self, message: &NewMessage, now: DateTime<Utc>) -> Result<(), StoreError> {
        insert_all(&self.db, std::slice::from_ref(message), now)
            .map(|_| ())
            .map_err(|e| self.err(e))
    }

    /// Records a batch of attempts in one transaction (one sync to disk for the batch).
    /// The messages sent, the usual case, are marked by one statement: a busy lane costs
    /// one round trip per batch, not one per message (which a database over the network
    /// feels).
    pub fn record(&mut self, marks: &[(i64, Mark)]) -> Result<(), StoreError> {
        let sent: Vec<i64> = marks
            .iter()
            .filter_map(|(id, mark)| matches!(mark, Mark::Sent { .. }).then_some(*id))
            .collect();
        let last_sent = marks
            .iter()
            .filter_map(|(_, mark)| match mark {
                Mark::Sent { at } => Some(*at),
                _ => None,
            })
            .max();
        let tx = self.transaction()?;
        if let Some(at) = last_sent {
            mark_all_sent(tx.db, &sent, at).map_err(|e| tx.err(e))?;
        }
        for (id, mark) in marks {
            let id = *id;
            match mark {
                Mark::Sent { .. } => Ok(()),
                Mark::Retry { error, next } => mark_failed_attempt(tx.db, id, error, Some(*next)),
                Mark::Failed { error } => mark_failed_attempt(tx.db, id, error, None),
                Mark::Skipped { reason } => mark_skipped(tx.db, id, reason),
                Mark::Halted { error, until } => mark_halted(tx.db, id, error, *until),
            }
            .map_err(|e| tx.err(e))?;
        }
        tx.commit()
    }

    /// Which of `addresses` (lower case) unsubscribed from `notifier` (or from everything),
    /// in one query per hundred.
    pub fn unsubscribed_among(
        &self,
        notifier: &str,
        addresses: &[String],
    ) -> Result<std::collections::HashSet<String>, StoreError> {
        // An erased address's kept suppression is found by its hash.
        let keys: Vec<String> = addresses
            .iter()
            .map(|a| super::subscribers::erased_key(a))
            .collect();
        let mut found = self.addresses_among(
            "SELECT address FROM unsubscribes WHERE notifier IN ('', ?1) AND address IN",
            notifier,
            &[addresses, &keys[..]].concat(),
        )?;
        for (address, key) in addresses.iter().zip(&keys) {
            if found.remove(key) {
                found.insert(address.to_lowercase());
            }
        }
        Ok(found)
    }

    /// Which of `addresses` (lower case) signed up for `notifier` and confirmed.
    pub fn signed_up_among(
        &self,
        notifier: &str,
        addresses: &[String],
    ) -> Result<std::collections::HashSet<String>, StoreError> {
        self.addresses_among(
            "SELECT address FROM signups WHERE notifier = ?1 AND address IN",
            notifier,
            addresses,
        )
    }

    /// The addresses of `addresses` that `select` (ending in `address IN`, with `?1` the
    /// notifier) finds.
    fn addresses_among(
        &self,
        select: &str,
        notifier: &str,
        addresses: &[String],
    ) -> Result<std::collections::HashSet<String>, StoreError> {
        let mut found = std::collections::HashSet::new();
        for chunk in addresses.chunks(100) {
            let marks: Vec<String> = (2..chunk.len() + 2).map(|i| format!("?{i}")).collect();
            let mut values = vec![super::db::Value::from(notifier)];
            values.extend(
                chunk
                    .iter()
                    .map(|a| super::db::Value::from(a.to_lowercase())),
            );
            let rows = self.rows(&format!("{select} ({})", marks.join(", ")), &values)?;
            for row in rows {
                found.insert(row.get::<String>(0).map_err(|e| self.err(e))?);
            }
        }
        Ok(found)
    }

    /// The receiver accepted the message. Its body is dropped: a sent message is never sent
    /// again, and a daily digest to a thousand readers would otherwise grow the file by
    /// tens of megabytes a day.
    pub fn mark_sent(&self, id: i64, now: DateTime<Utc>) -> Result<(), StoreError> {
        mark_sent(&self.db, id, now).map_err(|e| self.err(e))
    }

    /// The attempt failed; try again at `next`, or give up (`None`), keeping the error.
    pub fn mark_failed_attempt(
        &self,
        id: i64,
        error: &str,
        next: Option<DateTime<Utc>>,
    ) -> Result<(), StoreError> {
        mark_failed_attempt(&self.db, id, error, next).map_err(|e| self.err(e))
    }

    /// Puts a notifier's failed deliveries back in the queue; returns how many. A row
    /// without a body (never made, by an older version) cannot be sent and stays failed.
    pub fn retry_failed(&self, notifier: &str, now: DateTime<Utc>) -> Result<usize, StoreError> {
        let held = self.release_halted(Some(notifier), now)?;
        let failed = self.exec(
            "UPDATE deliveries SET status = 'pending', attempts = 0, next_attempt = ?2
                 WHERE notifier = ?1 AND status = 'failed' AND body != ''",
            args![notifier, stamp(now)],
        )?;
        Ok(held + failed)
    }

    /// Makes rows held by a wrong setting (of `notifier`, or every one) due at `now`: the
    /// setting may be fixed (a restart, a reload, `retry`), and if it is not, the first
    /// attempt says so again without counting.
    pub fn release_halted(
        &self,
        notifier: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<usize, StoreError> {
        self.exec(
            "UPDATE deliveries SET halted = 0, next_attempt = ?2
                 WHERE halted = 1 AND status = 'pending' AND (CAST(?1 AS TEXT) IS NULL OR notifier = ?1)",
            args![notifier, stamp(now)],
        )
    }

    /// Whether `address` unsubscribed from `notifier` (or from everything).
    pub fn is_unsubscribed(&self, notifier: &str, address: &str) -> Result<bool, StoreError> {
        self.one(
            "SELECT EXISTS (SELECT 1 FROM unsubscribes WHERE address IN (?2, ?3) AND notifier IN ('', ?1))",
            args![
                notifier,
                address.to_lowercase(),
                super::subscribers::erased_key(address)
            ],
        )?
        .get(0)
        .map_err(|e| self.err(e))
    }
}

impl Tx<'_> {
    /// Adds a message to the outbox. The message id is unique, so queueing the same message
    /// twice is a no-op.
    pub fn enqueue_delivery(
        &self,
        message: &NewMessage,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        insert_all(self.db, std::slice::from_ref(message), now)
            .map(|_| ())
            .map_err(|e| self.err(e))
    }

    /// Queues a WebSub ping unless the same ping is still waiting to go: one ping tells a
    /// hub of every change since.
    pub fn enqueue_ping(
        &self,
        message_id: &str,
        notifier: &str,
        body: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let added = self.exec(
            "INSERT INTO deliveries (message_id, notifier, kind, posts, body, status, next_attempt, created)
             SELECT CAST(?1 AS TEXT), CAST(?2 AS TEXT), 'ping', '[]', CAST(?3 AS TEXT), 'pending', CAST(?4 AS TEXT), CAST(?4 AS TEXT)
             WHERE NOT EXISTS (SELECT 1 FROM deliveries WHERE notifier = ?2 AND status = 'pending' AND body = ?3)
             ON CONFLICT DO NOTHING",
            args![message_id, notifier, body, stamp(now)],
        )?;
        Ok(added > 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::testing::at;

    fn message(id: &str, notifier: &str, recipient: Option<&str>) -> NewMessage {
        NewMessage {
            message_id: id.into(),
            notifier: notifier.into(),
            kind: "post".into(),
            post_ids: vec!["a".into()],
            body: "{}".into(),
            recipient: recipient.map(str::to_owned),
            seq: 0,
        }
    }

    fn lane(notifier: &str, ordered: bool) -> LaneRows {
        LaneRows {
            notifier: Some(notifier.into()),
            ordered,
        }
    }

    fn ids(next: Next) -> Vec<String> {
        match next {
            Next::Send(list) => list.into_iter().map(|d| d.message_id).collect(),
            other => panic!("expected rows to send, got {other:?}"),
        }
    }

    #[test]
    fn outbox_lifecycle() {
        for (mut store, _dir) in super::super::testing::stores() {
            outbox_lifecycle_on(&mut store);
        }
    }

    fn outbox_lifecycle_on(store: &mut Store) {
        let tx = store.transaction().unwrap();
        tx.know_notifier("hook", at(0)).unwrap();
        tx.enqueue_delivery(&message("msg_1", "hook", None), at(1))
            .unwrap();
        tx.enqueue_delivery(&message("msg_1", "hook", None), at(1))
            .unwrap();
        tx.commit().unwrap();
        let due = store.due(at(1)).unwrap();
        assert_eq!(due.len(), 1, "the same message id is queued once");
        store
            .mark_failed_attempt(due[0].id, "HTTP 500", Some(at(3)))
            .unwrap();
        assert!(store.due(at(2)).unwrap().is_empty());
        let status = store.notifier_status("hook").unwrap();
        assert_eq!((status.pending, status.retrying), (0, 1));
        assert_eq!(status.last_error.as_deref(), Some("HTTP 500"));
        store
            .mark_failed_attempt(due[0].id, "HTTP 404", None)
            .unwrap();
        assert_eq!(store.notifier_status("hook").unwrap().failed, 1);
        assert_eq!(store.retry_failed("hook", at(4)).unwrap(), 1);
        let due = store.due(at(4)).unwrap();
        store.mark_sent(due[0].id, at(4)).unwrap();
        assert_eq!(store.notifier_status("hook").unwrap().sent, 1);
    }

    /// An ordered lane's head waiting for a retry holds its later messages, and only its
    /// own lane's: another notifier's messages are due as usual.
    #[test]
    fn a_waiting_head_holds_its_lane_only() {
        for (mut store, _dir) in super::super::testing::stores() {
            a_waiting_head_holds_its_lane_only_on(&mut store);
        }
    }

    fn a_waiting_head_holds_its_lane_only_on(store: &mut Store) {
        let batch = [
            message("m1", "slow", None),
            message("m2", "slow", None),
            message("f1", "fast", None),
        ];
        assert_eq!(store.store_composed(&batch, &[], at(1)).unwrap(), 3);
        let head = ids(store.lane_next(&lane("slow", true), at(1), 1).unwrap());
        assert_eq!(head, ["m1"]);
        let m1 = store.due(at(1)).unwrap()[0].id;
        store
            .mark_failed_attempt(m1, "HTTP 500", Some(at(5)))
            .unwrap();
        match store.lane_next(&lane("slow", true), at(2), 1).unwrap() {
            Next::WaitUntil(t) => assert_eq!(t, at(5)),
            other => panic!("m2 must wait behind m1: {other:?}"),
        }
        assert_eq!(
            ids(store.lane_next(&lane("fast", true), at(2), 1).unwrap()),
            ["f1"]
        );
        assert_eq!(
            ids(store.lane_next(&lane("slow", true), at(5), 1).unwrap()),
            ["m1"],
            "the head goes first when its time comes"
        );
        assert_eq!(store.lane_len(&lane("slow", true)).unwrap(), 2);
        assert_eq!(
            store
                .lane_head_error(&lane("slow", true))
                .unwrap()
                .as_deref(),
            Some("HTTP 500")
        );
    }

    /// An email lane holds a reader's later messages behind their refused one, and no one
    /// else's; confirmation mail is a lane of its own.
    #[test]
    fn an_email_lane_keeps_each_readers_order() {
        for (mut store, _dir) in super::super::testing::stores() {
            an_email_lane_keeps_each_readers_order_on(&mut store);
        }
    }

    fn an_email_lane_keeps_each_readers_order_on(store: &mut Store) {
        let mut confirm = message("c1", "mail", Some("New@Example.org"));
        confirm.kind = "confirm".into();
        let batch = [
            message("a1", "mail", Some("a@example.org")),
            message("b1", "mail", Some("b@example.org")),
            message("a2", "mail", Some("A@example.org")),
            confirm,
        ];
        store.store_composed(&batch, &[], at(1)).unwrap();
        let rows = lane("mail", false);
        assert_eq!(
            ids(store.lane_next(&rows, at(1), 10).unwrap()),
            ["a1", "b1"]
        );
        let a1 = store.due(at(1)).unwrap()[0].id;
        store.mark_failed_attempt(a1, "451", Some(at(3))).unwrap();
        assert_eq!(ids(store.lane_next(&rows, at(2), 10).unwrap()), ["b1"]);
        let confirmations = LaneRows {
            notifier: None,
            ordered: false,
        };
        assert_eq!(
            ids(store.lane_next(&confirmations, at(1), 10).unwrap()),
            ["c1"]
        );
        let due = store.due(at(2)).unwrap();
        let b1 = due.iter().find(|d| d.message_id == "b1").unwrap().id;
        store.mark_sent(b1, at(2)).unwrap();
        match store.lane_next(&rows, at(2), 10).unwrap() {
            Next::WaitUntil(t) => assert_eq!(t, at(3)),
            other => panic!("a2 waits behind a1: {other:?}"),
        }
        assert!(!store.is_unsubscribed("mail", "A@example.org").unwrap());
        store
            .unsubscribe("a@example.org", Some("mail"), at(2))
            .unwrap();
        assert!(store.is_unsubscribed("mail", "A@Example.org").unwrap());
    }
}
