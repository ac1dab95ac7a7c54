//! The command line: argument parsing (clap) and the subcommands. The only code that prints.

mod output;

mod bench;
mod data;
mod eval;
mod export;
mod files;
mod grad;
mod interrupt;
mod predict;
mod progress;
mod report;
mod serve;
mod train;

pub use report::report_files;

use std::fmt;

use clap::{Parser, Subcommand};

/// Backpropagation from first principles: scalar and tensor autograd, hand-derived layers,
/// and an MNIST trainer.
#[derive(Parser)]
#[command(name = "scratchgrad", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    Grad(grad::GradArgs),
    Train(train::TrainArgs),
    Eval(eval::EvalArgs),
    Predict(predict::PredictArgs),
    Data(data::DataArgs),
    Bench(bench::BenchArgs),
    Export(export::ExportArgs),
    Serve(serve::ServeArgs),
    /// The same as `data fetch`
    #[command(hide = true)]
    Fetch(data::FetchArgs),
}

/// A failure to report to the user: one line saying what went wrong and how to fix it,
/// optionally followed by lines that show where (such as a caret under an expression).
#[derive(Debug)]
pub struct CliError {
    message: String,
    detail: Option<String>,
    exit_code: i32,
}

impl CliError {
    /// An error with just a message.
    pub fn new(message: impl Into<String>) -> Self {
        CliError {
            message: message.into(),
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

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "error: {}", self.message)?;
        if let Some(detail) = &self.detail {
            write!(f, "\n{detail}")?;
        }
        Ok(())
    }
}

/// Prints an error for the user on standard error (one line, and any detail under it).
pub fn report_error(error: &CliError) {
    output::errln!("{error}");
}

/// Runs the command the user asked for.
pub fn run(cli: Cli) -> Result<(), CliError> {
    match cli.command {
        Command::Grad(args) => grad::run(args),
        Command::Train(args) => train::run(args),
        Command::Eval(args) => eval::run(args),
        Command::Predict(args) => predict::run(args),
        Command::Data(args) => data::run(args),
        Command::Bench(args) => bench::run(args),
        Command::Export(args) => export::run(args),
        Command::Serve(args) => serve::run(args),
        Command::Fetch(args) => data::fetch_command(args),
    }
}
