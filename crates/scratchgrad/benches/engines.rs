//! One training step of the texts' MNIST network (784-256-10, sigmoid, softmax
//! cross-entropy, batch 64, SGD) through each engine: the hand-derived network, the
//! hand-derived layers, and the autograd engine. Shows what autograd's bookkeeping costs.
//!
//! Run: `cargo bench --bench engines` (add `-- --threads 1` for one thread).
//! Rounds alternate the three; medians over rounds are printed.

use std::time::Instant;

use scratchgrad::array::{set_num_threads, Array, Rng};
use scratchgrad::autograd::Tensor;
use scratchgrad::manual::{self, OneHiddenLayerNet};
use scratchgrad::nn::{self, Module};
use scratchgrad::optim::{zero_grad, Optimizer, Sgd};

const ROUNDS: usize = 9;
const STEPS: usize = 100;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

/// Milliseconds per step over `STEPS` steps.
fn time(mut step: impl FnMut()) -> f64 {
    step();
    let t = Instant::now();
    for _ in 0..STEPS {
        step();
    }
    t.elapsed().as_secs_f64() * 1e3 / STEPS as f64
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--threads") {
        set_num_threads(args.get(i + 1).and_then(|n| n.parse().ok()).unwrap_or(1));
    }
    let mut rng = Rng::seed(0);
    let x = Array::<f32>::rand_uniform(&[64, 784], 0.0, 1.0, &mut rng);
    let labels: Vec<usize> = (0..64).map(|_| rng.below(10)).collect();
    let lr = 0.1f32;

    let mut derived = OneHiddenLayerNet::<f32>::new(784, 256, 10, &mut rng);
    let mut layers = manual::Sequential::new(vec![
        Box::new(manual::Linear::new(derived.w1.clone(), derived.b1.clone())),
        Box::new(manual::Sigmoid::default()),
        Box::new(manual::Linear::new(derived.w2.clone(), derived.b2.clone())),
    ]);
    let mut ce = manual::SoftmaxCrossEntropyWithLogits::default();
    let model = nn::Sequential::new(vec![
        Box::new(nn::Linear::from_arrays(
            derived.w1.clone(),
            derived.b1.clone(),
        )),
        Box::new(nn::Sigmoid),
        Box::new(nn::Linear::from_arrays(
            derived.w2.clone(),
            derived.b2.clone(),
        )),
    ]);
    let params = model.parameters();
    let mut sgd = Sgd::new(lr as f64);

    let mut results: [Vec<f64>; 3] = Default::default();
    for _ in 0..ROUNDS {
        results[0].push(time(|| {
            let a = derived.forward(&x);
            let grads = derived.compute_grad(&x, &labels, &a);
            derived.update(&grads, lr);
        }));
        results[1].push(time(|| {
            ce.forward(&layers.forward(&x), &labels);
            layers.backward(&ce.backward());
            layers.sgd_step(lr);
        }));
        results[2].push(time(|| {
            let loss = nn::cross_entropy(&model.forward(&Tensor::new(x.clone())), &labels);
            zero_grad(&params);
            loss.backward();
            sgd.step(&params);
        }));
    }
    let base = median(results[0].clone());
    println!("784-256-10 sigmoid MLP, batch 64, f32, {} thread(s): ms per step (median of {ROUNDS} rounds of {STEPS})", scratchgrad::array::num_threads());
    for (name, r) in [
        "hand-derived network (manual::OneHiddenLayerNet)",
        "hand-derived layers (manual::Sequential)",
        "autograd (nn::Sequential + optim::Sgd)",
    ]
    .iter()
    .zip(&results)
    {
        let m = median(r.clone());
        println!("{name:<52} {m:8.3} ms   {:5.2}x", m / base);
    }
}
