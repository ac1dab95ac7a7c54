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
    fn forward(&self, x: &Tensor<T>) -> Tensor<T> {
        let last = x.shape().len() - 1;
        let centered = x - &x.mean(&[last], true);
        // The biased variance (divided by the count), as PyTorch's layer norm takes it.
        let var = (&centered * &centered).mean(&[last], true);
        let eps = Tensor::new(Array::scalar(T::from_f64(EPS)));
        let xhat = &centered / &(&var + &eps).sqrt();
        &(&xhat * &self.weight) + &self.bias
    }

    fn named_parameters(&self) -> Vec<(String, Tensor<T>)> {
        vec![
            ("weight".into(), self.weight.clone()),
            ("bias".into(), self.bias.clone()),
        ]
    }
}
