//! Printing for people, and surviving a reader that stops reading: `scratchgrad train | head
//! -1` must not kill the run when `head` exits. Once standard output is closed, nothing more
//! is printed to it and the command carries on (writing its files); a failed write to
//! standard error is ignored the same way.

use std::fmt;
use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};

static STDOUT_CLOSED: AtomicBool = AtomicBool::new(false);

/// Writes to standard output unless it has been closed; remembers when it is.
pub fn print(args: fmt::Arguments) {
    if STDOUT_CLOSED.load(Ordering::Relaxed) {
        return;
    }
    let mut out = std::io::stdout().lock();
    if out.write_fmt(args).and_then(|()| out.flush()).is_err() {
        STDOUT_CLOSED.store(true, Ordering::Relaxed);
    }
}

/// Writes a file's content (`--svg -`) to standard output. Unlike progress, content that
/// does not arrive is a failure: the error is returned, for the command to exit with.
pub fn write_content(bytes: &[u8]) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    out.write_all(bytes).and_then(|()| out.flush())
}

/// Writes to standard error, ignoring failure (there is nowhere left to report it).
pub fn print_error(args: fmt::Arguments) {
    let _ = std::io::stderr().lock().write_fmt(args);
}

/// `println!` that survives a closed standard output.
macro_rules! outln {
    () => { $crate::output::print(format_args!("\n")) };
    ($($arg:tt)*) => {
        $crate::output::print(format_args!("{}\n", format_args!($($arg)*)))
    };
}

/// `print!` that survives a closed standard output.
macro_rules! out {
    ($($arg:tt)*) => { $crate::output::print(format_args!($($arg)*)) };
}

/// `eprintln!` that survives a closed standard error.
macro_rules! errln {
    ($($arg:tt)*) => {
        $crate::output::print_error(format_args!("{}\n", format_args!($($arg)*)))
    };
}

pub(crate) use {errln, out, outln};
