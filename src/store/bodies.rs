//! How a large message body is kept: as pieces, what several readers' messages share
//! stored once, and a recipe of its own that says how to put the message back together.
//!
//! A digest to 100,000 readers is 100,000 messages of ~40 KB that differ in a few places
//! (the `To`, the signature, the unsubscribe link): stored whole, that is 4 GB written to
//! the state and given back minutes later. Here a body of [`PACKED_FROM`] bytes or more is
//! cut where its content says (a rolling hash, so an insertion moves only the cuts around
//! it), and a piece that messages of two different recipients in the same stored batch
//! both carry goes into `body_parts` under its SHA-256. The message's recipe (the shared
//! pieces' hashes, its other pieces inline) goes into `body_recipes`, appended in order
//! like the outbox itself, and the row keeps only a pointer to it: a row is small from the
//! start, so once sent it leaves no half-empty page behind. Reading a body assembles the
//! same bytes every time: a retry sends exactly what was signed. Nothing personal is shared
//! (a piece becomes a part only when two recipients got it), and a recipe is its message's
//! alone: it goes when the message is sent, skipped or erased.
//!
//! A part is pruned once no recipe names it and it was last stored more than
//! [`PART_GRACE`] ago (a batch being stored on another node may name it without having
//! committed yet: storing a part refreshes its `used` time); so is a recipe no row points
//! to (left by a crash between the two writes).

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use base64::Engine;
use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

use super::db::{Db, DbError, args};
use super::stamp::stamp;

/// Bodies this long or longer are kept as pieces (chat messages, a confirmation mail stay
/// whole).
pub const PACKED_FROM: usize = 4096;

/// What a pointer to a recipe starts with: no body tidings makes (JSON) can.
const POINTER: char = '\u{1}';

/// A piece is at least this long (the last may be shorter) and at most [`MAX_PIECE`]; the
/// rolling hash cuts on average every kilobyte between.
const MIN_PIECE: usize = 256;
const MAX_PIECE: usize = 8 << 10;
const CUT_MASK: u64 = 0x3ff << 54;

/// How long an unreferenced part (or recipe) is kept after it was last stored.
pub const PART_GRACE: chrono::TimeDelta = chrono::TimeDelta::hours(1);

/// Bytes of parts a process keeps in memory (a mailing's shared parts are read once, not
/// once per reader).
const CACHE_BYTES: usize = 16 << 20;

/// A hash's length as written: SHA-256, base64url without padding.
const HASH_LEN: usize = 43;

/// The gear table of the rolling hash: fixed pseudo-random words (splitmix64), so cuts are
/// the same in every process.
const GEAR: [u64; 256] = {
    let mut table = [0u64; 256];
    let mut state: u64 = 0x7469_6469_6e67_7321;
    let mut i = 0;
    while i < 256 {
        state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        table[i] = z ^ (z >> 31);
        i += 1;
    }
    table
};

/// `text` cut where its content says, each cut on a character boundary.
fn pieces(text: &str) -> Vec<&str> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len() / 2048 + 1);
    let (mut start, mut hash) = (0, 0u64);
    for (i, byte) in bytes.iter().enumerate() {
        hash = (hash << 1).wrapping_add(GEAR[*byte as usize]);
        let len = i + 1 - start;
        if len >= MIN_PIECE
            && (hash & CUT_MASK == 0 || len >= MAX_PIECE)
            && text.is_char_boundary(i + 1)
        {
            out.push(&text[start..=i]);
            start = i + 1;
            hash = 0;
        }
    }
    if start < bytes.len() {
        out.push(&text[start..]);
    }
    out
}

fn hash_of(piece: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(piece.as_bytes()))
}

/// A body as a row will keep it: whole, or as a recipe to store apart.
#[derive(Debug, PartialEq, Eq)]
pub enum Kept {
    Whole(String),
    Recipe(String),
}

/// A batch's bodies as rows keep them, and the shared parts to store with them.
pub struct Packed<'a> {
    pub bodies: Vec<Kept>,
    pub parts: HashMap<String, &'a str>,
}

/// Packs a batch of bodies, each with its recipient (or anything that tells one reader
/// from another). A piece carried by two recipients' bodies becomes a part.
///
/// Pieces are told apart by a fast 128-bit hash first; only a piece found shared is hashed
/// with SHA-256, the name it is stored and read under. A crafted collision of the fast hash
/// could at most keep a shared piece inline; what a recipe assembles is always its own
/// pieces.
pub fn pack<'a>(batch: &[(&'a str, &'a str)]) -> Packed<'a> {
    let cut: Vec<Option<Vec<(&str, u128)>>> = batch
        .iter()
        .map(|(body, _)| {
            (body.len() >= PACKED_FROM).then(|| {
                pieces(body)
                    .into_iter()
                    .map(|piece| (piece, xxhash_rust::xxh3::xxh3_128(piece.as_bytes())))
                    .collect()
            })
        })
        .collect();
    // Which recipient first carried each piece; once a second one did, the piece's name
    // and the text that name is the SHA-256 of.
    let mut carriers: HashMap<u128, Carried> = HashMap::new();
    for ((_, recipient), pieces) in batch.iter().zip(&cut) {
        for (piece, fast) in pieces.iter().flatten() {
            let seen = carriers.entry(*fast).or_insert((recipient, None));
            if seen.0 != *recipient && seen.1.is_none() {
                seen.1 = Some((hash_of(piece), piece));
            }
        }
    }
    let mut parts = HashMap::new();
    let bodies = batch
        .iter()
        .zip(&cut)
        .map(|((body, _), pieces)| {
            let Some(pieces) = pieces else {
                return Kept::Whole((*body).to_owned());
            };
            let mut recipe = String::with_capacity(body.len() / 4);
            for (piece, fast) in pieces {
                match carriers.get(fast).and_then(|c| c.1.as_ref()) {
                    Some((name, named)) if named == piece => {
                        recipe.push('#');
                        recipe.push_str(name);
                        parts.insert(name.clone(), *piece);
                    }
                    _ => {
                        recipe.push('+');
                        recipe.push_str(&piece.len().to_string());
                        recipe.push(':');
                        recipe.push_str(piece);
                    }
                }
            }
            Kept::Recipe(recipe)
        })
        .collect();
    Packed { bodies, parts }
}

/// The first recipient of a piece, and its name and text once a second recipient has it.
type Carried<'a> = (&'a str, Option<(String, &'a str)>);

/// The recipe a row's body points to, if it does.
fn pointer(body: &str) -> Option<i64> {
    body.strip_prefix(POINTER)?.parse().ok()
}

/// Stores a batch's parts (in the batch's transaction), refreshing the `used` time of those
/// already there.
pub fn store_parts(
    db: &Db,
    parts: &HashMap<String, &str>,
    now: DateTime<Utc>,
) -> Result<(), DbError> {
    let now = stamp(now);
    for (hash, text) in parts {
        db.exec(
            "INSERT INTO body_parts (hash, text, used) VALUES (?1, ?2, ?3)
             ON CONFLICT (hash) DO UPDATE SET used = excluded.used",
            args![hash.as_str(), *text, now.as_str()],
        )?;
    }
    Ok(())
}

/// Stores a recipe; returns what its row keeps instead of the body.
pub fn store_recipe(db: &Db, recipe: &str, now: DateTime<Utc>) -> Result<String, DbError> {
    let id: i64 = db
        .one(
            "INSERT INTO body_recipes (text, created) VALUES (?1, ?2) RETURNING id",
            args![recipe, stamp(now)],
        )?
        .get(0)?;
    Ok(format!("{POINTER}{id}"))
}

/// The parts a process has read, by hash (a part never changes: what a hash names is fixed).
#[derive(Default)]
pub struct Cache(Mutex<(HashMap<String, Arc<str>>, usize)>);

impl Cache {
    fn get(&self, hash: &str) -> Option<Arc<str>> {
        self.0.lock().ok()?.0.get(hash).cloned()
    }

    fn put(&self, hash: &str, text: Arc<str>) {
        if let Ok(mut cache) = self.0.lock() {
            if cache.1 + text.len() > CACHE_BYTES {
                *cache = Default::default();
            }
            cache.1 += text.len();
            cache.0.insert(hash.to_owned(), text);
        }
    }
}

/// A row's body as it was made: a recipe's pieces put together, any other body as it is.
pub fn unpack(db: &Db, cache: &Cache, body: String) -> Result<String, DbError> {
    let Some(id) = pointer(&body) else {
        return Ok(body);
    };
    let recipe = read_recipe(db, id)?;
    let broken = || DbError(format!("the recipe of a message body ({id}) is broken"));
    let mut rest = recipe.as_str();
    let mut out = String::with_capacity(rest.len() * 8);
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix('#') {
            let hash = after.get(..HASH_LEN).ok_or_else(broken)?;
            out.push_str(&part(db, cache, hash)?);
            rest = &after[HASH_LEN..];
        } else if let Some(after) = rest.strip_prefix('+') {
            let (len, after) = after.split_once(':').ok_or_else(broken)?;
            let len: usize = len.parse().map_err(|_| broken())?;
            out.push_str(after.get(..len).ok_or_else(broken)?);
            rest = &after[len..];
        } else {
            return Err(broken());
        }
    }
    Ok(out)
}

fn read_recipe(db: &Db, id: i64) -> Result<String, DbError> {
    db.rows("SELECT text FROM body_recipes WHERE id = ?1", args![id])?
        .first()
        .map(|row| row.get::<String>(0))
        .transpose()?
        .ok_or_else(|| DbError(format!("a message body's recipe {id} is missing")))
}

fn part(db: &Db, cache: &Cache, hash: &str) -> Result<Arc<str>, DbError> {
    if let Some(text) = cache.get(hash) {
        return Ok(text);
    }
    let text: Arc<str> = db
        .rows("SELECT text FROM body_parts WHERE hash = ?1", args![hash])?
        .first()
        .map(|row| row.get::<String>(0))
        .transpose()?
        .ok_or_else(|| DbError(format!("a message body's part {hash} is missing")))?
        .into();
    cache.put(hash, text.clone());
    Ok(text)
}

/// Deletes the recipe `body` points to, which no row holds (a message already stored).
pub fn forget(db: &Db, body: &str) -> Result<(), DbError> {
    if let Some(recipe) = pointer(body) {
        db.exec("DELETE FROM body_recipes WHERE id = ?1", args![recipe])?;
    }
    Ok(())
}

/// Deletes the recipes of rows that no longer point to them (just sent, skipped or
/// erased, or never stored): `rows` are (id, body as it was). A recipe is its message's
/// alone.
pub fn drop_recipes(db: &Db, rows: &[(i64, String)]) -> Result<(), DbError> {
    for (id, body) in rows {
        if let Some(recipe) = pointer(body) {
            db.exec(
                "DELETE FROM body_recipes WHERE id = ?1
                 AND NOT EXISTS (SELECT 1 FROM deliveries WHERE id = ?2 AND body = ?3)",
                args![recipe, *id, body.as_str()],
            )?;
        }
    }
    Ok(())
}

/// The hashes a recipe names.
fn named(recipe: &str, into: &mut HashSet<String>) {
    let mut rest = recipe;
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix('#') {
            let Some(hash) = after.get(..HASH_LEN) else {
                return;
            };
            into.insert(hash.to_owned());
            rest = &after[HASH_LEN..];
        } else if let Some((len, after)) = rest.strip_prefix('+').and_then(|a| a.split_once(':')) {
            match len.parse::<usize>().ok().and_then(|n| after.get(n..)) {
                Some(next) => rest = next,
                None => return,
            }
        } else {
            return;
        }
    }
}

/// The first column of what `sql` (with one parameter) selects.
fn first_column<T: super::db::FromValue, C: FromIterator<T>>(
    db: &Db,
    sql: &str,
    param: &str,
) -> Result<C, DbError> {
    db.rows(sql, args![param])?
        .iter()
        .map(|row| row.get(0))
        .collect()
}

/// Deletes the parts no recipe names, and the recipes no row points to, that were last
/// stored before `now` less [`PART_GRACE`]; returns how many went. A recipe that names a
/// part was stored with it (or before it was stored again), so a part that old is named,
/// if at all, by a recipe as old: only those are read.
pub fn prune_parts(db: &Db, now: DateTime<Utc>) -> Result<u64, DbError> {
    let Some(cutoff) = now.checked_sub_signed(PART_GRACE) else {
        return Ok(0);
    };
    let cutoff = stamp(cutoff);
    let old_recipes: Vec<i64> = first_column(
        db,
        "SELECT id FROM body_recipes WHERE created < ?1",
        &cutoff,
    )?;
    let old_parts: HashSet<String> =
        first_column(db, "SELECT hash FROM body_parts WHERE used < ?1", &cutoff)?;
    if old_recipes.is_empty() && old_parts.is_empty() {
        return Ok(0);
    }
    let mut pointed = HashSet::new();
    for row in db.rows(
        "SELECT body FROM deliveries WHERE body LIKE ?1",
        args![format!("{POINTER}%")],
    )? {
        pointed.extend(pointer(&row.get::<String>(0)?));
    }
    let mut named_parts = HashSet::new();
    let mut gone = 0;
    for id in old_recipes {
        if pointed.contains(&id) {
            named(&read_recipe(db, id)?, &mut named_parts);
        } else {
            gone += db.exec("DELETE FROM body_recipes WHERE id = ?1", args![id])?;
        }
    }
    for hash in old_parts.iter().filter(|h| !named_parts.contains(*h)) {
        gone += db.exec(
            "DELETE FROM body_parts WHERE hash = ?1 AND used < ?2",
            args![hash.as_str(), cutoff.as_str()],
        )?;
    }
    Ok(gone)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::testing::digest_body as body;

    fn recipes(packed: &Packed<'_>) -> Vec<String> {
        packed
            .bodies
            .iter()
            .map(|kept| match kept {
                Kept::Recipe(recipe) => recipe.clone(),
                Kept::Whole(_) => panic!("a large body is kept as a recipe"),
            })
            .collect()
    }

    #[test]
    fn cuts_follow_the_content_not_the_offset() {
        let a = body("a@example.org");
        let b = body("someone.else@example.org");
        let (pa, pb) = (pieces(&a), pieces(&b));
        assert_eq!(pa.concat(), a);
        let shared = pa.iter().filter(|p| pb.contains(p)).count();
        assert!(
            shared * 10 >= pa.len() * 8,
            "{shared} of {} pieces shared",
            pa.len()
        );
        assert!(pa.iter().all(|p| p.len() <= MAX_PIECE));
    }

    #[test]
    fn a_part_is_what_two_recipients_share_and_nothing_personal() {
        let readers = ["a@example.org", "b@example.org", "c@example.org"];
        let bodies: Vec<String> = readers.iter().map(|r| body(r)).collect();
        let batch: Vec<(&str, &str)> = bodies.iter().map(String::as_str).zip(readers).collect();
        let packed = pack(&batch);
        assert!(!packed.parts.is_empty());
        assert!(packed.parts.values().all(|p| !p.contains("@example.org")));
        for (recipe, whole) in recipes(&packed).iter().zip(&bodies) {
            assert!(
                recipe.len() * 4 < whole.len(),
                "{} of {}",
                recipe.len(),
                whole.len()
            );
        }
        // One recipient's two messages share nothing with anyone.
        let alone = pack(&[(&bodies[0], "a"), (&bodies[0], "a")]);
        assert!(alone.parts.is_empty());
        // Small bodies stay as they are.
        assert_eq!(
            pack(&[("{}", "a"), ("{}", "b")]).bodies,
            [Kept::Whole("{}".into()), Kept::Whole("{}".into())]
        );
    }

    #[test]
    fn a_recipe_names_its_parts_and_a_broken_one_names_nothing_twice() {
        let bodies: Vec<String> = ["a", "b"].iter().map(|r| body(r)).collect();
        let packed = pack(&[(&bodies[0], "a"), (&bodies[1], "b")]);
        let mut names = HashSet::new();
        named(&recipes(&packed)[0], &mut names);
        assert_eq!(names, packed.parts.keys().cloned().collect::<HashSet<_>>());
        for broken in ["#short", "+99999:x", "+x:", "?", ""] {
            named(broken, &mut HashSet::new());
        }
        assert_eq!(pointer("\u{1}42"), Some(42));
        assert_eq!(pointer("{\"to\":1}"), None);
    }
}
