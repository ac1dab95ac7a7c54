//! Layer normalization: each example's features (the last axis) brought to mean 0 and
//! variance 1, then scaled and shifted, as PyTorch's `nn.LayerNorm(features)`. Unlike batch
//! norm it looks at no other example, so training and evaluation are the same computation.

use super::Module;
use crate::array::{Array, Float};
use crate::autograd::Tensor;
use crate::norm::EPS;

/// y = (x - mean(x)) / sqrt(var(x) + eps) * weight + bias, over the last axis.
pub struct LayerNorm<T: Float> {
    /// `[features]`, 1 at first.
    pub weight: Tensor<T>,
    /// `[features]`, 0 at first.
    pub bias: Tensor<T>,
}

impl<T: Float> LayerNorm<T> {
    /// A fresh layer over `features` numbers (scale 1, shift 0).
    pub fn new(features: usize) -> Self {
        Self::from_arrays(Array::ones(&[features]), Array::zeros(&[features]))
    }

    /// A layer with the given scale and shift (`[features]` each).
    pub fn from_arrays(weight: Array<T>, bias: Array<T>) -> Self {
        assert!(
            weight.ndim() == 1 && weight.shape() == bias.shape(),
            "LayerNorm: weight {:?} and bias {:?} must both be [features]",
            weight.shape(),
            bias.shape()
        );
        LayerNorm {
            weight: Tensor::parameter(weight),
            bias: Tensor::parameter(bias),
        }
    }
}

impl<T: Float> Module<T> for LayerNorm<T> {
    /// One operation with its own gradient rule (`autograd/backward.rs`, derived in
    /// docs/DERIVATIONS.md): as the formula's nine operations it made a dozen arrays each way
    /// at every step.
    fn forward(&self, x: &Tensor<T>) -> Tensor<T> {
        x.layer_norm(&self.weight, &self.bias, EPS)
    }

    fn named_parameters(&self) -> Vec<(String, Tensor<T>)> {
        vec![
            ("weight".into(), self.weight.clone()),
            ("bias".into(), self.bias.clone()),
        ]
    }
}
