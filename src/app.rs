//! One function per command: wires settings, content, clock and feeds together and decides
//! the exit status.
//!
//! Exit status: 0 when everything was read, 1 when some posts had problems (every good post
//! is still published), 2 when nothing could be done (bad settings, unreadable content
//! folder, unwritable feeds folder).

use std::path::Path;
use std::process::ExitCode;
use std::time::Instant;

use crate::clock::Clock;
use crate::content::{self, Problem};
use crate::feeds::{self, Mode};
use crate::progress::Progress;
use crate::settings::Settings;

/// How a command ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Everything was read and published.
    Clean,
    /// Some posts had problems; the rest were published.
    Problems,
    /// Nothing was done.
    Failed,
}

impl From<Status> for ExitCode {
    fn from(status: Status) -> ExitCode {
        ExitCode::from(match status {
            Status::Clean => 0,
            Status::Problems => 1,
            Status::Failed => 2,
        })
    }
}

/// Options shared by every command.
pub struct Context<'a> {
    pub config: &'a Path,
    pub quiet: bool,
    pub clock: &'a dyn Clock,
}

/// `tidings build` (mode Write) and `tidings check` (mode Check).
pub fn build(ctx: &Context, mode: Mode) -> Status {
    let started = Instant::now();
    let settings = match Settings::from_file(ctx.config) {
        Ok(settings) => settings,
        Err(e) => {
            eprintln!("error: {e}");
            return Status::Failed;
        }
    };
    let progress = if ctx.quiet {
        Progress::hidden()
    } else {
        Progress::on_terminal("reading posts")
    };
    let scan = match content::scan(&settings, &progress) {
        Ok(scan) => scan,
        Err(e) => {
            eprintln!("error: {e}");
            return Status::Failed;
        }
    };
    tracing::debug!(posts = scan.posts.len(), elapsed = ?started.elapsed(), "scanned");
    let report = match feeds::build(&scan.posts, &settings, ctx.clock.now(), mode) {
        Ok(report) => report,
        Err(e) => {
            report_problems(&scan.problems);
            eprintln!("error: {e}");
            return Status::Failed;
        }
    };
    let mut problems = scan.problems;
    problems.extend(report.problems.iter().cloned());
    report_problems(&problems);

    if !ctx.quiet {
        let (changed, unchanged, removed) = match mode {
            Mode::Write => ("written", "unchanged", "removed"),
            Mode::Check => ("would be written", "up to date", "would be removed"),
        };
        println!(
            "{} posts ({} published, {} scheduled, {} drafts), {} with problems; {} feeds: {} files {changed}, {} {unchanged}, {} {removed} in {:.2?}",
            report.published + report.scheduled + scan.drafts + problems.len(),
            report.published,
            report.scheduled,
            scan.drafts,
            problems.len(),
            report.feeds,
            report.changed,
            report.unchanged,
            report.removed,
            started.elapsed(),
        );
    }
    if problems.is_empty() {
        Status::Clean
    } else {
        Status::Problems
    }
}

fn report_problems(problems: &[Problem]) {
    for problem in problems {
        eprintln!("{problem}");
    }
}
