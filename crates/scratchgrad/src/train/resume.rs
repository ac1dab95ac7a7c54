//! Reading a run back to continue it: its checkpoint and earlier metrics, trusted no more than
//! a model file or the command line. The configuration goes through the same validation as
//! new settings, the weights through the model loader, and the optimizer's state is checked
//! against the weights it belongs to.

use std::fmt;

use super::metrics::{EpochMetrics, HeldOut};
use super::run_dir::{RunDir, CHECKPOINT, METRICS};
use super::{ConfigError, TrainConfig};
use crate::array::Array;
use crate::files::read_regular;
use crate::model_files::{load_checkpoint, LoadError};
use crate::optim::OptimizerState;

/// The most bytes of `metrics.jsonl` read (a line is under 200 bytes).
const MAX_METRICS_BYTES: u64 = 64 << 20;

/// A run's state after its last complete epoch, checked and ready to continue.
pub struct Resume {
    /// Epochs completed.
    pub epochs_done: usize,
    /// Their metrics, one per epoch.
    pub history: Vec<EpochMetrics>,
    pub(crate) weights: Vec<(String, Array<f32>)>,
    pub(crate) counts: Vec<(String, u64)>,
    pub(crate) optimizer: OptimizerState<f32>,
    pub(crate) shapes: Vec<Vec<usize>>,
}

/// Why a run cannot be resumed.
#[derive(Debug)]
pub enum ResumeError {
    /// The checkpoint cannot be read or is not a valid checkpoint.
    Load(LoadError),
    /// Its configuration is out of range or does not fit the data set.
    Config {
        /// The checkpoint.
        file: String,
        /// What is wrong.
        source: ConfigError,
    },
    /// Its parts do not fit together (a phrase that follows the file's name).
    Inconsistent {
        /// The file.
        file: String,
        /// What does not fit.
        problem: String,
    },
}

impl fmt::Display for ResumeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ResumeError::Load(e) => e.fmt(f),
            ResumeError::Config { file, source } => write!(f, "{file} has a config whose {source}"),
            ResumeError::Inconsistent { file, problem } => write!(f, "{file} {problem}"),
        }
    }
}

impl std::error::Error for ResumeError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ResumeError::Load(e) => Some(e),
            ResumeError::Config { source, .. } => Some(source),
            ResumeError::Inconsistent { .. } => None,
        }
    }
}

impl Resume {
    /// Checks the counts the run kept against the data it trains on: `training` examples in
    /// batches of `batch_size` make a known number of optimizer steps per epoch, and every
    /// batch norm layer has seen one batch per step.
    pub(crate) fn check_steps(&self, training: usize, batch_size: usize) -> Result<(), String> {
        let batches = training.div_ceil(batch_size.max(1)) as u64;
        let steps = (self.epochs_done as u64).saturating_mul(batches);
        if self.optimizer.steps != steps {
            return Err(format!(
                "says the optimizer took {} steps, but {} epoch(s) of {batches} batches make {steps}",
                self.optimizer.steps, self.epochs_done
            ));
        }
        if let Some((name, count)) = self.counts.iter().find(|(_, n)| *n != steps) {
            return Err(format!(
                "says `{name}` saw {count} batches, but the run took {steps} steps"
            ));
        }
        Ok(())
    }
}

/// Reads the run in `dir` (locked by the caller) for `train` to continue: its configuration
/// and its state after the last complete epoch.
pub fn load_resume(dir: &RunDir) -> Result<(TrainConfig, Resume), ResumeError> {
    let path = dir.file(CHECKPOINT);
    let file = path.display().to_string();
    let inconsistent = |problem: String| ResumeError::Inconsistent {
        file: file.clone(),
        problem,
    };
    let checkpoint = load_checkpoint(&path).map_err(ResumeError::Load)?;
    let config =
        TrainConfig::from_json(&checkpoint.config).map_err(|source| ResumeError::Config {
            file: file.clone(),
            source,
        })?;
    if config.arch != checkpoint.model.arch {
        return Err(inconsistent(format!(
            "has a config for a {} network but weights of a {} one",
            config.arch.describe(),
            checkpoint.model.arch.describe()
        )));
    }
    if checkpoint.model.dataset != config.dataset.to_string() {
        return Err(inconsistent(format!(
            "has a config for {} but a model trained on `{}`",
            config.dataset, checkpoint.model.dataset
        )));
    }
    if checkpoint.model.class_names != config.dataset.class_names() {
        return Err(inconsistent(format!(
            "has class names that are not {}'s",
            config.dataset
        )));
    }
    if !(1..=config.epochs).contains(&checkpoint.epochs_done) {
        return Err(inconsistent(format!(
            "says {} epochs are done of the {} its config asks for",
            checkpoint.epochs_done, config.epochs
        )));
    }
    // The optimizer keeps state for the learnt parameters only, in their order.
    let shapes: Vec<Vec<usize>> = config
        .arch
        .parameter_shapes()
        .into_iter()
        .map(|(_, shape)| shape)
        .collect();
    config
        .optimizer
        .build(config.lr)
        .load_state(checkpoint.optimizer.clone(), &shapes)
        .map_err(inconsistent)?;

    let metrics_path = dir.file(METRICS);
    let shown = metrics_path.display().to_string();
    let text =
        read_regular(&metrics_path, MAX_METRICS_BYTES).map_err(|e| ResumeError::Inconsistent {
            file: shown.clone(),
            problem: e.to_string(),
        })?;
    let text = String::from_utf8_lossy(&text);
    let held_out = if config.val_split > 0.0 {
        HeldOut::Validation
    } else {
        HeldOut::Test
    };
    let history: Vec<EpochMetrics> = text
        .lines()
        .take(checkpoint.epochs_done)
        .map_while(|line| serde_json::from_str(line).ok())
        .map_while(|json| EpochMetrics::from_json(&json))
        .enumerate()
        .take_while(|(i, m)| m.epoch == i + 1 && m.held_out == held_out)
        .map(|(_, m)| m)
        .collect();
    if history.len() != checkpoint.epochs_done {
        return Err(ResumeError::Inconsistent {
            file: shown,
            problem: format!(
                "has {} valid epoch lines where the checkpoint needs {}",
                history.len(),
                checkpoint.epochs_done
            ),
        });
    }
    Ok((
        config,
        Resume {
            epochs_done: checkpoint.epochs_done,
            history,
            weights: checkpoint.model.weights,
            counts: checkpoint.model.counts,
            optimizer: checkpoint.optimizer,
            shapes,
        },
    ))
}
