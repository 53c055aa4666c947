//! Posts seen: each post's identity, a hash of its file, when it was first seen and when it
//! is published, and whether it was announced. A post is announced once, ever.

use super::db::args;
use super::open::Queries;
use super::open::{Store, StoreError, Tx};
use super::stamp::stamp;
use chrono::{DateTime, Utc};

/// A post that is due to be announced.
#[derive(Debug, Clone)]
pub struct Announcement {
    pub post_id: String,
}

/// A post as a scan saw it, for [`Tx::see_posts`].
pub struct Seen<'a> {
    pub id: &'a str,
    pub hash: u64,
    pub published: DateTime<Utc>,
}

impl Seen<'_> {
    /// Whether the store already holds this post exactly as it is (so [`Tx::see_posts`]
    /// would change nothing).
    pub fn is_in(&self, known: &Known) -> bool {
        known.get(self.id).is_some_and(|(hash, published)| {
            *hash == format!("{:016x}", self.hash) && *published == stamp(self.published)
        })
    }
}

impl Store {
    /// Whether any scan was ever recorded (the first scan of an archive announces nothing).
    pub fn has_scanned(&self) -> Result<bool, StoreError> {
        self.one("SELECT EXISTS (SELECT 1 FROM scans)", &[])?
            .get(0)
            .map_err(|e| self.err(e))
    }
}

/// Posts recorded per statement by [`Tx::see_posts`] (four parameters each, well within
/// either engine's limit).
const SEEN_PER_STATEMENT: usize = 500;

/// What the store holds of every post, as `see_posts` compares it: id to (hash, published).
pub type Known = std::collections::HashMap<String, (String, String)>;

impl Tx<'_> {
    /// Every post recorded, read in one query, so that a scan writes only what differs
    /// (with nothing new in a 100,000-post archive, one read instead of 100,000 upserts).
    pub fn known_posts(&self) -> Result<Known, StoreError> {
        self.rows("SELECT id, hash, published FROM posts", &[])?
            .iter()
            .map(|r| Ok((r.get(0)?, (r.get(1)?, r.get(2)?))))
            .collect::<Result<Known, _>>()
            .map_err(|e| self.err(e))
    }

    /// Records posts, many to a statement (a first scan of a 10,000-post archive is 20
    /// statements, not 10,000 round trips to a database server); returns how many were
    /// never seen before. An edit updates the hash and date but is not new (it is not
    /// announced again). A post whose id came earlier in `posts` is left out: one statement
    /// may not touch a row twice.
    pub fn see_posts(&self, posts: &[Seen], now: DateTime<Utc>) -> Result<usize, StoreError> {
        let mut ids = std::collections::HashSet::new();
        let posts: Vec<&Seen> = posts.iter().filter(|p| ids.insert(p.id)).collect();
        let first_seen = stamp(now);
        let mut new = 0;
        for chunk in posts.chunks(SEEN_PER_STATEMENT) {
            let rows: Vec<String> = (0..chunk.len())
                .map(|i| {
                    format!(
                        "(?{}, ?{}, ?{}, ?{}, 0)",
                        4 * i + 1,
                        4 * i + 2,
                        4 * i + 3,
                        4 * i + 4
                    )
                })
                .collect();
            let mut values = Vec::with_capacity(chunk.len() * 4);
            for post in chunk {
                values.push(super::db::Value::from(post.id));
                values.push(format!("{:016x}", post.hash).into());
                values.push(first_seen.clone().into());
                values.push(stamp(post.published).into());
            }
            let returned = self.rows(
                &format!(
                    "INSERT INTO posts (id, hash, first_seen, published, announced) VALUES {}
                     ON CONFLICT (id) DO UPDATE SET hash = excluded.hash, published = excluded.published
                     WHERE posts.hash != excluded.hash OR posts.published != excluded.published
                     RETURNING first_seen",
                    rows.join(", ")
                ),
                &values,
            )?;
            for row in returned {
                let seen: String = row.get(0).map_err(|e| self.err(e))?;
                new += usize::from(seen == first_seen);
            }
        }
        Ok(new)
    }

    /// Posts whose date has come but that were never announced, newest first.
    pub fn unannounced(&self, now: DateTime<Utc>) -> Result<Vec<Announcement>, StoreError> {
        self.rows(
            "SELECT id FROM posts WHERE announced = 0 AND published <= ?1 ORDER BY published DESC, id",
            args![stamp(now)],
        )?
        .iter()
        .map(|r| Ok(Announcement { post_id: r.get(0)? }))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| self.err(e))
    }

    /// The post has been announced (or deliberately passed over): never again.
    pub fn mark_announced(&self, post_id: &str) -> Result<(), StoreError> {
        self.exec(
            "UPDATE posts SET announced = 1 WHERE id = ?1",
            args![post_id],
        )
        .map(|_| ())
    }
}
