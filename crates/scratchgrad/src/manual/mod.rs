//! Backpropagation by hand: the texts' "no autograd" world. Every layer computes its own
//! backward pass from a derivative worked out on paper, over plain [`Array`]s.
//!
//! Set this beside [`crate::nn`], which builds the same models on the autograd engine: the
//! tests show both give the same losses and gradients. Never here: `Tensor`s or a graph.
//!
//! ```
//! use scratchgrad::array::{Array, Rng};
//! use scratchgrad::manual::{Layer, Linear, Relu, Sequential, SoftmaxCrossEntropyWithLogits};
//! let mut rng = Rng::seed(0);
//! let mut model = Sequential::<f64>::new(vec![
//!     Box::new(Linear::xavier_normal(4, 8, &mut rng)),
//!     Box::new(Relu::default()),
//!     Box::new(Linear::xavier_normal(8, 3, &mut rng)),
//! ]);
//! let mut loss_fn = SoftmaxCrossEntropyWithLogits::default();
//! let x = Array::rand_uniform(&[5, 4], -1.0, 1.0, &mut rng);
//! let loss = loss_fn.forward(&model.forward(&x), &[0, 2, 1, 1, 0]);
//! model.backward(&loss_fn.backward()); // gradients now sit in each Linear layer
//! model.sgd_step(0.1);
//! assert!(loss > 0.0);
//! ```

mod activations;
mod batchnorm;
mod conv;
mod dropout;
mod embedding;
mod flatten;
mod language_mlp;
mod linear;
mod losses;
mod network;
mod pool;
mod sequential;

pub use activations::{Relu, Sigmoid, Tanh};
pub use batchnorm::BatchNorm;
pub use conv::Conv2d;
pub use dropout::Dropout;
pub use embedding::Embedding;
pub use flatten::Flatten;
pub use language_mlp::MlpLanguageModel;
pub use linear::Linear;
pub use losses::{Mse, SoftmaxCrossEntropyWithLogits};
pub use network::{Activations, NetworkGradients, OneHiddenLayerNet};
pub use pool::{AvgPool2d, MaxPool2d};
pub use sequential::Sequential;

use crate::array::{Array, Float, Rng};

/// A layer that knows its own derivative: `forward` remembers what `backward` will need;
/// `backward` takes d(loss)/d(output) and returns d(loss)/d(input), keeping the gradients of
/// the layer's own parameters.
pub trait Layer<T: Float>: Send {
    /// The layer's output; remembers its input (or output) for `backward`.
    fn forward(&mut self, x: &Array<T>) -> Array<T>;

    /// d(loss)/d(input) from d(loss)/d(output), for the last `forward`.
    fn backward(&mut self, grad_output: &Array<T>) -> Array<T>;

    /// `backward` for a network's first layer, whose input is data: only the parameters'
    /// gradients are kept, so a layer may skip computing d(loss)/d(input).
    fn backward_parameters(&mut self, grad_output: &Array<T>) {
        self.backward(grad_output);
    }

    /// Each parameter with its gradient from the last `backward`, named as PyTorch would
    /// (`weight`, `bias`). Empty for layers without parameters.
    fn parameters_mut(&mut self) -> Vec<(&'static str, &mut Array<T>, &Array<T>)> {
        Vec::new()
    }

    /// State that is not learnt by gradients but belongs in a model file (batch norm's
    /// running statistics), named as PyTorch would.
    fn buffers(&self) -> Vec<(&'static str, Array<T>)> {
        Vec::new()
    }

    /// Whole numbers that belong in a model file (batch norm's `num_batches_tracked`).
    fn counts(&self) -> Vec<(&'static str, u64)> {
        Vec::new()
    }

    /// Switches between training and evaluation behaviour (dropout, batch norm).
    fn set_training(&mut self, _training: bool) {}

    /// Gives the layer its random numbers for the next step (dropout's masks).
    fn reseed(&mut self, _rng: Rng) {}
}
