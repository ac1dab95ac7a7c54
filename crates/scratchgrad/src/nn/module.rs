//! The `Module` trait and `Sequential`.

use crate::array::{Array, Float, Rng};
use crate::autograd::Tensor;

/// A piece of a model: a forward computation and the parameters it learns.
pub trait Module<T: Float>: Send {
    /// The output for input `x`; the autograd engine records how to differentiate it.
    fn forward(&self, x: &Tensor<T>) -> Tensor<T>;

    /// Each parameter with its name, as PyTorch's `named_parameters()` gives them.
    fn named_parameters(&self) -> Vec<(String, Tensor<T>)> {
        Vec::new()
    }

    /// Every parameter, in the order of `named_parameters`.
    fn parameters(&self) -> Vec<Tensor<T>> {
        self.named_parameters()
            .into_iter()
            .map(|(_, p)| p)
            .collect()
    }

    /// State that is not learnt by gradients but belongs in a model file (batch norm's
    /// running statistics), as PyTorch's buffers; copies.
    fn named_buffers(&self) -> Vec<(String, Array<T>)> {
        Vec::new()
    }

    /// Whole numbers that belong in a model file (batch norm's `num_batches_tracked`, an int64
    /// in PyTorch).
    fn named_counts(&self) -> Vec<(String, u64)> {
        Vec::new()
    }

    /// Switches between training and evaluation behaviour (dropout, batch norm).
    fn set_training(&mut self, _training: bool) {}

    /// Gives the module its random numbers for the next step (dropout's masks), for a batch
    /// that starts at example `first_example` of the step's: a part of a batch draws what the
    /// whole batch would have drawn for its examples.
    fn reseed(&self, _rng: Rng, _first_example: usize) {}
}

/// Modules applied one after another; parameter names are prefixed with the module's index
/// (`0.weight`, `2.bias`), as in PyTorch's `nn.Sequential` state_dict.
pub struct Sequential<T: Float> {
    /// The modules, input side first.
    pub modules: Vec<Box<dyn Module<T>>>,
}

impl<T: Float> Sequential<T> {
    /// A model made of `modules`, applied in order.
    pub fn new(modules: Vec<Box<dyn Module<T>>>) -> Self {
        Sequential { modules }
    }
}

impl<T: Float> Module<T> for Sequential<T> {
    fn forward(&self, x: &Tensor<T>) -> Tensor<T> {
        self.modules.iter().fold(x.clone(), |h, m| m.forward(&h))
    }

    fn named_parameters(&self) -> Vec<(String, Tensor<T>)> {
        let mut all = Vec::new();
        for (i, m) in self.modules.iter().enumerate() {
            all.extend(
                m.named_parameters()
                    .into_iter()
                    .map(|(name, p)| (format!("{i}.{name}"), p)),
            );
        }
        all
    }

    fn named_buffers(&self) -> Vec<(String, Array<T>)> {
        let mut all = Vec::new();
        for (i, m) in self.modules.iter().enumerate() {
            all.extend(
                m.named_buffers()
                    .into_iter()
                    .map(|(name, b)| (format!("{i}.{name}"), b)),
            );
        }
        all
    }

    fn named_counts(&self) -> Vec<(String, u64)> {
        let mut all = Vec::new();
        for (i, m) in self.modules.iter().enumerate() {
            all.extend(
                m.named_counts()
                    .into_iter()
                    .map(|(name, n)| (format!("{i}.{name}"), n)),
            );
        }
        all
    }

    fn set_training(&mut self, training: bool) {
        self.modules
            .iter_mut()
            .for_each(|m| m.set_training(training));
    }
}

impl<T: Float> Sequential<T> {
    /// Random numbers for the next step: module `i` gets stream `i` of the family `seed`, as
    /// `manual::Sequential::reseed` gives its layers.
    pub fn reseed_all(&self, seed: u64) {
        self.reseed_from(seed, 0);
    }

    /// Random numbers for the part of the next step's batch that starts at example
    /// `first_example`: the same as [`Sequential::reseed_all`] gives the whole batch's.
    pub fn reseed_from(&self, seed: u64, first_example: usize) {
        for (i, m) in self.modules.iter().enumerate() {
            m.reseed(Rng::stream(seed, i as u64), first_example);
        }
    }
}
