//! Batch normalization on autograd: written as the formula, from operations the engine
//! already differentiates (mean, subtraction, square root, division, broadcasting), so its
//! backward pass comes out of the chain rule with no rule of its own; `manual::BatchNorm` is the
//! same layer with its backward derived by hand.

use std::cell::{Cell, RefCell};

use super::Module;
use crate::array::{Array, Float};
use crate::autograd::Tensor;

/// Batch normalization over axis 1 of `[batch, features]` or `[batch, channels, h, w]`, with
/// PyTorch's momentum (0.1) and eps (1e-5).
pub struct BatchNorm<T: Float> {
    /// gamma, `[channels]`.
    pub weight: Tensor<T>,
    /// beta, `[channels]`.
    pub bias: Tensor<T>,
    running_mean: RefCell<Array<T>>,
    running_var: RefCell<Array<T>>,
    batches: Cell<u64>,
    training: bool,
}

impl<T: Float> BatchNorm<T> {
    /// A layer with the given scale, shift and running statistics (all `[channels]`).
    pub fn from_arrays(
        weight: Array<T>,
        bias: Array<T>,
        running_mean: Array<T>,
        running_var: Array<T>,
        batches: u64,
    ) -> Self {
        crate::norm::channels_of(&weight, &bias, &running_mean, &running_var);
        BatchNorm {
            weight: Tensor::parameter(weight),
            bias: Tensor::parameter(bias),
            running_mean: RefCell::new(running_mean),
            running_var: RefCell::new(running_var),
            batches: Cell::new(batches),
            training: true,
        }
    }
}

impl<T: Float> Module<T> for BatchNorm<T> {
    fn forward(&self, x: &Tensor<T>) -> Tensor<T> {
        let shape = x.dims();
        let c = self.weight.dims()[0];
        assert!(
            shape.len() >= 2 && shape[1] == c,
            "BatchNorm: input {shape:?} does not have {c} channels on axis 1"
        );
        // Every axis but the channels', and the per-channel shape that broadcasts against x.
        let axes: Vec<usize> = (0..shape.len()).filter(|&a| a != 1).collect();
        let mut channel_shape = vec![1; shape.len()];
        channel_shape[1] = c;
        let eps = Tensor::new(Array::scalar(T::from_f64(crate::norm::EPS)));
        let xhat = if self.training {
            let mean = x.mean(&axes, true);
            let centered = x - &mean;
            let var = (&centered * &centered).mean(&axes, true);
            // The running statistics take the batch's moments in f64, as the hand-derived
            // layer's do, so that both engines keep the same ones.
            self.track(&x.data().channel_moments(), x.data().len() / c);
            &centered / &(&var + &eps).sqrt()
        } else {
            let mean = Tensor::new(self.running_mean.borrow().reshape(&channel_shape));
            let var = Tensor::new(self.running_var.borrow().reshape(&channel_shape));
            &(x - &mean) / &(&var + &eps).sqrt()
        };
        &xhat * &self.weight.reshape(&channel_shape) + self.bias.reshape(&channel_shape)
    }

    fn named_parameters(&self) -> Vec<(String, Tensor<T>)> {
        vec![
            ("weight".into(), self.weight.clone()),
            ("bias".into(), self.bias.clone()),
        ]
    }

    fn named_buffers(&self) -> Vec<(String, Array<T>)> {
        vec![
            ("running_mean".into(), self.running_mean.borrow().clone()),
            ("running_var".into(), self.running_var.borrow().clone()),
        ]
    }

    fn named_counts(&self) -> Vec<(String, u64)> {
        vec![("num_batches_tracked".into(), self.batches.get())]
    }

    fn set_training(&mut self, training: bool) {
        self.training = training;
    }
}

impl<T: Float> BatchNorm<T> {
    /// Moves the running statistics towards this batch's (see
    /// [`crate::norm::track_running_statistics`]).
    fn track(&self, (mean, var): &(Vec<f64>, Vec<f64>), m: usize) {
        crate::norm::track_running_statistics(
            &mut self.running_mean.borrow_mut(),
            &mut self.running_var.borrow_mut(),
            (mean, var),
            m,
        );
        self.batches.set(self.batches.get() + 1);
    }
}
