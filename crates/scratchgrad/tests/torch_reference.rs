//! Every tensor operation, forward and backward, against PyTorch float64.
//!
//! The fixtures `tests/fixtures/tensor_ops.json` and `language_ops.json` were written by `tools/torch_reference.py`
//! (PyTorch 2.15, float64): inputs, a random upstream gradient, PyTorch's output and
//! `x.grad` after `out.backward(upstream)`. Agreement required: 1e-10 relative.

mod common;

use common::{array, usizes};

use scratchgrad::array::Array;
use scratchgrad::autograd::Tensor;
use scratchgrad::lm::examples::IGNORED;
use scratchgrad::nn::{CausalSelfAttention, Gelu, LayerNorm, Linear, Module};
use serde_json::Value;

/// Runs the case's operation through scratchgrad.
fn apply(case: &Value, t: &[Tensor<f64>]) -> Tensor<f64> {
    let args = &case["args"];
    let axes = || usizes(&args["axes"]);
    let keepdims = || args["keepdims"].as_bool().unwrap();
    let axis = || args["axis"].as_u64().unwrap() as usize;
    match case["op"].as_str().unwrap() {
        "add" => &t[0] + &t[1],
        "sub" => &t[0] - &t[1],
        "mul" => &t[0] * &t[1],
        "div" => &t[0] / &t[1],
        "pow" => t[0].pow(&t[1]),
        "maximum" => t[0].maximum(&t[1]),
        "minimum" => t[0].minimum(&t[1]),
        "neg" => -&t[0],
        "exp" => t[0].exp(),
        "log" => t[0].log(),
        "sqrt" => t[0].sqrt(),
        "tanh" => t[0].tanh(),
        "sigmoid" => t[0].sigmoid(),
        "relu" => t[0].relu(),
        "abs" => t[0].abs(),
        "sum" => t[0].sum(&axes(), keepdims()),
        "mean" => t[0].mean(&axes(), keepdims()),
        "max" => t[0].max(&axes(), keepdims()),
        "softmax" => t[0].softmax(axis()),
        "log_softmax" => t[0].log_softmax(axis()),
        "matmul" => t[0].matmul(&t[1]),
        "reshape" => t[0].reshape(&usizes(&args["shape"])),
        "permute" => t[0].permute(&usizes(&args["perm"])),
        "transpose" => t[0].transpose(),
        "broadcast_to" => t[0].broadcast_to(&usizes(&args["shape"])),
        "gather" => {
            let index = &case["index"];
            let index = Array::from_vec(usizes(&index["data"]), &usizes(&index["shape"]));
            t[0].gather(axis(), &index)
        }
        "narrow" => t[0].narrow(
            axis(),
            args["start"].as_u64().unwrap() as usize,
            args["len"].as_u64().unwrap() as usize,
        ),
        "slice_rows" => t[0].slice_rows(
            args["start"].as_u64().unwrap() as usize,
            args["end"].as_u64().unwrap() as usize,
        ),
        "concat" => Tensor::concat(&t.iter().collect::<Vec<_>>(), axis()),
        "mlp_language_model" => {
            // makemore's MLP from the engine's own operations, batch norm spelled out.
            let ids = &case["index"];
            let ids = Array::from_vec(usizes(&ids["data"]), &usizes(&ids["shape"]));
            let batch = ids.shape()[0];
            let x = t[0]
                .embedding(&ids)
                .reshape(&[batch, ids.shape()[1] * t[0].shape()[1]]);
            let pre = x.matmul_t(false, &t[1], true);
            let centered = &pre - &pre.mean(&[0], true);
            let var = (&centered * &centered).mean(&[0], true);
            let eps = Tensor::new(Array::scalar(1e-5));
            let xhat = &centered / &(&var + &eps).sqrt();
            let h = (&(&xhat * &t[2]) + &t[3]).tanh();
            let logits = &h.matmul_t(false, &t[4], true) + &t[5];
            scratchgrad::nn::cross_entropy(&logits, &usizes(&args["targets"]))
        }
        "cross_entropy_ignoring" => {
            // PyTorch's ignore_index is -1 here; ours is IGNORED.
            let targets: Vec<usize> = args["targets"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_u64().map_or(IGNORED, |t| t as usize))
                .collect();
            scratchgrad::nn::cross_entropy_ignoring(&t[0], &targets, IGNORED)
        }
        "layer_norm" => LayerNorm {
            weight: t[1].clone(),
            bias: t[2].clone(),
        }
        .forward(&t[0]),
        "gelu" => Gelu.forward(&t[0]),
        "causal_self_attention" => CausalSelfAttention {
            qkv: Linear {
                weight: t[1].clone(),
                bias: t[2].clone(),
            },
            proj: Linear {
                weight: t[3].clone(),
                bias: t[4].clone(),
            },
            heads: args["heads"].as_u64().unwrap() as usize,
        }
        .forward(&t[0]),
        "embedding" => {
            let ids = &case["index"];
            t[0].embedding(&Array::from_vec(
                usizes(&ids["data"]),
                &usizes(&ids["shape"]),
            ))
        }
        "texts_example" => {
            let (x, a, b) = (&t[0], &t[1], &t[2]);
            (a * x + b) * a
        }
        other => panic!("fixture names an unknown op {other:?}"),
    }
}

fn assert_close(what: &str, got: &Array<f64>, want: &Array<f64>) {
    assert_eq!(got.shape(), want.shape(), "{what}: shapes differ");
    // A value that is 0 in exact arithmetic (attention's key bias: a softmax ignores a shift)
    // comes out as rounding noise on both sides; it is measured against the tensor's largest.
    let floor = 1e-5 * want.data().iter().fold(0.0f64, |m, w| m.max(w.abs()));
    for (i, (&g, &w)) in got.data().iter().zip(want.data()).enumerate() {
        let err = (g - w).abs() / w.abs().max(floor).max(1e-300);
        assert!(
            err <= 1e-10 || (g - w).abs() <= 1e-300 || (g == w),
            "{what}[{i}]: scratchgrad {g:e}, PyTorch {w:e} (relative error {err:e})"
        );
    }
}

#[test]
fn every_op_matches_pytorch_float64() {
    matches_pytorch("tests/fixtures/tensor_ops.json", 90);
}

#[test]
fn the_language_models_ops_match_pytorch_float64() {
    matches_pytorch("tests/fixtures/language_ops.json", 7);
}

/// Every case of the fixture at `path` (at least `least` of them): output and gradients.
fn matches_pytorch(path: &str, least: usize) {
    let text = std::fs::read_to_string(path).expect("fixture present");
    let doc: Value = serde_json::from_str(&text).expect("fixture is JSON");
    let cases = doc["cases"].as_array().unwrap();
    assert!(cases.len() >= least, "fixture lost cases");
    for case in cases {
        let name = case["name"].as_str().unwrap();
        let inputs: Vec<Tensor<f64>> = case["inputs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| Tensor::parameter(array(v)))
            .collect();
        let out = apply(case, &inputs);
        assert_close(
            &format!("{name} output"),
            &out.data(),
            &array(&case["output"]),
        );
        out.backward_with(array(&case["upstream"]));
        for (i, (input, want)) in inputs
            .iter()
            .zip(case["grads"].as_array().unwrap())
            .enumerate()
        {
            let got = input
                .grad()
                .unwrap_or_else(|| panic!("{name}: input {i} got no gradient"));
            assert_close(&format!("{name} grad of input {i}"), &got, &array(want));
        }
    }
}
