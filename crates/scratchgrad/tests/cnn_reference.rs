//! The layers of convolutional networks against PyTorch float64, through both engines: the
//! autograd operations (`Tensor::conv2d`, pooling, `nn::BatchNorm` built from operations) and
//! the hand-derived layers (`manual::Conv2d`, ...).
//!
//! `tests/fixtures/conv_layers.json` was written by `tools/torch_reference.py` (PyTorch 2.15,
//! float64, `torch.nn.functional`): strides, padding, odd and rectangular sizes, batch 1,
//! several channels, ties in max pooling, batch norm in training (with its running statistics
//! after the step) and in evaluation. Agreement required: 1e-10 relative.

mod common;

use common::array;

use scratchgrad::array::{Array, ConvPath, Isa, Window};
use scratchgrad::autograd::Tensor;
use scratchgrad::manual::{self, Layer};
use scratchgrad::nn::{self, Module};
use serde_json::Value;

fn assert_close(what: &str, got: &Array<f64>, want: &Array<f64>) {
    assert_eq!(got.shape(), want.shape(), "{what}: shapes differ");
    for (i, (&g, &w)) in got.data().iter().zip(want.data()).enumerate() {
        let err = (g - w).abs() / w.abs().max(1e-300);
        assert!(
            err <= 1e-10 || (g - w).abs() <= 1e-12,
            "{what}[{i}]: scratchgrad {g:e}, PyTorch {w:e} (relative error {err:e})"
        );
    }
}

fn window(args: &Value) -> Window {
    let n = |k: &str| args[k].as_u64().unwrap() as usize;
    Window {
        kh: n("kh"),
        kw: n("kw"),
        stride: n("stride"),
        padding: n("padding"),
    }
}

/// A layer's output, each input's gradient, and (batch norm) the running statistics after.
type Results = (Array<f64>, Vec<Array<f64>>, Option<[Array<f64>; 2]>);

fn cases() -> Vec<Value> {
    let text = std::fs::read_to_string("tests/fixtures/conv_layers.json").expect("fixture present");
    let doc: Value = serde_json::from_str(&text).expect("fixture is JSON");
    let cases = doc["cases"].as_array().unwrap().clone();
    assert!(cases.len() >= 12, "fixture lost cases");
    cases
}

/// Output and every input's gradient from the autograd engine.
fn autograd(case: &Value, inputs: &[Array<f64>], upstream: &Array<f64>) -> Results {
    let t: Vec<Tensor<f64>> = inputs
        .iter()
        .map(|a| Tensor::parameter(a.clone()))
        .collect();
    let args = &case["args"];
    let mut running = None;
    let out = match case["op"].as_str().unwrap() {
        "conv2d" => t[0].conv2d(&t[1], Some(&t[2]), window(args)),
        "max_pool2d" => t[0].max_pool2d(window(args)),
        "avg_pool2d" => t[0].avg_pool2d(window(args)),
        "batch_norm" => {
            let before = &case["running_before"];
            let mut bn = nn::BatchNorm::from_arrays(
                inputs[1].clone(),
                inputs[2].clone(),
                array(&before[0]),
                array(&before[1]),
                0,
            );
            bn.set_training(args["training"].as_bool().unwrap());
            // The module owns its parameters: use them as this case's weight and bias.
            let out = bn.forward(&t[0]);
            out.backward_with(upstream.clone());
            let grads = vec![
                t[0].grad().unwrap(),
                bn.weight.grad().unwrap(),
                bn.bias.grad().unwrap(),
            ];
            let buffers = bn.named_buffers();
            running = Some([buffers[0].1.clone(), buffers[1].1.clone()]);
            return (out.to_array(), grads, running);
        }
        other => panic!("unknown op {other}"),
    };
    out.backward_with(upstream.clone());
    let grads = t.iter().map(|x| x.grad().unwrap()).collect();
    (out.to_array(), grads, running.take())
}

/// Output and every input's gradient from the hand-derived layers.
fn by_hand(case: &Value, inputs: &[Array<f64>], upstream: &Array<f64>) -> Results {
    let args = &case["args"];
    match case["op"].as_str().unwrap() {
        "conv2d" => {
            let mut conv = manual::Conv2d::new(inputs[1].clone(), inputs[2].clone(), window(args));
            let out = conv.forward(&inputs[0]);
            let dx = conv.backward(upstream);
            (
                out,
                vec![dx, conv.weight_grad.clone(), conv.bias_grad.clone()],
                None,
            )
        }
        "max_pool2d" => {
            let mut pool = manual::MaxPool2d::new(window(args));
            let out = pool.forward(&inputs[0]);
            (out, vec![pool.backward(upstream)], None)
        }
        "avg_pool2d" => {
            let mut pool = manual::AvgPool2d::new(window(args));
            let out = pool.forward(&inputs[0]);
            (out, vec![pool.backward(upstream)], None)
        }
        "batch_norm" => {
            let before = &case["running_before"];
            let mut bn = manual::BatchNorm::new(
                inputs[1].clone(),
                inputs[2].clone(),
                array(&before[0]),
                array(&before[1]),
                0,
            );
            bn.set_training(args["training"].as_bool().unwrap());
            let out = bn.forward(&inputs[0]);
            let dx = bn.backward(upstream);
            let running = [bn.running_mean.clone(), bn.running_var.clone()];
            (
                out,
                vec![dx, bn.weight_grad.clone(), bn.bias_grad.clone()],
                Some(running),
            )
        }
        other => panic!("unknown op {other}"),
    }
}

#[test]
fn cnn_layers_match_pytorch_float64_in_both_engines() {
    for case in cases() {
        let name = case["name"].as_str().unwrap();
        let inputs: Vec<Array<f64>> = case["inputs"]
            .as_array()
            .unwrap()
            .iter()
            .map(array)
            .collect();
        let upstream = array(&case["upstream"]);
        let want_out = array(&case["output"]);
        let want_grads: Vec<Array<f64>> = case["grads"]
            .as_array()
            .unwrap()
            .iter()
            .map(array)
            .collect();
        for (engine, (out, grads, running)) in [
            ("autograd", autograd(&case, &inputs, &upstream)),
            ("manual", by_hand(&case, &inputs, &upstream)),
        ] {
            assert_close(&format!("{name} ({engine}) output"), &out, &want_out);
            assert_eq!(grads.len(), want_grads.len(), "{name} ({engine})");
            for (i, (got, want)) in grads.iter().zip(&want_grads).enumerate() {
                assert_close(&format!("{name} ({engine}) grad of input {i}"), got, want);
            }
            if let Some(after) = case.get("running_after") {
                let running = running.expect("batch norm reports its running statistics");
                for (k, stat) in ["mean", "var"].iter().enumerate() {
                    assert_close(
                        &format!("{name} ({engine}) running {stat}"),
                        &running[k],
                        &array(&after[k]),
                    );
                }
            }
        }
    }
}

/// The `f32` convolution by every path that applies to a case (the direct kernels on each
/// instruction set this CPU has for stride 1; im2col + GEMM always) against the same
/// float64 fixtures, to `f32`'s precision: sums of a few hundred terms of size 1.
#[test]
fn f32_convolutions_match_pytorch_float64_by_every_path() {
    let to_f32 = |a: &Array<f64>| a.map(|v| v as f32);
    let mut direct_cases = 0;
    for case in cases().iter().filter(|c| c["op"] == "conv2d") {
        let name = case["name"].as_str().unwrap();
        let window = window(&case["args"]);
        let inputs: Vec<Array<f32>> = case["inputs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| to_f32(&array(v)))
            .collect();
        let (x, w, b) = (&inputs[0], &inputs[1], &inputs[2]);
        let upstream = to_f32(&array(&case["upstream"]));
        let mut paths = vec![ConvPath::Gemm];
        if window.stride == 1 && window.padding < window.kh.min(window.kw) {
            paths.extend(Isa::available().into_iter().map(ConvPath::Direct));
            direct_cases += 1;
        }
        for path in paths {
            let (out, saved) = x.conv2d_by(w, Some(b), &window, path);
            let got = [
                out,
                saved.input_grad(&upstream, w, x.shape(), &window),
                saved.weight_grad(&upstream, w.shape(), x.shape(), &window),
            ];
            let want = [
                array(&case["output"]),
                array(&case["grads"][0]),
                array(&case["grads"][1]),
            ];
            for (what, (got, want)) in ["output", "dx", "dw"].iter().zip(got.iter().zip(&want)) {
                let got = got.map(f64::from);
                assert_eq!(got.shape(), want.shape(), "{name} {path:?} {what}");
                assert!(got.allclose(want, 1e-4, 1e-4), "{name} {path:?} {what}");
            }
        }
    }
    assert!(direct_cases >= 2, "the fixture lost its stride-1 cases");
}
