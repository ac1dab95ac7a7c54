//! A training step with its batch cut into parts (micro-batches): each part goes forward and
//! backward on a replica of the model (side by side when there are threads for it), and the
//! parts' gradients are added in order before one optimizer step.
//!
//! The number of parts is fixed, whatever the thread count, so a run gives the same bits on
//! 1, 2 or 16 threads, and every matrix product runs whole on the thread that computes its
//! part: sharing a step between two cores this way costs one wake-up per step, where
//! splitting each small product cost one per product.

use std::sync::{Mutex, PoisonError};

use super::model::{correct, replica};
use crate::arch::{Architecture, LayerSpec};
use crate::array::{run_tasks, Array};
use crate::autograd::Tensor;
use crate::nn::{self, Module};
use crate::optim::Optimizer;

/// How many parts a convolutional network's batch is cut into.
const PARTS: usize = 2;

/// How many parts a batch of `n` examples is cut into for a network of `arch`: [`PARTS`] (no
/// more than one per example) for a convolutional network, else 1.
///
/// A convolutional network does much work per example with few weights, so the parts add
/// little: each part packs the weights for its own products and leaves a weight gradient to
/// add. An MLP's weights are as large as its work per batch of 64: in two parts its
/// one-thread epoch took 1.4x as long, and its two-thread epoch was slower than with
/// whole products split between the threads (docs/BENCHMARKS.md). Batch norm keeps the
/// batch whole too: its statistics are the whole batch's.
pub(super) fn parts(arch: &Architecture, n: usize) -> usize {
    let convolutional = arch
        .layers
        .iter()
        .any(|l| matches!(l, LayerSpec::Conv2d { .. }));
    if convolutional && !arch.has_batch_norm() {
        PARTS.min(n).max(1)
    } else {
        1
    }
}

/// One training step of `net` (of `arch`, with `params` its parameters in slot order) on
/// batch `x` cut into `parts` parts, dropout's masks drawn from `step_seed` as for the whole
/// batch. Returns the batch's mean loss and how many it classified correctly.
#[allow(clippy::too_many_arguments)]
pub(super) fn train_step_in_parts(
    arch: &Architecture,
    net: &nn::Sequential<f32>,
    params: &[Tensor<f32>],
    x: &Array<f32>,
    labels: &[usize],
    optimizer: &mut dyn Optimizer<f32>,
    step_seed: u64,
    parts: usize,
) -> (f32, usize) {
    let n = labels.len();
    assert_eq!(x.shape()[0], n, "one label per example");
    // Gradients are the parts'; the model's own would be an earlier step's.
    crate::optim::zero_grad(params);
    let replicas: Vec<Mutex<nn::Sequential<f32>>> =
        (0..parts).map(|_| Mutex::new(replica(arch, net))).collect();
    let results = run_tasks(parts, |k| {
        let replica = replicas[k].lock().unwrap_or_else(PoisonError::into_inner);
        let (start, end) = (k * n / parts, (k + 1) * n / parts);
        replica.reseed_from(step_seed, start);
        let logits = replica.forward(&Tensor::new(x.slice_rows(start, end)));
        // The whole batch's mean is the sum of each part's mean times its share of the batch.
        let share = (end - start) as f32 / n as f32;
        let loss = nn::cross_entropy(&logits, &labels[start..end]).mul_scalar(share);
        loss.backward();
        let grads: Vec<Option<Array<f32>>> =
            replica.parameters().iter().map(Tensor::take_grad).collect();
        let right = correct(&logits.data(), &labels[start..end]);
        (loss.item(), right, grads)
    });
    // The replicas share the parameters' values: gone, the update writes in place.
    drop(replicas);
    let (mut loss, mut right) = (0.0, 0);
    let mut sum: Vec<Option<Array<f32>>> = vec![None; params.len()];
    for (part_loss, part_right, grads) in results {
        loss += part_loss;
        right += part_right;
        for (sum, grad) in sum.iter_mut().zip(grads) {
            match (sum.as_mut(), grad) {
                (Some(sum), Some(grad)) => sum.add_assign(&grad),
                (None, grad) => *sum = grad,
                (Some(_), None) => {}
            }
        }
    }
    optimizer.step_with(params, &sum);
    (loss, right)
}

#[cfg(test)]
mod tests {
    use crate::arch::Architecture;
    use crate::array::{Array, Rng};
    use crate::optim::Sgd;
    use crate::train::{Engine, Model};

    #[test]
    fn a_step_in_parts_is_the_hand_derived_whole_batch_step() {
        // The whole batch's mean loss is each part's mean weighted by its share of the
        // examples (5 examples: 2 + 3), and each part draws the dropout masks the whole batch
        // gives its examples. So one SGD step of the autograd engine in parts gives the loss,
        // count and weights of the hand-derived layers' step on the whole batch, up to f32
        // rounding.
        let arch = Architecture::parse(
            &[1, 6, 6],
            "conv3k3p1,relu,maxpool2,flatten,dropout0.5,linear4",
        )
        .unwrap();
        assert_eq!(super::parts(&arch, 5), 2);
        let x = Array::<f32>::rand_uniform(&[5, 36], 0.0, 1.0, &mut Rng::seed(2));
        let labels = [0, 1, 2, 3, 1];
        let step = |engine: Engine| {
            let mut model = Model::fresh(&arch, engine, 4);
            let (loss, right) = model.train_step(x.clone(), &labels, &mut Sgd::new(0.5), 9);
            (loss, right, model.weights(&arch))
        };
        let (loss, right, in_parts) = step(Engine::Autograd);
        let (whole_loss, whole_right, whole) = step(Engine::Manual);
        assert!((loss - whole_loss).abs() < 1e-6, "{loss} vs {whole_loss}");
        assert_eq!(right, whole_right);
        let before = Model::fresh(&arch, Engine::Manual, 4).weights(&arch);
        for (((name, a), (_, b)), (_, old)) in in_parts.iter().zip(&whole).zip(&before) {
            assert!(b != old, "{name}: the step moves it");
            assert!(a.allclose(b, 1e-5, 1e-6), "{name}: the steps differ");
        }
    }
}
