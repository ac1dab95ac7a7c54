//! Everything that determines a training run, its limits, and its one JSON form (used by
//! checkpoints and summaries). Settings given on the command line and settings read back from
//! a checkpoint are checked by the same [`TrainConfig::validate`].

use std::fmt;

use super::{Engine, Preset};
use crate::arch::Architecture;
use crate::data::DatasetName;
use crate::optim::{Adam, Optimizer, Sgd};
use crate::text::named_choices;

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
    /// The default learning rate for each on `preset`'s network (see the README): plain SGD
    /// takes 1.0 on the texts' sigmoid MLP, whose flat regions need large steps, but 0.1 on a
    /// ReLU CNN, which 1.0 throws off at once (`cnn` on mnist-mini, 3 epochs: 10.0% test
    /// accuracy at 1.0, 94.0% at 0.1).
    pub fn default_lr(self, preset: Preset) -> f64 {
        match (self, preset) {
            (OptimizerKind::Sgd, Preset::Mlp) => 1.0,
            (OptimizerKind::Sgd, Preset::Cnn | Preset::Lenet5) => 0.1,
            (OptimizerKind::Momentum, _) => 0.05,
            (OptimizerKind::Adam, _) => 0.001,
        }
    }

    /// A fresh optimizer of this kind.
    pub fn build(self, lr: f64) -> Box<dyn Optimizer<f32>> {
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

/// The most epochs a run may ask for.
pub const MAX_EPOCHS: usize = 100_000;
/// The most examples per step.
pub const MAX_BATCH: usize = 65_536;
/// The learning rates accepted: below the lower bound an f32 weight could not change; above
/// the upper, every run diverges at once.
pub const LR_RANGE: (f64, f64) = (1e-10, 1e6);
/// The largest fraction of the training set that may be held out for validation.
pub const MAX_VAL_SPLIT: f64 = 0.9;
/// The most memory a run may need for its weights, their gradients, the optimizer's state
/// and one batch's activations (8 GiB).
pub const MAX_TRAINING_BYTES: u64 = 8 << 30;

/// Everything that determines a training run's results.
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
    /// Seeds weight initialisation, every epoch's shuffle and the validation split.
    pub seed: u64,
    /// The fraction of the training set held out to validate on after each epoch (0: none;
    /// the test set is then scored after each epoch, as the texts do).
    pub val_split: f64,
}

/// A setting that is out of range or does not fit the others: which (its JSON key) and why.
#[derive(Debug, Clone, PartialEq)]
pub struct ConfigError {
    /// The setting's key in the JSON form (`lr`, `batch_size`, `architecture`, ...).
    pub setting: &'static str,
    /// What is wrong, as a sentence about the setting.
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "`{}`: {}", self.setting, self.message)
    }
}

impl std::error::Error for ConfigError {}

fn bad<T>(setting: &'static str, message: String) -> Result<T, ConfigError> {
    Err(ConfigError { setting, message })
}

/// A number as people write it: `0.001`, `250`, and powers of ten for the very large or
/// small (`1e6`, `1e300`, `1e-320`), never hundreds of digits.
pub fn short_number(x: f64) -> String {
    if x == 0.0 || (1e-4..1e6).contains(&x.abs()) {
        format!("{x}")
    } else {
        format!("{x:e}")
    }
}

impl TrainConfig {
    /// Checks every setting against its limits, the architecture against the data set's
    /// images and classes, and the memory the run would need.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if !(1..=MAX_EPOCHS).contains(&self.epochs) {
            return bad(
                "epochs",
                format!("must be 1 to {MAX_EPOCHS}, not {}", self.epochs),
            );
        }
        if !(1..=MAX_BATCH).contains(&self.batch_size) {
            return bad(
                "batch_size",
                format!("must be 1 to {MAX_BATCH}, not {}", self.batch_size),
            );
        }
        let (low, high) = LR_RANGE;
        if !(self.lr.is_finite() && (low..=high).contains(&self.lr)) {
            return bad(
                "lr",
                format!(
                    "must be between {} and {}, not {}",
                    short_number(low),
                    short_number(high),
                    short_number(self.lr)
                ),
            );
        }
        if !(self.val_split.is_finite() && (0.0..=MAX_VAL_SPLIT).contains(&self.val_split)) {
            return bad(
                "val_split",
                format!(
                    "must be a fraction from 0 to {MAX_VAL_SPLIT}, not {}",
                    short_number(self.val_split)
                ),
            );
        }
        if let Err(e) = self.arch.validate() {
            return bad("architecture", e);
        }
        let (rows, cols) = self.dataset.image_size();
        if self.arch.input_size() != rows * cols {
            return bad(
                "architecture",
                format!(
                    "takes {} inputs but {} images have {rows}x{cols} = {} pixels",
                    self.arch.input_size(),
                    self.dataset,
                    rows * cols
                ),
            );
        }
        if !self.arch.takes_images(rows, cols) {
            return bad(
                "architecture",
                format!(
                    "takes {} inputs, not {} images ({}, or 1x{rows}x{cols})",
                    self.arch.input_text(),
                    self.dataset,
                    rows * cols
                ),
            );
        }
        let classes = self.dataset.class_names().len();
        if self.arch.classes() != classes {
            return bad(
                "architecture",
                format!(
                    "ends with {} outputs but {} has {classes} classes",
                    self.arch.classes(),
                    self.dataset
                ),
            );
        }
        let bytes = self.memory_estimate();
        if bytes > MAX_TRAINING_BYTES {
            return bad(
                "architecture",
                format!(
                    "with batches of {} needs about {:.1} GB of memory (at most {} GB): choose a smaller batch or network",
                    self.batch_size,
                    bytes as f64 / 1e9,
                    MAX_TRAINING_BYTES >> 30
                ),
            );
        }
        Ok(())
    }

    /// Bytes for the weights, their gradients and up to two optimizer buffers each, plus a
    /// batch's values kept for backward (input, every layer's output, every convolution's
    /// im2col columns) and a gradient of each, and room for one more.
    pub fn memory_estimate(&self) -> u64 {
        let parameters = self.arch.parameter_count() as u64;
        let per_example = self.arch.values_kept_per_example() as u64;
        let activations = per_example.saturating_mul(self.batch_size as u64);
        4u64.saturating_mul(
            parameters
                .saturating_mul(4)
                .saturating_add(activations.saturating_mul(3)),
        )
    }

    /// As JSON, for checkpoints and `summary.json`.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "dataset": self.dataset.to_string(),
            "architecture": self.arch.to_json(),
            "engine": self.engine.to_string(),
            "epochs": self.epochs,
            "batch_size": self.batch_size,
            "lr": self.lr,
            "optimizer": self.optimizer.to_string(),
            "schedule": self.schedule.to_string(),
            "seed": self.seed,
            "val_split": self.val_split,
        })
    }

    /// Back from JSON (a checkpoint's), validated exactly as settings from the command line.
    pub fn from_json(v: &serde_json::Value) -> Result<Self, ConfigError> {
        fn text<'a>(v: &'a serde_json::Value, key: &'static str) -> Result<&'a str, ConfigError> {
            v[key].as_str().ok_or(ConfigError {
                setting: key,
                message: "is missing or not text".into(),
            })
        }
        fn count(v: &serde_json::Value, key: &'static str) -> Result<u64, ConfigError> {
            v[key].as_u64().ok_or(ConfigError {
                setting: key,
                message: "is missing or not a whole number".into(),
            })
        }
        fn number(v: &serde_json::Value, key: &'static str) -> Result<f64, ConfigError> {
            v[key].as_f64().ok_or(ConfigError {
                setting: key,
                message: "is missing or not a number".into(),
            })
        }
        fn choice<T: std::str::FromStr<Err = String>>(
            v: &serde_json::Value,
            key: &'static str,
        ) -> Result<T, ConfigError> {
            text(v, key)?.parse().map_err(|message| ConfigError {
                setting: key,
                message,
            })
        }
        let size = |key: &'static str| -> Result<usize, ConfigError> {
            usize::try_from(count(v, key)?).map_err(|_| ConfigError {
                setting: key,
                message: "is too large".into(),
            })
        };
        let arch = Architecture::from_json(&v["architecture"]).map_err(|message| ConfigError {
            setting: "architecture",
            message,
        })?;
        let config = TrainConfig {
            dataset: choice(v, "dataset")?,
            arch,
            engine: choice(v, "engine")?,
            epochs: size("epochs")?,
            batch_size: size("batch_size")?,
            lr: number(v, "lr")?,
            optimizer: choice(v, "optimizer")?,
            schedule: choice(v, "schedule")?,
            seed: count(v, "seed")?,
            val_split: number(v, "val_split")?,
        };
        config.validate()?;
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::arch::Activation;

    fn texts() -> TrainConfig {
        TrainConfig {
            dataset: DatasetName::Mnist,
            arch: Architecture::mlp(784, &[256], 10, Activation::Sigmoid),
            engine: Engine::Autograd,
            epochs: 20,
            batch_size: 64,
            lr: 1.0,
            optimizer: OptimizerKind::Sgd,
            schedule: Schedule::Cosine,
            seed: 0,
            val_split: 0.0,
        }
    }

    #[test]
    fn json_round_trips() {
        let c = texts();
        assert_eq!(TrainConfig::from_json(&c.to_json()), Ok(c));
    }

    #[test]
    fn every_setting_is_checked_the_same_way_from_json() {
        let edits: [(&str, serde_json::Value, &str); 9] = [
            (
                "batch_size",
                0.into(),
                "`batch_size`: must be 1 to 65536, not 0",
            ),
            ("epochs", 0.into(), "`epochs`: must be 1 to 100000, not 0"),
            (
                "lr",
                (-1.0).into(),
                "`lr`: must be between 1e-10 and 1e6, not -1",
            ),
            (
                "lr",
                1e300.into(),
                "`lr`: must be between 1e-10 and 1e6, not 1e300",
            ),
            (
                "lr",
                1e-320.into(),
                "`lr`: must be between 1e-10 and 1e6, not 1e-320",
            ),
            (
                "val_split",
                0.95.into(),
                "`val_split`: must be a fraction from 0 to 0.9, not 0.95",
            ),
            (
                "seed",
                (-1).into(),
                "`seed`: is missing or not a whole number",
            ),
            (
                "dataset",
                "cifar".into(),
                "`dataset`: unknown data set `cifar`",
            ),
            (
                "architecture",
                serde_json::json!({"input": [784], "layers": "linear256,sigmoid,linear3"}),
                "`architecture`: ends with 3 outputs but mnist has 10 classes",
            ),
        ];
        for (key, value, want) in edits {
            let mut json = texts().to_json();
            json[key] = value;
            let err = TrainConfig::from_json(&json).unwrap_err().to_string();
            assert!(err.starts_with(want), "{key}: {err}");
        }
        let mut json = texts().to_json();
        json["architecture"] =
            serde_json::json!({"input": [5], "layers": "linear256,sigmoid,linear10"});
        let err = TrainConfig::from_json(&json).unwrap_err().to_string();
        assert_eq!(
            err,
            "`architecture`: takes 5 inputs but mnist images have 28x28 = 784 pixels"
        );
    }

    #[test]
    fn runs_that_cannot_fit_in_memory_are_refused() {
        let mut c = texts();
        c.arch = Architecture::mlp(784, &[60_000], 10, Activation::Relu);
        c.batch_size = 60_000;
        assert!(c.validate().unwrap_err().message.contains("GB of memory"));
    }

    #[test]
    fn numbers_are_written_short() {
        assert_eq!(short_number(1e300), "1e300");
        assert_eq!(short_number(0.001), "0.001");
        assert_eq!(short_number(0.5), "0.5");
        assert_eq!(short_number(1e-320), "1e-320");
    }
}
