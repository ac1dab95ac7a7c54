//! Neural-network building blocks on the autograd engine: no backward pass is written here,
//! [`crate::autograd`] derives it. Names follow PyTorch's `torch.nn`.
//!
//! ```
//! use scratchgrad::array::{Array, Rng};
//! use scratchgrad::autograd::Tensor;
//! use scratchgrad::nn::{cross_entropy, Linear, Module, Sequential, Sigmoid};
//! let mut rng = Rng::seed(0);
//! let model = Sequential::<f32>::new(vec![
//!     Box::new(Linear::new(784, 256, &mut rng)),
//!     Box::new(Sigmoid),
//!     Box::new(Linear::new(256, 10, &mut rng)),
//! ]);
//! let names: Vec<String> = model.named_parameters().into_iter().map(|(n, _)| n).collect();
//! assert_eq!(names, ["0.weight", "0.bias", "2.weight", "2.bias"]);
//! let x = Tensor::new(Array::rand_uniform(&[64, 784], 0.0, 1.0, &mut rng));
//! let loss = cross_entropy(&model.forward(&x), &[3; 64]);
//! loss.backward();
//! ```

mod attention;
mod batchnorm;
mod conv;
mod dropout;
mod layer_norm;
mod layers;
mod loss;
mod module;

pub use crate::init;
pub use attention::CausalSelfAttention;
pub use batchnorm::BatchNorm;
pub use conv::{AvgPool2d, Conv2d, MaxPool2d};
pub use dropout::Dropout;
pub use layer_norm::LayerNorm;
pub use layers::{Flatten, Gelu, Linear, ReLU, Sigmoid, Tanh};
pub use loss::{cross_entropy, cross_entropy_ignoring, mse, nll};
pub use module::{Module, Sequential};
