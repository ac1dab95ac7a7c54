//! The `scratchgrad` binary: the command line (`cli/`, one file per command) and the local
//! web app (`web/`), two front ends over the library that never call each other.

mod cli;
mod failure;
mod output;
mod web;

use clap::{Parser, Subcommand};

pub use failure::{report_error, Failure};

/// Backpropagation from first principles: scalar and tensor autograd, hand-derived layers,
/// and an MNIST trainer.
#[derive(Parser)]
#[command(name = "scratchgrad", version, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    Grad(cli::GradArgs),
    Train(Box<cli::TrainArgs>),
    Eval(cli::EvalArgs),
    Predict(cli::PredictArgs),
    Sample(cli::SampleArgs),
    Data(cli::DataArgs),
    Bench(cli::BenchArgs),
    Export(cli::ExportArgs),
    Serve(web::ServeArgs),
    /// The same as `data fetch`
    #[command(hide = true)]
    Fetch(cli::FetchArgs),
}

/// A training step allocates and frees the same few arrays of a few hundred kB every step.
/// glibc's defaults hand such blocks back to the kernel on free (mmap above a threshold, and
/// trimming the heap top), so every step page-faults them in again: measured, that doubled an
/// MNIST epoch (2.3-2.6 s against 1.16-1.18 s, `scratchgrad bench --worker autograd --threads
/// 1`, docs/BENCHMARKS.md). Raising both thresholds keeps freed memory for reuse; peak memory
/// is unchanged (96 MB either way).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn keep_freed_memory() {
    // SAFETY: mallopt only changes allocator tuning parameters; it is called before any thread
    // is started.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 256 << 20);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 512 << 20);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn keep_freed_memory() {}

/// A mistake on the command line, as one line (clap's first, without the usage block that
/// follows it) and exit code 2; `--help` and `--version` print in full and exit 0.
fn usage_error(e: clap::Error) -> ! {
    use clap::error::ErrorKind;
    if matches!(
        e.kind(),
        ErrorKind::DisplayHelp
            | ErrorKind::DisplayVersion
            | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
    ) {
        e.exit();
    }
    let text = e.to_string();
    let said: Vec<&str> = text
        .lines()
        .take_while(|line| !line.starts_with("Usage:"))
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with("For more information"))
        .collect();
    let said = said.join("; ").replace(":;", ":");
    let said = said.strip_prefix("error: ").unwrap_or(&said);
    let said = scratchgrad::text::for_terminal(said);
    output::errln!("error: {said} (see --help)");
    std::process::exit(2);
}

fn main() {
    keep_freed_memory();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => usage_error(e),
    };
    let result = match cli.command {
        Command::Grad(args) => cli::grad(args),
        Command::Train(args) => cli::train(*args),
        Command::Eval(args) => cli::eval(args),
        Command::Predict(args) => cli::predict(args),
        Command::Sample(args) => cli::sample(args),
        Command::Data(args) => cli::data(args),
        Command::Bench(args) => cli::bench(args),
        Command::Export(args) => cli::export(args),
        Command::Serve(args) => web::run(args),
        Command::Fetch(args) => cli::fetch_command(args),
    };
    if let Err(error) = result {
        report_error(&error);
        std::process::exit(error.exit_code());
    }
}
