//! How a large message body is kept: as pieces, what several readers' messages share
//! stored once, and a recipe of its own that says how to put the message back together.
//!
//! A digest to 100,000 readers is 100,000 messages of ~40 KB that differ in a few places
//! (the `To`, the signature, the unsubscribe link): stored whole, that is 4 GB written to
//! the state and given back minutes later. Here a body of [`PACKED_FROM`] bytes or more is
//! cut where its content says (a rolling hash, so an insertion moves only the cuts around
//! it), and a piece that messages of two different recipients in the same stored batch
//! both carry goes into `body_parts` under its SHA-256. The message's recipe (its key, the
//! shared pieces' hashes, its other pieces inline) goes there too, and the row keeps only
//! a pointer to it: a row is small from the start, so once sent it leaves no half-empty
//! page behind. Reading a body assembles the same bytes every time: a retry sends exactly
//! what was signed. Nothing personal is shared (a piece becomes a part only when two
//! recipients got it), and a recipe is its message's alone: it goes when the message is
//! sent, skipped or erased.
//!
//! A part is pruned once nothing names it and it was last stored more than [`PART_GRACE`]
//! ago (a batch being stored on another node may name it without having committed yet:
//! storing a part refreshes its `used` time).

use std::borrow::Cow;
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

/// What a pointer to a recipe, and a recipe, start with: no body tidings makes (JSON) can.
const RECIPE: char = '\u{1}';

/// A piece is at least this long (the last may be shorter) and at most [`MAX_PIECE`]; the
/// rolling hash cuts on average every kilobyte between.
const MIN_PIECE: usize = 256;
const MAX_PIECE: usize = 8 << 10;
const CUT_MASK: u64 = 0x3ff << 54;

/// How long an unreferenced part is kept after it was last stored.
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

/// A batch's bodies as rows keep them, and the parts to store with them.
pub struct Packed<'a> {
    pub bodies: Vec<String>,
    pub parts: HashMap<String, Cow<'a, str>>,
}

/// One body of a batch: its text, its recipient (or anything that tells one reader from
/// another), and its message's unique key (which makes its recipe its own).
pub struct Unpacked<'a> {
    pub body: &'a str,
    pub recipient: &'a str,
    pub key: &'a str,
}

/// Packs a batch of bodies. A piece carried by two recipients' bodies becomes a part.
///
/// Pieces are told apart by a fast 128-bit hash first; only a piece found shared is hashed
/// with SHA-256, the name it is stored and read under. A crafted collision of the fast hash
/// could at most keep a shared piece inline; what a recipe assembles is always its own
/// pieces.
pub fn pack<'a>(batch: &[Unpacked<'a>]) -> Packed<'a> {
    let cut: Vec<Option<Vec<(&str, u128)>>> = batch
        .iter()
        .map(|one| {
            (one.body.len() >= PACKED_FROM).then(|| {
                pieces(one.body)
                    .into_iter()
                    .map(|piece| (piece, xxhash_rust::xxh3::xxh3_128(piece.as_bytes())))
                    .collect()
            })
        })
        .collect();
    // Which recipient first carried each piece; once a second one did, the piece's name
    // and the text that name is the SHA-256 of.
    let mut carriers: HashMap<u128, Carried> = HashMap::new();
    for (one, pieces) in batch.iter().zip(&cut) {
        for (piece, fast) in pieces.iter().flatten() {
            let seen = carriers.entry(*fast).or_insert((one.recipient, None));
            if seen.0 != one.recipient && seen.1.is_none() {
                seen.1 = Some((hash_of(piece), piece));
            }
        }
    }
    let mut parts = HashMap::new();
    let bodies = batch
        .iter()
        .zip(&cut)
        .map(|(one, pieces)| {
            let Some(pieces) = pieces else {
                return one.body.to_owned();
            };
            let mut recipe = String::with_capacity(one.body.len() / 4);
            recipe.push(RECIPE);
            recipe.push_str(&one.key.replace('\n', " "));
            recipe.push('\n');
            for (piece, fast) in pieces {
                match carriers.get(fast).and_then(|c| c.1.as_ref()) {
                    Some((name, named)) if named == piece => {
                        recipe.push('#');
                        recipe.push_str(name);
                        parts.insert(name.clone(), Cow::Borrowed(*piece));
                    }
                    _ => {
                        recipe.push('+');
                        recipe.push_str(&piece.len().to_string());
                        recipe.push(':');
                        recipe.push_str(piece);
                    }
                }
            }
            let name = hash_of(&recipe);
            parts.insert(name.clone(), Cow::Owned(recipe));
            format!("{RECIPE}{name}")
        })
        .collect();
    Packed { bodies, parts }
}

/// The first recipient of a piece, and its name and text once a second recipient has it.
type Carried<'a> = (&'a str, Option<(String, &'a str)>);

/// The recipe a row's body points to, if it does.
fn pointer(body: &str) -> Option<&str> {
    body.strip_prefix(RECIPE).filter(|p| p.len() == HASH_LEN)
}

/// Stores a batch's parts (in the batch's transaction), refreshing the `used` time of those
/// already there.
pub fn store_parts(
    db: &Db,
    parts: &HashMap<String, Cow<'_, str>>,
    now: DateTime<Utc>,
) -> Result<(), DbError> {
    let now = stamp(now);
    for (hash, text) in parts {
        db.exec(
            "INSERT INTO body_parts (hash, text, used) VALUES (?1, ?2, ?3)
             ON CONFLICT (hash) DO UPDATE SET used = excluded.used",
            args![hash.as_str(), text.as_ref(), now.as_str()],
        )?;
    }
    Ok(())
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
    let Some(name) = pointer(&body) else {
        return Ok(body);
    };
    let recipe = read_part(db, name)?;
    let broken = || DbError(format!("the recipe of a message body ({name}) is broken"));
    let mut rest = recipe
        .strip_prefix(RECIPE)
        .and_then(|r| r.split_once('\n'))
        .ok_or_else(broken)?
        .1;
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

fn read_part(db: &Db, hash: &str) -> Result<String, DbError> {
    db.rows("SELECT text FROM body_parts WHERE hash = ?1", args![hash])?
        .first()
        .map(|row| row.get::<String>(0))
        .transpose()?
        .ok_or_else(|| DbError(format!("a message body's part {hash} is missing")))
}

/// Deletes the recipes of rows that no longer point to them (just sent, skipped or
/// erased): `rows` are (id, body as it was). A recipe is its message's alone.
pub fn drop_recipes(db: &Db, rows: &[(i64, String)]) -> Result<(), DbError> {
    for (id, body) in rows {
        if let Some(name) = pointer(body) {
            db.exec(
                "DELETE FROM body_parts WHERE hash = ?1
                 AND NOT EXISTS (SELECT 1 FROM deliveries WHERE id = ?2 AND body = ?3)",
                args![name, *id, body.as_str()],
            )?;
        }
    }
    Ok(())
}

fn part(db: &Db, cache: &Cache, hash: &str) -> Result<Arc<str>, DbError> {
    if let Some(text) = cache.get(hash) {
        return Ok(text);
    }
    let text: Arc<str> = read_part(db, hash)?.into();
    cache.put(hash, text.clone());
    Ok(text)
}

/// The hashes a recipe names.
fn named(recipe: &str, into: &mut HashSet<String>) {
    let Some((_, mut rest)) = recipe.strip_prefix(RECIPE).and_then(|r| r.split_once('\n')) else {
        return;
    };
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

/// Deletes the parts nothing names that were last stored before `now` less
/// [`PART_GRACE`]; returns how many went. A recipe that names a part was stored with it,
/// so a part that old is named, if at all, by a recipe as old: only those are read.
pub fn prune_parts(db: &Db, now: DateTime<Utc>) -> Result<u64, DbError> {
    let Some(cutoff) = now.checked_sub_signed(PART_GRACE) else {
        return Ok(0);
    };
    let old: HashSet<String> = db
        .rows(
            "SELECT hash FROM body_parts WHERE used < ?1",
            args![stamp(cutoff)],
        )?
        .iter()
        .map(|row| row.get(0))
        .collect::<Result<_, _>>()?;
    if old.is_empty() {
        return Ok(0);
    }
    let mut kept = HashSet::new();
    for row in db.rows(
        "SELECT body FROM deliveries WHERE body LIKE ?1",
        args![format!("{RECIPE}%")],
    )? {
        let body: String = row.get(0)?;
        if let Some(name) = pointer(&body).filter(|name| old.contains(*name)) {
            kept.insert(name.to_owned());
            named(&read_part(db, name)?, &mut kept);
        }
    }
    let mut gone = 0;
    for hash in old.iter().filter(|h| !kept.contains(*h)) {
        gone += db.exec(
            "DELETE FROM body_parts WHERE hash = ?1 AND used < ?2",
            args![hash.as_str(), stamp(cutoff)],
        )?;
    }
    Ok(gone)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A digest-like body: a long shared text with one reader's lines in it.
    fn body(reader: &str) -> String {
        let shared: String = (0..400)
            .map(|i| format!("line {i} of the digest, the same for everyone\\r\\n"))
            .collect();
        format!(
            "{{\"to\":\"{reader}\",\"eml\":\"To: {reader}\\r\\n{shared}unsubscribe {reader}\\r\\n{shared}\"}}"
        )
    }

    fn one<'a>(body: &'a str, recipient: &'a str) -> Unpacked<'a> {
        Unpacked {
            body,
            recipient,
            key: recipient,
        }
    }

    /// The recipes of a packed batch, by the rows' pointers.
    fn recipes<'p>(packed: &'p Packed<'_>) -> Vec<&'p str> {
        packed
            .bodies
            .iter()
            .map(|b| packed.parts[pointer(b).unwrap()].as_ref())
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
        let batch: Vec<Unpacked> = bodies.iter().zip(readers).map(|(b, r)| one(b, r)).collect();
        let packed = pack(&batch);
        let recipes = recipes(&packed);
        let shared: Vec<&Cow<str>> = packed
            .parts
            .values()
            .filter(|p| !p.starts_with(RECIPE))
            .collect();
        assert!(!shared.is_empty());
        assert!(shared.iter().all(|p| !p.contains("@example.org")));
        // Each row keeps a pointer; each recipe is small beside its message.
        assert!(packed.bodies.iter().all(|b| b.len() == 1 + HASH_LEN));
        for (recipe, whole) in recipes.iter().zip(&bodies) {
            assert!(
                recipe.len() * 4 < whole.len(),
                "{} of {}",
                recipe.len(),
                whole.len()
            );
        }
        // One recipient's two messages share nothing with anyone.
        let alone = pack(&[
            one(&bodies[0], "a"),
            Unpacked {
                key: "a2",
                ..one(&bodies[0], "a")
            },
        ]);
        assert!(alone.parts.values().all(|p| p.starts_with(RECIPE)));
        // Small bodies stay as they are.
        assert_eq!(pack(&[one("{}", "a"), one("{}", "b")]).bodies, ["{}", "{}"]);
    }

    #[test]
    fn a_recipe_names_its_parts_and_a_broken_one_names_nothing_twice() {
        let bodies: Vec<String> = ["a", "b"].iter().map(|r| body(r)).collect();
        let packed = pack(&[one(&bodies[0], "a"), one(&bodies[1], "b")]);
        let mut names = HashSet::new();
        named(recipes(&packed)[0], &mut names);
        let shared: HashSet<String> = packed
            .parts
            .iter()
            .filter(|(_, p)| !p.starts_with(RECIPE))
            .map(|(h, _)| h.clone())
            .collect();
        assert_eq!(names, shared);
        for broken in [
            "\u{1}k\n#short",
            "\u{1}k\n+99999:x",
            "\u{1}k\n+x:",
            "\u{1}k\n?",
            "\u{1}",
        ] {
            named(broken, &mut HashSet::new());
        }
    }
}
