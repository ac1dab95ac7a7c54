//! Optimizers and schedules, step by step, against torch.optim.
//!
//! `tests/fixtures/optim.json` was written by `tools/torch_optim_reference.py` (PyTorch,
//! float64): two parameters, five steps of fixed random gradients, and the parameters after
//! each step for every configuration; and the learning rates of two schedulers.

mod common;

use common::floats;
use scratchgrad::array::Array;
use scratchgrad::autograd::Tensor;
use scratchgrad::optim::{cosine_lr, step_lr, Adam, Optimizer, Sgd};
use serde_json::Value;

fn fixture() -> Value {
    serde_json::from_str(&std::fs::read_to_string("tests/fixtures/optim.json").unwrap()).unwrap()
}

fn optimizer(name: &str) -> Box<dyn Optimizer<f64>> {
    match name {
        "sgd" => Box::new(Sgd::new(0.1)),
        "sgd_momentum" => Box::new(Sgd::new(0.1).momentum(0.9)),
        "sgd_nesterov_wd" => Box::new(Sgd::new(0.05).momentum(0.8).nesterov().weight_decay(0.01)),
        "adam" => Box::new(Adam::new(0.01)),
        "adam_wd" => Box::new(Adam::new(0.02).betas(0.8, 0.99).weight_decay(0.1)),
        "adamw" => Box::new(Adam::new(0.02).decoupled_weight_decay(0.1)),
        other => panic!("fixture names an unknown optimizer {other}"),
    }
}

#[test]
fn trajectories_match_torch_optim() {
    let doc = fixture();
    let trajectories = doc["trajectories"].as_object().unwrap();
    assert_eq!(trajectories.len(), 6);
    for (name, path) in trajectories {
        let params: Vec<Tensor<f64>> = doc["initial"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| {
                let shape: Vec<usize> = p["shape"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|d| d.as_u64().unwrap() as usize)
                    .collect();
                Tensor::parameter(Array::from_vec(floats(&p["data"]), &shape))
            })
            .collect();
        let mut opt = optimizer(name);
        for (step, (grads, want)) in doc["grads"]
            .as_array()
            .unwrap()
            .iter()
            .zip(path.as_array().unwrap())
            .enumerate()
        {
            for (p, g) in params.iter().zip(grads.as_array().unwrap()) {
                p.zero_grad();
                p.backward_with(Array::from_vec(floats(g), &p.shape()));
            }
            opt.step(&params);
            for (i, (p, w)) in params.iter().zip(want.as_array().unwrap()).enumerate() {
                for (a, b) in p.data().data().iter().zip(floats(w)) {
                    assert!(
                        (a - b).abs() <= 1e-12 * b.abs().max(1.0),
                        "{name} step {step} param {i}: {a} vs torch {b}"
                    );
                }
            }
        }
    }
}

#[test]
fn schedules_match_torch() {
    let doc = fixture();
    for (epoch, want) in floats(&doc["cosine_lr"]).iter().enumerate().take(11) {
        assert!(
            (cosine_lr(0.1, 0.001, epoch, 10) - want).abs() < 1e-15,
            "cosine epoch {epoch}"
        );
    }
    for (epoch, want) in floats(&doc["step_lr"]).iter().enumerate() {
        assert!(
            (step_lr(0.1, epoch, 3, 0.5) - want).abs() < 1e-15,
            "step epoch {epoch}"
        );
    }
}
