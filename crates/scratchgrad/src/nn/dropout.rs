//! Dropout on autograd: a multiplication by a constant mask, which the engine differentiates.

use std::cell::RefCell;

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
    training: bool,
}

impl Dropout {
    /// Dropout with probability `p` in (0, 1).
    pub fn new(p: f64) -> Self {
        assert!(p > 0.0 && p < 1.0, "Dropout: p must be in (0, 1), got {p}");
        Dropout {
            p,
            rng: RefCell::new(Rng::seed(0)),
            training: true,
        }
    }
}

impl<T: Float> Module<T> for Dropout {
    fn forward(&self, x: &Tensor<T>) -> Tensor<T> {
        if !self.training {
            return x.clone();
        }
        let mask = Array::dropout_mask(&x.shape(), self.p, &mut self.rng.borrow_mut());
        x * &Tensor::new(mask)
    }

    fn set_training(&mut self, training: bool) {
        self.training = training;
    }

    fn reseed(&self, rng: Rng) {
        *self.rng.borrow_mut() = rng;
    }
}
