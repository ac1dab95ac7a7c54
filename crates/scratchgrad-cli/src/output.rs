//! Printing for people, and surviving a reader that stops reading: `scratchgrad train | head
//! -1` must not kill the run when `head` exits. Once standard output is closed, nothing more
//! is printed to it and the command carries on (writing its files); a failed write to
//! standard error is ignored the same way.

use std::fmt;
use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};

static STDOUT_CLOSED: AtomicBool = AtomicBool::new(false);
/// Why a write to standard output failed, unless the reader closed it (a closed pipe).
static STDOUT_FAILURE: std::sync::OnceLock<String> = std::sync::OnceLock::new();

/// Writes to standard output unless it has been closed; remembers when it is, and why.
pub fn print(args: fmt::Arguments) {
    if STDOUT_CLOSED.load(Ordering::Relaxed) {
        return;
    }
    let mut out = std::io::stdout().lock();
    if let Err(e) = out.write_fmt(args).and_then(|()| out.flush()) {
        STDOUT_CLOSED.store(true, Ordering::Relaxed);
        if e.kind() != std::io::ErrorKind::BrokenPipe {
            let _ = STDOUT_FAILURE.set(e.to_string());
        }
    }
}

/// Whether standard output has been closed (a write to it failed): a command whose output
/// is all it makes (`sample`) stops there.
pub fn stdout_closed() -> bool {
    STDOUT_CLOSED.load(Ordering::Relaxed)
}

/// For commands whose output is their result (`eval`, `predict`, `grad`): an error when
/// what they printed did not arrive (a full disk), so that `eval --json > out.json` never
/// reports success with an empty file. A reader that closed the pipe early chose to stop
/// reading: that is no error.
pub fn results_delivered() -> Result<(), crate::Failure> {
    match STDOUT_FAILURE.get() {
        Some(why) => Err(crate::Failure::new(format!(
            "cannot write the results to standard output: {why}"
        ))),
        None => Ok(()),
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
