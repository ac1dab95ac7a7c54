//! # scratchgrad
//!
//! Backpropagation from first principles, in layers that each build on the one below:
//!
//! - [`array`]: n-dimensional arrays with broadcasting (numpy's role; no gradients).
//! - [`autograd`]: tensors that record operations and backpropagate through them.
//!
//! See `docs/ARCHITECTURE.md` for the whole picture.

pub mod array;
pub mod autograd;
