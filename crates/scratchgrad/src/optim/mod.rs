//! Optimizers: how a gradient becomes a change of the weights. Each update rule is written
//! once, over plain arrays, so the autograd models (`Tensor` parameters) and the hand-derived
//! ones (`manual`, `Array` parameters) share it. Names follow `torch.optim`.
//!
//! ```
//! use scratchgrad::autograd::Tensor;
//! use scratchgrad::optim::{Optimizer, Sgd};
//! let w = Tensor::parameter_from(vec![1.0f64, -2.0], &[2]);
//! let mut opt = Sgd::new(0.1).momentum(0.9);
//! for _ in 0..3 {
//!     (&w * &w).sum_all().backward(); // d/dw sum(w^2) = 2w
//!     opt.step(&[w.clone()]);
//!     w.zero_grad();
//! }
//! assert!(w.data().data()[0].abs() < 1.0);
//! ```

mod adam;
mod schedule;
mod sgd;

pub use adam::Adam;
pub use schedule::{cosine_lr, step_lr};
pub use sgd::Sgd;

use crate::array::{Array, Float};
use crate::autograd::Tensor;

/// An update rule. Parameters are identified by their position in the list given to each
/// step, which must stay the same from step to step (the optimizer's state is kept per slot).
pub trait Optimizer<T: Float> {
    /// Starts a step (Adam counts steps for its bias correction here).
    fn begin_step(&mut self) {}

    /// Updates the parameter in `slot` in place, given its gradient.
    fn update(&mut self, slot: usize, param: &mut Array<T>, grad: &Array<T>) {
        self.update_scaled(slot, param, grad, T::ONE);
    }

    /// Updates the parameter in `slot` in place by its gradient times `scale` (gradient
    /// clipping's factor), each element scaled as it is read: the same numbers as scaling the
    /// gradient first, without a pass of its own. The one method an update rule must write
    /// (`update` is this with a scale of 1).
    fn update_scaled(&mut self, slot: usize, param: &mut Array<T>, grad: &Array<T>, scale: T);

    /// The learning rate.
    fn lr(&self) -> f64;

    /// Changes the learning rate (for schedules).
    fn set_lr(&mut self, lr: f64);

    /// Everything the optimizer remembers between steps, for checkpoints.
    fn state(&self) -> OptimizerState<T>;

    /// Restores what `state` returned (resuming a run), for parameters of `shapes` (in slot
    /// order). A state that does not fit them (a buffer this optimizer does not keep, for a
    /// slot that does not exist, of the wrong shape, or missing for some slots) is refused.
    fn load_state(&mut self, state: OptimizerState<T>, shapes: &[Vec<usize>])
        -> Result<(), String>;

    /// One step over tensor parameters: each is updated by its accumulated `grad()`
    /// (parameters without one are left alone).
    fn step(&mut self, params: &[Tensor<T>]) {
        self.begin_step();
        for (slot, p) in params.iter().enumerate() {
            p.with_grad(|grad| {
                if let Some(grad) = grad {
                    p.update_data(|value| self.update(slot, value, grad));
                }
            });
        }
    }

    /// One step over tensor parameters with gradients computed elsewhere (added up over the
    /// parts of a batch), in the same order; a parameter without one is left alone.
    fn step_with(&mut self, params: &[Tensor<T>], grads: &[Option<Array<T>>]) {
        assert_eq!(params.len(), grads.len(), "one gradient per parameter");
        self.begin_step();
        for (slot, (p, grad)) in params.iter().zip(grads).enumerate() {
            if let Some(grad) = grad {
                p.update_data(|value| self.update(slot, value, grad));
            }
        }
    }

    /// One step over array parameters with their gradients (the hand-derived models).
    fn step_arrays(&mut self, params: Vec<(&mut Array<T>, &Array<T>)>) {
        self.begin_step();
        for (slot, (value, grad)) in params.into_iter().enumerate() {
            self.update(slot, value, grad);
        }
    }
}

/// What an optimizer remembers between steps: its step count and its per-parameter buffers
/// (momentum, moment estimates), named `{buffer}.{slot}`.
#[derive(Clone, Debug, Default)]
pub struct OptimizerState<T: Float> {
    /// Steps taken so far.
    pub steps: u64,
    /// Named buffers.
    pub buffers: Vec<(String, Array<T>)>,
}

/// Named buffers of one kind, `{kind}.{slot}`, for the slots that have one.
pub(crate) fn export_buffers<T: Float>(
    kind: &str,
    states: &[Option<Array<T>>],
) -> Vec<(String, Array<T>)> {
    let present = states
        .iter()
        .enumerate()
        .filter_map(|(slot, b)| b.as_ref().map(|b| (slot, b)));
    present
        .map(|(slot, b)| (format!("{kind}.{slot}"), b.clone()))
        .collect()
}

/// The buffers of each of `kinds` back into slots, one list per kind, checked against the
/// parameters' `shapes`: every buffer is named `{kind}.{slot}` for a kind this optimizer keeps
/// and a slot that exists, has that parameter's shape, and each kind is there for every slot
/// or for none (an optimizer that has not stepped yet).
pub(crate) fn import_buffers<T: Float>(
    buffers: &[(String, Array<T>)],
    kinds: &[&str],
    shapes: &[Vec<usize>],
) -> Result<Vec<Vec<Option<Array<T>>>>, String> {
    let mut states: Vec<Vec<Option<Array<T>>>> = vec![vec![None; shapes.len()]; kinds.len()];
    for (name, value) in buffers {
        let shown: String = name.chars().take(64).flat_map(char::escape_debug).collect();
        let parsed = name.rsplit_once('.').and_then(|(kind, slot)| {
            let k = kinds.iter().position(|&known| known == kind)?;
            Some((k, slot.parse::<usize>().ok()?))
        });
        let Some((k, slot)) = parsed else {
            return Err(format!(
                "has optimizer state `{shown}` that this optimizer does not keep"
            ));
        };
        let Some(shape) = shapes.get(slot) else {
            return Err(format!(
                "has optimizer state `{shown}` for parameter {slot}, but the network has {}",
                shapes.len()
            ));
        };
        if value.shape() != shape.as_slice() {
            return Err(format!(
                "has optimizer state `{shown}` of shape {:?} for a parameter of shape {shape:?}",
                value.shape()
            ));
        }
        if states[k][slot].replace(value.clone()).is_some() {
            return Err(format!("has optimizer state `{shown}` twice"));
        }
    }
    for (kind, slots) in kinds.iter().zip(&states) {
        let present = slots.iter().filter(|s| s.is_some()).count();
        if present != 0 && present != slots.len() {
            return Err(format!(
                "has optimizer state `{kind}` for {present} of {} parameters",
                slots.len()
            ));
        }
    }
    Ok(states)
}

/// Forgets the gradients of every tensor parameter (PyTorch's `optimizer.zero_grad()`).
pub fn zero_grad<T: Float>(params: &[Tensor<T>]) {
    params.iter().for_each(Tensor::zero_grad);
}

/// State kept per parameter slot, created on first use.
pub(crate) fn slot_state<'a, T: Float>(
    states: &'a mut Vec<Option<Array<T>>>,
    slot: usize,
    shape: &[usize],
) -> &'a mut Array<T> {
    if states.len() <= slot {
        states.resize(slot + 1, None);
    }
    states[slot].get_or_insert_with(|| Array::zeros(shape))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::array::Rng;

    /// Scaling each gradient as the update reads it gives the bits of scaling the gradient
    /// first and updating by it, for every rule, over a few steps (Adam's moments and SGD's
    /// velocity carried along).
    /// Makes a fresh optimizer.
    type Make = fn() -> Box<dyn Optimizer<f32>>;

    #[test]
    fn a_scaled_update_is_an_update_by_the_scaled_gradient() {
        let rules: [(&str, Make); 5] = [
            ("Adam", || Box::new(Adam::new(0.01).weight_decay(0.1))),
            ("AdamW", || {
                Box::new(Adam::new(0.01).decoupled_weight_decay(0.1))
            }),
            ("SGD", || Box::new(Sgd::new(0.1).weight_decay(0.01))),
            ("SGD, momentum", || Box::new(Sgd::new(0.1).momentum(0.9))),
            ("SGD, Nesterov", || {
                Box::new(Sgd::new(0.1).momentum(0.9).nesterov())
            }),
        ];
        let mut rng = Rng::seed(4);
        for (name, make) in rules {
            let (mut scaled_as_read, mut scaled_first) = (make(), make());
            let start = Array::<f32>::rand_uniform(&[3, 5], -1.0, 1.0, &mut rng);
            let (mut a, mut b) = (start.clone(), start);
            for step in 0..3 {
                let grad = Array::<f32>::rand_uniform(&[3, 5], -2.0, 2.0, &mut rng);
                let scale = 0.37;
                scaled_as_read.begin_step();
                scaled_as_read.update_scaled(0, &mut a, &grad, scale);
                let mut scaled = grad.clone();
                scaled.scale_assign(scale);
                scaled_first.begin_step();
                scaled_first.update(0, &mut b, &scaled);
                let bits =
                    |x: &Array<f32>| x.data().iter().map(|v| v.to_bits()).collect::<Vec<_>>();
                assert_eq!(bits(&a), bits(&b), "{name}, step {step}");
            }
        }
    }
}
