//! # scratchgrad
//!
//! Backpropagation from first principles: the scalar autograd engine micrograd teaches, the
//! tensor engine PyTorch's autograd is, and layers whose backward passes are derived by hand
//! beside the same layers on autograd, each checked against PyTorch float64 and finite
//! differences. Built in layers, each on the one below:
//!
//! - [`array`](mod@array): n-dimensional arrays with broadcasting (numpy's role; no gradients).
//! - [`scalar`]: micrograd-style autograd on single numbers, with pictures of the graph.
//! - [`autograd`]: tensors that record operations and backpropagate through them.
//! - [`manual`]: layers whose backward passes are derived by hand, over arrays.
//! - [`nn`] and [`optim`]: the same layers on autograd, and optimizers; [`init`] and
//!   [`norm`] are what both engines share.
//! - [`arch`]: what a network is (input shape and layer list), as files and commands name it.
//! - [`data`]: MNIST-style data sets, read and fetched with every byte checked.
//! - [`train`]: training runs (`Settings` -> `TrainConfig` -> `Session`), checkpoints,
//!   evaluation.
//! - [`model_files`]: safetensors model files and checkpoints; [`files`]: atomic writes,
//!   careful reads.
//! - [`export`]: models as ONNX, for ONNX Runtime and other tools.
//! - [`report`]: pictures (curves, digits, confusion matrix); [`text`]: text shown to people.
//!
//! The chain rule on one expression, as the texts first show it (x = -2, y = 5, z = -4,
//! f = (x + y) z):
//!
//! ```
//! use scratchgrad::scalar::Value;
//! let (x, y, z) = (Value::new(-2.0), Value::new(5.0), Value::new(-4.0));
//! let f = (&x + &y) * &z;
//! f.backward();
//! assert_eq!((f.data(), x.grad(), y.grad(), z.grad()), (-12.0, -4.0, -4.0, 3.0));
//! ```
//!
//! A training loop on the tensor engine: a 2-8-1 network learns XOR with Adam.
//!
//! ```
//! use scratchgrad::array::{Array, Rng};
//! use scratchgrad::autograd::Tensor;
//! use scratchgrad::nn::{mse, Linear, Module, Sequential, Tanh};
//! use scratchgrad::optim::{zero_grad, Adam, Optimizer};
//!
//! let mut rng = Rng::seed(0);
//! let model = Sequential::<f64>::new(vec![
//!     Box::new(Linear::new(2, 8, &mut rng)),
//!     Box::new(Tanh),
//!     Box::new(Linear::new(8, 1, &mut rng)),
//! ]);
//! let x = Tensor::new(Array::from_vec(vec![0., 0., 0., 1., 1., 0., 1., 1.], &[4, 2]));
//! let y = Tensor::new(Array::from_vec(vec![0., 1., 1., 0.], &[4, 1]));
//! let params = model.parameters();
//! let mut optimizer = Adam::new(0.05);
//! for _ in 0..300 {
//!     let loss = mse(&model.forward(&x), &y);
//!     zero_grad(&params);
//!     loss.backward();
//!     optimizer.step(&params);
//! }
//! let out = model.forward(&x).to_array();
//! let rounded: Vec<f64> = out.data().iter().map(|v| v.round()).collect();
//! assert_eq!(rounded, [0.0, 1.0, 1.0, 0.0]);
//! ```
//!
//! See `docs/ARCHITECTURE.md` for the whole picture, and the README for the command line and
//! the web pages built on this library.

pub mod arch;
pub mod array;
pub mod autograd;
pub mod data;
pub mod export;
pub mod files;
pub mod init;
pub mod lm;
pub mod manual;
pub mod model_files;
pub mod nn;
pub mod norm;
pub mod optim;
pub mod report;
pub mod scalar;
pub mod text;
pub mod train;

/// The README's Rust examples, compiled and run by `cargo test` so that they stay true.
#[cfg(doctest)]
#[doc = include_str!("../../../README.md")]
pub struct ReadmeExamples;
