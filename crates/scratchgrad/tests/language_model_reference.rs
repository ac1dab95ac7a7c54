//! The language models against PyTorch float64. makemore's MLP two ways: the hand-derived
//! backward (`manual::MlpLanguageModel`, the lectures' "backprop ninja" exercise) in f64 to
//! 1e-10, and the autograd model the trainer uses (`lm::LanguageModel`, f32) to f32's
//! precision; a whole GPT and a whole WaveNet-style tree likewise. The fixtures
//! (`tests/fixtures/language_ops.json`'s case `mlp_language_model`, `gpt_block.json`,
//! `wavenet.json`) were written by `tools/torch_reference.py` (PyTorch 2.15, float64:
//! F.embedding, F.batch_norm in training mode, tanh, F.cross_entropy, `loss.backward()`).

mod common;

use common::{array, usizes};

use scratchgrad::array::Array;
use scratchgrad::lm::{LanguageModel, LmArch};
use scratchgrad::manual::MlpLanguageModel;
use scratchgrad::nn::cross_entropy;
use serde_json::Value;

/// The fixture's case: inputs (table, W1, gamma, beta, W2, b2), contexts, targets, the
/// loss, the upstream gradient of the loss and PyTorch's gradients.
fn case() -> Value {
    let text = std::fs::read_to_string("tests/fixtures/language_ops.json").unwrap();
    let doc: Value = serde_json::from_str(&text).unwrap();
    doc["cases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "mlp_language_model")
        .unwrap()
        .clone()
}

const NAMES: [&str; 6] = [
    "wte.weight",
    "hidden.weight",
    "bn.weight",
    "bn.bias",
    "out.weight",
    "out.bias",
];

#[test]
fn the_hand_derived_backward_matches_pytorch_to_1e_10() {
    let case = case();
    let inputs: Vec<Array<f64>> = case["inputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(array)
        .collect();
    let mut model = MlpLanguageModel::new(
        inputs[0].clone(),
        inputs[1].clone(),
        inputs[2].clone(),
        inputs[3].clone(),
        inputs[4].clone(),
        inputs[5].clone(),
    );
    let contexts = usizes(&case["index"]["data"]);
    let targets = usizes(&case["args"]["targets"]);
    let loss = model.forward(&contexts, &targets);
    let want = array(&case["output"]).data()[0];
    assert!(
        (loss - want).abs() <= 1e-12 * want.abs(),
        "loss {loss} against {want}"
    );
    model.backward();
    // PyTorch's gradients are of upstream * loss: scale ours the same way.
    let upstream = array(&case["upstream"]).data()[0];
    let grads = model.gradients();
    for (i, name) in NAMES.iter().enumerate() {
        let want = array(&case["grads"][i]);
        let (got_name, got) = grads[i];
        assert_eq!(got_name, *name);
        assert_eq!(got.shape(), want.shape(), "{name}");
        for (k, (&g, &w)) in got.data().iter().zip(want.data()).enumerate() {
            let g = g * upstream;
            assert!(
                (g - w).abs() <= 1e-10 * w.abs().max(1e-3),
                "{name}[{k}]: by hand {g:e}, PyTorch {w:e}"
            );
        }
    }
    // The first layer's bias, which batch norm makes useless: its gradient is zero up to
    // rounding (the lecture's remark), so nothing is lost by leaving it out elsewhere.
    assert!(model
        .hidden
        .bias_grad
        .data()
        .iter()
        .all(|g| g.abs() < 1e-14));
}

#[test]
fn the_trainers_autograd_model_matches_pytorch_in_f32() {
    let case = case();
    let inputs: Vec<Array<f64>> = case["inputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(array)
        .collect();
    let f32s = |a: &Array<f64>| a.map(|v| v as f32);
    let state = vec![
        ("wte.weight".to_string(), f32s(&inputs[0])),
        ("hidden.weight".to_string(), f32s(&inputs[1])),
        ("bn.weight".to_string(), f32s(&inputs[2])),
        ("bn.bias".to_string(), f32s(&inputs[3])),
        ("out.weight".to_string(), f32s(&inputs[4])),
        ("out.bias".to_string(), f32s(&inputs[5])),
        ("bn.running_mean".to_string(), Array::zeros(&[6])),
        ("bn.running_var".to_string(), Array::ones(&[6])),
    ];
    let arch = LmArch::Mlp {
        context: 3,
        embedding: 4,
        hidden: 6,
        batch_norm: true,
    };
    let mut model = LanguageModel::from_arrays(arch, 27, state, &Vec::new()).unwrap();
    model.set_training(true);
    let contexts = usizes(&case["index"]["data"]);
    let targets = usizes(&case["args"]["targets"]);
    let loss = cross_entropy(&model.forward(&contexts, targets.len()), &targets);
    let want = array(&case["output"]).data()[0];
    assert!(
        (loss.item() as f64 - want).abs() < 1e-5 * want,
        "{} against {want}",
        loss.item()
    );
    loss.backward();
    let upstream = array(&case["upstream"]).data()[0];
    let params = model.named_parameters();
    for (i, name) in NAMES.iter().enumerate() {
        let (_, tensor) = params.iter().find(|(n, _)| n == name).unwrap();
        let got = tensor.grad().unwrap();
        let want = array(&case["grads"][i]);
        let largest = want.data().iter().fold(0.0f64, |m, w| m.max(w.abs()));
        for (k, (&g, &w)) in got.data().iter().zip(want.data()).enumerate() {
            let g = g as f64 * upstream;
            assert!(
                (g - w).abs() <= 1e-5 * largest,
                "{name}[{k}]: autograd {g:e}, PyTorch {w:e}"
            );
        }
    }
}

#[test]
fn a_whole_gpt_matches_pytorch_in_f32() {
    // tests/fixtures/gpt_block.json: a GPT of one block (vocabulary 5, context 4, embedding 8,
    // 2 heads) written out in PyTorch float64 as makemore's and nanoGPT's, its loss over every
    // position of 2 windows and every tensor's gradient (tools/torch_reference.py).
    let text = std::fs::read_to_string("tests/fixtures/gpt_block.json").unwrap();
    let doc: Value = serde_json::from_str(&text).unwrap();
    let weights = doc["weights"].as_object().unwrap();
    let state = weights
        .iter()
        .map(|(name, v)| (name.clone(), array(v).map(|x| x as f32)))
        .collect();
    let arch = LmArch::Gpt {
        context: 4,
        embedding: 8,
        heads: 2,
        blocks: 1,
    };
    let model = LanguageModel::from_arrays(arch, 5, state, &Vec::new()).unwrap();
    let ids = usizes(&doc["ids"]);
    let targets = usizes(&doc["targets"]);
    let loss = cross_entropy(&model.forward(&ids, 2), &targets);
    let want = doc["loss"].as_f64().unwrap();
    assert!(
        (loss.item() as f64 - want).abs() < 1e-5 * want,
        "{} against {want}",
        loss.item()
    );
    loss.backward();
    gradients_match(&model, &doc);
}

#[test]
fn a_whole_wavenet_matches_pytorch_in_f32() {
    // tests/fixtures/wavenet.json: makemore part 5's tree, small (vocabulary 6, context 4,
    // embedding 3, 5 hidden units, 2 levels, batch 3), written out in PyTorch float64 as the
    // lecture writes it (FlattenConsecutive as a view, batch norm over batch and time), its
    // loss, every gradient and each batch norm's running statistics after the step
    // (tools/torch_reference.py).
    let text = std::fs::read_to_string("tests/fixtures/wavenet.json").unwrap();
    let doc: Value = serde_json::from_str(&text).unwrap();
    let weights = doc["weights"].as_object().unwrap();
    let mut state: Vec<(String, Array<f32>)> = weights
        .iter()
        .map(|(name, v)| (name.clone(), array(v).map(|x| x as f32)))
        .collect();
    for level in 0..2 {
        state.push((format!("h.{level}.bn.running_mean"), Array::zeros(&[5])));
        state.push((format!("h.{level}.bn.running_var"), Array::ones(&[5])));
    }
    let arch = LmArch::WaveNet {
        context: 4,
        embedding: 3,
        hidden: 5,
    };
    let model = LanguageModel::from_arrays(arch, 6, state, &Vec::new()).unwrap();
    let ids = usizes(&doc["ids"]);
    let targets = usizes(&doc["targets"]);
    let loss = cross_entropy(&model.forward(&ids, 3), &targets);
    let want = doc["loss"].as_f64().unwrap();
    assert!(
        (loss.item() as f64 - want).abs() < 1e-5 * want,
        "{} against {want}",
        loss.item()
    );
    loss.backward();
    gradients_match(&model, &doc);
    let (after, counts) = model.state();
    assert_eq!(counts.len(), 2);
    for (name, want) in doc["running_after"].as_object().unwrap() {
        let (_, got) = after.iter().find(|(n, _)| n == name).unwrap();
        for (&g, &w) in got.data().iter().zip(array(want).data()) {
            assert!((g as f64 - w).abs() < 1e-5, "{name}: {g} against {w}");
        }
    }
}

/// Every learnt tensor of `model` has a gradient within f32's precision of the fixture's
/// PyTorch float64 one (`doc["grads"]`, by name), and the fixture has no other.
fn gradients_match(model: &LanguageModel, doc: &Value) {
    let params = model.named_parameters();
    assert_eq!(params.len(), doc["weights"].as_object().unwrap().len());
    for (name, tensor) in params {
        let want = array(&doc["grads"][&name]);
        let got = tensor.grad().unwrap();
        assert_eq!(got.shape(), want.shape(), "{name}");
        let largest = want.data().iter().fold(0.0f64, |m, w| m.max(w.abs()));
        for (k, (&g, &w)) in got.data().iter().zip(want.data()).enumerate() {
            assert!(
                (g as f64 - w).abs() <= 2e-5 * largest.max(1e-3),
                "{name}[{k}]: autograd {g:e}, PyTorch {w:e}"
            );
        }
    }
}
