//! Remembering that a pass changed nothing it could, so that the next pass over the same
//! content can stop after the walk.
//!
//! With the parse cache, a pass over 100,000 unchanged posts still decodes every cached post,
//! plans every feed and compares every post with the state file: most of a second, every
//! scan, forever. None of it can change the outcome when all of these hold, so none of it is
//! done:
//! - every post file has the identity it had (one digest over every path, size, time and
//!   inode the walk saw; a file added, removed or touched changes it), and none had changed
//!   in the seconds before that pass (a second write in the same clock tick could keep the
//!   identity: no record is kept then);
//! - the settings text is the same (and the program version: the file names it);
//! - the clock is between that pass and the first date a scheduled post comes due (which
//!   posts are published is the only way "now" enters a feed), never before the pass;
//! - every feed file is as that pass left it (the feeds manifest checks size and mtime);
//! - for `run`, the state file's last recorded scan is the one that pass recorded, so the
//!   state cannot have moved on (or been restored) behind this record.
//!
//! The record is a small JSON file beside the state (`<state>.settled`) with what the pass
//! reported: counts and problems, which are reported again each time. Any doubt (no file,
//! another version, a field that does not parse) means a full pass.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::content::Problem;
use crate::model::Post;
use crate::settings::Settings;

/// What a full pass concluded, and the conditions under which it still holds.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Settled {
    version: String,
    /// Digest of the walk: every post file's path and identity.
    content: u64,
    /// `Settings::fingerprint` of the pass.
    settings: u64,
    /// When the pass ran (by the program's clock).
    since: DateTime<Utc>,
    /// The first date after `since` on which a scheduled post comes due.
    until: Option<DateTime<Utc>>,
    /// The feeds manifest fingerprint the pass left.
    pub feeds_fingerprint: u64,
    pub posts: usize,
    pub published: usize,
    pub scheduled: usize,
    pub drafts: usize,
    pub feeds: usize,
    /// Feed files the pass left in place (written or unchanged).
    pub files: usize,
    pub problems: Vec<Problem>,
    /// The scan row `run` recorded for this pass (`None` for `build`).
    pub scan: Option<i64>,
}

/// What a pass found, to be remembered.
pub struct Pass<'a> {
    pub content: u64,
    /// Some file changed too recently for its identity to prove it unchanged next time.
    pub racy: bool,
    pub now: DateTime<Utc>,
    pub posts: &'a [Post],
    pub drafts: usize,
    pub feeds: &'a crate::feeds::Report,
    pub problems: &'a [Problem],
    pub scan: Option<i64>,
}

fn path(settings: &Settings) -> PathBuf {
    let mut name = settings
        .state
        .path
        .file_name()
        .unwrap_or_default()
        .to_owned();
    name.push(".settled");
    settings.state.path.with_file_name(name)
}

/// The record of the last pass, when it still holds for content with digest `content` at
/// `now` and the feeds folder is as it left it.
pub fn still_holds(settings: &Settings, content: u64, now: DateTime<Utc>) -> Option<Settled> {
    let text = std::fs::read_to_string(path(settings)).ok()?;
    let settled: Settled = serde_json::from_str(&text).ok()?;
    let holds = settled.version == env!("CARGO_PKG_VERSION")
        && settled.content == content
        && settled.settings == settings.fingerprint
        && settled.since <= now
        && settled.until.is_none_or(|until| now < until)
        && crate::feeds::manifest::still_current(&settings.feeds.dir, settled.feeds_fingerprint);
    holds.then_some(settled)
}

/// Remembers a full pass. Failing to is only slower next time.
pub fn remember(settings: &Settings, pass: &Pass) {
    if pass.racy {
        let _ = std::fs::remove_file(path(settings));
        return;
    }
    // The first moment a post comes into the feeds or leaves them.
    let until = pass
        .posts
        .iter()
        .flat_map(|post| [Some(post.available()), post.expires])
        .flatten()
        .map(|at| at.with_timezone(&Utc))
        .filter(|at| *at > pass.now)
        .min();
    let settled = Settled {
        version: env!("CARGO_PKG_VERSION").to_owned(),
        content: pass.content,
        settings: settings.fingerprint,
        since: pass.now,
        until,
        feeds_fingerprint: pass.feeds.fingerprint,
        posts: pass.posts.len(),
        published: pass.feeds.published,
        scheduled: pass.feeds.scheduled,
        drafts: pass.drafts,
        feeds: pass.feeds.feeds,
        files: pass.feeds.changed + pass.feeds.unchanged,
        problems: pass.problems.to_vec(),
        scan: pass.scan,
    };
    write(&path(settings), &settled);
}

/// Records that `run` recorded scan `id` over the same settled pass.
pub fn rerecorded(settings: &Settings, mut settled: Settled, id: i64) {
    settled.scan = Some(id);
    write(&path(settings), &settled);
}

fn write(path: &Path, settled: &Settled) {
    let text = serde_json::to_string(settled).expect("plain structs serialize");
    let temp = path.with_extension(format!("tmp{}", std::process::id()));
    let result = path
        .parent()
        .filter(|dir| !dir.as_os_str().is_empty())
        .map_or(Ok(()), std::fs::create_dir_all)
        .and_then(|()| std::fs::write(&temp, text))
        .and_then(|()| std::fs::rename(&temp, path));
    if let Err(e) = result {
        let _ = std::fs::remove_file(&temp);
        tracing::warn!("cannot write {}: {e}", path.display());
    }
}
