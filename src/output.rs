//! What commands print. A reader may close the pipe early (`tidings status --json | head`,
//! `tidings check 2>&1 | true`): `println!` then panics ("failed printing to stdout: Broken
//! pipe", exit 101). These macros write the same text and let a closed stream go, so the
//! command ends as it would have, with its own exit status.

use std::fmt;
use std::io::Write;

/// Writes to stdout; a closed or failing stdout is ignored.
pub fn stdout(args: fmt::Arguments, newline: bool) {
    let mut out = std::io::stdout().lock();
    let _ = out.write_fmt(args);
    if newline {
        let _ = out.write_all(b"\n");
    }
}

/// Writes to stderr; a closed or failing stderr is ignored.
pub fn stderr(args: fmt::Arguments, newline: bool) {
    let mut err = std::io::stderr().lock();
    let _ = err.write_fmt(args);
    if newline {
        let _ = err.write_all(b"\n");
    }
}

/// `println!` that a closed stdout cannot turn into a panic.
#[macro_export]
macro_rules! outln {
    () => { $crate::output::stdout(format_args!(""), true) };
    ($($arg:tt)*) => { $crate::output::stdout(format_args!($($arg)*), true) };
}

/// `print!` that a closed stdout cannot turn into a panic.
#[macro_export]
macro_rules! out {
    ($($arg:tt)*) => { $crate::output::stdout(format_args!($($arg)*), false) };
}

/// `eprintln!` that a closed stderr cannot turn into a panic.
#[macro_export]
macro_rules! errln {
    () => { $crate::output::stderr(format_args!(""), true) };
    ($($arg:tt)*) => { $crate::output::stderr(format_args!($($arg)*), true) };
}

/// `eprint!` that a closed stderr cannot turn into a panic.
#[macro_export]
macro_rules! err {
    ($($arg:tt)*) => { $crate::output::stderr(format_args!($($arg)*), false) };
}
