//! Publishing feeds: plan which feeds exist, prepare each listed post once, write every
//! format, index them in OPML, and remove what no longer exists.
//!
//! Feeds are a pure function of the posts, the settings and the clock: the same input gives
//! the same bytes, and a rebuild with no change touches no file.

pub mod atom;
pub mod doc;
pub mod entry;
pub mod html;
pub mod json;
pub mod manifest;
pub mod opml;
pub mod output;
pub mod plan;
pub mod rss;
pub mod splice;
pub mod stylesheet;
#[cfg(test)]
mod test_docs;

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use rayon::prelude::*;

use crate::content::Problem;
use crate::model::Post;
use crate::settings::{Format, Settings};
pub use doc::{FeedDoc, GENERATOR, feed_url};
use entry::Entry;
use output::Written;
pub use plan::{FeedKind, FeedSpec};

/// Whether to touch the disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Write,
    /// Render everything, compare with what is on disk, write nothing.
    Check,
}

/// What a build did (or, in check mode, would do).
#[derive(Debug, Default)]
pub struct Report {
    pub feeds: usize,
    pub published: usize,
    pub scheduled: usize,
    pub changed: usize,
    pub unchanged: usize,
    pub removed: usize,
    /// On a first build into a folder that held files already: those it left alone (a
    /// file tidings did not write is never removed).
    pub left_alone: Vec<PathBuf>,
    /// Posts that could not be rendered (they are still listed with what is known).
    pub problems: Vec<Problem>,
    /// Every feed, in plan order (site, categories parent first, tags): what the server's
    /// front page lists.
    pub listing: Vec<Listed>,
    /// Public URLs of the feed files this build changed (WebSub hubs are told of them).
    pub changed_urls: Vec<String>,
    /// What the feeds manifest records for this build.
    pub fingerprint: u64,
}

/// One feed as a person picks it from a list.
#[derive(Debug, Clone)]
pub struct Listed {
    pub kind: FeedKind,
    pub title: String,
    /// How many items the feed holds.
    pub items: usize,
    /// How many published posts belong in it (more than `items` beyond `feeds.limit`).
    pub total: usize,
    /// Its public URL in each format, in `feeds.formats` order.
    pub urls: Vec<(Format, String)>,
}

/// The feeds folder could not be written.
#[derive(Debug, thiserror::Error)]
#[error("cannot write `{}`: {source}", path.display())]
pub struct OutputError {
    pub path: PathBuf,
    pub source: std::io::Error,
}

/// One item in `format`, as the format's writer puts it in a feed.
fn item_bytes(entry: &Entry, format: Format) -> Vec<u8> {
    match format {
        Format::Rss => rss::item_bytes(entry),
        Format::Atom => atom::item_bytes(entry),
        Format::Json => json::item_bytes(entry),
    }
}

/// Builds every feed of the site from `posts`. With `full`, every feed is rendered and
/// compared with the disk even when the manifest says nothing changed.
pub fn build(
    posts: &[Post],
    settings: &Settings,
    now: DateTime<Utc>,
    mode: Mode,
    full: bool,
) -> Result<Report, OutputError> {
    let started = std::time::Instant::now();
    let plan = plan::plan(posts, settings, now);
    tracing::debug!(feeds = plan.feeds.len(), elapsed = ?started.elapsed(), "planned");
    let root = &settings.feeds.dir;
    let dry_run = mode == Mode::Check;
    let mut report = Report {
        feeds: plan.feeds.len(),
        published: plan.published,
        scheduled: plan.scheduled,
        listing: listing(settings, &plan.feeds),
        ..Report::default()
    };

    // Nothing new since the last build: every file it wrote is still right.
    let planned = planned_files(settings, &plan.feeds);
    let fingerprint = manifest::fingerprint(settings, &plan.feeds, posts);
    report.fingerprint = fingerprint;
    tracing::debug!(elapsed = ?started.elapsed(), "fingerprinted");
    let last_written = manifest::last_written(root);
    if !full && manifest::is_current(root, fingerprint, &planned) {
        report.unchanged = planned.len();
        let keep = planned.into_iter().collect();
        report.removed = remove_stale(root, last_written.as_deref(), &keep, dry_run)?;
        return Ok(report);
    }

    // Each listed post is cleaned once, however many feeds list it.
    let mut lists = vec![0u32; posts.len()];
    for &i in plan.feeds.iter().flat_map(|f| &f.items) {
        lists[i] = lists[i].saturating_add(1);
    }
    let listed: Vec<usize> = (0..posts.len()).filter(|&i| lists[i] > 0).collect();
    let prepared: Vec<(Entry, Option<Problem>)> = listed
        .par_iter()
        .map(|&i| entry::prepare(&posts[i], settings))
        .collect();
    tracing::debug!(entries = prepared.len(), elapsed = ?started.elapsed(), "prepared");
    let mut slot = vec![usize::MAX; posts.len()];
    for (position, &i) in listed.iter().enumerate() {
        slot[i] = position;
    }
    let mut entries = Vec::with_capacity(prepared.len());
    for (entry, problem) in prepared {
        entries.push(entry);
        report.problems.extend(problem);
    }

    // One format at a time: a post that several feeds list is written once for all of them,
    // and only one format's copies are held at once.
    let mut results: Vec<Result<FileWritten, OutputError>> = Vec::new();
    for &format in &settings.feeds.formats {
        let written: Vec<Option<Vec<u8>>> = listed
            .par_iter()
            .zip(&entries)
            .map(|(&i, entry)| (lists[i] > 1).then(|| item_bytes(entry, format)))
            .collect();
        let files: Vec<_> = plan
            .feeds
            .par_iter()
            .map(|spec| {
                let doc = FeedDoc {
                    spec,
                    entries: spec.items.iter().map(|&i| &entries[slot[i]]).collect(),
                    written: spec
                        .items
                        .iter()
                        .map(|&i| written[slot[i]].as_deref())
                        .collect(),
                    settings,
                };
                let bytes = match format {
                    Format::Rss => rss::render(&doc),
                    Format::Atom => atom::render(&doc),
                    Format::Json => json::render(&doc),
                };
                let path = feed_dir(root, spec).join(format.file_name());
                write(path, &bytes, dry_run).map(|(path, written)| {
                    // Only a changed feed is pinged to WebSub hubs, so only it needs its URL.
                    let url = matches!(written, Written::Changed)
                        .then(|| feed_url(settings, spec, format));
                    (path, written, url)
                })
            })
            .collect();
        results.extend(files);
    }
    tracing::debug!(elapsed = ?started.elapsed(), "rendered and written");

    let first_format = settings.feeds.formats[0];
    let opml = opml::render(&plan.feeds, settings, |spec| {
        feed_url(settings, spec, first_format)
    });
    let mut keep = HashSet::new();
    let opml_written =
        write(root.join(output::OPML), &opml, dry_run).map(|(path, written)| (path, written, None));
    let mut extras = vec![opml_written];
    if settings.feeds.stylesheet {
        // A template error is the build's to report, like a feed that cannot be written.
        let xsl = stylesheet::render(settings).map_err(|message| OutputError {
            path: root.join(stylesheet::XSL),
            source: std::io::Error::other(message),
        })?;
        for (name, bytes) in [
            (stylesheet::XSL, xsl.as_bytes()),
            (stylesheet::SCRIPT, stylesheet::SCRIPT_SOURCE.as_bytes()),
        ] {
            extras.push(
                write(root.join(name), bytes, dry_run).map(|(path, written)| (path, written, None)),
            );
        }
    }
    for result in results.into_iter().chain(extras) {
        let (path, written, url) = result?;
        match written {
            Written::Changed => {
                report.changed += 1;
                report.changed_urls.extend(url);
            }
            Written::Unchanged => report.unchanged += 1,
        }
        keep.insert(path);
    }
    report.removed = remove_stale(root, last_written.as_deref(), &keep, dry_run)?;
    if last_written.is_none() && root.is_dir() {
        report.left_alone = output::foreign_files(root, &keep);
    }
    if !dry_run {
        manifest::record(root, fingerprint, &planned).map_err(|source| OutputError {
            path: root.join(manifest::FILE),
            source,
        })?;
    }
    Ok(report)
}

impl Report {
    /// The note a first build into a folder that held files already gives: what it left
    /// alone, the first few by name.
    pub fn left_alone_note(&self, root: &Path) -> Option<String> {
        let n = self.left_alone.len();
        if n == 0 {
            return None;
        }
        let shown: Vec<String> = self
            .left_alone
            .iter()
            .take(5)
            .map(|p| p.strip_prefix(root).unwrap_or(p).display().to_string())
            .collect();
        Some(format!(
            "`{}` held {n} file{} before tidings first wrote there; left alone (tidings removes only files it wrote): {}{}",
            root.display(),
            if n == 1 { "" } else { "s" },
            shown.join(", "),
            if n > shown.len() { ", …" } else { "" }
        ))
    }
}

fn listing(settings: &Settings, feeds: &[FeedSpec]) -> Vec<Listed> {
    feeds
        .iter()
        .map(|spec| Listed {
            kind: spec.kind.clone(),
            title: spec.title.clone(),
            items: spec.items.len(),
            total: spec.total,
            urls: settings
                .feeds
                .formats
                .iter()
                .map(|&format| (format, feed_url(settings, spec, format)))
                .collect(),
        })
        .collect()
}

/// A file the build wrote (or found unchanged), with its public URL when it is a feed.
type FileWritten = (PathBuf, Written, Option<String>);

/// The folder a feed's files go in.
fn feed_dir(root: &Path, spec: &FeedSpec) -> PathBuf {
    spec.dir
        .iter()
        .fold(root.to_path_buf(), |path, segment| path.join(segment))
}

/// Every file a build with this plan writes.
fn planned_files(settings: &Settings, feeds: &[FeedSpec]) -> Vec<PathBuf> {
    let root = &settings.feeds.dir;
    let mut files: Vec<PathBuf> = feeds
        .iter()
        .flat_map(|spec| {
            let dir = feed_dir(root, spec);
            settings
                .feeds
                .formats
                .iter()
                .map(move |format| dir.join(format.file_name()))
        })
        .collect();
    files.push(root.join(output::OPML));
    if settings.feeds.stylesheet {
        files.push(root.join(stylesheet::XSL));
        files.push(root.join(stylesheet::SCRIPT));
    }
    files
}

fn remove_stale(
    root: &Path,
    written: Option<&[PathBuf]>,
    keep: &HashSet<PathBuf>,
    dry_run: bool,
) -> Result<usize, OutputError> {
    output::remove_stale(root, written.unwrap_or_default(), keep, dry_run).map_err(|source| {
        OutputError {
            path: root.to_path_buf(),
            source,
        }
    })
}

fn write(path: PathBuf, bytes: &[u8], dry_run: bool) -> Result<(PathBuf, Written), OutputError> {
    match output::write_if_changed(&path, bytes, dry_run) {
        Ok(written) => Ok((path, written)),
        Err(source) => Err(OutputError { path, source }),
    }
}
