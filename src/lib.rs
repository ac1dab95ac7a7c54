//! # scratchgrad
//!
//! Backpropagation from first principles, in layers that each build on the one below:
//!
//! - [`array`]: n-dimensional arrays with broadcasting (numpy's role; no gradients).
//! - [`scalar`]: micrograd-style autograd on single numbers, with pictures of the graph.
//! - [`autograd`]: tensors that record operations and backpropagate through them.
//!
//! See `docs/ARCHITECTURE.md` for the whole picture.

pub mod array;
pub mod autograd;
pub mod io;
pub mod scalar;
