//! Dropout: while training, each value is zeroed with probability p and the rest scaled by
//! 1 / (1 - p), so the expected output is the input; in evaluation it does nothing. With the
//! mask m (0 or 1 / (1 - p) per value), y = x m, so dL/dx = m dL/dy.

use super::Layer;
use crate::array::{Array, Float, Rng};

/// Dropout with probability `p`, its masks drawn from a generator the model reseeds every
/// step (from the run's seed and the step), so a run can be replayed exactly.
pub struct Dropout<T: Float> {
    p: f64,
    rng: Rng,
    training: bool,
    mask: Option<Array<T>>,
}

impl<T: Float> Dropout<T> {
    /// Dropout with probability `p` in (0, 1).
    pub fn new(p: f64) -> Self {
        assert!(p > 0.0 && p < 1.0, "Dropout: p must be in (0, 1), got {p}");
        Dropout {
            p,
            rng: Rng::seed(0),
            training: true,
            mask: None,
        }
    }
}

impl<T: Float> Layer<T> for Dropout<T> {
    fn forward(&mut self, x: &Array<T>) -> Array<T> {
        if !self.training {
            self.mask = None;
            return x.clone();
        }
        let mask = Array::dropout_mask(x.shape(), self.p, &mut self.rng);
        let y = x.mul(&mask);
        self.mask = Some(mask);
        y
    }

    fn backward(&mut self, grad_output: &Array<T>) -> Array<T> {
        match &self.mask {
            // dL/dx = m dL/dy
            Some(mask) => grad_output.mul(mask),
            None => grad_output.clone(),
        }
    }

    fn set_training(&mut self, training: bool) {
        self.training = training;
    }

    fn reseed(&mut self, rng: Rng) {
        self.rng = rng;
    }
}
