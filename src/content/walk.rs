//! Finding post files: a walk of the content folder that reads folders on every core and
//! stats each post file once.
//!
//! The walk is most of what a scan with nothing new costs once parsing is cached, so sibling
//! folders are read in parallel and a file's identity (for the parse cache) comes from the
//! one stat the walk makes anyway. The order is still fixed: entries sorted by name, a
//! folder's contents where the folder sorts, so the same folder always gives the same posts
//! in the same order. Symlinks are followed while they stay inside the content folder: one
//! leading out of it (to `/etc`, to another site) is not followed, and said once in the log;
//! one leading back to a folder above it is reported, not followed, and folders nested past
//! [`MAX_DEPTH`] are reported and skipped.

use std::ffi::OsString;
use std::fs;
use std::path::{Path, PathBuf};

use rayon::prelude::*;

use super::cache::Identity;
use super::problem::Problem;
use crate::model::BodyFormat;
use crate::settings::Settings;

/// Folders nested deeper than this are not entered (no site nests a tenth as deep; a
/// pathological tree must not exhaust the stack).
pub const MAX_DEPTH: usize = 64;

/// A post file found by the walk.
pub struct Candidate {
    /// Path below the content folder, `/`-separated.
    pub rel: String,
    pub path: PathBuf,
    pub format: BodyFormat,
    /// Below a `_drafts` folder: a draft, whatever it says.
    pub draft_folder: bool,
    /// `None` when the file could not be stat'ed (reading it will say why).
    pub identity: Option<Identity>,
}

/// What one folder (and everything below it) holds.
#[derive(Default)]
struct Found {
    candidates: Vec<Candidate>,
    problems: Vec<Problem>,
}

/// A folder as the file system knows it, to recognise a symlink that leads back up.
#[derive(Clone, PartialEq, Eq)]
struct FolderKey(#[cfg(unix)] (u64, u64), #[cfg(not(unix))] PathBuf);

fn folder_key(path: &Path, meta: &fs::Metadata) -> FolderKey {
    #[cfg(unix)]
    {
        let _ = path;
        use std::os::unix::fs::MetadataExt;
        FolderKey((meta.dev(), meta.ino()))
    }
    #[cfg(not(unix))]
    {
        let _ = meta;
        FolderKey(fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf()))
    }
}

/// Finds post files in path order. Hidden entries, `exclude` matches and section index pages
/// (`_index.md`, which Hugo and Zola use for list pages) are passed over; unreadable entries,
/// symlink loops and too-deep folders are problems.
pub fn walk(settings: &Settings) -> (Vec<Candidate>, Vec<Problem>) {
    let root = &settings.content.dir;
    let ancestors = match fs::metadata(root) {
        Ok(meta) => vec![(folder_key(root, &meta), root.clone())],
        Err(_) => Vec::new(),
    };
    let walk = Walk {
        settings,
        inside: fs::canonicalize(root).unwrap_or_else(|_| root.clone()),
    };
    let found = walk_folder(&walk, root, "", &ancestors, false);
    (found.candidates, found.problems)
}

/// What every folder of one walk shares.
struct Walk<'a> {
    settings: &'a Settings,
    /// The content folder, resolved: a symlink must lead below it.
    inside: PathBuf,
}

/// Says once per process that the symlink at `path` leads out of the content folder.
fn warn_leaving(path: &Path, target: &Path) {
    static SAID: std::sync::Mutex<Vec<PathBuf>> = std::sync::Mutex::new(Vec::new());
    let mut said = crate::sync::lock(&SAID);
    if said.len() < 10_000 && !said.iter().any(|p| p == path) {
        said.push(path.to_path_buf());
        tracing::warn!(
            "{}: a symlink leading out of the content folder (to `{}`); not followed",
            path.display(),
            target.display()
        );
    }
}

/// An entry of a folder, sorted into what the walk does with it.
enum Entry {
    File(Candidate),
    Folder {
        path: PathBuf,
        rel: String,
        key: FolderKey,
        drafts: bool,
    },
}

fn walk_folder(
    walk: &Walk,
    dir: &Path,
    rel_dir: &str,
    ancestors: &[(FolderKey, PathBuf)],
    drafts: bool,
) -> Found {
    let mut found = Found::default();
    let problem = |file: PathBuf, message: String| Problem {
        file,
        line: None,
        message,
    };
    let names = match list(dir) {
        Ok(names) => names,
        Err(e) => {
            found
                .problems
                .push(problem(dir.to_path_buf(), format!("cannot read: {e}")));
            return found;
        }
    };
    // Each entry is classified (and each post file stat'ed) on every core.
    let entries: Vec<Result<Option<Entry>, Problem>> = names
        .into_par_iter()
        .map(|(name, file_type)| classify(walk, dir, rel_dir, drafts, name, file_type))
        .collect();
    // Sub-folders are walked on every core too; their contents go where the folder sorts.
    let below: Vec<Found> = entries
        .par_iter()
        .map(|entry| match entry {
            Ok(Some(Entry::Folder {
                path,
                rel,
                key,
                drafts,
            })) => enter(walk, path, rel, key, *drafts, ancestors),
            _ => Found::default(),
        })
        .collect();
    for (entry, mut inside) in entries.into_iter().zip(below) {
        match entry {
            Ok(Some(Entry::File(candidate))) => found.candidates.push(candidate),
            Ok(Some(Entry::Folder { .. })) => {
                found.candidates.append(&mut inside.candidates);
                found.problems.append(&mut inside.problems);
            }
            Ok(None) => {}
            Err(p) => found.problems.push(p),
        }
    }
    found
}

/// Walks a sub-folder unless it leads back to a folder above it or lies too deep.
fn enter(
    walk: &Walk,
    path: &Path,
    rel: &str,
    key: &FolderKey,
    drafts: bool,
    ancestors: &[(FolderKey, PathBuf)],
) -> Found {
    let refuse = |message: String| Found {
        candidates: Vec::new(),
        problems: vec![Problem {
            file: path.to_path_buf(),
            line: None,
            message,
        }],
    };
    if let Some((_, ancestor)) = ancestors.iter().find(|(k, _)| k == key) {
        return refuse(format!(
            "symlink loop: this folder leads back to `{}`; skipped",
            ancestor.display()
        ));
    }
    if ancestors.len() > MAX_DEPTH {
        return refuse(format!(
            "folders nest deeper than {MAX_DEPTH} levels here; skipped"
        ));
    }
    let mut inner = ancestors.to_vec();
    inner.push((key.clone(), path.to_path_buf()));
    walk_folder(walk, path, rel, &inner, drafts)
}

/// A folder's entries, sorted by name, with their types as the folder listing gives them.
fn list(dir: &Path) -> std::io::Result<Vec<(OsString, fs::FileType)>> {
    let mut names = Vec::new();
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        names.push((entry.file_name(), entry.file_type()?));
    }
    names.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(names)
}

/// What the walk does with one entry: a post file (stat'ed), a folder to enter, or nothing.
fn classify(
    walk: &Walk,
    dir: &Path,
    rel_dir: &str,
    drafts: bool,
    name: OsString,
    file_type: fs::FileType,
) -> Result<Option<Entry>, Problem> {
    let path = dir.join(&name);
    let problem = |message: String| Problem {
        file: path.clone(),
        line: None,
        message,
    };
    if name.to_string_lossy().starts_with('.') {
        return Ok(None);
    }
    // Symlinks are followed, inside the content folder: what matters is what they point to.
    if file_type.is_symlink() {
        match fs::canonicalize(&path) {
            Ok(target) if !target.starts_with(&walk.inside) => {
                warn_leaving(&path, &target);
                return Ok(None);
            }
            Ok(_) => {}
            Err(e) => return Err(problem(format!("cannot read: {e}"))),
        }
    }
    let settings = walk.settings;
    let meta = if file_type.is_symlink() || file_type.is_dir() {
        Some(fs::metadata(&path).map_err(|e| problem(format!("cannot read: {e}")))?)
    } else {
        None
    };
    let is_dir = meta.as_ref().is_some_and(fs::Metadata::is_dir);
    let is_file = meta
        .as_ref()
        .map_or(file_type.is_file(), fs::Metadata::is_file);
    let format = if is_file {
        match format_of(&path) {
            Some(format) => Some(format),
            None => return Ok(None),
        }
    } else {
        None
    };
    if !is_dir && format.is_none() {
        return Ok(None);
    }
    let Some(name) = name.to_str() else {
        return Err(problem(
            if is_dir {
                "folder name is not UTF-8; rename the folder"
            } else {
                "file name is not UTF-8; rename the file"
            }
            .into(),
        ));
    };
    let rel = if rel_dir.is_empty() {
        name.to_owned()
    } else {
        format!("{rel_dir}/{name}")
    };
    if settings.content.exclude.is_match(&rel) {
        return Ok(None);
    }
    if let (true, Some(meta)) = (is_dir, &meta) {
        return Ok(Some(Entry::Folder {
            key: folder_key(&path, meta),
            path,
            rel,
            drafts: drafts || name == "_drafts",
        }));
    }
    if name == "_index.md" {
        return Ok(None);
    }
    let identity = match meta {
        Some(meta) => Some(Identity::of(&meta)),
        None => fs::metadata(&path).ok().map(|meta| Identity::of(&meta)),
    };
    Ok(format.map(|format| {
        Entry::File(Candidate {
            rel,
            path,
            format,
            draft_folder: drafts,
            identity,
        })
    }))
}

/// File extensions read as posts.
fn format_of(path: &Path) -> Option<BodyFormat> {
    let ext = path.extension()?.to_str()?.to_ascii_lowercase();
    match ext.as_str() {
        "md" | "markdown" | "mdown" | "mkd" | "mkdn" => Some(BodyFormat::Markdown),
        "html" | "htm" => Some(BodyFormat::Html),
        _ => None,
    }
}
