//! Training a classifier: the configuration, the loop (batches -> forward -> loss ->
//! backward -> step), evaluation, and what a run leaves on disk (checkpoints, metrics).
//!
//! Progress is reported through an [`Observer`]; this module never prints.

mod evaluate;
mod model;
mod run;

pub use evaluate::{evaluate, Evaluation};
pub use model::{correct, Activation, Architecture, Engine, Model};
pub use run::{
    train, EpochMetrics, Observer, OptimizerKind, Schedule, TrainConfig, TrainError, TrainOutcome,
};
