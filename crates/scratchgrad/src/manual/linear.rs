//! The fully connected layer, y = x W^T + b, with its hand-derived backward pass.

use super::Layer;
use crate::array::{Array, Float, Rng};

/// y = x W^T + b, with `W` stored as PyTorch stores it: `[out, in]`.
pub struct Linear<T: Float> {
    /// `[out, in]`.
    pub weight: Array<T>,
    /// `[out]`.
    pub bias: Array<T>,
    /// d(loss)/d(weight) from the last `backward`.
    pub weight_grad: Array<T>,
    /// d(loss)/d(bias) from the last `backward`.
    pub bias_grad: Array<T>,
    input: Option<Array<T>>,
}

impl<T: Float> Linear<T> {
    /// A layer with the given weights (`[out, in]`) and bias (`[out]`).
    pub fn new(weight: Array<T>, bias: Array<T>) -> Self {
        assert!(
            weight.ndim() == 2 && bias.shape() == [weight.shape()[0]],
            "Linear: weight {:?} and bias {:?} do not fit ([out, in] and [out])",
            weight.shape(),
            bias.shape()
        );
        let (weight_grad, bias_grad) = (Array::zeros(weight.shape()), Array::zeros(bias.shape()));
        Linear {
            weight,
            bias,
            weight_grad,
            bias_grad,
            input: None,
        }
    }

    /// Xavier/Glorot-normal weights (std = sqrt(2 / (in + out))) and zero bias.
    pub fn xavier_normal(inputs: usize, outputs: usize, rng: &mut Rng) -> Self {
        Self::new(
            crate::init::xavier_normal(inputs, outputs, rng),
            Array::zeros(&[outputs]),
        )
    }
}

impl<T: Float> Layer<T> for Linear<T> {
    fn forward(&mut self, x: &Array<T>) -> Array<T> {
        self.input = Some(x.clone());
        x.matmul_t(false, &self.weight, true).add(&self.bias)
    }

    fn backward(&mut self, grad_output: &Array<T>) -> Array<T> {
        self.backward_parameters(grad_output);
        // dL/dx = g W
        grad_output.matmul(&self.weight)
    }

    /// The parameters' gradients alone (for the first layer, whose dL/dx nobody reads: a
    /// quarter of the step's multiply-adds in the texts' network).
    fn backward_parameters(&mut self, grad_output: &Array<T>) {
        let x = self
            .input
            .as_ref()
            .expect("Linear: backward called before forward");
        // y = x W^T + b, so with g = dL/dy:
        // dL/dW = g^T x   (each weight W[o, i] meets x[:, i] on its way to y[:, o])
        self.weight_grad = grad_output.matmul_t(true, x, false);
        // dL/db = sum of g over the batch (b was added to every row)
        self.bias_grad = grad_output.sum(&[0], false);
    }

    fn parameters_mut(&mut self) -> Vec<(&'static str, &mut Array<T>, &Array<T>)> {
        vec![
            ("weight", &mut self.weight, &self.weight_grad),
            ("bias", &mut self.bias, &self.bias_grad),
        ]
    }
}
