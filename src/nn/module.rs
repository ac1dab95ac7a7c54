//! The `Module` trait and `Sequential`.

use crate::array::Float;
use crate::autograd::Tensor;

/// A piece of a model: a forward computation and the parameters it learns.
pub trait Module<T: Float> {
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

    /// Switches between training and evaluation behaviour (for layers such as dropout;
    /// the layers here behave the same in both).
    fn set_training(&mut self, _training: bool) {}
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

    fn set_training(&mut self, training: bool) {
        self.modules
            .iter_mut()
            .for_each(|m| m.set_training(training));
    }
}
