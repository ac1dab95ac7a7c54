//! Dropout on autograd: a multiplication by a constant mask, which the engine differentiates.

use std::cell::{Cell, RefCell};

use super::Module;
use crate::array::{Array, Float, Rng};
use crate::autograd::Tensor;

/// Dropout with probability `p`: while training, `x * mask` with each mask value 0 (with
/// probability p) or 1 / (1 - p); in evaluation, `x`. The masks come from a generator the model
/// reseeds every step, the same as `manual::Dropout`'s, so both engines drop the same values.
#[derive(Clone)]
pub struct Dropout {
    p: f64,
    rng: RefCell<Rng>,
    /// Examples before this batch in the step's whole batch, whose masks are skipped.
    first_example: Cell<usize>,
    training: bool,
}

impl Dropout {
    /// Dropout with probability `p` in (0, 1).
    pub fn new(p: f64) -> Self {
        assert!(p > 0.0 && p < 1.0, "Dropout: p must be in (0, 1), got {p}");
        Dropout {
            p,
            rng: RefCell::new(Rng::seed(0)),
            first_example: Cell::new(0),
            training: true,
        }
    }

    /// Whether it drops anything now (training); in evaluation it passes its input on.
    pub fn drops(&self) -> bool {
        self.training
    }
}

impl<T: Float> Module<T> for Dropout {
    fn forward(&self, x: &Tensor<T>) -> Tensor<T> {
        if !self.training {
            return x.clone();
        }
        let shape = x.dims();
        let mut rng = self.rng.borrow_mut();
        // The mask takes one word per element, example by example: a part of a batch skips
        // the earlier examples' words and draws the mask the whole batch would give its own.
        let per_example: usize = shape.iter().skip(1).product();
        rng.skip((self.first_example.take() * per_example) as u128);
        let mask = Array::dropout_mask(&shape, self.p, &mut rng);
        x * &Tensor::new(mask)
    }

    fn set_training(&mut self, training: bool) {
        self.training = training;
    }

    fn reseed(&self, rng: Rng, first_example: usize) {
        *self.rng.borrow_mut() = rng;
        self.first_example.set(first_example);
    }
}
