//! Batch normalization with its classic hand-derived backward pass.
//!
//! For each channel c (axis 1; over the batch and, for images, every pixel: M values):
//! `mu = mean(x)`, `var = mean((x - mu)^2)`, `xhat = (x - mu) / sqrt(var + eps)`,
//! `y = gamma xhat + beta`. With `g = dL/dy`:
//! - `dL/dbeta = sum g` and `dL/dgamma = sum g xhat`;
//! - `dL/dxhat = g gamma`; `xhat` depends on x directly and through mu and var, and working
//!   the chain rule through both (`dvar/dx_i = 2 (x_i - mu) / M`, `dmu/dx_i = 1 / M`) collapses
//!   to `dL/dx = gamma / (M sqrt(var + eps)) (M g - sum g - xhat sum(g xhat))`.
//!
//! While training, running statistics follow each batch's (momentum 0.1; the variance
//! unbiased, times M / (M - 1)), as PyTorch's; in evaluation they replace the batch's, and the
//! layer is a fixed affine map.

use super::Layer;
use crate::array::{Array, Float};
use crate::norm::{channels_of, track_running_statistics, EPS};

/// Batch normalization over axis 1 of `[batch, features]` or `[batch, channels, h, w]`.
pub struct BatchNorm<T: Float> {
    /// gamma, `[channels]`.
    pub weight: Array<T>,
    /// beta, `[channels]`.
    pub bias: Array<T>,
    /// The running mean, `[channels]`.
    pub running_mean: Array<T>,
    /// The running (unbiased) variance, `[channels]`.
    pub running_var: Array<T>,
    /// Training batches seen (PyTorch's `num_batches_tracked`).
    pub batches: u64,
    /// d(loss)/d(weight) from the last `backward`.
    pub weight_grad: Array<T>,
    /// d(loss)/d(bias) from the last `backward`.
    pub bias_grad: Array<T>,
    training: bool,
    /// From the last forward: xhat, and 1 / sqrt(var + eps) per channel.
    saved: Option<(Array<T>, Vec<T>)>,
}

/// `(batch, channels, values per channel per example)` of a `[n, c, ...]` shape.
fn layout(shape: &[usize]) -> (usize, usize, usize) {
    assert!(
        shape.len() >= 2,
        "BatchNorm: needs [batch, channels, ...] input, got {shape:?}"
    );
    (shape[0], shape[1], shape[2..].iter().product())
}

impl<T: Float> BatchNorm<T> {
    /// A layer with the given scale, shift and running statistics (all `[channels]`).
    pub fn new(
        weight: Array<T>,
        bias: Array<T>,
        running_mean: Array<T>,
        running_var: Array<T>,
        batches: u64,
    ) -> Self {
        let c = channels_of(&weight, &bias, &running_mean, &running_var);
        BatchNorm {
            weight_grad: Array::zeros(&[c]),
            bias_grad: Array::zeros(&[c]),
            weight,
            bias,
            running_mean,
            running_var,
            batches,
            training: true,
            saved: None,
        }
    }

    /// Identity to start with: scale 1, shift 0, running mean 0 and variance 1.
    pub fn fresh(channels: usize) -> Self {
        BatchNorm::new(
            Array::ones(&[channels]),
            Array::zeros(&[channels]),
            Array::zeros(&[channels]),
            Array::ones(&[channels]),
            0,
        )
    }

    /// Each channel's values of `x`, visited as (channel, value slice of one example).
    fn per_channel(
        x: &[T],
        (n, c, s): (usize, usize, usize),
        mut f: impl FnMut(usize, usize, usize),
    ) {
        debug_assert_eq!(x.len(), n * c * s);
        for b in 0..n {
            for ch in 0..c {
                f(ch, (b * c + ch) * s, s);
            }
        }
    }
}

impl<T: Float> Layer<T> for BatchNorm<T> {
    fn forward(&mut self, x: &Array<T>) -> Array<T> {
        let dims = layout(x.shape());
        let (n, c, s) = dims;
        assert!(
            c == self.weight.len(),
            "BatchNorm: input {:?} has {c} channels, the layer {}",
            x.shape(),
            self.weight.len()
        );
        let eps = T::from_f64(EPS);
        // This batch's statistics (training) or the running ones (evaluation).
        let (mean, var): (Vec<T>, Vec<T>) = if self.training {
            let (mean, var) = x.channel_moments();
            track_running_statistics(
                &mut self.running_mean,
                &mut self.running_var,
                (&mean, &var),
                n * s,
            );
            self.batches += 1;
            (
                mean.into_iter().map(T::from_f64).collect(),
                var.into_iter().map(T::from_f64).collect(),
            )
        } else {
            (
                self.running_mean.data().to_vec(),
                self.running_var.data().to_vec(),
            )
        };
        let inv_std: Vec<T> = var.iter().map(|&v| T::ONE / (v + eps).sqrt()).collect();
        let mut xhat = vec![T::ZERO; x.len()];
        let mut y = vec![T::ZERO; x.len()];
        Self::per_channel(x.data(), dims, |ch, at, len| {
            let (g, b) = (self.weight.data()[ch], self.bias.data()[ch]);
            for i in at..at + len {
                // xhat = (x - mu) / sqrt(var + eps); y = gamma xhat + beta
                xhat[i] = (x.data()[i] - mean[ch]) * inv_std[ch];
                y[i] = g * xhat[i] + b;
            }
        });
        self.saved = Some((Array::from_vec(xhat, x.shape()), inv_std));
        Array::from_vec(y, x.shape())
    }

    fn backward(&mut self, grad_output: &Array<T>) -> Array<T> {
        let (xhat, inv_std) = self
            .saved
            .as_ref()
            .expect("BatchNorm: backward called before forward");
        let dims = layout(grad_output.shape());
        let (n, c, s) = dims;
        let g = grad_output.data();
        let (mut dbeta, mut dgamma) = (vec![T::ZERO; c], vec![T::ZERO; c]);
        Self::per_channel(g, dims, |ch, at, len| {
            let values = g[at..at + len].iter().zip(&xhat.data()[at..at + len]);
            for (&g, &xhat) in values {
                // dL/dbeta = sum g, dL/dgamma = sum g xhat
                dbeta[ch] += g;
                dgamma[ch] += g * xhat;
            }
        });
        let m = T::from_usize(n * s);
        let mut dx = vec![T::ZERO; g.len()];
        Self::per_channel(g, dims, |ch, at, len| {
            let scale = self.weight.data()[ch] * inv_std[ch];
            for i in at..at + len {
                dx[i] = if self.training {
                    // dx = gamma / (M sqrt(var + eps)) (M g - sum g - xhat sum(g xhat))
                    scale / m * (m * g[i] - dbeta[ch] - xhat.data()[i] * dgamma[ch])
                } else {
                    // with fixed statistics the layer is affine: dx = gamma g / sqrt(var + eps)
                    scale * g[i]
                };
            }
        });
        self.weight_grad = Array::from_vec(dgamma, &[c]);
        self.bias_grad = Array::from_vec(dbeta, &[c]);
        Array::from_vec(dx, grad_output.shape())
    }

    fn parameters_mut(&mut self) -> Vec<(&'static str, &mut Array<T>, &Array<T>)> {
        vec![
            ("weight", &mut self.weight, &self.weight_grad),
            ("bias", &mut self.bias, &self.bias_grad),
        ]
    }

    fn buffers(&self) -> Vec<(&'static str, Array<T>)> {
        vec![
            ("running_mean", self.running_mean.clone()),
            ("running_var", self.running_var.clone()),
        ]
    }

    fn counts(&self) -> Vec<(&'static str, u64)> {
        vec![("num_batches_tracked", self.batches)]
    }

    fn set_training(&mut self, training: bool) {
        self.training = training;
    }
}
