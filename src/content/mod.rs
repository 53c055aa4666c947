//! Reading the content folder: every post file becomes a [`Post`] or a [`Problem`].
//!
//! One bad file never stops the others: it is reported as `path[:line]: what is wrong` and
//! skipped. [`find`] walks the folder (and gives the digest that lets a pass with nothing to
//! do stop there, see `crate::settled`); [`read`] reads what changed and takes the rest from
//! the parse cache. Files are read and parsed on every core; the result is in path order, so
//! the same folder always gives the same posts in the same order.

pub mod cache;
pub mod dates;
mod flat_yaml;
pub mod frontmatter;
pub mod markup;
mod problem;
pub mod walk;

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use rayon::prelude::*;

use crate::generators::{Source, Verdict};
use crate::model::Post;
use crate::progress::Progress;
use crate::settings::Settings;
use cache::{Cached, CachedRef, Identity};
use walk::Candidate;

pub use problem::Problem;

/// What a scan found.
#[derive(Debug, Default)]
pub struct Scan {
    /// Every post that is not a draft, published or scheduled, in path order.
    pub posts: Vec<Post>,
    pub problems: Vec<Problem>,
    pub drafts: usize,
    /// Pages the generator builds that are not posts (no date, section pages, no front
    /// matter): counted, not published, not problems.
    pub pages: usize,
}

/// The content folder could not be read at all.
#[derive(Debug, thiserror::Error)]
#[error("cannot read content folder `{}`: {source}", dir.display())]
pub struct ScanError {
    pub dir: PathBuf,
    pub source: std::io::Error,
}

/// The post files of the content folder, found but not yet read.
pub struct Found {
    candidates: Vec<Candidate>,
    problems: Vec<Problem>,
    /// One hash over every file's path and identity: it changes when any file is added,
    /// removed or touched.
    pub digest: u64,
}

impl Found {
    /// Whether some file changed so recently before `now` that a second change could keep
    /// its identity (see [`cache::Identity::is_racy`]): then the digest proves nothing.
    pub fn is_racy(&self, now: SystemTime) -> bool {
        self.candidates
            .iter()
            .any(|c| c.identity.is_none_or(|id| id.is_racy(now)))
    }
}

/// Walks the content folder: every post file, stat'ed, in path order.
pub fn find(settings: &Settings) -> Result<Found, ScanError> {
    let dir = &settings.content.dir;
    std::fs::read_dir(dir).map_err(|source| ScanError {
        dir: dir.clone(),
        source,
    })?;
    let started = std::time::Instant::now();
    let (candidates, problems) = walk::walk(settings);
    let mut digest = xxhash_rust::xxh3::Xxh3::new();
    for candidate in &candidates {
        digest.update(candidate.rel.as_bytes());
        digest.update(&[0]);
        if let Some(identity) = &candidate.identity {
            digest.update(&identity.to_bytes());
        }
    }
    // Unreadable entries count too: one becoming readable is a change.
    for problem in &problems {
        digest.update(problem.to_string().as_bytes());
    }
    tracing::debug!(files = candidates.len(), elapsed = ?started.elapsed(), "walked");
    Ok(Found {
        candidates,
        problems,
        digest: digest.digest(),
    })
}

/// Reads what `find` found, taking unchanged files from the parse cache as `cache` allows.
pub fn read(
    found: Found,
    settings: &Settings,
    progress: &Progress,
    cache: &cache::Use,
    now: SystemTime,
) -> Scan {
    let started = std::time::Instant::now();
    let started_at = now;
    let Found {
        candidates,
        mut problems,
        ..
    } = found;
    let mut cached = cache::load(cache, settings.posts_fingerprint);
    tracing::debug!(entries = cached.len(), elapsed = ?started.elapsed(), "parse cache loaded");
    let work: Vec<(Candidate, Option<(Identity, Cached)>)> = candidates
        .into_iter()
        .map(|c| {
            let hit = cached.remove(&c.rel);
            (c, hit)
        })
        .collect();
    // Entries left over are files that are gone: the cache must forget them.
    let forgotten = !cached.is_empty();
    drop(cached);
    tracing::debug!(elapsed = ?started.elapsed(), "matched");
    progress.start(work.len());
    let reads: Vec<FileRead> = work
        .into_par_iter()
        .map(|(candidate, hit)| {
            let read = read_or_reuse(candidate, hit, settings);
            progress.tick();
            read
        })
        .collect();
    progress.finish();
    let reread = reads.iter().filter(|r| r.fresh).count();
    tracing::debug!(files = reads.len(), reread, elapsed = ?started.elapsed(), "read");
    let learned = reads
        .iter()
        .any(|r| r.fresh && r.identity.is_some_and(|id| !id.is_racy(started_at)));
    if learned || forgotten || matches!(cache, cache::Use::Refresh(_)) {
        cache::save(
            cache,
            settings.posts_fingerprint,
            &cache_entries(&reads),
            started_at,
        );
        tracing::debug!(elapsed = ?started.elapsed(), "parse cache saved");
    }

    // Each id's first user, by path order; borrowed, as a scan of 100,000 posts is one.
    let mut first_with_id: HashMap<&str, usize> = HashMap::with_capacity(reads.len());
    let mut repeats: Vec<Option<usize>> = vec![None; reads.len()];
    for (at, read) in reads.iter().enumerate() {
        if let Ok(Verdict::Post(post)) = &read.outcome {
            match first_with_id.entry(&post.id) {
                Entry::Occupied(first) => repeats[at] = Some(*first.get()),
                Entry::Vacant(slot) => {
                    slot.insert(at);
                }
            }
        }
    }
    let sources: Vec<Option<String>> = repeats
        .iter()
        .map(|first| {
            first.and_then(|first| match &reads[first].outcome {
                Ok(Verdict::Post(post)) => Some(post.source.clone()),
                _ => None,
            })
        })
        .collect();
    drop(first_with_id);
    let mut scan = Scan::default();
    scan.posts.reserve(reads.len());
    for (read, first) in reads.into_iter().zip(sources) {
        match (read.outcome, first) {
            (Ok(Verdict::Draft), _) => scan.drafts += 1,
            (Ok(Verdict::Page), _) => scan.pages += 1,
            (Ok(Verdict::Post(post)), Some(first)) => problems.push(Problem {
                file: read.candidate.path,
                line: None,
                message: format!(
                    "id `{}` is also used by `{first}`; give each post its own `id`",
                    post.id
                ),
            }),
            (Ok(Verdict::Post(post)), None) => scan.posts.push(*post),
            (Err(problem), _) => problems.push(problem),
        }
    }
    problems.sort_by(|a, b| a.file.cmp(&b.file).then(a.line.cmp(&b.line)));
    scan.problems = problems;
    scan
}

/// One file's outcome and whether it was read now (rather than taken from the cache).
struct FileRead {
    candidate: Candidate,
    /// `None` when the file could not be stat'ed or is a draft by its folder: not cached.
    identity: Option<Identity>,
    outcome: Result<Verdict, Problem>,
    fresh: bool,
}

/// Takes the cached outcome when the file is exactly as it was, else reads it.
fn read_or_reuse(
    candidate: Candidate,
    hit: Option<(Identity, Cached)>,
    settings: &Settings,
) -> FileRead {
    if candidate.draft_folder {
        return FileRead {
            candidate,
            identity: None,
            outcome: Ok(Verdict::Draft),
            fresh: false,
        };
    }
    let identity = candidate.identity;
    if let (Some(now), Some((then, cached))) = (identity, hit)
        && now == then
    {
        let outcome = match cached {
            Cached::Post(mut post) => {
                post.source.clone_from(&candidate.rel);
                post.file = settings.content.dir.join(&candidate.rel);
                Ok(Verdict::Post(post))
            }
            Cached::Draft => Ok(Verdict::Draft),
            Cached::Page => Ok(Verdict::Page),
            Cached::Problem { line, message } => Err(Problem {
                file: candidate.path.clone(),
                line,
                message,
            }),
        };
        return FileRead {
            candidate,
            identity,
            outcome,
            fresh: false,
        };
    }
    let outcome = read_candidate(&candidate, settings);
    FileRead {
        candidate,
        identity,
        outcome,
        fresh: true,
    }
}

/// What the cache should hold after this scan.
fn cache_entries(reads: &[FileRead]) -> Vec<cache::Entry<'_>> {
    reads
        .iter()
        .filter_map(|read| {
            let id = read.identity?;
            let of = match &read.outcome {
                Ok(Verdict::Post(post)) => CachedRef::Post(post),
                Ok(Verdict::Draft) => CachedRef::Draft,
                Ok(Verdict::Page) => CachedRef::Page,
                Err(problem) => CachedRef::Problem {
                    line: problem.line,
                    message: &problem.message,
                },
            };
            Some(cache::Entry {
                rel: &read.candidate.rel,
                id,
                of,
            })
        })
        .collect()
}

fn read_candidate(c: &Candidate, settings: &Settings) -> Result<Verdict, Problem> {
    if c.draft_folder {
        return Ok(Verdict::Draft);
    }
    let problem = |line: Option<usize>, message: String| Problem {
        file: c.path.clone(),
        line,
        message,
    };
    let bytes = read_text(&c.path, settings.content.max_file_bytes)
        .map_err(|(line, m)| problem(line, m))?;
    let text = as_text(&bytes).map_err(|(line, m)| problem(line, m))?;
    let split = frontmatter::split(text).map_err(|e| problem(e.line, e.message))?;
    let meta = match &split {
        Some(split) => Some(frontmatter::parse(split).map_err(|e| problem(e.line, e.message))?),
        None => None,
    };
    let source = Source {
        rel: &c.rel,
        format: c.format,
        hash: xxhash_rust::xxh3::xxh3_64(text.as_bytes()),
    };
    settings
        .generator
        .interpret(meta.as_ref(), &source)
        .map_err(|e| {
            if e.key.is_empty() {
                return problem(Some(1), e.message);
            }
            let line = split
                .as_ref()
                .and_then(|s| frontmatter::line_of_key(s, e.key));
            let message = if e.message.starts_with("no date") {
                e.message
            } else {
                format!("`{}` {}", e.key, e.message)
            };
            problem(line, message)
        })
}

/// Reads a post file whole, refusing what cannot be a post: too large, binary or empty.
/// Opens the file once: one `open`, one `fstat`, one read, which is most of what a scan
/// costs. [`as_text`] then checks that it is UTF-8.
fn read_text(path: &Path, max_bytes: u64) -> Result<Vec<u8>, (Option<usize>, String)> {
    let cannot_read = |e: std::io::Error| (None, format!("cannot read: {e}"));
    let mut file = std::fs::File::open(path).map_err(cannot_read)?;
    let size = file.metadata().map_err(cannot_read)?.len();
    if size > max_bytes {
        return Err((
            None,
            format!(
                "file is {:.1} MiB, over the {} MiB limit; raise `content.max_file_mib` or add it to `content.exclude`",
                size as f64 / 1048576.0,
                max_bytes / 1048576
            ),
        ));
    }
    let mut bytes = Vec::with_capacity(size as usize + 1);
    file.read_to_end(&mut bytes).map_err(cannot_read)?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err((None, "empty file".into()));
    }
    if bytes.contains(&0) {
        return Err((None, "binary file (it contains NUL bytes), not a post; remove it or add it to `content.exclude`".into()));
    }
    Ok(bytes)
}

/// The file's bytes as text, or the line of the first byte that is not UTF-8. Checked with
/// SIMD (`simdutf8`): on an archive of CJK posts the standard library's check was 6 % of a
/// cold build, and every byte of every post is checked.
fn as_text(bytes: &[u8]) -> Result<&str, (Option<usize>, String)> {
    simdutf8::basic::from_utf8(bytes).map_err(|_| {
        // The fast check says only "no"; the standard one says where.
        let valid = std::str::from_utf8(bytes).map_or_else(|e| e.valid_up_to(), str::len);
        let line = bytes[..valid].iter().filter(|&&b| b == b'\n').count() + 1;
        (Some(line), "not UTF-8 text; save the file as UTF-8".into())
    })
}

/// A post's body, read again from its file: what follows the front matter.
pub fn read_body(post: &Post) -> std::io::Result<String> {
    let bytes = std::fs::read(&post.file)?;
    let text = simdutf8::basic::from_utf8(&bytes).map_err(|_| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "stream did not contain valid UTF-8",
        )
    })?;
    let body = match frontmatter::split(text) {
        Ok(Some(split)) => split.body,
        _ => text,
    };
    Ok(body.to_owned())
}
