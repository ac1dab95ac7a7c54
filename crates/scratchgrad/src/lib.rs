//! # scratchgrad
//!
//! Backpropagation from first principles, in layers that each build on the one below:
//!
//! - [`array`](mod@array): n-dimensional arrays with broadcasting (numpy's role; no gradients).
//! - [`scalar`]: micrograd-style autograd on single numbers, with pictures of the graph.
//! - [`autograd`]: tensors that record operations and backpropagate through them.
//! - [`manual`]: layers whose backward passes are derived by hand, over arrays.
//! - [`nn`] and [`optim`]: the same layers on autograd, and optimizers.
//! - [`arch`]: what a network is (input shape and layer list), as files and commands name it.
//! - [`data`]: MNIST-style data sets, read and fetched with every byte checked.
//! - [`train`]: the training loop, checkpoints and evaluation.
//! - [`model_files`]: safetensors model files and checkpoints; [`files`]: atomic writes,
//!   careful reads.
//! - [`export`]: models as ONNX, for ONNX Runtime and other tools.
//! - [`report`]: pictures of a run (curves, digits, confusion matrix).
//! - [`init`]: weight initialisation; [`text`]: keeping shown text short.
//!
//! See `docs/ARCHITECTURE.md` for the whole picture.

pub mod arch;
pub mod array;
pub mod autograd;
pub mod data;
pub mod export;
pub mod files;
pub mod init;
pub mod manual;
pub mod model_files;
pub mod nn;
pub mod norm;
pub mod optim;
pub mod report;
pub mod scalar;
pub mod text;
pub mod train;
