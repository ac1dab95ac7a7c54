//! Every differentiable operation passes gradcheck (central finite differences, f64).

use scratchgrad::array::{Array, Rng};
use scratchgrad::autograd::{gradcheck, Tensor};
use scratchgrad::lm::examples::IGNORED;
use scratchgrad::nn::{
    cross_entropy_ignoring, CausalSelfAttention, Gelu, LayerNorm, Linear, Module,
};

const TOLERANCE: f64 = 1e-7;

fn uniform(shape: &[usize], low: f64, high: f64, seed: u64) -> Array<f64> {
    Array::rand_uniform(shape, low, high, &mut Rng::seed(seed))
}

/// Values with |x| in [0.2, 2]: finite differences never straddle the kink of relu/abs/max.
fn away_from_zero(shape: &[usize], seed: u64) -> Array<f64> {
    let mut rng = Rng::seed(seed);
    uniform(shape, 0.2, 2.0, seed).map(|x| if rng.uniform() < 0.5 { -x } else { x })
}

fn check(name: &str, f: impl Fn(&[Tensor<f64>]) -> Tensor<f64>, inputs: &[Array<f64>]) {
    let report = gradcheck(f, inputs);
    assert!(report.passes(TOLERANCE), "{name}: {report:?}");
}

#[test]
fn binary_ops_with_broadcasting() {
    let a = uniform(&[3, 4], -2.0, 2.0, 1);
    let row = uniform(&[4], -2.0, 2.0, 2);
    let col = away_from_zero(&[3, 1], 3);
    check("add", |t| &t[0] + &t[1], &[a.clone(), row.clone()]);
    check("sub", |t| &t[0] - &t[1], &[a.clone(), col.clone()]);
    check("mul", |t| &t[0] * &t[1], &[a.clone(), col.clone()]);
    check("div", |t| &t[0] / &t[1], &[a.clone(), col.clone()]);
    check(
        "pow",
        |t| t[0].pow(&t[1]),
        &[uniform(&[3, 4], 0.5, 2.0, 4), row.clone()],
    );
    check(
        "maximum",
        |t| t[0].maximum(&t[1]),
        &[a.clone(), away_from_zero(&[3, 4], 5)],
    );
    check(
        "minimum",
        |t| t[0].minimum(&t[1]),
        &[a.clone(), away_from_zero(&[3, 4], 6)],
    );
}

#[test]
fn unary_ops() {
    let x = uniform(&[2, 3], -2.0, 2.0, 7);
    let positive = uniform(&[2, 3], 0.3, 3.0, 8);
    let kinked = away_from_zero(&[2, 3], 9);
    check("neg", |t| -&t[0], std::slice::from_ref(&x));
    check("exp", |t| t[0].exp(), std::slice::from_ref(&x));
    check("log", |t| t[0].log(), std::slice::from_ref(&positive));
    check("sqrt", |t| t[0].sqrt(), std::slice::from_ref(&positive));
    check("tanh", |t| t[0].tanh(), std::slice::from_ref(&x));
    check("sigmoid", |t| t[0].sigmoid(), std::slice::from_ref(&x));
    check("relu", |t| t[0].relu(), std::slice::from_ref(&kinked));
    check("abs", |t| t[0].abs(), std::slice::from_ref(&kinked));
}

#[test]
fn reductions_and_softmax() {
    let x = uniform(&[2, 3, 4], -2.0, 2.0, 10);
    check(
        "sum",
        |t| t[0].sum(&[0, 2], false),
        std::slice::from_ref(&x),
    );
    check("mean", |t| t[0].mean(&[1], true), std::slice::from_ref(&x));
    check("max", |t| t[0].max(&[2], false), std::slice::from_ref(&x));
    check("softmax", |t| t[0].softmax(1), std::slice::from_ref(&x));
    check(
        "log_softmax",
        |t| t[0].log_softmax(2),
        std::slice::from_ref(&x),
    );
}

#[test]
fn matmul_plain_and_batched() {
    check(
        "matmul",
        |t| t[0].matmul(&t[1]),
        &[
            uniform(&[4, 5], -1.0, 1.0, 11),
            uniform(&[5, 3], -1.0, 1.0, 12),
        ],
    );
    check(
        "batched matmul",
        |t| t[0].matmul(&t[1]),
        &[
            uniform(&[2, 1, 4, 5], -1.0, 1.0, 13),
            uniform(&[3, 5, 2], -1.0, 1.0, 14),
        ],
    );
    // A batch times one shared matrix, as a Linear layer on [B, T, C] runs it: one product over
    // the stacked rows, and the shared matrix's gradient as one product too.
    check(
        "batch @ shared matrix",
        |t| t[0].matmul(&t[1]),
        &[
            uniform(&[2, 3, 4, 5], -1.0, 1.0, 24),
            uniform(&[5, 3], -1.0, 1.0, 25),
        ],
    );
    check(
        "batch @ shared matrix^T",
        |t| t[0].matmul_t(false, &t[1], true),
        &[
            uniform(&[3, 4, 5], -1.0, 1.0, 26),
            uniform(&[2, 5], -1.0, 1.0, 27),
        ],
    );
}

#[test]
fn matmul_with_transposed_operands() {
    let (a, b) = (
        uniform(&[4, 5], -1.0, 1.0, 20),
        uniform(&[3, 5], -1.0, 1.0, 21),
    );
    check(
        "a @ b^T",
        |t| t[0].matmul_t(false, &t[1], true),
        &[a.clone(), b.clone()],
    );
    let (at, bt) = (a.transpose(), b.transpose());
    check(
        "a^T^T @ b^T^T^T",
        |t| t[0].matmul_t(true, &t[1], false),
        &[at.clone(), bt.clone()],
    );
    check("a^T @ b^T", |t| t[0].matmul_t(true, &t[1], true), &[at, b]);
    let batched = uniform(&[2, 5, 4], -1.0, 1.0, 22);
    check(
        "batched a^T @ b",
        |t| t[0].matmul_t(true, &t[1], false),
        &[batched, uniform(&[5, 3], -1.0, 1.0, 23)],
    );
}

#[test]
fn shape_ops() {
    let x = uniform(&[2, 3, 4], -2.0, 2.0, 15);
    check(
        "reshape",
        |t| t[0].reshape(&[6, 4]).exp(),
        std::slice::from_ref(&x),
    );
    check(
        "permute",
        |t| t[0].permute(&[2, 0, 1]).tanh(),
        std::slice::from_ref(&x),
    );
    check(
        "transpose",
        |t| t[0].transpose().sigmoid(),
        std::slice::from_ref(&x),
    );
    check(
        "broadcast_to",
        |t| t[0].broadcast_to(&[2, 3, 4]).exp(),
        &[uniform(&[3, 1], -1.0, 1.0, 16)],
    );
    let index = Array::from_vec(vec![1usize, 0, 3, 3, 2, 1], &[2, 3, 1]);
    check(
        "gather",
        |t| t[0].gather(2, &index).exp(),
        std::slice::from_ref(&x),
    );
    check(
        "layer_norm",
        |t| {
            let norm = LayerNorm {
                weight: t[1].clone(),
                bias: t[2].clone(),
            };
            norm.forward(&t[0]).tanh()
        },
        &[
            uniform(&[2, 3, 4], -1.0, 1.0, 18),
            uniform(&[4], 0.5, 1.5, 19),
            uniform(&[4], -1.0, 1.0, 20),
        ],
    );
    check(
        "gelu",
        |t| Gelu.forward(&t[0]),
        &[uniform(&[3, 4], -3.0, 3.0, 21)],
    );
    check(
        "bias_gelu",
        |t| t[0].bias_gelu(&t[1]).tanh(),
        &[
            uniform(&[2, 3, 4], -3.0, 3.0, 22),
            uniform(&[4], -1.0, 1.0, 23),
        ],
    );
    check(
        "causal_self_attention",
        |t| {
            let attention = CausalSelfAttention {
                qkv: Linear {
                    weight: t[1].clone(),
                    bias: t[2].clone(),
                },
                proj: Linear {
                    weight: t[3].clone(),
                    bias: t[4].clone(),
                },
                heads: 2,
            };
            attention.forward(&t[0]).tanh()
        },
        &[
            uniform(&[2, 3, 4], -1.0, 1.0, 22),
            uniform(&[12, 4], -0.7, 0.7, 23),
            uniform(&[12], -0.5, 0.5, 24),
            uniform(&[4, 4], -0.7, 0.7, 25),
            uniform(&[4], -0.5, 0.5, 26),
        ],
    );
    // The attention core as one operation: 7 positions (a block of 6 rows and one more),
    // 2 heads of 3.
    check(
        "causal_attention",
        |t| t[0].causal_attention(2).0.tanh(),
        &[uniform(&[2, 7, 18], -1.5, 1.5, 28)],
    );
    let padded = [1, IGNORED, 4, 0, IGNORED, 2];
    check(
        "cross_entropy_ignoring",
        |t| cross_entropy_ignoring(&t[0], &padded, IGNORED),
        &[uniform(&[6, 5], -2.0, 2.0, 27)],
    );
    let ids = Array::from_vec(vec![3usize, 0, 3, 1, 3, 3], &[2, 3]);
    check(
        "embedding",
        |t| t[0].embedding(&ids).tanh(),
        &[uniform(&[4, 5], -1.0, 1.0, 17)],
    );
    check(
        "narrow",
        |t| t[0].narrow(2, 1, 2).tanh(),
        std::slice::from_ref(&x),
    );
    // Overlapping blocks of one tensor, and the whole tensor used too: each block's gradient
    // adds into the gradient the other uses left (in place, tensor.rs).
    check(
        "narrow_used_four_times",
        |t| {
            let (a, b) = (t[0].narrow(2, 0, 3), t[0].narrow(2, 1, 3));
            let blocks = a.tanh().mul(&b).add(&t[0].narrow(2, 3, 1));
            blocks
                .add(&t[0].narrow(2, 1, 3).exp())
                .add(&t[0].tanh().sum(&[2], true))
        },
        std::slice::from_ref(&x),
    );
    check(
        "split_heads",
        |t| t[0].split_heads(2).tanh(),
        &[uniform(&[2, 3, 4], -1.0, 1.0, 19)],
    );
    check(
        "merge_heads",
        |t| t[0].merge_heads().tanh(),
        &[uniform(&[2, 2, 3, 2], -1.0, 1.0, 20)],
    );
    check(
        "slice_rows",
        |t| t[0].slice_rows(1, 2).exp(),
        std::slice::from_ref(&x),
    );
    check(
        "concat",
        |t| Tensor::concat(&[&t[0], &t[1]], 1).tanh(),
        &[
            uniform(&[2, 3], -1.0, 1.0, 17),
            uniform(&[2, 2], -1.0, 1.0, 18),
        ],
    );
}

#[test]
fn gradcheck_catches_a_wrong_gradient() {
    // detach() hides one path from backward, so the analytic gradient is wrong: gradcheck
    // must say so.
    let report = gradcheck(|t| &t[0] * &t[0].detach(), &[uniform(&[3], 1.0, 2.0, 19)]);
    assert!(
        report.worst() > 0.1 && !report.passes(TOLERANCE),
        "{report:?}"
    );
}

#[test]
fn gradcheck_fails_a_rule_that_returns_nan() {
    // sqrt(x - x) is 0 everywhere, so finite differences give 0; backward multiplies
    // d sqrt/du = 1/(2 sqrt(0)) = inf by du/dx = 1 - 1 = 0, which is NaN. The old check took
    // its worst error with f64::max, which drops NaN, and passed.
    let report = gradcheck(|t| t[0].sub(&t[0]).sqrt(), &[uniform(&[3], 1.0, 2.0, 23)]);
    assert!(report.worst().is_nan(), "{report:?}");
    assert!(!report.passes(TOLERANCE));
}

#[test]
fn convolution_pooling_batch_norm_and_dropout() {
    use scratchgrad::array::Window;
    use scratchgrad::nn::{self, Module};
    let x = uniform(&[2, 3, 6, 5], -1.0, 1.0, 30);
    let w = uniform(&[4, 3, 3, 2], -1.0, 1.0, 31);
    let b = uniform(&[4], -1.0, 1.0, 32);
    let strided = Window {
        kh: 3,
        kw: 2,
        stride: 2,
        padding: 1,
    };
    check(
        "conv2d",
        |t| t[0].conv2d(&t[1], Some(&t[2]), strided),
        &[x.clone(), w, b],
    );
    // Distinct values a finite step cannot reorder: max pooling's gradient is well defined.
    let distinct = Array::from_vec(
        (0..2 * 3 * 6 * 6)
            .map(|i| ((i * 37) % 101) as f64 * 0.01)
            .collect(),
        &[2, 3, 6, 6],
    );
    check(
        "max_pool2d",
        |t| {
            t[0].max_pool2d(Window {
                kh: 2,
                kw: 2,
                stride: 2,
                padding: 0,
            })
        },
        &[distinct],
    );
    check(
        "avg_pool2d",
        |t| {
            t[0].avg_pool2d(Window {
                kh: 3,
                kw: 3,
                stride: 2,
                padding: 0,
            })
        },
        std::slice::from_ref(&x),
    );
    check(
        "batch norm (training)",
        |t| {
            nn::BatchNorm::from_arrays(
                Array::ones(&[3]),
                Array::zeros(&[3]),
                Array::zeros(&[3]),
                Array::ones(&[3]),
                0,
            )
            .forward(&t[0])
        },
        std::slice::from_ref(&x),
    );
    check(
        "dropout (one mask)",
        |t| {
            let dropout = nn::Dropout::new(0.5);
            Module::<f64>::reseed(&dropout, Rng::stream(7, 0), 0);
            dropout.forward(&t[0])
        },
        std::slice::from_ref(&x),
    );
}

#[test]
fn linear_layers_in_one_operation() {
    // 2-D rows (the weight's gradient as g^T x) and 3-D (summed over every row of the batch)
    check(
        "linear",
        |t| t[0].linear(&t[1], &t[2]).tanh(),
        &[
            uniform(&[5, 4], -1.0, 1.0, 31),
            uniform(&[3, 4], -0.7, 0.7, 32),
            uniform(&[3], -0.5, 0.5, 33),
        ],
    );
    check(
        "linear_gelu",
        |t| t[0].linear_gelu(&t[1], &t[2]).tanh(),
        &[
            uniform(&[2, 3, 4], -1.5, 1.5, 38),
            uniform(&[5, 4], -0.9, 0.9, 39),
            uniform(&[5], -0.5, 0.5, 40),
        ],
    );
    // added to a stream: the stream's gradient is the output's, and the layer's as above
    check(
        "linear_onto",
        |t| t[0].linear_onto(&t[1], &t[2], &t[3]).tanh(),
        &[
            uniform(&[2, 3, 4], -1.0, 1.0, 41),
            uniform(&[5, 4], -0.7, 0.7, 42),
            uniform(&[5], -0.5, 0.5, 43),
            uniform(&[2, 3, 5], -1.0, 1.0, 44),
        ],
    );
}
