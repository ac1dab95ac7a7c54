//! Tensor autograd: [`Tensor`] records every operation in a graph, and
//! [`Tensor::backward`] sends gradients back through it with the chain rule.
//!
//! - Forward rules: `ops.rs` (each computes its value with [`crate::array::Array`]).
//! - Backward rules: `backward.rs`, one match arm per operation, its math in a comment.
//! - Broadcasting is undone by one rule ([`crate::array::Array::sum_to`]): a gradient is summed
//!   down to its input's shape.
//! - Never here: printing, files, or anything specific to a model.
//!
//! The texts' broadcasting example, `y = (a*x + b) * a` with `a` used twice:
//! ```
//! use scratchgrad::autograd::Tensor;
//! let x = Tensor::parameter_from(vec![1.0, 2.0, 3.0, 4.0], &[2, 2]);
//! let a = Tensor::parameter_from(vec![0.5, 1.0, 1.5, 2.0], &[2, 2]);
//! let b = Tensor::parameter_from(vec![10.0, 20.0], &[2]); // broadcast over rows
//! let y = (&a * &x + &b) * &a;
//! y.sum_all().backward();
//! // dy/db = a, summed over the broadcast rows: [0.5 + 1.5, 1.0 + 2.0]
//! assert_eq!(b.grad().unwrap().data(), &[2.0, 3.0]);
//! // dy/da = (a*x + b) + a*x: both uses of `a` add up
//! assert_eq!(a.grad().unwrap().data(), &[11.0, 24.0, 19.0, 36.0]);
//! ```

mod backward;
mod gradcheck;
mod linear;
mod op;
mod ops;
mod tensor;

use std::cell::Cell;

pub use gradcheck::{gradcheck, GradcheckReport};
pub use tensor::{Tensor, WeakTensor};

thread_local! {
    static GRAD_ENABLED: Cell<bool> = const { Cell::new(true) };
}

/// Whether operations on this thread currently record the graph.
pub fn grad_enabled() -> bool {
    GRAD_ENABLED.with(Cell::get)
}

/// Runs `f` without recording the graph (evaluation, parameter updates), as PyTorch's
/// `with torch.no_grad():`. Results are constants; the previous mode comes back afterwards,
/// even if `f` panics.
///
/// ```
/// use scratchgrad::autograd::{no_grad, Tensor};
/// let w = Tensor::parameter_from(vec![2.0], &[1]);
/// let y = no_grad(|| &w * &w);
/// assert!(!y.requires_grad());
/// ```
pub fn no_grad<R>(f: impl FnOnce() -> R) -> R {
    struct Restore(bool);
    impl Drop for Restore {
        fn drop(&mut self) {
            GRAD_ENABLED.with(|g| g.set(self.0));
        }
    }
    let _restore = Restore(set_grad_enabled(false));
    f()
}

/// Turns recording of the graph on this thread on or off, and returns what it was (PyTorch's
/// `torch.set_grad_enabled`): for a caller that cannot wrap its work in a closure, as a
/// Python `with` block. [`no_grad`] is the safer form.
///
/// ```
/// use scratchgrad::autograd::{grad_enabled, set_grad_enabled};
/// let before = set_grad_enabled(false);
/// assert!(before && !grad_enabled());
/// set_grad_enabled(before);
/// ```
pub fn set_grad_enabled(enabled: bool) -> bool {
    GRAD_ENABLED.with(|g| g.replace(enabled))
}
