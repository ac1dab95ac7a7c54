//! Layers: `Linear`, the activations (GELU among them) and `Flatten`.

use super::Module;
use crate::array::{Array, Float, Rng};
use crate::autograd::Tensor;
use crate::init;

/// y = x W^T + b, with `W` stored as PyTorch stores it: `[out, in]`.
pub struct Linear<T: Float> {
    /// `[out, in]`.
    pub weight: Tensor<T>,
    /// `[out]`.
    pub bias: Tensor<T>,
}

impl<T: Float> Linear<T> {
    /// Xavier-normal weights and zero bias (the texts' MNIST network's choice).
    pub fn new(inputs: usize, outputs: usize, rng: &mut Rng) -> Self {
        Self::from_arrays(
            init::xavier_normal(inputs, outputs, rng),
            Array::zeros(&[outputs]),
        )
    }

    /// A layer with the given weight (`[out, in]`) and bias (`[out]`).
    pub fn from_arrays(weight: Array<T>, bias: Array<T>) -> Self {
        Self::from_tensors(Tensor::parameter(weight), Tensor::parameter(bias))
    }

    /// A layer that learns the given parameters (shared with whoever else holds them, as
    /// a replica of a model for one part of a batch does).
    pub fn from_tensors(weight: Tensor<T>, bias: Tensor<T>) -> Self {
        let (w, b) = (weight.dims(), bias.dims());
        assert!(
            w.len() == 2 && b[..] == [w[0]],
            "Linear: weight {w:?} and bias {b:?} do not fit ([out, in] and [out])"
        );
        Linear { weight, bias }
    }

    /// gelu(x W^T + b), the bias added in the same operation as GELU ([`Tensor::bias_gelu`]):
    /// the same numbers as `Gelu.forward(&self.forward(x))`, with one pass fewer each way.
    pub fn forward_gelu(&self, x: &Tensor<T>) -> Tensor<T> {
        x.matmul_t(false, &self.weight, true).bias_gelu(&self.bias)
    }
}

impl<T: Float> Module<T> for Linear<T> {
    fn forward(&self, x: &Tensor<T>) -> Tensor<T> {
        x.matmul_t(false, &self.weight, true).add(&self.bias)
    }

    fn named_parameters(&self) -> Vec<(String, Tensor<T>)> {
        vec![
            ("weight".into(), self.weight.clone()),
            ("bias".into(), self.bias.clone()),
        ]
    }
}

/// GELU in its tanh form (makemore's and GPT-2's `NewGELU`, PyTorch's
/// `gelu(approximate="tanh")`): 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))).
pub struct Gelu;

impl<T: Float> Module<T> for Gelu {
    /// One operation with its own gradient rule (`autograd/backward.rs`): written as nine
    /// elementwise operations it made nine arrays forward and more backward at every step.
    fn forward(&self, x: &Tensor<T>) -> Tensor<T> {
        x.gelu()
    }
}

/// max(x, 0) elementwise.
pub struct ReLU;
/// 1 / (1 + e^-x) elementwise.
pub struct Sigmoid;
/// tanh(x) elementwise.
pub struct Tanh;

impl<T: Float> Module<T> for ReLU {
    fn forward(&self, x: &Tensor<T>) -> Tensor<T> {
        x.relu()
    }
}

impl<T: Float> Module<T> for Sigmoid {
    fn forward(&self, x: &Tensor<T>) -> Tensor<T> {
        x.sigmoid()
    }
}

impl<T: Float> Module<T> for Tanh {
    fn forward(&self, x: &Tensor<T>) -> Tensor<T> {
        x.tanh()
    }
}

/// Flattens every axis after the first: `[batch, 28, 28]` becomes `[batch, 784]`.
pub struct Flatten;

impl<T: Float> Module<T> for Flatten {
    fn forward(&self, x: &Tensor<T>) -> Tensor<T> {
        let shape = x.dims();
        let rest: usize = shape[1..].iter().product();
        x.reshape(&[shape[0], rest])
    }
}
