//! A linear layer's `x W^T + b` as one operation, with GELU after it, or added to a residual
//! stream: the bias is where gemm's sum starts, so no pass of its own adds it (PyTorch's
//! `addmm`, `F.linear`), and the stream is added into the output where gemm left it.

use super::op::{AfterLinear, Op};
use super::{grad_enabled, Tensor};
use crate::array::{Array, Float};

impl<T: Float> Tensor<T> {
    /// A linear layer, `self W^T + b` (`weight` W `[out, in]`, `bias` b `[out]`, `self` rows
    /// of `in`), in one operation: the sum starts as the bias on every row and gemm adds the
    /// product into it where it writes it, so no pass of its own adds them. The bits of
    /// `self.matmul_t(false, weight, true).add(bias)` (the product's sum rounded, then the
    /// bias added, once each) where gemm sums the inner dimension in one chunk: 3 to 512
    /// inputs; over 512 the bias meets the first chunk's sum before the next is added.
    ///
    /// ```
    /// use scratchgrad::autograd::Tensor;
    /// let x = Tensor::parameter_from(vec![1.0f64, 2.0], &[1, 2]);
    /// let w = Tensor::parameter_from(vec![3.0, 4.0, 5.0, 6.0], &[2, 2]);
    /// let b = Tensor::parameter_from(vec![0.5, -0.5], &[2]);
    /// let y = x.linear(&w, &b);
    /// assert_eq!(y.data().data(), &[11.5, 16.5]); // 1*3 + 2*4 + 0.5, 1*5 + 2*6 - 0.5
    /// y.sum(&[0, 1], false).backward();
    /// assert_eq!(x.grad().unwrap().data(), &[8.0, 10.0]); // the columns of W summed
    /// assert_eq!(b.grad().unwrap().data(), &[1.0, 1.0]);
    /// ```
    pub fn linear(&self, weight: &Tensor<T>, bias: &Tensor<T>) -> Tensor<T> {
        let value = self.linear_value(weight, bias);
        let op = Op::Linear {
            x: self.clone(),
            weight: weight.clone(),
            bias: bias.clone(),
            after: AfterLinear::Nothing,
        };
        Tensor::from_op(value, op)
    }

    /// `onto + (self W^T + b)`: [`Tensor::linear`] added to a residual stream `onto` (of the
    /// output's shape) in one operation. The stream is added into the layer's output where
    /// gemm wrote it, not into an array of its own, and the backward rule hands the stream the
    /// output's gradient itself, not a copy. The bits of `onto.add(&self.linear(weight, bias))`.
    ///
    /// ```
    /// use scratchgrad::autograd::Tensor;
    /// let x = Tensor::parameter_from(vec![1.0f64, 2.0], &[1, 2]);
    /// let w = Tensor::parameter_from(vec![3.0, 4.0, 5.0, 6.0], &[2, 2]);
    /// let b = Tensor::parameter_from(vec![0.5, -0.5], &[2]);
    /// let stream = Tensor::parameter_from(vec![100.0, 200.0], &[1, 2]);
    /// let y = x.linear_onto(&w, &b, &stream);
    /// assert_eq!(y.data().data(), &[111.5, 216.5]); // 100 + 11.5, 200 + 16.5
    /// y.sum(&[0, 1], false).backward();
    /// assert_eq!(stream.grad().unwrap().data(), &[1.0, 1.0]); // d(onto + ..)/d onto = 1
    /// assert_eq!(x.grad().unwrap().data(), &[8.0, 10.0]);
    /// ```
    pub fn linear_onto(&self, weight: &Tensor<T>, bias: &Tensor<T>, onto: &Tensor<T>) -> Tensor<T> {
        let mut value = self.linear_value(weight, bias);
        let stream = onto.data();
        assert!(
            stream.shape() == value.shape(),
            "linear_onto: the stream {:?} is not the layer's output {:?}",
            stream.shape(),
            value.shape()
        );
        // y + stream: stream + y to the bit (floating-point addition commutes; only which
        // NaN's payload a sum of two NaNs keeps can differ)
        value.add_assign(&stream);
        let op = Op::Linear {
            x: self.clone(),
            weight: weight.clone(),
            bias: bias.clone(),
            after: AfterLinear::Onto(onto.clone()),
        };
        Tensor::from_op(value, op)
    }

    /// `gelu(self W^T + b)`: [`Tensor::linear`] with GELU written over the product as it
    /// stands (no array of its own for the values before GELU), the slope kept for the
    /// backward rule. The same numbers as `self.matmul_t(false, weight, true).bias_gelu(bias)`
    /// where gemm sums the inner dimension in one chunk (3 to 512 inputs).
    ///
    /// ```
    /// use scratchgrad::autograd::Tensor;
    /// let x = Tensor::parameter_from(vec![1.0f64, -1.0], &[1, 2]);
    /// let w = Tensor::parameter_from(vec![1.0, 1.0, 2.0, 0.0], &[2, 2]);
    /// let b = Tensor::parameter_from(vec![0.0, -2.0], &[2]);
    /// let y = x.linear_gelu(&w, &b);
    /// assert_eq!(y.data().data(), &[0.0, 0.0]); // gelu(0) twice
    /// y.sum(&[0, 1], false).backward();
    /// assert_eq!(b.grad().unwrap().data(), &[0.5, 0.5]); // GELU's slope at 0
    /// ```
    pub fn linear_gelu(&self, weight: &Tensor<T>, bias: &Tensor<T>) -> Tensor<T> {
        let before = self.linear_value(weight, bias);
        let wanted = [self, weight, bias].iter().any(|t| t.requires_grad());
        if !(grad_enabled() && wanted) {
            return Tensor::new(before.gelu());
        }
        let (value, slope) = before.into_gelu_and_slope();
        let op = Op::Linear {
            x: self.clone(),
            weight: weight.clone(),
            bias: bias.clone(),
            after: AfterLinear::Gelu { slope },
        };
        Tensor::from_op(value, op)
    }

    /// [`Tensor::linear`]'s value.
    fn linear_value(&self, weight: &Tensor<T>, bias: &Tensor<T>) -> Array<T> {
        let (x, w, b) = (self.data(), weight.data(), bias.data());
        let (xs, ws) = (x.shape(), w.shape());
        assert!(
            ws.len() == 2 && b.shape()[..] == [ws[0]] && xs.len() >= 2,
            "linear: input {xs:?}, weight {ws:?} and bias {:?} do not fit ([.., in], [out, \
             in] and [out])",
            b.shape()
        );
        let mut shape = xs.to_vec();
        *shape.last_mut().expect("two axes or more") = ws[0];
        self.product_value(false, weight, true, Some(b.broadcast_to(&shape)))
    }
}
