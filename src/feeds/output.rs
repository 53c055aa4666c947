//! Putting feed files on disk: atomically, only when their bytes change, and never outside
//! the feeds folder.
//!
//! A reader polling `rss.xml` must never see half a file, so each file is written to a
//! temporary name beside it and renamed into place. A file whose bytes are unchanged is not
//! touched, so its mtime (and the `Last-Modified` a web server derives from it) stays put.

use std::collections::HashSet;
use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use crate::settings::Format;

/// The names of files this program writes; only these are ever removed as stale.
pub const OPML: &str = "index.opml";

/// What happened to one file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Written {
    Changed,
    Unchanged,
}

/// Writes `bytes` to `path` unless it already holds exactly them. With `dry_run`, only says
/// whether it would write.
pub fn write_if_changed(path: &Path, bytes: &[u8], dry_run: bool) -> io::Result<Written> {
    if same_bytes(path, bytes)? {
        return Ok(Written::Unchanged);
    }
    if dry_run {
        return Ok(Written::Changed);
    }
    let dir = path.parent().expect("feed files always have a folder");
    fs::create_dir_all(dir)?;
    let name = path
        .file_name()
        .expect("feed files always have a name")
        .to_string_lossy();
    let temp = dir.join(format!(".{name}.tidings-tmp"));
    let result = fs::File::create(&temp)
        .and_then(|mut file| file.write_all(bytes))
        .and_then(|()| fs::rename(&temp, path));
    if result.is_err() {
        let _ = fs::remove_file(&temp);
    }
    result.map(|()| Written::Changed)
}

fn same_bytes(path: &Path, bytes: &[u8]) -> io::Result<bool> {
    match fs::metadata(path) {
        Ok(meta) if meta.is_file() && meta.len() == bytes.len() as u64 => {
            Ok(fs::read(path)? == bytes)
        }
        Ok(_) => Ok(false),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e),
    }
}

/// Whether feed files can be written in `dir` (made when missing): the nearest folder of its
/// path that exists must be a folder that takes a new file. It is probed with a file
/// removed at once, so `check` finds what `build` would fail on, and leaves nothing behind.
pub fn probe_writable(dir: &Path) -> Result<(), String> {
    let mut existing = dir;
    loop {
        match fs::metadata(existing) {
            Ok(meta) if meta.is_dir() => break,
            Ok(_) => {
                return Err(format!(
                    "`{}` is a file, so no folder can be made there",
                    existing.display()
                ));
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => match existing.parent() {
                Some(parent) if !parent.as_os_str().is_empty() => existing = parent,
                _ => {
                    existing = Path::new(".");
                    break;
                }
            },
            Err(e) => return Err(format!("cannot reach `{}`: {e}", existing.display())),
        }
    }
    let probe = existing.join(format!(".tidings-probe-{}", std::process::id()));
    match fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&probe)
    {
        Ok(_) => {
            let _ = fs::remove_file(&probe);
            Ok(())
        }
        Err(e) => Err(format!("cannot write in `{}`: {e}", existing.display())),
    }
}

/// A temporary file an interrupted write of ours left (no one else names files so).
fn is_our_leftover(name: &str) -> bool {
    name.starts_with('.') && name.ends_with(".tidings-tmp")
}

/// Whether a file name is one tidings writes: a feed, the OPML index, the stylesheet.
pub fn looks_ours(name: &str) -> bool {
    Format::ALL.iter().any(|f| f.file_name() == name)
        || name == OPML
        || name == super::stylesheet::XSL
        || name == super::stylesheet::SCRIPT
}

/// Removes the files the last build wrote (`written`, from its manifest) that this build
/// did not (feeds of categories that no longer exist, formats no longer wanted), leftover
/// temporary files of ours, then the folders below `categories/` and `tags/` that this
/// left empty. Nothing else is touched: a file tidings did not write stays, whatever its
/// name. With `dry_run`, only counts.
pub fn remove_stale(
    root: &Path,
    written: &[PathBuf],
    keep: &HashSet<PathBuf>,
    dry_run: bool,
) -> io::Result<usize> {
    if !root.is_dir() {
        return Ok(0);
    }
    let mut removed = 0;
    let mut emptied = Vec::new();
    for path in written.iter().filter(|p| !keep.contains(*p)) {
        // Only a plain file below the folder (a path the manifest names, not a link to
        // follow): a manifest edited by hand cannot lead removal anywhere else.
        let inside = path.starts_with(root)
            && !path
                .components()
                .any(|c| matches!(c, std::path::Component::ParentDir));
        let is_file = fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_file());
        if inside && is_file {
            if !dry_run {
                fs::remove_file(path)?;
            }
            removed += 1;
            emptied.extend(path.parent().map(Path::to_path_buf));
        }
    }
    for entry in walkdir::WalkDir::new(root).follow_links(false) {
        let Ok(entry) = entry else { continue };
        if entry.file_type().is_file() && is_our_leftover(&entry.file_name().to_string_lossy()) {
            if !dry_run {
                fs::remove_file(entry.path())?;
            }
            emptied.extend(entry.path().parent().map(Path::to_path_buf));
        }
    }
    if !dry_run {
        for mut dir in emptied {
            // Only empty folders go; `remove_dir` refuses the others, which is the point.
            while in_our_trees(root, &dir) && fs::remove_dir(&dir).is_ok() {
                match dir.parent() {
                    Some(parent) => dir = parent.to_path_buf(),
                    None => break,
                }
            }
        }
    }
    Ok(removed)
}

/// Files in the feeds folder that look like ours (by name) but that this build does not
/// write: on a first build, what was there before tidings and is left alone.
pub fn foreign_files(root: &Path, keep: &HashSet<PathBuf>) -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = walkdir::WalkDir::new(root)
        .follow_links(false)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file() && !keep.contains(e.path()))
        // Hidden files (the manifest, leftovers of ours, a `.htaccess`) are not counted.
        .filter(|e| !e.file_name().to_string_lossy().starts_with('.'))
        .map(|e| e.path().to_path_buf())
        .collect();
    found.sort();
    found
}

/// Folders below `categories/` and `tags/` are ours to tidy; anything else in the feeds
/// folder belongs to whoever made it.
fn in_our_trees(root: &Path, path: &Path) -> bool {
    ["categories", "tags"]
        .iter()
        .any(|tree| path.starts_with(root.join(tree)) && path != root.join(tree))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unchanged_files_are_not_rewritten() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a/rss.xml");
        assert_eq!(
            write_if_changed(&path, b"one", false).unwrap(),
            Written::Changed
        );
        let before = fs::metadata(&path).unwrap().modified().unwrap();
        std::thread::sleep(std::time::Duration::from_millis(20));
        assert_eq!(
            write_if_changed(&path, b"one", false).unwrap(),
            Written::Unchanged
        );
        assert_eq!(fs::metadata(&path).unwrap().modified().unwrap(), before);
        assert_eq!(
            write_if_changed(&path, b"two", true).unwrap(),
            Written::Changed
        );
        assert_eq!(fs::read(&path).unwrap(), b"one", "a dry run writes nothing");
        assert_eq!(
            write_if_changed(&path, b"two", false).unwrap(),
            Written::Changed
        );
        assert_eq!(fs::read(&path).unwrap(), b"two");
        assert!(!dir.path().join("a/.rss.xml.tidings-tmp").exists());
    }

    /// Only what the last build wrote is removed: a file of the same name that someone else
    /// put there (before the first build, or beside later ones) stays.
    #[test]
    fn stale_removal_spares_files_tidings_did_not_write() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        fs::create_dir_all(root.join("images/empty")).unwrap();
        for f in [
            "rss.xml",
            "feed.json",
            "categories/old/rss.xml",
            "categories/keep/rss.xml",
            "categories/mine/rss.xml",
            "tags/mytag/atom.xml",
            "README.md",
            "categories/old/.rss.xml.tidings-tmp",
        ] {
            let p = root.join(f);
            fs::create_dir_all(p.parent().unwrap()).unwrap();
            fs::write(p, "x").unwrap();
        }
        let written: Vec<PathBuf> = [
            "rss.xml",
            "feed.json",
            "categories/old/rss.xml",
            "categories/keep/rss.xml",
        ]
        .iter()
        .map(|f| root.join(f))
        .collect();
        let keep: HashSet<PathBuf> =
            [root.join("rss.xml"), root.join("categories/keep/rss.xml")].into();
        assert_eq!(remove_stale(root, &written, &keep, true).unwrap(), 2);
        assert!(root.join("feed.json").exists());
        assert_eq!(remove_stale(root, &written, &keep, false).unwrap(), 2);
        assert!(!root.join("feed.json").exists());
        assert!(!root.join("categories/old").exists());
        assert!(root.join("categories/keep/rss.xml").exists());
        assert!(root.join("categories/mine/rss.xml").exists());
        assert!(root.join("tags/mytag/atom.xml").exists());
        assert!(root.join("README.md").exists());
        assert!(
            root.join("images/empty").exists(),
            "folders outside categories/ and tags/ stay"
        );
        assert_eq!(
            foreign_files(root, &keep),
            [
                root.join("README.md"),
                root.join("categories/mine/rss.xml"),
                root.join("tags/mytag/atom.xml")
            ]
        );
        // Without a manifest nothing is removed.
        assert_eq!(remove_stale(root, &[], &HashSet::new(), false).unwrap(), 0);
        assert!(root.join("rss.xml").exists());
    }

    #[test]
    fn a_path_outside_the_folder_is_never_removed() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("feeds");
        fs::create_dir_all(&root).unwrap();
        let outside = dir.path().join("precious.txt");
        fs::write(&outside, "x").unwrap();
        let written = vec![root.join("../precious.txt"), outside.clone()];
        assert_eq!(
            remove_stale(&root, &written, &HashSet::new(), false).unwrap(),
            0
        );
        assert!(outside.exists());
    }
}
