//! What every command shares: the context it runs in, how it ends, loading the settings,
//! a runtime for its network work, and how problems and counts are reported.

use std::path::Path;
use std::process::ExitCode;

use crate::clock::Clock;
use crate::content::Problem;
use crate::settings::{Notifier, Settings};

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
    /// `'static`: the server's threads read it too.
    pub clock: &'static dyn Clock,
}

pub(crate) fn load(ctx: &Context) -> Option<Settings> {
    match crate::notify::platforms::load_settings(ctx.config) {
        Ok(settings) => Some(settings),
        Err(e) => {
            crate::errln!("error: {e}");
            None
        }
    }
}

/// The runtime of the commands that deliver: one thread for the lanes' I/O and timers
/// (every SMTP or HTTP round trip stays on the thread that polls its socket), with store
/// calls on its blocking pool and the scanner and composer on threads of their own.
pub(crate) fn runtime() -> Option<tokio::runtime::Runtime> {
    match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => Some(rt),
        Err(e) => {
            crate::errln!("error: cannot start the async runtime: {e}");
            None
        }
    }
}

/// The notifier called `name`, or an error naming the ones there are.
pub(crate) fn find_notifier<'s>(settings: &'s Settings, name: &str) -> Option<&'s Notifier> {
    let found = settings.notifiers.iter().find(|n| n.name == name);
    if found.is_none() {
        let known: Vec<&str> = settings.notifiers.iter().map(|n| n.name.as_str()).collect();
        crate::errln!(
            "error: no notifier `{name}` in `{}`; known: {}",
            settings.path.display(),
            if known.is_empty() {
                "none".to_owned()
            } else {
                known.join(", ")
            }
        );
    }
    found
}

/// `1 post`, `2 posts`: the operator's summary lines count in English.
pub(crate) fn count(n: usize, one: &str, many: &str) -> String {
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{n} {many}")
    }
}

pub(crate) fn report_problems(problems: &[Problem]) {
    for problem in problems {
        crate::errln!("{problem}");
    }
}

/// Prints the subscriber rows that are skipped (`file:line: …`); returns how many.
pub(crate) fn report_skipped_subscribers(settings: &Settings) -> usize {
    let mut count = 0;
    for notifier in &settings.notifiers {
        if let crate::settings::NotifierKind::Email(target) = &notifier.kind {
            for problem in target.readers().skipped() {
                crate::errln!("{problem} (notifier {})", notifier.name);
                count += 1;
            }
        }
    }
    count
}
