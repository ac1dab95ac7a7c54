//! The forward side of every differentiable operation: compute the value with [`Array`], and
//! record in the graph how it was made. The backward side lives in `backward.rs`.

use std::ops;
use std::sync::Arc;

use super::op::Op;
use super::{grad_enabled, Tensor};
use crate::array::{Array, ConvPath, Float, Window};

macro_rules! binary {
    ($($(#[$doc:meta])* $name:ident => $variant:ident;)*) => {$(
        $(#[$doc])*
        pub fn $name(&self, other: &Tensor<T>) -> Tensor<T> {
            let value = self.data().$name(&other.data());
            Tensor::from_op(value, Op::$variant(self.clone(), other.clone()))
        }
    )*};
}

macro_rules! unary {
    ($($(#[$doc:meta])* $name:ident => $variant:ident;)*) => {$(
        $(#[$doc])*
        pub fn $name(&self) -> Tensor<T> {
            let value = self.data().$name();
            Tensor::from_op(value, Op::$variant(self.clone()))
        }
    )*};
}

impl<T: Float> Tensor<T> {
    binary! {
        /// `self + other`, broadcasting.
        add => Add;
        /// `self - other`, broadcasting.
        sub => Sub;
        /// `self * other` elementwise, broadcasting.
        mul => Mul;
        /// `self / other` elementwise, broadcasting.
        div => Div;
        /// `self ** other` elementwise, broadcasting.
        pow => Pow;
        /// The larger of each pair, broadcasting.
        maximum => Maximum;
        /// The smaller of each pair, broadcasting.
        minimum => Minimum;
    }

    unary! {
        /// `-self`.
        neg => Neg;
        /// e^x elementwise.
        exp => Exp;
        /// Natural log elementwise.
        log => Log;
        /// Square root elementwise.
        sqrt => Sqrt;
        /// tanh elementwise.
        tanh => Tanh;
        /// 1 / (1 + e^-x) elementwise.
        sigmoid => Sigmoid;
        /// max(x, 0) elementwise.
        relu => Relu;
        /// |x| elementwise.
        abs => Abs;
    }

    /// The matrix product over the last two axes; batch axes broadcast.
    pub fn matmul(&self, other: &Tensor<T>) -> Tensor<T> {
        self.matmul_t(false, other, false)
    }

    /// `op(self) @ op(other)`, where `op` transposes the last two axes when its flag is set (a
    /// Linear layer's `x @ W^T`); the transpose is read through strides or copied out first,
    /// as [`Array::matmul_t`] decides.
    pub fn matmul_t(&self, trans_a: bool, other: &Tensor<T>, trans_b: bool) -> Tensor<T> {
        let value = self.product_value(trans_a, other, trans_b, None);
        let op = Op::Matmul {
            a: self.clone(),
            b: other.clone(),
            trans_a,
            trans_b,
        };
        Tensor::from_op(value, op)
    }

    /// `op(self) @ op(other)`'s value, added onto `onto` when there is one
    /// ([`Array::matmul_t_onto`]). A parameter's transpose, when one is copied out, is made
    /// once for every part of a batch that multiplies by it (see `TransposeCache`).
    pub(crate) fn product_value(
        &self,
        trans_a: bool,
        other: &Tensor<T>,
        trans_b: bool,
        onto: Option<Array<T>>,
    ) -> Array<T> {
        let (a, b) = (self.data(), other.data());
        let transposed = || match other.transpose_cache() {
            Some(cache) => cache.transpose_of(&b),
            None => Arc::new(b.transpose()),
        };
        a.matmul_t_onto(trans_a, &b, trans_b, &transposed, onto)
    }

    /// GELU in its tanh form, 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))), in one
    /// operation (`nn::Gelu`); its slope is kept for the backward pass when one will run.
    pub fn gelu(&self) -> Tensor<T> {
        if !(grad_enabled() && self.requires_grad()) {
            return Tensor::new(self.data().gelu());
        }
        let (value, slope) = self.data().gelu_and_slope();
        let op = Op::Gelu {
            input: self.clone(),
            bias: None,
            slope,
        };
        Tensor::from_op(value, op)
    }

    /// GELU of `self + bias` (`bias` shaped `[n]` for rows of `n`) in one operation: a linear
    /// layer's bias and the activation after it, as Megatron-LM fuses them. The same numbers
    /// as `self.add(bias).gelu()`, in one pass over the values each way instead of two.
    ///
    /// ```
    /// use scratchgrad::autograd::Tensor;
    /// let x = Tensor::parameter_from(vec![-1.0f64, 0.5, 2.0, 0.0], &[2, 2]);
    /// let b = Tensor::parameter_from(vec![1.0, -0.5], &[2]);
    /// let y = x.bias_gelu(&b);
    /// assert_eq!(y.data().data(), x.add(&b).gelu().data().data());
    /// y.sum(&[0, 1], false).backward();
    /// assert_eq!(b.grad().unwrap().data()[0], x.grad().unwrap().data()[0] + x.grad().unwrap().data()[2]);
    /// ```
    pub fn bias_gelu(&self, bias: &Tensor<T>) -> Tensor<T> {
        let (value, slope) = self.data().bias_gelu_and_slope(&bias.data());
        if !(grad_enabled() && (self.requires_grad() || bias.requires_grad())) {
            return Tensor::new(value);
        }
        let op = Op::Gelu {
            input: self.clone(),
            bias: Some(bias.clone()),
            slope,
        };
        Tensor::from_op(value, op)
    }

    /// `self + c` for a number `c`.
    pub fn add_scalar(&self, c: T) -> Tensor<T> {
        self.add(&Tensor::new(Array::scalar(c)))
    }

    /// `self * c` for a number `c`.
    pub fn mul_scalar(&self, c: T) -> Tensor<T> {
        self.mul(&Tensor::new(Array::scalar(c)))
    }

    /// `self ** e` for a number `e`.
    pub fn powf(&self, e: T) -> Tensor<T> {
        self.pow(&Tensor::new(Array::scalar(e)))
    }

    /// Sum over `axes`.
    pub fn sum(&self, axes: &[usize], keepdims: bool) -> Tensor<T> {
        let value = self.data().sum(axes, keepdims);
        Tensor::from_op(
            value,
            Op::Sum {
                input: self.clone(),
                axes: axes.to_vec(),
                keepdims,
            },
        )
    }

    /// Sum of every element (a 0-d tensor).
    pub fn sum_all(&self) -> Tensor<T> {
        let axes: Vec<usize> = (0..self.data().ndim()).collect();
        self.sum(&axes, false)
    }

    /// Mean over `axes`.
    pub fn mean(&self, axes: &[usize], keepdims: bool) -> Tensor<T> {
        let value = self.data().mean(axes, keepdims);
        Tensor::from_op(
            value,
            Op::Mean {
                input: self.clone(),
                axes: axes.to_vec(),
                keepdims,
            },
        )
    }

    /// Mean of every element (a 0-d tensor).
    pub fn mean_all(&self) -> Tensor<T> {
        let axes: Vec<usize> = (0..self.data().ndim()).collect();
        self.mean(&axes, false)
    }

    /// Maximum over `axes`; the gradient goes to the maximal elements (shared among ties).
    pub fn max(&self, axes: &[usize], keepdims: bool) -> Tensor<T> {
        let value = self.data().max(axes, keepdims);
        Tensor::from_op(
            value,
            Op::Max {
                input: self.clone(),
                axes: axes.to_vec(),
                keepdims,
            },
        )
    }

    /// softmax along `axis` (numerically stable).
    pub fn softmax(&self, axis: usize) -> Tensor<T> {
        let value = self.data().softmax(axis);
        Tensor::from_op(
            value,
            Op::Softmax {
                input: self.clone(),
                axis,
            },
        )
    }

    /// log(softmax) along `axis` (numerically stable).
    pub fn log_softmax(&self, axis: usize) -> Tensor<T> {
        let value = self.data().log_softmax(axis);
        Tensor::from_op(
            value,
            Op::LogSoftmax {
                input: self.clone(),
                axis,
            },
        )
    }

    /// The same elements in a new shape.
    pub fn reshape(&self, shape: &[usize]) -> Tensor<T> {
        let value = self.data().reshape(shape);
        Tensor::from_op(value, Op::Reshape(self.clone()))
    }

    /// Reorders the axes: output axis `i` is input axis `perm[i]`.
    pub fn permute(&self, perm: &[usize]) -> Tensor<T> {
        let value = self.data().permute(perm);
        Tensor::from_op(
            value,
            Op::Permute {
                input: self.clone(),
                perm: perm.to_vec(),
            },
        )
    }

    /// Swaps the last two axes.
    pub fn transpose(&self) -> Tensor<T> {
        let n = self.data().ndim();
        assert!(
            n >= 2,
            "transpose: needs 2 or more axes, got {:?}",
            self.dims()
        );
        let mut perm: Vec<usize> = (0..n).collect();
        perm.swap(n - 2, n - 1);
        self.permute(&perm)
    }

    /// Repeats along broadcast axes to fill `shape`.
    pub fn broadcast_to(&self, shape: &[usize]) -> Tensor<T> {
        let value = self.data().broadcast_to(shape);
        Tensor::from_op(value, Op::BroadcastTo(self.clone()))
    }

    /// Picks values along `axis` at `index` (PyTorch's `gather`).
    pub fn gather(&self, axis: usize, index: &Array<usize>) -> Tensor<T> {
        let value = self.data().gather(axis, index);
        Tensor::from_op(
            value,
            Op::Gather {
                input: self.clone(),
                axis,
                index: index.clone(),
            },
        )
    }

    /// Rows of this 2-D table at `ids`, in the ids' shape with the table's width last
    /// (PyTorch's `F.embedding(ids, table)`).
    pub fn embedding(&self, ids: &Array<usize>) -> Tensor<T> {
        let value = self.data().take_rows(ids);
        Tensor::from_op(
            value,
            Op::Embedding {
                table: self.clone(),
                ids: ids.clone(),
            },
        )
    }

    /// Attention's weights from its scores `[..., T, T]`: each row the softmax of `scale`
    /// times its entries up to the diagonal, 0 after it (see [`Array::causal_softmax`]).
    pub fn causal_softmax(&self, scale: T) -> Tensor<T> {
        Tensor::from_op(
            self.data().causal_softmax(scale),
            Op::CausalSoftmax {
                input: self.clone(),
                scale,
            },
        )
    }

    /// Causal multi-head attention's core in one operation, over `self` = `[batch, time, 3 *
    /// features]` (queries, keys and values side by side): the heads' mixtures of the values
    /// side by side (`[batch, time, features]`), and the attention weights `[batch, heads,
    /// time, time]` as a constant (see [`Array::causal_attention`]). The same as
    /// `split_heads`, `q @ k^T`, `causal_softmax(1 / sqrt(size))`, `@ v` and `merge_heads`.
    pub fn causal_attention(&self, heads: usize) -> (Tensor<T>, Tensor<T>) {
        let (out, weights) = self.data().causal_attention(heads);
        // One copy of the weights, shared by the backward rule and the caller.
        let weights = Arc::new(weights);
        let op = Op::CausalAttention {
            qkv: self.clone(),
            heads,
            weights: Arc::clone(&weights),
        };
        (Tensor::from_op(out, op), Tensor::shared_constant(weights))
    }

    /// Layer normalization over the last axis, in one operation: each row brought to mean 0
    /// and variance 1 (biased, with `eps` added), then `* weight + bias` (both `[features]`),
    /// as PyTorch's `F.layer_norm`.
    pub fn layer_norm(&self, weight: &Tensor<T>, bias: &Tensor<T>, eps: f64) -> Tensor<T> {
        let (value, stats) = self
            .data()
            .layer_norm_rows(&weight.data(), &bias.data(), eps);
        Tensor::from_op(
            value,
            Op::LayerNorm {
                input: self.clone(),
                weight: weight.clone(),
                bias: bias.clone(),
                stats,
            },
        )
    }

    /// `len` entries from `start` along `axis` (PyTorch's `narrow`).
    pub fn narrow(&self, axis: usize, start: usize, len: usize) -> Tensor<T> {
        let value = self.data().narrow(axis, start, len);
        Tensor::from_op(
            value,
            Op::Narrow {
                input: self.clone(),
                axis,
                start,
            },
        )
    }

    /// `[batch, time, heads * size]` -> `[batch, heads, time, size]`: attention's heads made
    /// a batch axis (see [`Array::split_heads`]).
    pub fn split_heads(&self, heads: usize) -> Tensor<T> {
        let value = self.data().split_heads(heads);
        Tensor::from_op(value, Op::SplitHeads(self.clone()))
    }

    /// `[batch, heads, time, size]` -> `[batch, time, heads * size]`, the inverse of
    /// [`split_heads`](Self::split_heads).
    pub fn merge_heads(&self) -> Tensor<T> {
        let value = self.data().merge_heads();
        Tensor::from_op(value, Op::MergeHeads(self.clone()))
    }

    /// Rows `start..end` along axis 0.
    pub fn slice_rows(&self, start: usize, end: usize) -> Tensor<T> {
        assert!(start <= end, "slice_rows: start {start} is after end {end}");
        self.narrow(0, start, end - start)
    }

    /// 2-D convolution of an NCHW input with `weight` `[out, in, kh, kw]` and an optional
    /// `bias` `[out]`, as PyTorch's `conv2d`.
    pub fn conv2d(
        &self,
        weight: &Tensor<T>,
        bias: Option<&Tensor<T>>,
        window: Window,
    ) -> Tensor<T> {
        let bias_data = bias.map(Tensor::data);
        let path = ConvPath::choose::<T>(&window);
        let (value, saved) =
            self.data()
                .conv2d_by(&weight.data(), bias_data.as_deref(), &window, path);
        let op = Op::Conv2d {
            input: self.clone(),
            weight: weight.clone(),
            bias: bias.cloned(),
            window,
            saved,
        };
        Tensor::from_op(value, op)
    }

    /// Max pooling of an NCHW input over `window` (no padding).
    pub fn max_pool2d(&self, window: Window) -> Tensor<T> {
        let (value, argmax) = self.data().max_pool2d(&window);
        Tensor::from_op(
            value,
            Op::MaxPool2d {
                input: self.clone(),
                argmax,
            },
        )
    }

    /// Average pooling of an NCHW input over `window` (no padding).
    pub fn avg_pool2d(&self, window: Window) -> Tensor<T> {
        let value = self.data().avg_pool2d(&window);
        Tensor::from_op(
            value,
            Op::AvgPool2d {
                input: self.clone(),
                window,
            },
        )
    }

    /// Joins tensors along `axis`.
    pub fn concat(tensors: &[&Tensor<T>], axis: usize) -> Tensor<T> {
        let value = {
            let guards: Vec<_> = tensors.iter().map(|t| t.data()).collect();
            let arrays: Vec<&Array<T>> = guards.iter().map(|g| &**g).collect();
            Array::concat(&arrays, axis)
        };
        let inputs = tensors.iter().map(|&t| t.clone()).collect();
        Tensor::from_op(value, Op::Concat { inputs, axis })
    }
}

/// Operators on references (`&a + &b`) and on owned tensors (`a + b`), so expressions read
/// as maths: `(&a * &x + &b) * &a`.
macro_rules! operator {
    ($trait:ident, $method:ident) => {
        impl<T: Float> ops::$trait<&Tensor<T>> for &Tensor<T> {
            type Output = Tensor<T>;
            fn $method(self, other: &Tensor<T>) -> Tensor<T> {
                Tensor::$method(self, other)
            }
        }
        impl<T: Float> ops::$trait<Tensor<T>> for Tensor<T> {
            type Output = Tensor<T>;
            fn $method(self, other: Tensor<T>) -> Tensor<T> {
                Tensor::$method(&self, &other)
            }
        }
        impl<T: Float> ops::$trait<&Tensor<T>> for Tensor<T> {
            type Output = Tensor<T>;
            fn $method(self, other: &Tensor<T>) -> Tensor<T> {
                Tensor::$method(&self, other)
            }
        }
        impl<T: Float> ops::$trait<Tensor<T>> for &Tensor<T> {
            type Output = Tensor<T>;
            fn $method(self, other: Tensor<T>) -> Tensor<T> {
                Tensor::$method(self, &other)
            }
        }
    };
}

operator!(Add, add);
operator!(Sub, sub);
operator!(Mul, mul);
operator!(Div, div);

impl<T: Float> ops::Neg for &Tensor<T> {
    type Output = Tensor<T>;
    fn neg(self) -> Tensor<T> {
        Tensor::neg(self)
    }
}

impl<T: Float> ops::Neg for Tensor<T> {
    type Output = Tensor<T>;
    fn neg(self) -> Tensor<T> {
        Tensor::neg(&self)
    }
}
