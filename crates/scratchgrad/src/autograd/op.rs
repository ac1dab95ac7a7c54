//! What each node of the graph remembers about how it was made: one variant per operation,
//! holding its inputs (and anything else its backward rule needs).

use std::sync::Arc;

use super::Tensor;
use crate::array::{Array, Float, RowStats, SavedInput, Window};

/// The operation that produced a tensor. Leaves (inputs, parameters, constants) are `Leaf`.
pub(crate) enum Op<T: Float> {
    Leaf,
    Add(Tensor<T>, Tensor<T>),
    Sub(Tensor<T>, Tensor<T>),
    Mul(Tensor<T>, Tensor<T>),
    Div(Tensor<T>, Tensor<T>),
    Pow(Tensor<T>, Tensor<T>),
    Maximum(Tensor<T>, Tensor<T>),
    Minimum(Tensor<T>, Tensor<T>),
    Neg(Tensor<T>),
    Exp(Tensor<T>),
    Log(Tensor<T>),
    Sqrt(Tensor<T>),
    Tanh(Tensor<T>),
    /// GELU of the input (plus a bias added to every row, when there is one), its slope at
    /// each value kept for the backward rule.
    Gelu {
        input: Tensor<T>,
        bias: Option<Tensor<T>>,
        slope: Array<T>,
    },
    Sigmoid(Tensor<T>),
    Relu(Tensor<T>),
    Abs(Tensor<T>),
    Sum {
        input: Tensor<T>,
        axes: Vec<usize>,
        keepdims: bool,
    },
    Mean {
        input: Tensor<T>,
        axes: Vec<usize>,
        keepdims: bool,
    },
    Max {
        input: Tensor<T>,
        axes: Vec<usize>,
        keepdims: bool,
    },
    Softmax {
        input: Tensor<T>,
        axis: usize,
    },
    LogSoftmax {
        input: Tensor<T>,
        axis: usize,
    },
    /// `op(a) @ op(b)`, where `op` transposes the last two axes when its flag is set.
    Matmul {
        a: Tensor<T>,
        b: Tensor<T>,
        trans_a: bool,
        trans_b: bool,
    },
    /// A linear layer, `x W^T + b`, and what the same operation does `after` it.
    Linear {
        x: Tensor<T>,
        weight: Tensor<T>,
        bias: Tensor<T>,
        after: AfterLinear<T>,
    },
    Reshape(Tensor<T>),
    Permute {
        input: Tensor<T>,
        perm: Vec<usize>,
    },
    BroadcastTo(Tensor<T>),
    Gather {
        input: Tensor<T>,
        axis: usize,
        index: Array<usize>,
    },
    Narrow {
        input: Tensor<T>,
        axis: usize,
        start: usize,
    },
    /// `[B, T, H * s]` -> `[B, H, T, s]`: attention's heads as a batch axis.
    SplitHeads(Tensor<T>),
    /// `[B, H, T, s]` -> `[B, T, H * s]`: the heads side by side again.
    MergeHeads(Tensor<T>),
    /// Attention's causal softmax of `scale` times the input (`[..., T, T]`).
    CausalSoftmax {
        input: Tensor<T>,
        scale: T,
    },
    /// Causal attention's core over `qkv` = `[B, T, 3C]` in `heads` heads; `weights` (each
    /// head's softmax, `[B, H, T, T]`) kept for the backward rule.
    CausalAttention {
        qkv: Tensor<T>,
        heads: usize,
        weights: Arc<Array<T>>,
    },
    /// Layer normalization over the last axis, scaled by `weight` and shifted by `bias`;
    /// each row's mean and 1 / sqrt(var + eps) kept for the backward rule.
    LayerNorm {
        input: Tensor<T>,
        weight: Tensor<T>,
        bias: Tensor<T>,
        stats: Vec<RowStats>,
    },
    /// Rows of `table` looked up by `ids` (an embedding).
    Embedding {
        table: Tensor<T>,
        ids: Array<usize>,
    },
    Concat {
        inputs: Vec<Tensor<T>>,
        axis: usize,
    },
    /// A 2-D convolution; `saved` is what its path keeps of the input for backward.
    Conv2d {
        input: Tensor<T>,
        weight: Tensor<T>,
        bias: Option<Tensor<T>>,
        window: Window,
        saved: SavedInput<T>,
    },
    /// Max pooling; `argmax` holds the flat index of the input element each output took.
    MaxPool2d {
        input: Tensor<T>,
        argmax: Array<usize>,
    },
    AvgPool2d {
        input: Tensor<T>,
        window: Window,
    },
}

/// What a linear layer's operation ([`Op::Linear`]) does after `x W^T + b`.
pub(crate) enum AfterLinear<T: Float> {
    /// Nothing: the layer's output.
    Nothing,
    /// GELU over it, GELU's slope at each value kept for the backward rule.
    Gelu { slope: Array<T> },
    /// Added to a residual stream: `onto + (x W^T + b)`.
    Onto(Tensor<T>),
}

impl<T: Float> Op<T> {
    /// The tensors this operation read, in the order its backward rule returns their gradients
    /// (nothing allocated: the backward pass asks for them at every node).
    pub(crate) fn inputs(&self) -> impl Iterator<Item = &Tensor<T>> {
        use Op::*;
        // Up to four named inputs, then a list of them.
        let (few, many): ([Option<&Tensor<T>>; 4], &[Tensor<T>]) = match self {
            Leaf => ([None, None, None, None], &[]),
            Add(a, b)
            | Sub(a, b)
            | Mul(a, b)
            | Div(a, b)
            | Pow(a, b)
            | Maximum(a, b)
            | Minimum(a, b)
            | Matmul { a, b, .. } => ([Some(a), Some(b), None, None], &[]),
            Neg(x) | Exp(x) | Log(x) | Sqrt(x) | Tanh(x) | Sigmoid(x) | Relu(x) | Abs(x)
            | Reshape(x) | BroadcastTo(x) | SplitHeads(x) | MergeHeads(x) => {
                ([Some(x), None, None, None], &[])
            }
            Sum { input, .. }
            | Mean { input, .. }
            | Max { input, .. }
            | Softmax { input, .. }
            | LogSoftmax { input, .. }
            | Permute { input, .. }
            | Gather { input, .. }
            | Embedding { table: input, .. }
            | CausalSoftmax { input, .. }
            | CausalAttention { qkv: input, .. }
            | Narrow { input, .. }
            | MaxPool2d { input, .. }
            | AvgPool2d { input, .. } => ([Some(input), None, None, None], &[]),
            Concat { inputs, .. } => ([None, None, None, None], inputs),
            Conv2d {
                input,
                weight,
                bias,
                ..
            } => ([Some(input), Some(weight), bias.as_ref(), None], &[]),
            LayerNorm {
                input,
                weight,
                bias,
                ..
            } => ([Some(input), Some(weight), Some(bias), None], &[]),
            Gelu { input, bias, .. } => ([Some(input), bias.as_ref(), None, None], &[]),
            Linear {
                x,
                weight,
                bias,
                after,
            } => {
                // a stream added to comes first, as in `onto.add(&layer)`
                let onto = match after {
                    AfterLinear::Onto(onto) => Some(onto),
                    _ => None,
                };
                ([onto, Some(x), Some(weight), Some(bias)], &[])
            }
        };
        few.into_iter().flatten().chain(many)
    }

    /// Moves the inputs out into `to`, leaving a `Leaf`: used to take a graph apart without
    /// recursion.
    pub(crate) fn take_inputs_into(&mut self, to: &mut impl Extend<Tensor<T>>) {
        to.extend(self.inputs().cloned());
        *self = Op::Leaf;
    }
}
