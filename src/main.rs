//! The `scratchgrad` command line (see `src/cli/`).

mod cli;

use clap::Parser;

fn main() {
    if let Err(error) = cli::run(cli::Cli::parse()) {
        eprintln!("{error}");
        std::process::exit(error.exit_code());
    }
}
