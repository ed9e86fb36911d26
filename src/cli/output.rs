//! Writing to a terminal or pipe that may go away.
//!
//! Rust ignores SIGPIPE, so `println!` panics when stdout is a pipe whose
//! reader has exited (`hypersweep run ... | head -1`) or a terminal that was
//! closed. A panic in the middle of a sweep would leave a trial Running and
//! its process unattended; dying of SIGPIPE would too. What the CLI prints is
//! a courtesy, while the store is the record, so these macros write and drop
//! any error: the sweep goes on, finishes its trials and records them all.

use std::fmt;
use std::io::Write;

/// Writes to stdout, ignoring a closed or broken stream.
pub(crate) fn stdout(args: fmt::Arguments<'_>) {
    let _ = std::io::stdout().lock().write_fmt(args);
}

/// Writes to stderr, ignoring a closed or broken stream.
pub(crate) fn stderr(args: fmt::Arguments<'_>) {
    let _ = std::io::stderr().lock().write_fmt(args);
}

/// `println!` that never panics on a closed stdout.
macro_rules! outln {
    () => { $crate::cli::output::stdout(format_args!("\n")) };
    ($($arg:tt)*) => {
        $crate::cli::output::stdout(format_args!("{}\n", format_args!($($arg)*)))
    };
}

/// `print!` that never panics on a closed stdout.
macro_rules! out {
    ($($arg:tt)*) => { $crate::cli::output::stdout(format_args!($($arg)*)) };
}

/// `eprintln!` that never panics on a closed stderr.
macro_rules! errln {
    ($($arg:tt)*) => {
        $crate::cli::output::stderr(format_args!("{}\n", format_args!($($arg)*)))
    };
}

/// `eprint!` that never panics on a closed stderr.
macro_rules! err {
    ($($arg:tt)*) => { $crate::cli::output::stderr(format_args!($($arg)*)) };
}
