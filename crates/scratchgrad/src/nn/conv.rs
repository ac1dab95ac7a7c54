//! Convolution and pooling modules: the operations' backward rules live in
//! `autograd/backward.rs`; nothing here differentiates.

use super::Module;
use crate::array::{Array, Float, Window};
use crate::autograd::Tensor;

/// A 2-D convolution over NCHW input: weight `[out, in, kh, kw]`, bias `[out]`, as PyTorch.
pub struct Conv2d<T: Float> {
    /// `[out, in, kh, kw]`.
    pub weight: Tensor<T>,
    /// `[out]`.
    pub bias: Tensor<T>,
    window: Window,
}

impl<T: Float> Conv2d<T> {
    /// A layer with the given filters and bias, sliding with `window`'s stride and padding.
    pub fn from_arrays(weight: Array<T>, bias: Array<T>, window: Window) -> Self {
        Self::from_tensors(Tensor::parameter(weight), Tensor::parameter(bias), window)
    }

    /// A layer that learns the given parameters (shared with whoever else holds them, as
    /// a replica of a model for one part of a batch does).
    pub fn from_tensors(weight: Tensor<T>, bias: Tensor<T>, window: Window) -> Self {
        window.assert_filters_fit(&weight.dims(), &bias.dims());
        Conv2d {
            weight,
            bias,
            window,
        }
    }
}

impl<T: Float> Module<T> for Conv2d<T> {
    fn forward(&self, x: &Tensor<T>) -> Tensor<T> {
        x.conv2d(&self.weight, Some(&self.bias), self.window)
    }

    fn named_parameters(&self) -> Vec<(String, Tensor<T>)> {
        vec![
            ("weight".into(), self.weight.clone()),
            ("bias".into(), self.bias.clone()),
        ]
    }
}

/// The largest value of each window (no padding).
pub struct MaxPool2d(pub Window);

impl<T: Float> Module<T> for MaxPool2d {
    fn forward(&self, x: &Tensor<T>) -> Tensor<T> {
        x.max_pool2d(self.0)
    }
}

/// The mean of each window (no padding).
pub struct AvgPool2d(pub Window);

impl<T: Float> Module<T> for AvgPool2d {
    fn forward(&self, x: &Tensor<T>) -> Tensor<T> {
        x.avg_pool2d(self.0)
    }
}
