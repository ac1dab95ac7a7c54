//! The `scratchgrad` command line. The only place that prints for people.

use clap::Parser;

/// Backpropagation from first principles: scalar and tensor autograd, hand-derived layers,
/// and an MNIST trainer.
#[derive(Parser)]
#[command(name = "scratchgrad", version, about, long_about = None)]
struct Cli {}

fn main() {
    Cli::parse();
}
