//! A one-line progress counter for long scans, shown only on a terminal.
//!
//! Ten thousand posts take a fraction of a second, a slow network disk much longer; a person
//! watching should see that something is happening. Scripts and CI (no terminal on stderr)
//! get nothing, so logs stay clean.

use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicUsize, Ordering};

/// Counts work done and redraws `label done/total` on stderr now and then.
pub struct Progress {
    label: &'static str,
    enabled: bool,
    total: AtomicUsize,
    done: AtomicUsize,
}

/// Below this many items the scan is over before a person could read the line.
const WORTH_SHOWING: usize = 2000;

impl Progress {
    /// Shows progress only when stderr is a terminal.
    pub fn on_terminal(label: &'static str) -> Progress {
        Progress {
            label,
            enabled: std::io::stderr().is_terminal(),
            total: AtomicUsize::new(0),
            done: AtomicUsize::new(0),
        }
    }

    /// Never shows anything.
    pub fn hidden() -> Progress {
        Progress {
            label: "",
            enabled: false,
            total: AtomicUsize::new(0),
            done: AtomicUsize::new(0),
        }
    }

    pub fn start(&self, total: usize) {
        self.total.store(total, Ordering::Relaxed);
        self.done.store(0, Ordering::Relaxed);
    }

    pub fn tick(&self) {
        let done = self.done.fetch_add(1, Ordering::Relaxed) + 1;
        let total = self.total.load(Ordering::Relaxed);
        if self.enabled && total >= WORTH_SHOWING && done.is_multiple_of((total / 100).max(1)) {
            let mut err = std::io::stderr().lock();
            let _ = write!(err, "\r{} {done}/{total}", self.label);
            let _ = err.flush();
        }
    }

    /// Clears the line.
    pub fn finish(&self) {
        if self.enabled && self.total.load(Ordering::Relaxed) >= WORTH_SHOWING {
            let _ = write!(std::io::stderr(), "\r\x1b[2K");
        }
    }
}
