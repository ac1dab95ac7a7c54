//! The training loop and what it writes after every epoch.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Instant;

use super::{evaluate, Activation, Architecture, Engine, Evaluation, Model};
use crate::array::{set_num_threads, Rng};
use crate::data::datasets::epoch_order;
use crate::data::{Dataset, DatasetName};
use crate::io::{encode_checkpoint, encode_model, write_atomic, Checkpoint, ModelFile};
use crate::names::named_choices;
use crate::optim::{cosine_lr, Adam, Optimizer, Sgd};

/// Which optimizer to train with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OptimizerKind {
    /// Plain SGD.
    Sgd,
    /// SGD with momentum 0.9.
    Momentum,
    /// Adam with PyTorch's defaults.
    Adam,
}

impl OptimizerKind {
    /// The default learning rate for each, chosen for the texts' network (see the README).
    pub fn default_lr(self) -> f64 {
        match self {
            OptimizerKind::Sgd => 1.0,
            OptimizerKind::Momentum => 0.05,
            OptimizerKind::Adam => 0.001,
        }
    }

    fn build(self, lr: f64) -> Box<dyn Optimizer<f32>> {
        match self {
            OptimizerKind::Sgd => Box::new(Sgd::new(lr)),
            OptimizerKind::Momentum => Box::new(Sgd::new(lr).momentum(0.9)),
            OptimizerKind::Adam => Box::new(Adam::new(lr)),
        }
    }
}

named_choices!(OptimizerKind, "optimizer", [Sgd => "sgd", Momentum => "momentum", Adam => "adam"]);

/// How the learning rate changes over the epochs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Schedule {
    /// The same rate throughout.
    Constant,
    /// Cosine annealing from the rate at epoch 1 towards 0 after the last epoch.
    Cosine,
}

named_choices!(Schedule, "schedule", [Constant => "constant", Cosine => "cosine"]);

/// Everything that determines a training run.
#[derive(Debug, Clone, PartialEq)]
pub struct TrainConfig {
    /// The data set.
    pub dataset: DatasetName,
    /// The network.
    pub arch: Architecture,
    /// Which engine computes gradients.
    pub engine: Engine,
    /// Epochs in all.
    pub epochs: usize,
    /// Examples per step (the last batch of an epoch may be smaller).
    pub batch_size: usize,
    /// Learning rate.
    pub lr: f64,
    /// The optimizer.
    pub optimizer: OptimizerKind,
    /// How the learning rate changes from epoch to epoch.
    pub schedule: Schedule,
    /// Seeds weight initialisation and every epoch's shuffle.
    pub seed: u64,
    /// Threads for matrix products.
    pub threads: usize,
}

impl TrainConfig {
    /// As JSON, for `summary.json` and checkpoints.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "dataset": self.dataset.to_string(),
            "inputs": self.arch.inputs,
            "hidden": self.arch.hidden,
            "classes": self.arch.classes,
            "activation": self.arch.activation.to_string(),
            "engine": self.engine.to_string(),
            "epochs": self.epochs,
            "batch_size": self.batch_size,
            "lr": self.lr,
            "optimizer": self.optimizer.to_string(),
            "schedule": self.schedule.to_string(),
            "seed": self.seed,
            "threads": self.threads,
        })
    }

    /// Back from JSON (a checkpoint's), or why not.
    pub fn from_json(v: &serde_json::Value) -> Result<Self, String> {
        let text = |k: &str| v[k].as_str().ok_or(format!("config lacks `{k}`"));
        let number = |k: &str| v[k].as_u64().ok_or(format!("config lacks `{k}`"));
        let hidden = v["hidden"]
            .as_array()
            .ok_or("config lacks `hidden`")?
            .iter()
            .map(|h| h.as_u64().map(|h| h as usize))
            .collect::<Option<Vec<_>>>()
            .ok_or("config has a bad `hidden`")?;
        Ok(TrainConfig {
            dataset: text("dataset")?.parse()?,
            arch: Architecture {
                inputs: number("inputs")? as usize,
                hidden,
                classes: number("classes")? as usize,
                activation: text("activation")?.parse::<Activation>()?,
            },
            engine: text("engine")?.parse()?,
            epochs: number("epochs")? as usize,
            batch_size: number("batch_size")? as usize,
            lr: v["lr"].as_f64().ok_or("config lacks `lr`")?,
            optimizer: text("optimizer")?.parse()?,
            schedule: text("schedule")?.parse()?,
            seed: number("seed")?,
            threads: number("threads")? as usize,
        })
    }
}

/// One epoch's results.
#[derive(Debug, Clone, PartialEq)]
pub struct EpochMetrics {
    /// 1-based epoch number.
    pub epoch: usize,
    /// Mean loss over the epoch's batches (each measured before its update).
    pub train_loss: f64,
    /// Training accuracy over the epoch's batches (each measured before its update).
    pub train_accuracy: f64,
    /// Test loss after the epoch.
    pub test_loss: f64,
    /// Test accuracy after the epoch.
    pub test_accuracy: f64,
    /// Wall-clock seconds for the epoch's training loop.
    pub seconds: f64,
}

impl EpochMetrics {
    /// One `metrics.jsonl` line.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "epoch": self.epoch,
            "train_loss": self.train_loss,
            "train_accuracy": self.train_accuracy,
            "test_loss": self.test_loss,
            "test_accuracy": self.test_accuracy,
            "seconds": self.seconds,
        })
    }

    /// Back from a `metrics.jsonl` line.
    pub fn from_json(v: &serde_json::Value) -> Option<Self> {
        Some(EpochMetrics {
            epoch: v["epoch"].as_u64()? as usize,
            train_loss: v["train_loss"].as_f64()?,
            train_accuracy: v["train_accuracy"].as_f64()?,
            test_loss: v["test_loss"].as_f64()?,
            test_accuracy: v["test_accuracy"].as_f64()?,
            seconds: v["seconds"].as_f64()?,
        })
    }
}

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
    fn on_epoch(&mut self, _metrics: &EpochMetrics) {}
    /// Checked between steps: true stops the run after the last complete checkpoint.
    fn should_stop(&self) -> bool {
        false
    }
}

/// Why a run ended early.
#[derive(Debug)]
pub enum TrainError {
    /// The loss became NaN or infinite.
    NonFinite {
        epoch: usize,
        batch: usize,
        loss: f32,
    },
    /// The observer asked to stop; `epochs_done` epochs are safely saved.
    Stopped { epochs_done: usize },
    /// A file could not be written.
    Io(String),
}

impl fmt::Display for TrainError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TrainError::NonFinite { epoch, batch, loss } => write!(f, "the loss became {loss} at epoch {epoch}, batch {batch}: lower the learning rate (--lr); the last good checkpoint is kept"),
            TrainError::Stopped { epochs_done } => write!(f, "stopped after {epochs_done} complete epoch(s)"),
            TrainError::Io(e) => f.write_str(e),
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

fn write(path: &Path, bytes: &[u8]) -> Result<(), TrainError> {
    write_atomic(path, bytes)
        .map_err(|e| TrainError::Io(format!("cannot write {}: {e}", path.display())))
}

/// Trains per `config` on `train_set`, evaluating on `test_set` after every epoch and
/// writing `checkpoint.safetensors`, `model.safetensors` and `metrics.jsonl` into `out`
/// (each atomically). `resume` continues a run from its checkpoint and earlier metrics.
pub fn train(
    config: &TrainConfig,
    train_set: &Dataset,
    test_set: &Dataset,
    out: &Path,
    resume: Option<(Checkpoint, Vec<EpochMetrics>)>,
    observer: &mut dyn Observer,
) -> Result<TrainOutcome, TrainError> {
    set_num_threads(config.threads.max(1));
    let class_names: Vec<String> = config
        .dataset
        .class_names()
        .iter()
        .map(|s| s.to_string())
        .collect();
    let mut optimizer = config.optimizer.build(config.lr);
    let (weights, start, mut history) = match resume {
        Some((checkpoint, history)) => {
            optimizer.load_state(checkpoint.optimizer);
            (checkpoint.model.weights, checkpoint.epochs_done, history)
        }
        None => (config.arch.init(&mut Rng::seed(config.seed)), 0, Vec::new()),
    };
    let mut model = Model::new(&config.arch, config.engine, &weights);
    let model_file = |model: &mut Model| ModelFile {
        arch: config.arch.clone(),
        dataset: config.dataset.to_string(),
        class_names: class_names.clone(),
        weights: model.weights(),
    };
    let out: PathBuf = out.to_path_buf();
    for epoch in start..config.epochs {
        let started = Instant::now();
        optimizer.set_lr(match config.schedule {
            Schedule::Constant => config.lr,
            Schedule::Cosine => cosine_lr(config.lr, 0.0, epoch, config.epochs),
        });
        let order = epoch_order(train_set.len(), config.seed, epoch);
        let batches = order.len().div_ceil(config.batch_size);
        let (mut loss_sum, mut right, mut seen) = (0.0f64, 0usize, 0usize);
        for (b, chunk) in order.chunks(config.batch_size).enumerate() {
            if observer.should_stop() {
                return Err(TrainError::Stopped { epochs_done: epoch });
            }
            let (x, labels) = train_set.batch(chunk);
            let (loss, correct) = model.train_step(x, &labels, optimizer.as_mut());
            if !loss.is_finite() {
                return Err(TrainError::NonFinite {
                    epoch: epoch + 1,
                    batch: b + 1,
                    loss,
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
        let test = evaluate(&mut model, test_set, config.arch.classes);
        let metrics = EpochMetrics {
            epoch: epoch + 1,
            train_loss: loss_sum / seen.max(1) as f64,
            train_accuracy: right as f64 / seen.max(1) as f64,
            test_loss: test.loss,
            test_accuracy: test.accuracy,
            seconds,
        };
        history.push(metrics.clone());
        let checkpoint = Checkpoint {
            model: model_file(&mut model),
            optimizer: optimizer.state(),
            epochs_done: epoch + 1,
            config: config.to_json(),
        };
        // The checkpoint is written last: it is the commit point. A run killed before it
        // resumes from the previous epoch, reading only as many metrics lines as the
        // checkpoint's epochs and overwriting the model with the same result again.
        let lines: String = history
            .iter()
            .map(|m| format!("{}\n", m.to_json()))
            .collect();
        write(&out.join("metrics.jsonl"), lines.as_bytes())?;
        write(
            &out.join("model.safetensors"),
            &encode_model(&checkpoint.model),
        )?;
        write(
            &out.join("checkpoint.safetensors"),
            &encode_checkpoint(&checkpoint),
        )?;
        observer.on_epoch(&metrics);
    }
    let test = evaluate(&mut model, test_set, config.arch.classes);
    Ok(TrainOutcome {
        history,
        model: model_file(&mut model),
        test,
    })
}
