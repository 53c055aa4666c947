//! The parse cache: what each post file became the last time it was read, so that a scan
//! reads and parses again only the files that changed.
//!
//! Reading and parsing every post is most of what a rebuild with nothing new costs (a stat is
//! a tenth of it), and the daemon scans every few minutes, forever. A file is taken from the
//! cache only when its identity (size, modification and change times, inode) is exactly
//! what it was, and only when the settings that shape a post (`[site]`, `[content]`, the
//! folder they are read against) and the program are the same as when it was written. Any
//! doubt means reading again: a missing, truncated, damaged or foreign cache is ignored
//! whole, and a file written in the last seconds before a scan is never cached, because a
//! second write within the same clock tick could keep its size and times (git's "racily
//! clean" problem).
//!
//! The cache lives beside the state file (`<state>.posts`), not in the feeds folder: it
//! holds drafts and scheduled posts, which a web server publishing that folder must not show.
//! It is written whole to a temporary file and renamed into place, so a reader sees the old
//! cache or the new one. Records are postcard (compact binary serde), decoded on every core:
//! at 100,000 posts JSON took 0.3 s to load, most of a rebuild with nothing new.

use std::collections::HashMap;
use std::fs::{self, Metadata};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::model::Post;

/// Bumped whenever what a file becomes changes for the same bytes and settings.
const FORMAT: &str = "tidings-posts 2";

/// Files changed this recently before a scan are read again next time, whatever their
/// identity says: file times are only as fine as the file system's clock tick.
const RACY: Duration = Duration::from_secs(2);

/// How the scan uses the cache.
#[derive(Debug, Clone)]
pub enum Use {
    /// No cache at all (tests of parsing, one-off reads).
    Off,
    /// Trust it where identities match, and keep it up to date.
    On(PathBuf),
    /// Read every file, then write a fresh cache (`build --full`).
    Refresh(PathBuf),
}

impl Use {
    fn path(&self) -> Option<&Path> {
        match self {
            Use::Off => None,
            Use::On(path) | Use::Refresh(path) => Some(path),
        }
    }
}

/// What changes whenever a file's bytes may have changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identity {
    size: u64,
    modified: (i64, u32),
    changed: (i64, u32),
    inode: u64,
}

impl Identity {
    /// The identity as bytes, for digests.
    pub fn to_bytes(&self) -> [u8; 40] {
        let mut out = [0; 40];
        out[..8].copy_from_slice(&self.size.to_le_bytes());
        out[8..16].copy_from_slice(&self.modified.0.to_le_bytes());
        out[16..20].copy_from_slice(&self.modified.1.to_le_bytes());
        out[20..28].copy_from_slice(&self.changed.0.to_le_bytes());
        out[28..32].copy_from_slice(&self.changed.1.to_le_bytes());
        out[32..40].copy_from_slice(&self.inode.to_le_bytes());
        out
    }

    pub fn of(meta: &Metadata) -> Identity {
        #[cfg(unix)]
        {
            use std::os::unix::fs::MetadataExt;
            Identity {
                size: meta.size(),
                modified: (meta.mtime(), meta.mtime_nsec().clamp(0, 999_999_999) as u32),
                changed: (meta.ctime(), meta.ctime_nsec().clamp(0, 999_999_999) as u32),
                inode: meta.ino(),
            }
        }
        #[cfg(not(unix))]
        {
            let modified = meta
                .modified()
                .ok()
                .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
                .map_or((0, 0), |d| (d.as_secs() as i64, d.subsec_nanos()));
            Identity {
                size: meta.len(),
                modified,
                changed: modified,
                inode: 0,
            }
        }
    }

    /// Whether the file changed so shortly before `scan_started` (or after it) that a later
    /// write could share this identity. A time in the future counts: a file server's clock
    /// may run ahead of ours.
    pub fn is_racy(&self, scan_started: SystemTime) -> bool {
        let Ok(now) = scan_started.duration_since(UNIX_EPOCH) else {
            return true;
        };
        let latest = self.modified.max(self.changed);
        let now_secs = i64::try_from(now.as_secs()).unwrap_or(i64::MAX);
        latest.0 >= now_secs.saturating_sub(RACY.as_secs() as i64)
    }
}

/// What a file became: what the scan would have made of it.
#[derive(Debug, Serialize, Deserialize)]
pub enum Cached {
    Post(Box<Post>),
    Draft,
    Page,
    Problem {
        line: Option<usize>,
        message: String,
    },
}

/// The same, borrowed, for writing without copying every post.
#[derive(Serialize)]
pub enum CachedRef<'a> {
    Post(&'a Post),
    Draft,
    Page,
    Problem {
        line: Option<usize>,
        message: &'a str,
    },
}

/// One record: a file, its identity, what it became.
#[derive(Deserialize)]
struct Line {
    rel: String,
    id: Identity,
    of: Cached,
}

#[derive(Serialize)]
struct LineRef<'a> {
    rel: &'a str,
    id: Identity,
    of: &'a CachedRef<'a>,
}

/// The cache as loaded: path below the content folder to identity and outcome.
pub type Entries = HashMap<String, (Identity, Cached)>;

/// The first line of a cache written by this program for these settings.
fn header(fingerprint: u64, count: usize) -> String {
    format!(
        "{FORMAT} {} {fingerprint:016x} {count}",
        env!("CARGO_PKG_VERSION")
    )
}

/// Loads the cache for `fingerprint`; empty when there is none, or any doubt about it.
pub fn load(how: &Use, fingerprint: u64) -> Entries {
    let Use::On(path) = how else {
        return Entries::new();
    };
    let bytes = match fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) => {
            if e.kind() != io::ErrorKind::NotFound {
                tracing::warn!(
                    "cannot read the parse cache {}: {e}; reading every post",
                    path.display()
                );
            }
            return Entries::new();
        }
    };
    match decode(&bytes, fingerprint) {
        Ok(entries) => entries,
        Err(why) => {
            tracing::debug!("parse cache not used ({why}); reading every post");
            Entries::new()
        }
    }
}

/// The cache file: a text header line (format, program version, settings fingerprint,
/// number of records), then each record as a 4-byte little-endian length and its postcard
/// bytes. Lengths let records be decoded on every core.
fn decode(bytes: &[u8], fingerprint: u64) -> Result<Entries, String> {
    let newline = bytes.iter().position(|&b| b == b'\n').ok_or("no header")?;
    let header_line = std::str::from_utf8(&bytes[..newline]).map_err(|_| "a damaged header")?;
    let mut records = Vec::new();
    let mut rest = &bytes[newline + 1..];
    while !rest.is_empty() {
        let (len, after) = rest.split_first_chunk::<4>().ok_or("a cut record")?;
        let len = u32::from_le_bytes(*len) as usize;
        if after.len() < len {
            return Err("a cut record".into());
        }
        records.push(&after[..len]);
        rest = &after[len..];
    }
    if header_line != header(fingerprint, records.len()) {
        return Err("written for other settings, another version, or cut short".into());
    }
    let lines: Vec<Line> = records
        .par_iter()
        .map(|record| postcard::from_bytes::<Line>(record))
        .collect::<Result<_, _>>()
        .map_err(|e| format!("a damaged record: {e}"))?;
    Ok(lines
        .into_iter()
        .map(|line| (line.rel, (line.id, line.of)))
        .collect())
}

/// One file's entry for [`save`].
pub struct Entry<'a> {
    pub rel: &'a str,
    pub id: Identity,
    pub of: CachedRef<'a>,
}

/// Writes the cache whole, leaving out files changed too recently to trust their identity.
/// A cache that cannot be written is reported and costs only speed.
pub fn save(how: &Use, fingerprint: u64, entries: &[Entry], scan_started: SystemTime) {
    let Some(path) = how.path() else {
        return;
    };
    let keep: Vec<&Entry> = entries
        .iter()
        .filter(|entry| !entry.id.is_racy(scan_started))
        .collect();
    if let Err(e) = write_whole(path, &header(fingerprint, keep.len()), &keep) {
        tracing::warn!("cannot write the parse cache {}: {e}", path.display());
    }
}

/// Writes the cache to a temporary file, one record at a time (a 100,000-post cache is
/// 45 MB: it is never held whole in memory), then renames it into place.
fn write_whole(path: &Path, header: &str, entries: &[&Entry]) -> io::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        fs::create_dir_all(dir)?;
    }
    let temp = path.with_extension(format!("tmp{}", std::process::id()));
    let result = (|| {
        let mut out = io::BufWriter::new(fs::File::create(&temp)?);
        writeln!(out, "{header}")?;
        let mut record = Vec::new();
        for entry in entries {
            record.clear();
            record = postcard::to_extend(
                &LineRef {
                    rel: entry.rel,
                    id: entry.id,
                    of: &entry.of,
                },
                record,
            )
            .map_err(io::Error::other)?;
            let len =
                u32::try_from(record.len()).map_err(|_| io::Error::other("a record over 4 GiB"))?;
            out.write_all(&len.to_le_bytes())?;
            out.write_all(&record)?;
        }
        // No fsync: the cache costs only speed when lost, and a file cut short by a crash
        // fails its header or a record and is ignored whole.
        out.flush()?;
        drop(out);
        fs::rename(&temp, path)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&temp);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_changed_just_before_the_scan_is_racy() {
        let now = UNIX_EPOCH + Duration::from_secs(1_000_000);
        let at = |secs: i64| Identity {
            size: 1,
            modified: (secs, 0),
            changed: (secs, 0),
            inode: 1,
        };
        assert!(at(1_000_000).is_racy(now));
        assert!(at(999_999).is_racy(now));
        assert!(
            at(1_000_100).is_racy(now),
            "a file from the future is not trusted"
        );
        assert!(!at(999_000).is_racy(now));
    }

    #[test]
    fn a_cache_for_other_settings_or_cut_short_is_ignored() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.db.posts");
        let how = Use::On(path.clone());
        let old = UNIX_EPOCH + Duration::from_secs(10);
        let id = Identity {
            size: 3,
            modified: (1, 0),
            changed: (1, 0),
            inode: 7,
        };
        let entries = [
            Entry {
                rel: "a.md",
                id,
                of: CachedRef::Draft,
            },
            Entry {
                rel: "b.md",
                id,
                of: CachedRef::Problem {
                    line: Some(2),
                    message: "bad",
                },
            },
        ];
        save(&how, 42, &entries, old);
        let loaded = load(&how, 42);
        assert_eq!(loaded.len(), 2);
        assert!(matches!(loaded["a.md"], (i, Cached::Draft) if i == id));
        assert!(load(&how, 43).is_empty(), "other settings");
        let bytes = fs::read(&path).unwrap();
        fs::write(&path, &bytes[..bytes.len() - 3]).unwrap();
        assert!(load(&how, 42).is_empty(), "a cut record");
        let mut damaged = bytes.clone();
        let last = damaged.len() - 1;
        damaged[last] = 0xff;
        fs::write(&path, &damaged).unwrap();
        assert!(load(&how, 42).is_empty(), "a damaged record");
        fs::write(&path, &bytes).unwrap();
        assert_eq!(load(&how, 42).len(), 2, "restored");
        assert!(load(&Use::Refresh(path), 42).is_empty(), "--full");
    }
}
