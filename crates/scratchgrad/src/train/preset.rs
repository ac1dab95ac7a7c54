//! The networks `train --arch` names, each with the settings it was tuned with (the README's
//! tables say how): what a person gets by asking for a network by name.

use super::{OptimizerKind, Schedule};
use crate::arch::{Activation, Architecture};
use crate::data::DatasetName;
use crate::text::named_choices;

/// A network by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Preset {
    /// The texts' MLP: 784-256-10 sigmoid (its hidden widths and activation can be changed).
    Mlp,
    /// Two convolutions (16 and 32 5x5 filters) with ReLU and max pooling, then one linear layer.
    Cnn,
    /// LeNet-5 with ReLU and max pooling: 6 and 16 5x5 filters, then 120, 84 and the classes.
    Lenet5,
}

named_choices!(Preset, "architecture", [Mlp => "mlp", Cnn => "cnn", Lenet5 => "lenet5"]);

/// The settings a preset trains with unless told otherwise.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Defaults {
    /// The optimizer.
    pub optimizer: OptimizerKind,
    /// Its learning rate.
    pub lr: f64,
    /// How the rate changes over the epochs.
    pub schedule: Schedule,
    /// Epochs.
    pub epochs: usize,
}

impl Preset {
    /// The network for `dataset`'s images and classes; `hidden` and `activation` shape the
    /// MLP (the texts' 256 sigmoid units when `None`) and are not used by the others.
    pub fn arch(
        self,
        dataset: DatasetName,
        hidden: Option<&[usize]>,
        activation: Option<Activation>,
    ) -> Architecture {
        let (rows, cols) = dataset.image_size();
        let classes = dataset.class_names().len();
        match self {
            Preset::Mlp => Architecture::mlp(
                rows * cols,
                hidden.unwrap_or(&[256]),
                classes,
                activation.unwrap_or(Activation::Sigmoid),
            ),
            Preset::Cnn => Architecture::cnn(classes),
            Preset::Lenet5 => Architecture::lenet5(classes),
        }
    }

    /// The settings each preset was tuned with (README: "The learning rate" and "Training a
    /// CNN").
    pub fn defaults(self) -> Defaults {
        match self {
            Preset::Mlp => Defaults {
                optimizer: OptimizerKind::Sgd,
                lr: 1.0,
                schedule: Schedule::Cosine,
                epochs: 20,
            },
            Preset::Cnn | Preset::Lenet5 => Defaults {
                optimizer: OptimizerKind::Adam,
                lr: 0.002,
                schedule: Schedule::Cosine,
                epochs: 10,
            },
        }
    }
}
