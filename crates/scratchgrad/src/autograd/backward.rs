//! Every backward rule of the tensor engine, in one place.
//!
//! Given an operation, its output value `out` and the gradient `g` of the final result with
//! respect to that output (handed over, so a rule that passes it on unchanged moves it instead
//! of copying it), each arm returns the gradient with respect to each input (in the
//! order of [`Op::inputs`]), or `None` for an input that does not need one. A gradient may come
//! back in the broadcast (larger) shape: the caller sums it down to the input's shape in one
//! generic place ([`Array::sum_to`]); only Add and Sub sum an input's share down themselves
//! (with the same rule, [`Array::summed_to`]), so as not to copy g first, and GELU after a
//! bias sums the bias's share over the rows in the pass that makes the input's. An operation that
//! read one block of its input (narrow) returns that block's gradient alone ([`Grad::Block`]):
//! the rest of its input's gradient is zeros, and the caller adds the block where it belongs.

use smallvec::{smallvec, SmallVec};

use super::op::{AfterLinear, Op};
use super::Tensor;
use crate::array::{Array, Dims, Float};

/// Computes `f()` only when `t` needs a gradient.
fn wanted<T: Float>(t: &Tensor<T>, f: impl FnOnce() -> Array<T>) -> Option<Array<T>> {
    t.requires_grad().then(f)
}

/// `shape` with each axis in `axes` set to 1: where a reduction's output lived before
/// `keepdims = false` dropped those axes.
fn kept_shape(shape: &[usize], axes: &[usize]) -> Dims {
    (0..shape.len())
        .map(|d| if axes.contains(&d) { 1 } else { shape[d] })
        .collect()
}

/// The gradient with respect to one input.
pub(crate) enum Grad<T> {
    /// An array of the input's shape, or of the shape it was broadcast to.
    Whole(Array<T>),
    /// The gradient of the block of the input that starts at `start` along `axis`; zeros
    /// everywhere else.
    Block {
        axis: usize,
        start: usize,
        block: Array<T>,
    },
}

/// One gradient (or `None`) per input of an operation, kept inline for up to four inputs (a
/// linear layer added to a stream has four).
pub(crate) type Grads<G> = SmallVec<[Option<G>; 4]>;

/// The gradients of an operation's inputs, given its output `out` and upstream gradient `g`.
pub(crate) fn input_grads<T: Float>(op: &Op<T>, out: &Array<T>, g: Array<T>) -> Grads<Grad<T>> {
    match op {
        // narrow reads a block: its gradient is g in that block, zeros elsewhere
        Op::Narrow { input, axis, start } => {
            let block = |block| Grad::Block {
                axis: *axis,
                start: *start,
                block,
            };
            smallvec![wanted(input, || g).map(block)]
        }
        _ => whole_grads(op, out, g)
            .into_iter()
            .map(|grad| grad.map(Grad::Whole))
            .collect(),
    }
}

/// The rules whose gradients are whole arrays: every operation but narrow.
fn whole_grads<T: Float>(op: &Op<T>, out: &Array<T>, g: Array<T>) -> Grads<Array<T>> {
    use Op::*;
    let one = T::ONE;
    match op {
        Leaf => smallvec![],
        // d(a+b)/da = 1, d(a+b)/db = 1. g moves on to one input as it is; the other's share
        // is read from g first, summed down (sum_to's rule) if that input was broadcast, as a
        // bias is: so g is copied only when both inputs have its shape.
        Add(a, b) => {
            let (need_a, need_b) = (a.requires_grad(), b.requires_grad());
            if need_a && (!need_b || b.dims()[..] != *g.shape()) {
                let db = need_b.then(|| g.summed_to(&b.dims()));
                smallvec![Some(g), db]
            } else {
                let da = need_a.then(|| g.summed_to(&a.dims()));
                smallvec![da, need_b.then_some(g)]
            }
        }
        // d(a-b)/da = 1, d(a-b)/db = -1 (a broadcast b summed down before it is negated)
        Sub(a, b) => {
            let db = wanted(b, || {
                if b.dims()[..] == *g.shape() {
                    g.neg()
                } else {
                    g.summed_to(&b.dims()).neg()
                }
            });
            smallvec![wanted(a, || g), db]
        }
        // d(a*b)/da = b, d(a*b)/db = a
        Mul(a, b) => smallvec![
            wanted(a, || g.mul(&b.data())),
            wanted(b, || g.mul(&a.data())),
        ],
        // d(a/b)/da = 1/b, d(a/b)/db = -a/b^2 = -out/b
        Div(a, b) => smallvec![
            wanted(a, || g.div(&b.data())),
            wanted(b, || g.mul(out).div(&b.data()).neg()),
        ],
        // d(a^b)/da = b * a^(b-1), d(a^b)/db = a^b * ln(a); as PyTorch, 0 where b = 0 and
        // where a = 0 <= b (the limits there, instead of 0 * inf)
        Pow(a, b) => {
            let (ad, bd) = (a.data(), b.data());
            smallvec![
                wanted(a, || {
                    let local = ad.zip_with("pow backward", &bd, |a, b| {
                        if b == T::ZERO {
                            T::ZERO
                        } else {
                            b * a.powf(b - one)
                        }
                    });
                    g.mul(&local)
                }),
                wanted(b, || {
                    let log_a = ad.zip_with("pow backward", &bd, |a, b| {
                        if a == T::ZERO && b >= T::ZERO {
                            T::ZERO
                        } else {
                            a.ln()
                        }
                    });
                    g.mul(&out.mul(&log_a))
                }),
            ]
        }
        // d max(a,b)/da = 1 where a > b, 1/2 on ties (as PyTorch); d/db the rest
        Maximum(a, b) | Minimum(a, b) => {
            let (ad, bd) = (a.data(), b.data());
            let half = T::from_f64(0.5);
            let picks_a = if matches!(op, Maximum(..)) {
                ad.gt_mask(&bd)
            } else {
                ad.lt_mask(&bd)
            };
            let share_a = picks_a.add(&ad.eq_mask(&bd).mul_scalar(half));
            smallvec![
                wanted(a, || g.mul(&share_a)),
                wanted(b, || g.mul(&share_a.map(|s| one - s))),
            ]
        }
        // d(-x)/dx = -1
        Neg(x) => smallvec![wanted(x, || g.neg())],
        // d e^x/dx = e^x = out
        Exp(x) => smallvec![wanted(x, || g.mul(out))],
        // d ln(x)/dx = 1/x
        Log(x) => smallvec![wanted(x, || g.div(&x.data()))],
        // d sqrt(x)/dx = 1 / (2 sqrt(x)) = 1 / (2 out)
        Sqrt(x) => smallvec![wanted(x, || g.div(&out.mul_scalar(T::from_f64(2.0))))],
        // d tanh(x)/dx = 1 - tanh(x)^2 = 1 - out^2
        Tanh(x) => smallvec![wanted(x, || g.mul(&out.map(|t| one - t * t)))],
        // d gelu(x)/dx = s + x s (1 - s) 2c (1 + 3a x^2), s = sigmoid(2c (x + a x^3)): the
        // slope, computed with the forward value (Array::gelu_and_slope)
        Gelu {
            input,
            bias: None,
            slope,
        } => smallvec![wanted(input, || g.mul(slope))],
        // gelu(x + b): dx = g * slope, db = the sum over rows of dx, in one pass
        Gelu {
            input,
            bias: Some(bias),
            slope,
        } => {
            let (dx, db) = g.bias_gelu_grads(slope);
            smallvec![
                input.requires_grad().then_some(dx),
                bias.requires_grad().then_some(db),
            ]
        }
        // d sigmoid(x)/dx = sigmoid(x) (1 - sigmoid(x)) = out (1 - out)
        Sigmoid(x) => smallvec![wanted(x, || g.mul(&out.map(|s| s * (one - s))))],
        // d relu(x)/dx = 1 where x > 0, else 0
        Relu(x) => smallvec![wanted(x, || {
            g.mul(&out.map(|y| if y > T::ZERO { one } else { T::ZERO }))
        })],
        // d|x|/dx = sign(x) (0 at 0, as PyTorch)
        Abs(x) => smallvec![wanted(x, || g.mul(&x.data().map(sign)))],
        // d sum(x)/dx_i = 1: the gradient is copied back over the summed axes
        Sum {
            input,
            axes,
            keepdims,
        } => smallvec![wanted(input, || {
            spread(g, input.dims().as_slice(), axes, *keepdims)
        })],
        // d mean(x)/dx_i = 1/n, n = number of elements averaged
        Mean {
            input,
            axes,
            keepdims,
        } => smallvec![wanted(input, || {
            let shape = input.dims();
            let n: usize = axes.iter().map(|&a| shape[a]).product();
            // scaled before it is spread: n times fewer multiplications, the same values
            spread(
                g.mul_scalar(one / T::from_usize(n)),
                &shape,
                axes,
                *keepdims,
            )
        })],
        // d max(x)/dx_i = 1 where x_i is the max (shared equally among ties, as torch.amax)
        Max {
            input,
            axes,
            keepdims,
        } => smallvec![wanted(input, || {
            let x = input.data();
            let kept = kept_shape(x.shape(), axes);
            let is_max = x.eq_mask(&out.reshape(&kept));
            let ties = is_max.sum(axes, true);
            is_max
                .mul(&spread(g, x.shape(), axes, *keepdims))
                .div(&ties)
        })],
        // d softmax: dx = s * (g - sum(g * s)) along the axis, s = out
        Softmax { input, axis } => smallvec![wanted(input, || {
            out.mul(&g.sub(&g.mul(out).sum(&[*axis], true)))
        })],
        // attention per head, P = causal_softmax(c q k^T), out = P v, c = 1 / sqrt(size):
        // dv = P^T g, dP = g v^T, dS = c P (dP - rowsum(P dP)), dq = dS k, dk = dS^T q
        CausalAttention {
            qkv,
            heads,
            weights,
        } => smallvec![wanted(qkv, || {
            qkv.data().causal_attention_grad(weights, &g, *heads)
        })],
        // y = softmax(scale x) over each row's entries up to the diagonal (0 after it):
        // dx = scale y (g - sum(g y)), which is 0 where y is
        CausalSoftmax { input, scale } => {
            smallvec![wanted(input, || out.causal_softmax_grad(&g, *scale))]
        }
        // d log_softmax: dx = g - softmax(x) * sum(g) along the axis, softmax = e^out (out <= 0)
        LogSoftmax { input, axis } => smallvec![wanted(input, || {
            g.sub(&out.exp_nonpositive().mul(&g.sum(&[*axis], true)))
        })],
        // C = A @ B: dA = g @ B^T, dB = A^T @ g. With a transposed operand (C = A @ B^T, as in
        // a Linear layer) the same rule is rearranged so that nothing is ever copied:
        // dB = (A^T g)^T = g^T A, and likewise for A.
        Matmul {
            a,
            b,
            trans_a,
            trans_b,
        } => {
            let (ad, bd) = (a.data(), b.data());
            // One B shared by a batch of A's (a Linear layer on [B, T, C]): dB sums every
            // matrix's A^T @ g, which is one product of the batch's rows stacked.
            let shared_b = bd.ndim() == 2 && ad.ndim() > 2 && !trans_a;
            smallvec![
                wanted(a, || match trans_a {
                    false => g.matmul_t(false, &bd, !trans_b),
                    true => bd.matmul_t(*trans_b, &g, true),
                }),
                wanted(b, || match (trans_b, shared_b) {
                    (false, true) => ad.rows_t_matmul(&g),
                    (true, true) => g.rows_t_matmul(&ad),
                    (false, false) => ad.matmul_t(!trans_a, &g, false),
                    (true, false) => g.matmul_t(true, &ad, *trans_a),
                }),
            ]
        }
        // y = x W^T + b: dx = g W, dW = g^T x (summed over every row of a batch), db = g
        // summed over the rows. With GELU after it, g is first taken back through GELU:
        // g * slope, in g's place (its row sums are db).
        // Added to a stream, y = onto + x W^T + b: d/d onto = 1, so g itself, moved on last.
        Linear {
            x,
            weight,
            bias,
            after,
        } => {
            let (g, db) = match after {
                AfterLinear::Gelu { slope } => {
                    let (g, db) = g.bias_gelu_grads(slope);
                    (g, Some(db))
                }
                _ => (g, None),
            };
            let (xd, wd) = (x.data(), weight.data());
            let mut grads: Grads<Array<T>> = smallvec![
                wanted(x, || g.matmul_t(false, &wd, false)),
                wanted(weight, || match xd.ndim() {
                    2 => g.matmul_t(true, &xd, false),
                    _ => g.rows_t_matmul(&xd),
                }),
                wanted(bias, || db.unwrap_or_else(|| g.summed_to(&bias.dims()))),
            ];
            if let AfterLinear::Onto(onto) = after {
                // the stream is the first input (Op::inputs)
                grads.insert(0, wanted(onto, || g));
            }
            grads
        }
        // reshape moves no value: the gradient takes the input's shape back
        Reshape(x) => smallvec![wanted(x, || g.into_reshape(&x.dims()))],
        // permute moves values: the inverse permutation moves their gradients back
        Permute { input, perm } => smallvec![wanted(input, || {
            let mut inverse: Dims = smallvec![0; perm.len()];
            for (i, &p) in perm.iter().enumerate() {
                inverse[p] = i;
            }
            g.permute(&inverse)
        })],
        // splitting heads moves values: merging the gradient moves each back where it was
        SplitHeads(x) => smallvec![wanted(x, || g.merge_heads())],
        // merging heads moves values: splitting the gradient moves each back where it was
        MergeHeads(x) => smallvec![wanted(x, || g.split_heads(x.dims()[1]))],
        // broadcasting copies values: their gradients are summed (by the caller's sum_to)
        BroadcastTo(x) => smallvec![wanted(x, || g)],
        // gather reads x at the index: each gradient is added back where it was read
        Gather { input, axis, index } => smallvec![wanted(input, || {
            Array::zeros(&input.dims()).scatter_add(*axis, index, &g)
        })],
        // y[i] = table[ids[i]]: each row's gradient adds into the row it was read from, so a
        // row looked up twice collects both (a scatter-add)
        Embedding { table, ids } => {
            smallvec![wanted(table, || Array::add_rows(table.dims()[0], ids, &g))]
        }
        Narrow { .. } => unreachable!("input_grads answers for narrow"),
        // y = x ⋆ W + b (cross-correlation, stride 1 on the direct path):
        // dx = pad(g, k - 1 - p) ⋆ W flipped with in and out swapped, dW[o, c, i, j] = sum over
        // positions of g[o] times x[c] shifted by (i, j), db = g summed over every position
        // (the im2col path: dW = G X_cols^T, dx = col2im(W^T G); array/conv_path.rs picks one)
        Conv2d {
            input,
            weight,
            bias,
            window,
            saved,
        } => {
            let w = weight.data();
            let input_shape = input.dims();
            let mut grads = smallvec![
                wanted(input, || saved.input_grad(&g, &w, &input_shape, window)),
                wanted(weight, || {
                    saved.weight_grad(&g, w.shape(), &input_shape, window)
                }),
            ];
            if let Some(bias) = bias {
                grads.push(wanted(bias, || g.sum_per_channel()));
            }
            grads
        }
        // y = xhat w + b with xhat = (x - mean) / s over each row of n, s = sqrt(var + eps):
        // dw = sum over rows of g xhat, db = sum of g, and with h = g w,
        // dx = (h - mean(h) - xhat mean(h xhat)) / s (xhat made again from x, mean and s)
        LayerNorm {
            input,
            weight,
            bias,
            stats,
        } => {
            let (dx, dw, db) = g.layer_norm_grads(&weight.data(), &input.data(), stats);
            smallvec![
                wanted(input, || dx),
                wanted(weight, || dw),
                wanted(bias, || db),
            ]
        }
        // max pooling passes each output's gradient to the one input it took
        MaxPool2d { input, argmax } => {
            smallvec![wanted(input, || g.scatter_to(argmax, &input.dims()))]
        }
        // average pooling spreads each output's gradient evenly over its window
        AvgPool2d { input, window } => {
            smallvec![wanted(input, || {
                g.avg_pool2d_backward(&input.dims(), window)
            })]
        }
        // concat places blocks side by side: each input gets its block of the gradient back
        Concat { inputs, axis } => {
            let mut start = 0;
            inputs
                .iter()
                .map(|x| {
                    let len = x.dims()[*axis];
                    start += len;
                    wanted(x, || g.narrow(*axis, start - len, len))
                })
                .collect()
        }
    }
}

/// The gradient of a reduction copied back over the axes it reduced.
fn spread<T: Float>(g: Array<T>, shape: &[usize], axes: &[usize], keepdims: bool) -> Array<T> {
    let g = if keepdims {
        g
    } else {
        g.into_reshape(&kept_shape(shape, axes))
    };
    g.broadcast_to(shape)
}

fn sign<T: Float>(x: T) -> T {
    if x > T::ZERO {
        T::ONE
    } else if x < T::ZERO {
        -T::ONE
    } else {
        T::ZERO
    }
}
