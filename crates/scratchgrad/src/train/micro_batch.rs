//! A training step with its batch cut into parts: each part goes forward and backward on a
//! replica of the model (side by side when there are threads for it), and the parts'
//! gradients are added in order before one optimizer step.
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
    let has = |wanted: fn(&LayerSpec) -> bool| arch.layers.iter().any(wanted);
    let convolutional = has(|l| matches!(l, LayerSpec::Conv2d { .. }));
    let batch_norm = has(|l| matches!(l, LayerSpec::BatchNorm));
    if convolutional && !batch_norm {
        PARTS.min(n).max(1)
    } else {
        1
    }
}

/// One training step of `net` (of `arch`, with `params` its parameters in slot order) on
/// batch `x` cut into `parts` parts. Part `k` draws its dropout masks from family `k` of
/// `step_seed`. Returns the batch's mean loss and how many it classified correctly.
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
    let replicas: Vec<Mutex<nn::Sequential<f32>>> =
        (0..parts).map(|_| Mutex::new(replica(arch, net))).collect();
    let results = run_tasks(parts, |k| {
        let replica = replicas[k].lock().unwrap_or_else(PoisonError::into_inner);
        let (start, end) = (k * n / parts, (k + 1) * n / parts);
        replica.reseed_part(step_seed, k);
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
    use super::*;
    use crate::array::Rng;
    use crate::optim::Sgd;
    use crate::train::{Engine, Model};

    #[test]
    fn a_step_in_parts_moves_the_weights_as_the_whole_batch_does() {
        // The whole batch's mean loss is each part's mean weighted by its share of the
        // examples, so 5 examples in 1, 2 or 3 parts (5; 2 + 3; 1 + 2 + 2) give one SGD step
        // the same loss, count and weights, up to f32 rounding.
        let arch =
            Architecture::parse(&[1, 6, 6], "conv3k3p1,relu,maxpool2,flatten,linear4").unwrap();
        let x = Array::<f32>::rand_uniform(&[5, 1, 6, 6], 0.0, 1.0, &mut Rng::seed(2));
        let labels = [0, 1, 2, 3, 1];
        let step = |parts: usize| {
            let Model::Autograd {
                net, params, arch, ..
            } = Model::fresh(&arch, Engine::Autograd, 4)
            else {
                unreachable!("an autograd model")
            };
            let (loss, right) = train_step_in_parts(
                &arch,
                &net,
                &params,
                &x,
                &labels,
                &mut Sgd::new(0.5),
                0,
                parts,
            );
            let weights: Vec<Array<f32>> = params.iter().map(Tensor::to_array).collect();
            (loss, right, weights)
        };
        let (whole_loss, whole_right, whole) = step(1);
        let before = Model::fresh(&arch, Engine::Autograd, 4).weights(&arch);
        assert!(
            whole.iter().zip(&before).all(|(a, (_, b))| a != b),
            "the step moves every parameter"
        );
        for parts in [2, 3] {
            let (loss, right, weights) = step(parts);
            assert!((loss - whole_loss).abs() < 1e-6, "{parts} parts: {loss}");
            assert_eq!(right, whole_right);
            for (a, b) in weights.iter().zip(&whole) {
                assert!(a.allclose(b, 1e-5, 1e-6), "{parts} parts: weights differ");
            }
        }
    }
}
