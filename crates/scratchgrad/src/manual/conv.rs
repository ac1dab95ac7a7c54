//! The 2-D convolution with its hand-derived backward pass.
//!
//! Forward, per batch: the input's patches become columns, `X = im2col(x)` (`[c kh kw,
//! positions]`), and the whole convolution is one product, `Y = W X + b` with `W` the filters
//! as rows (`[out, c kh kw]`). Each output is `y[o, p] = sum_k W[o, k] X[k, p] + b[o]`, so with
//! `G = dL/dY`:
//! - `dL/dW[o, k] = sum_p G[o, p] X[k, p]`, i.e. `dW = G X^T` (every position a filter slid to);
//! - `dL/db[o] = sum_p G[o, p]` (the bias was added at every position);
//! - `dL/dX[k, p] = sum_o W[o, k] G[o, p]`, i.e. `dX = W^T G`; and since each input pixel was
//!   copied into several columns, its gradient is the sum over those copies: `dx =
//!   col2im(dX)`, the scatter-add that undoes im2col.

use super::Layer;
use crate::array::{Array, Float, Window};

/// A 2-D convolution over NCHW input, weight `[out, in, kh, kw]` and bias `[out]` as PyTorch
/// lays them out.
pub struct Conv2d<T: Float> {
    /// `[out, in, kh, kw]`.
    pub weight: Array<T>,
    /// `[out]`.
    pub bias: Array<T>,
    /// d(loss)/d(weight) from the last `backward`.
    pub weight_grad: Array<T>,
    /// d(loss)/d(bias) from the last `backward`.
    pub bias_grad: Array<T>,
    window: Window,
    /// The last input's shape and columns.
    saved: Option<(Vec<usize>, Array<T>)>,
}

impl<T: Float> Conv2d<T> {
    /// A layer with the given filters and bias, sliding with `window`'s stride and padding
    /// (its kernel size must be the filters').
    pub fn new(weight: Array<T>, bias: Array<T>, window: Window) -> Self {
        window.assert_filters_fit(weight.shape(), bias.shape());
        let (weight_grad, bias_grad) = (Array::zeros(weight.shape()), Array::zeros(bias.shape()));
        Conv2d {
            weight,
            bias,
            weight_grad,
            bias_grad,
            window,
            saved: None,
        }
    }

    /// The filters as rows: `[out, in * kh * kw]`.
    fn weight_rows(&self) -> Array<T> {
        let out = self.weight.shape()[0];
        self.weight.reshape(&[out, self.weight.len() / out])
    }
}

impl<T: Float> Layer<T> for Conv2d<T> {
    fn forward(&mut self, x: &Array<T>) -> Array<T> {
        let (y, cols) = x.conv2d(&self.weight, Some(&self.bias), &self.window);
        self.saved = Some((x.shape().to_vec(), cols));
        y
    }

    fn backward(&mut self, grad_output: &Array<T>) -> Array<T> {
        let g = self.backward_parameters_rows(grad_output);
        let (shape, _) = self
            .saved
            .as_ref()
            .expect("Conv2d: backward called before forward");
        // dX = W^T G, then each column entry back to the pixel it was copied from
        self.weight_rows()
            .matmul_t(true, &g, false)
            .col2im(shape, &self.window)
    }

    fn backward_parameters(&mut self, grad_output: &Array<T>) {
        self.backward_parameters_rows(grad_output);
    }

    fn parameters_mut(&mut self) -> Vec<(&'static str, &mut Array<T>, &Array<T>)> {
        vec![
            ("weight", &mut self.weight, &self.weight_grad),
            ("bias", &mut self.bias, &self.bias_grad),
        ]
    }
}

impl<T: Float> Conv2d<T> {
    /// Computes dW and db, returning G as `[out, positions]` for the input's gradient.
    fn backward_parameters_rows(&mut self, grad_output: &Array<T>) -> Array<T> {
        let (_, cols) = self
            .saved
            .as_ref()
            .expect("Conv2d: backward called before forward");
        let g = grad_output.nchw_to_channels();
        // dW = G X^T, computed as (X G^T)^T (the kernel's faster orientation), in the
        // filters' shape
        self.weight_grad = cols
            .matmul(&grad_output.nchw_to_rows())
            .transpose()
            .reshape(self.weight.shape());
        // db = G summed over every position
        self.bias_grad = g.sum(&[1], false);
        g
    }
}
