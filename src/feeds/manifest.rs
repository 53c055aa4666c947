//! Remembering what the last build wrote, so that a build with nothing new stops early.
//!
//! A feed's bytes are a function of the settings, the program version, "now" (through which
//! posts are published) and the files of the posts it lists. The plan already reflects "now",
//! and every post carries a hash of its file, so one fingerprint over the plan says whether
//! the output could differ. If it matches the last build's, and every file that build wrote
//! is still there untouched (same length and mtime), rendering is skipped: most of the cost
//! of a rebuild. Any doubt (no manifest, a file changed by someone else) means a full build.
//!
//! The manifest lives in the feeds folder as `.tidings-manifest`: it holds only file names,
//! sizes and a hash, all of which the feeds themselves already make public.

use std::collections::HashSet;
use std::io;
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use xxhash_rust::xxh3::Xxh3;

use super::plan::FeedSpec;
use crate::model::Post;
use crate::settings::Settings;

/// The manifest's file name in the feeds folder.
pub const FILE: &str = ".tidings-manifest";
const HEADER: &str = "tidings-manifest 1";

/// Hash of everything a build's output depends on.
pub fn fingerprint(settings: &Settings, feeds: &[FeedSpec], posts: &[Post]) -> u64 {
    let mut h = Xxh3::new();
    let mut field = |bytes: &[u8]| {
        h.update(&(bytes.len() as u64).to_le_bytes());
        h.update(bytes);
    };
    field(super::doc::GENERATOR.as_bytes());
    field(&settings.fingerprint.to_le_bytes());
    for spec in feeds {
        for segment in &spec.dir {
            field(segment.as_bytes());
        }
        field(spec.title.as_bytes());
        field(spec.updated.to_rfc3339().as_bytes());
        for &i in &spec.items {
            field(posts[i].source.as_bytes());
            field(&posts[i].hash.to_le_bytes());
        }
    }
    h.digest()
}

/// A file as it was left: its length and modification time.
fn stamp(path: &Path) -> Option<(u64, u128)> {
    let meta = std::fs::metadata(path).ok()?;
    let mtime = meta
        .modified()
        .ok()?
        .duration_since(UNIX_EPOCH)
        .ok()?
        .as_nanos();
    Some((meta.len(), mtime))
}

/// Whether the last build had this fingerprint and wrote exactly `files`, all still as it
/// left them.
pub fn is_current(root: &Path, fingerprint: u64, files: &[PathBuf]) -> bool {
    let Ok(text) = std::fs::read_to_string(root.join(FILE)) else {
        return false;
    };
    let mut lines = text.lines();
    if lines.next() != Some(&format!("{HEADER} {fingerprint:016x}")) {
        return false;
    }
    let wanted: HashSet<&PathBuf> = files.iter().collect();
    let mut recorded = 0;
    for line in lines {
        let mut parts = line.splitn(3, ' ');
        let (Some(len), Some(mtime), Some(rel)) = (parts.next(), parts.next(), parts.next()) else {
            return false;
        };
        let path = root.join(rel);
        if !wanted.contains(&path)
            || stamp(&path).map(|(l, m)| (l.to_string(), m.to_string()))
                != Some((len.to_owned(), mtime.to_owned()))
        {
            return false;
        }
        recorded += 1;
    }
    recorded == files.len()
}

/// Whether the last build had this fingerprint and every file it wrote is still as it left
/// them (whatever the plan would be now: the caller knows it is the same).
pub fn still_current(root: &Path, fingerprint: u64) -> bool {
    let Ok(text) = std::fs::read_to_string(root.join(FILE)) else {
        return false;
    };
    let mut lines = text.lines();
    if lines.next() != Some(&format!("{HEADER} {fingerprint:016x}")) {
        return false;
    }
    lines.all(|line| {
        let mut parts = line.splitn(3, ' ');
        let (Some(len), Some(mtime), Some(rel)) = (parts.next(), parts.next(), parts.next()) else {
            return false;
        };
        stamp(&root.join(rel)).map(|(l, m)| (l.to_string(), m.to_string()))
            == Some((len.to_owned(), mtime.to_owned()))
    })
}

/// The files the last build wrote, as its manifest lists them (`None` without a manifest:
/// no build has written this folder, or its manifest was removed). Only these are ever
/// removed as stale: a file tidings did not write is never deleted.
pub fn last_written(root: &Path) -> Option<Vec<PathBuf>> {
    let text = std::fs::read_to_string(root.join(FILE)).ok()?;
    let mut lines = text.lines();
    if !lines.next()?.starts_with(HEADER) {
        return None;
    }
    Some(
        lines
            .filter_map(|line| line.splitn(3, ' ').nth(2))
            .map(|rel| root.join(rel))
            .collect(),
    )
}

/// Records what this build wrote.
pub fn record(root: &Path, fingerprint: u64, files: &[PathBuf]) -> io::Result<()> {
    let mut text = format!("{HEADER} {fingerprint:016x}\n");
    for path in files {
        let (len, mtime) = stamp(path).ok_or_else(|| {
            io::Error::other(format!("`{}` vanished after writing", path.display()))
        })?;
        let rel = path.strip_prefix(root).unwrap_or(path);
        text.push_str(&format!("{len} {mtime} {}\n", rel.display()));
    }
    super::output::write_if_changed(&root.join(FILE), text.as_bytes(), false).map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_touched_file_or_another_fingerprint_is_not_current() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let a = root.join("rss.xml");
        let b = root.join("categories/x/rss.xml");
        std::fs::create_dir_all(b.parent().unwrap()).unwrap();
        std::fs::write(&a, "a").unwrap();
        std::fs::write(&b, "b").unwrap();
        let files = vec![a.clone(), b.clone()];
        assert!(!is_current(root, 7, &files), "no manifest yet");
        record(root, 7, &files).unwrap();
        assert!(is_current(root, 7, &files));
        assert!(!is_current(root, 8, &files));
        assert!(!is_current(root, 7, &files[..1]), "a file more or less");
        std::fs::write(&b, "bb").unwrap();
        assert!(!is_current(root, 7, &files), "edited behind our back");
    }
}
