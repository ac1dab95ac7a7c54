//! What batch normalization's two engines share, below both: PyTorch's constants, the check
//! of a layer's arrays, and the update of the running statistics from a batch's moments
//! (computed in f64 by `Array::channel_moments`), so that `manual::BatchNorm` and
//! `nn::BatchNorm` keep exactly the same statistics. The forward and backward passes
//! themselves are each engine's own (the lesson).

use crate::array::{Array, Float};

/// PyTorch's default momentum for the running statistics.
pub const MOMENTUM: f64 = 0.1;
/// PyTorch's default epsilon under the square root.
pub const EPS: f64 = 1e-5;

/// Panics, naming every shape, unless scale, shift and running statistics are all
/// `[channels]`; returns the channels. Both engines' batch norm check their arrays with it.
pub fn channels_of<T: Float>(
    weight: &Array<T>,
    bias: &Array<T>,
    running_mean: &Array<T>,
    running_var: &Array<T>,
) -> usize {
    let c = weight.len();
    assert!(
        [bias, running_mean, running_var].iter().all(|a| a.shape() == [c]) && weight.shape() == [c],
        "BatchNorm: weight {:?}, bias {:?}, running mean {:?} and variance {:?} must all be [channels]",
        weight.shape(),
        bias.shape(),
        running_mean.shape(),
        running_var.shape()
    );
    c
}

/// running = (1 - momentum) running + momentum batch, for a batch with per-channel `mean` and
/// (biased) `var` over `m` values each; the variance is made unbiased (times m / (m - 1)), as
/// PyTorch's. Both engines' batch norm track their statistics with it.
pub fn track_running_statistics<T: Float>(
    running_mean: &mut Array<T>,
    running_var: &mut Array<T>,
    (mean, var): (&[f64], &[f64]),
    m: usize,
) {
    let k = MOMENTUM;
    let unbiased = if m > 1 {
        m as f64 / (m as f64 - 1.0)
    } else {
        1.0
    };
    for (ch, (&mean, &var)) in mean.iter().zip(var).enumerate() {
        let rm = &mut running_mean.data_mut()[ch];
        *rm = T::from_f64((1.0 - k) * rm.to_f64() + k * mean);
        let rv = &mut running_var.data_mut()[ch];
        *rv = T::from_f64((1.0 - k) * rv.to_f64() + k * var * unbiased);
    }
}
