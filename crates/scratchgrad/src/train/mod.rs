//! Training a classifier: the configuration, the loop (batches -> forward -> loss ->
//! backward -> step), evaluation, and what a run leaves on disk (its folder, checkpoints,
//! metrics).
//!
//! Progress is reported through an [`Observer`]; this module never prints.

mod config;
mod diagnostics;
mod evaluate;
mod metrics;
mod micro_batch;
mod model;
mod pictures;
mod preset;
mod resume;
mod run;
pub mod run_dir;
mod session;
mod settings;

pub use config::{short_number, ConfigError, OptimizerKind, Schedule, TrainConfig, MAX_EPOCHS};
pub use diagnostics::{
    probe, update_ratios, ActivationHealth, Diagnostics, GradientHealth, Histogram, BINS,
    PROBE_IMAGES,
};
pub use evaluate::{check_finite, evaluate, Evaluation, NotFinite};
pub use metrics::{EpochMetrics, HeldOut};
pub use model::{correct, Engine, Model};
pub use pictures::{draw_pictures, first_layer_picture, predictions_picture, Pictures};
pub use preset::{Defaults, Preset};
pub use resume::{load_resume, Resume, ResumeError};
pub use run::{train, EpochReport, Observer, TrainError, TrainOutcome, RATIO_SAMPLES};
pub use run_dir::{RunDir, RunDirError};
pub use session::{timestamp, Finished, Folder, Session, SessionError};
pub use settings::{Settings, KEYS};
