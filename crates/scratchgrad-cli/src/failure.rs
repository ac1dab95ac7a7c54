//! A failure to report to a person: the one type every command (and the server) ends with.

use std::fmt;

/// A failure to report to the user: one line saying what went wrong and how to fix it,
/// optionally followed by lines that show where (such as a caret under an expression).
#[derive(Debug)]
pub struct Failure {
    message: String,
    detail: Option<String>,
    exit_code: i32,
}

impl Failure {
    /// An error with just a message.
    pub fn new(message: impl Into<String>) -> Self {
        // One line, whatever the message carries (a decoder's error can hold a newline),
        // with nothing a terminal would act on (a file name can hold an escape sequence) and
        // no path too long to read.
        let message: String = message.into();
        let message = message
            .lines()
            .map(str::trim)
            .filter(|line| !line.is_empty())
            .collect::<Vec<_>>()
            .join(" ");
        let message = scratchgrad::text::for_terminal(&message);
        Failure {
            message,
            detail: None,
            exit_code: 1,
        }
    }

    /// Exits with `code` instead of 1 (130 after Ctrl-C, as shells expect).
    pub fn with_exit_code(mut self, code: i32) -> Self {
        self.exit_code = code;
        self
    }

    /// The one-line message, without `error: ` before it.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The process exit code for this error.
    pub fn exit_code(&self) -> i32 {
        self.exit_code
    }

    /// Adds lines shown under the message.
    pub fn with_detail(mut self, detail: String) -> Self {
        self.detail = Some(detail);
        self
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "error: {}", self.message)?;
        if let Some(detail) = &self.detail {
            write!(f, "\n{detail}")?;
        }
        Ok(())
    }
}

/// Prints an error for the user on standard error (one line, and any detail under it).
pub fn report_error(error: &Failure) {
    crate::output::errln!("{error}");
}
