//! The training loop and what it writes after every epoch.

use std::fmt;
use std::path::PathBuf;
use std::time::Instant;

use super::diagnostics::{probe, update_ratios, Diagnostics, PROBE_IMAGES};
use super::metrics::{EpochMetrics, HeldOut};
use super::resume::Resume;
use super::run_dir::{RunDir, CHECKPOINT, METRICS, MODEL};
use super::{evaluate, Evaluation, Model, Schedule, TrainConfig};
use crate::array::Rng;
use crate::data::datasets::epoch_order;
use crate::data::Dataset;
use crate::files::{append_durably, write_atomic};
use crate::model_files::{encode_checkpoint, encode_model, Checkpoint, ModelFile};
use crate::optim::cosine_lr;

/// Hears about progress (for a progress bar) and may ask the run to stop.
pub trait Observer {
    /// After each training step: the running mean loss and accuracy of the epoch so far.
    fn on_batch(
        &mut self,
        _epoch: usize,
        _batch: usize,
        _batches: usize,
        _loss: f64,
        _accuracy: f64,
    ) {
    }
    /// After each epoch, once its checkpoint is safely on disk.
    fn on_epoch(&mut self, _epoch: &EpochReport<'_>) {}
    /// Checked between steps: true stops the run after the last complete checkpoint.
    fn should_stop(&self) -> bool {
        false
    }
    /// True to hear the network's health: [`Observer::on_diagnostics`] and
    /// [`Observer::on_update_ratios`]. It costs a probe batch's forward and backward pass per
    /// epoch and a copy of the weights at a few steps; it changes nothing in the run.
    fn wants_diagnostics(&self) -> bool {
        false
    }
    /// What a probe of the first training images (up to [`PROBE_IMAGES`], one in 128 of a
    /// small set) saw, before training (`epochs_done` 0 for a new run) and after each epoch.
    fn on_diagnostics(&mut self, _epochs_done: usize, _diagnostics: &Diagnostics) {}
    /// At up to [`RATIO_SAMPLES`] steps per epoch (every 32nd step at most): for each weight
    /// tensor, log10 of the step's update size over the weights' size ([`update_ratios`]).
    fn on_update_ratios(
        &mut self,
        _epoch: usize,
        _batch: usize,
        _batches: usize,
        _ratios: &[(String, f64)],
    ) {
    }
}

/// Steps per epoch whose update size an observer that wants diagnostics hears about.
pub const RATIO_SAMPLES: usize = 10;

/// What an epoch left: its metrics, how the model did on the held-out images (test or
/// validation), those images, and the model as saved.
pub struct EpochReport<'a> {
    /// The epoch's line of `metrics.jsonl`.
    pub metrics: &'a EpochMetrics,
    /// The held-out images' predictions and confusion matrix.
    pub held_out: &'a Evaluation,
    /// The held-out images themselves.
    pub held_set: &'a Dataset,
    /// The model after the epoch, as in `model.safetensors`.
    pub model: &'a ModelFile,
}

/// Why a run ended early.
#[derive(Debug)]
pub enum TrainError {
    /// The loss became NaN or infinite.
    NonFinite {
        /// The 1-based epoch.
        epoch: usize,
        /// The 1-based batch within it, or `None` when it was the held-out images' loss after
        /// the epoch.
        batch: Option<usize>,
        /// The loss.
        loss: f32,
        /// Epochs safely saved before it.
        epochs_done: usize,
    },
    /// A weight, a running statistic or an optimizer buffer became NaN or infinite while the
    /// loss stayed finite.
    NonFiniteState {
        /// The 1-based epoch.
        epoch: usize,
        /// The tensor (`1.running_var`, `m.0`).
        tensor: String,
        /// Epochs safely saved before it.
        epochs_done: usize,
    },
    /// The observer asked to stop; `epochs_done` epochs are safely saved.
    Stopped {
        /// Epochs safely saved.
        epochs_done: usize,
    },
    /// The run to resume does not fit the data it trains on (a phrase that follows the
    /// checkpoint's name).
    Resume(String),
    /// A file could not be written.
    Write {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

impl fmt::Display for TrainError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TrainError::NonFinite {
                epoch,
                batch,
                loss,
                epochs_done,
            } => {
                match batch {
                    Some(batch) => {
                        write!(f, "the loss became {loss} at epoch {epoch}, batch {batch}")?
                    }
                    None => write!(
                        f,
                        "the held-out images' loss became {loss} after epoch {epoch}"
                    )?,
                }
                f.write_str(": lower the learning rate")?;
                if *epochs_done > 0 {
                    write!(f, "; the checkpoint of epoch {epochs_done} is kept")?;
                }
                Ok(())
            }
            TrainError::NonFiniteState {
                epoch,
                tensor,
                epochs_done,
            } => {
                write!(
                    f,
                    "`{tensor}` became inf or NaN in epoch {epoch}: lower the learning rate"
                )?;
                if *epochs_done > 0 {
                    write!(f, "; the checkpoint of epoch {epochs_done} is kept")?;
                }
                Ok(())
            }
            TrainError::Stopped { epochs_done } => {
                write!(f, "stopped after {epochs_done} complete epoch(s)")
            }
            TrainError::Resume(problem) => write!(f, "the checkpoint {problem}"),
            TrainError::Write { path, source } => {
                write!(f, "cannot write {}: {source}", path.display())
            }
        }
    }
}

impl std::error::Error for TrainError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            TrainError::Write { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// What a finished run produced.
pub struct TrainOutcome {
    /// Every epoch's metrics, including those of a resumed run's earlier part.
    pub history: Vec<EpochMetrics>,
    /// The final model.
    pub model: ModelFile,
    /// The final evaluation on the test set.
    pub test: Evaluation,
}

/// The seed of one training step's random numbers (dropout's masks): a function of the run's
/// seed, the epoch and the batch alone, so a resumed run replays exactly.
pub fn step_seed(seed: u64, epoch: usize, batch: usize) -> u64 {
    seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ ((epoch as u64) << 32 | batch as u64)
}

/// `metrics.jsonl`'s lines for `history`.
fn history_lines(history: &[EpochMetrics]) -> String {
    history
        .iter()
        .map(|m| format!("{}\n", m.to_json()))
        .collect()
}

fn write(dir: &RunDir, name: &str, bytes: &[u8]) -> Result<(), TrainError> {
    let path = dir.file(name);
    write_atomic(&path, bytes).map_err(|source| TrainError::Write { path, source })
}

/// Trains per `config` on `train_set` (less the validation split, if `config.val_split` asks
/// for one), scoring the held-out images after every epoch and writing `metrics.jsonl`,
/// `model.safetensors` and `checkpoint.safetensors` into `dir` (each atomically, the
/// checkpoint last). `resume` continues a run from its checkpoint and earlier metrics. The
/// test set is scored after each epoch only when there is no validation split; otherwise once,
/// at the end.
pub fn train(
    config: &TrainConfig,
    train_set: &Dataset,
    test_set: &Dataset,
    dir: &RunDir,
    resume: Option<Resume>,
    observer: &mut dyn Observer,
) -> Result<TrainOutcome, TrainError> {
    let class_names: Vec<String> = config
        .dataset
        .class_names()
        .iter()
        .map(|s| s.to_string())
        .collect();
    let classes = class_names.len();
    let split;
    let (training, held_out, held_set) = if config.val_split > 0.0 {
        split = train_set.split(config.val_split, config.seed);
        (&split.0, HeldOut::Validation, &split.1)
    } else {
        (train_set, HeldOut::Test, test_set)
    };
    let mut optimizer = config.optimizer.build(config.lr);
    let ((weights, counts), start, mut history) = match resume {
        Some(resume) => {
            resume
                .check_steps(training.len(), config.batch_size)
                .map_err(TrainError::Resume)?;
            optimizer
                .load_state(resume.optimizer, &resume.shapes)
                .expect("a Resume's optimizer state was checked against its model");
            let state = (resume.weights, resume.counts);
            (state, resume.epochs_done, resume.history)
        }
        None => {
            let weights = config.arch.init(&mut Rng::seed(config.seed));
            let counts = config
                .arch
                .count_names()
                .into_iter()
                .map(|n| (n, 0))
                .collect();
            ((weights, counts), 0, Vec::new())
        }
    };
    if start > 0 {
        // The metrics file may hold a line past the checkpoint (an epoch killed before its
        // commit point) or a torn last line: keep exactly the epochs the checkpoint has.
        write(dir, METRICS, history_lines(&history).as_bytes())?;
    }
    let mut model = Model::new(&config.arch, config.engine, &weights, &counts);
    let model_file = |model: &mut Model| ModelFile {
        arch: config.arch.clone(),
        dataset: config.dataset.to_string(),
        class_names: class_names.clone(),
        weights: model.weights(&config.arch),
        counts: model.counts(),
    };
    let mut last_test = None;
    let diagnose = observer.wants_diagnostics();
    // A probe of at most PROBE_IMAGES, fewer for a small data set, so that it costs a few
    // per cent of an epoch.
    let probe_batch = diagnose.then(|| {
        let images = (training.len() / 128)
            .clamp(16, PROBE_IMAGES)
            .min(training.len());
        let first: Vec<usize> = (0..images).collect();
        training.batch(&first)
    });
    let look = |model: &mut Model, observer: &mut dyn Observer, epochs_done: usize| {
        if let Some((x, labels)) = &probe_batch {
            let seen = probe(model, &config.arch, x, labels);
            observer.on_diagnostics(epochs_done, &seen);
        }
    };
    if start == 0 {
        look(&mut model, observer, 0);
    }
    for epoch in start..config.epochs {
        let started = Instant::now();
        optimizer.set_lr(match config.schedule {
            Schedule::Constant => config.lr,
            Schedule::Cosine => cosine_lr(config.lr, 0.0, epoch, config.epochs),
        });
        let order = epoch_order(training.len(), config.seed, epoch);
        let batches = order.len().div_ceil(config.batch_size);
        // At most RATIO_SAMPLES steps per epoch, and never more often than every 32nd: each
        // sample copies the weights twice.
        let sample_every = batches.div_ceil(RATIO_SAMPLES).max(32);
        let (mut loss_sum, mut right, mut seen) = (0.0f64, 0usize, 0usize);
        for (b, chunk) in order.chunks(config.batch_size).enumerate() {
            if observer.should_stop() {
                return Err(TrainError::Stopped { epochs_done: epoch });
            }
            let (x, labels) = training.batch(chunk);
            let step_seed = step_seed(config.seed, epoch, b);
            let sampled = diagnose && (b + 1) % sample_every == 0;
            let before = sampled.then(|| model.weights(&config.arch));
            let (loss, correct) = model.train_step(x, &labels, optimizer.as_mut(), step_seed);
            if let Some(before) = before {
                let ratios = update_ratios(&before, &model.weights(&config.arch));
                observer.on_update_ratios(epoch + 1, b + 1, batches, &ratios);
            }
            if !loss.is_finite() {
                return Err(TrainError::NonFinite {
                    epoch: epoch + 1,
                    batch: Some(b + 1),
                    loss,
                    epochs_done: epoch,
                });
            }
            loss_sum += loss as f64 * chunk.len() as f64;
            right += correct;
            seen += chunk.len();
            observer.on_batch(
                epoch + 1,
                b + 1,
                batches,
                loss_sum / seen as f64,
                right as f64 / seen as f64,
            );
        }
        let seconds = started.elapsed().as_secs_f64();
        // Weights this far gone are not worth a checkpoint: the last one stays.
        let gone = |loss: f64| TrainError::NonFinite {
            epoch: epoch + 1,
            batch: None,
            loss: loss as f32,
            epochs_done: epoch,
        };
        let scored =
            evaluate(&mut model, &config.arch, held_set, classes).map_err(|_| gone(f64::NAN))?;
        if !scored.loss.is_finite() {
            return Err(gone(scored.loss));
        }
        let metrics = EpochMetrics {
            epoch: epoch + 1,
            train_loss: loss_sum / seen.max(1) as f64,
            train_accuracy: right as f64 / seen.max(1) as f64,
            held_out,
            loss: scored.loss,
            accuracy: scored.accuracy,
            seconds,
        };
        history.push(metrics.clone());
        let checkpoint = Checkpoint {
            model: model_file(&mut model),
            optimizer: optimizer.state(),
            epochs_done: epoch + 1,
            config: config.to_json(),
        };
        // A state the loaders would refuse is never saved: a loss can stay finite while a
        // running statistic or an optimizer buffer overflows (a ReLU hides a NaN).
        let tensors = checkpoint.model.weights.iter();
        let state = tensors.chain(checkpoint.optimizer.buffers.iter());
        if let Some((name, _)) = state
            .into_iter()
            .find(|(_, a)| a.data().iter().any(|v| !v.is_finite()))
        {
            return Err(TrainError::NonFiniteState {
                epoch: epoch + 1,
                tensor: name.clone(),
                epochs_done: epoch,
            });
        }
        // The checkpoint is written last: it is the commit point (see `run_dir`). The
        // epoch's metrics are appended, at a cost that does not grow with the run.
        let line = format!("{}\n", metrics.to_json());
        let path = dir.file(METRICS);
        append_durably(&path, line.as_bytes())
            .map_err(|source| TrainError::Write { path, source })?;
        write(dir, MODEL, &encode_model(&checkpoint.model))?;
        write(dir, CHECKPOINT, &encode_checkpoint(&checkpoint))?;
        observer.on_epoch(&EpochReport {
            metrics: &metrics,
            held_out: &scored,
            held_set,
            model: &checkpoint.model,
        });
        look(&mut model, observer, epoch + 1);
        if held_out == HeldOut::Test {
            last_test = Some(scored);
        }
    }
    let test = match last_test {
        Some(test) => test,
        None => evaluate(&mut model, &config.arch, test_set, classes).map_err(|_| {
            TrainError::NonFinite {
                epoch: config.epochs,
                batch: None,
                loss: f32::NAN,
                epochs_done: config.epochs,
            }
        })?,
    };
    Ok(TrainOutcome {
        history,
        model: model_file(&mut model),
        test,
    })
}
