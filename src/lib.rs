//! # scratchgrad
//!
//! Backpropagation from first principles, in layers that each build on the one below:
//!
//! - [`array`]: n-dimensional arrays with broadcasting (numpy's role; no gradients).
//! - [`scalar`]: micrograd-style autograd on single numbers, with pictures of the graph.
//! - [`autograd`]: tensors that record operations and backpropagate through them.
//! - [`manual`]: layers whose backward passes are derived by hand, over arrays.
//! - [`nn`] and [`optim`]: the same layers on autograd, and optimizers.
//!
//! See `docs/ARCHITECTURE.md` for the whole picture.

pub mod array;
pub mod autograd;
pub mod data;
pub mod io;
pub mod manual;
mod names;
pub mod nn;
pub mod optim;
pub mod report;
pub mod scalar;
pub mod train;
