//! The command line's commands, one file each, and what they share: progress on a terminal,
//! the one way to save a file, Ctrl-C. The web app is beside this module (`web`), not in it.

mod bench;
mod data;
mod eval;
mod export;
mod files;
mod grad;
mod interrupt;
mod predict;
mod progress;
mod text_model;
mod train;
mod train_text;

pub use bench::BenchArgs;
pub use data::{fetch_command, DataArgs, FetchArgs};
pub use eval::EvalArgs;
pub use export::ExportArgs;
pub use grad::GradArgs;
pub use predict::PredictArgs;
pub use text_model::SampleArgs;
pub use train::TrainArgs;

/// Runs `scratchgrad bench`.
pub use bench::run as bench;
/// Runs `scratchgrad data`.
pub use data::run as data;
/// Runs `scratchgrad eval`.
pub use eval::run as eval;
/// Runs `scratchgrad export`.
pub use export::run as export;
/// Runs `scratchgrad grad`.
pub use grad::run as grad;
/// Runs `scratchgrad predict`.
pub use predict::run as predict;
/// Runs `scratchgrad sample`.
pub use text_model::sample;
/// Runs `scratchgrad train`.
pub use train::run as train;
