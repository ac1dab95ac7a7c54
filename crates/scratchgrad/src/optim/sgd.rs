//! Stochastic gradient descent with momentum, Nesterov momentum and weight decay, as
//! `torch.optim.SGD` (dampening 0).

use super::{export_buffers, import_buffers, slot_state, Optimizer, OptimizerState};
use crate::array::{for_each_part, Array, Float};

/// Plain SGD splits the update of a parameter with at least this many weights between threads
/// (the MLP's first layer has 200,704; its 2,560-weight second layer stays on one).
const SPLIT_MIN: usize = 1 << 15;

/// SGD. Build with `Sgd::new(lr)` and the optional `.momentum(m)`, `.nesterov()`,
/// `.weight_decay(wd)`.
#[derive(Clone, Debug)]
pub struct Sgd<T: Float> {
    lr: f64,
    momentum: f64,
    nesterov: bool,
    weight_decay: f64,
    velocity: Vec<Option<Array<T>>>,
    steps: u64,
}

impl<T: Float> Sgd<T> {
    /// Plain SGD: p -= lr * g.
    pub fn new(lr: f64) -> Self {
        Sgd {
            lr,
            momentum: 0.0,
            nesterov: false,
            weight_decay: 0.0,
            velocity: Vec::new(),
            steps: 0,
        }
    }

    /// Heavy-ball momentum: v = m v + g; p -= lr * v.
    pub fn momentum(mut self, momentum: f64) -> Self {
        self.momentum = momentum;
        self
    }

    /// Nesterov momentum: v = m v + g; p -= lr * (g + m v).
    pub fn nesterov(mut self) -> Self {
        self.nesterov = true;
        self
    }

    /// L2 weight decay: g = g + wd * p.
    pub fn weight_decay(mut self, weight_decay: f64) -> Self {
        self.weight_decay = weight_decay;
        self
    }
}

impl<T: Float> Optimizer<T> for Sgd<T> {
    fn begin_step(&mut self) {
        self.steps = self.steps.saturating_add(1);
    }

    fn update_scaled(&mut self, slot: usize, param: &mut Array<T>, grad: &Array<T>, scale: T) {
        let (lr, m, wd) = (
            T::from_f64(self.lr),
            T::from_f64(self.momentum),
            T::from_f64(self.weight_decay),
        );
        if self.momentum == 0.0 {
            let grad = grad.data();
            // Each weight on its own: a large matrix's parts may go to other threads.
            for_each_part(param.data_mut(), 1, SPLIT_MIN, |start, part| {
                for (p, &g) in part.iter_mut().zip(&grad[start..]) {
                    // p = p - lr * (scale g + wd * p)
                    *p -= lr * (g * scale + wd * *p);
                }
            });
            return;
        }
        let params = param.data_mut().iter_mut().zip(grad.data());
        let first_step = self.velocity.get(slot).is_none_or(Option::is_none);
        let v = slot_state(&mut self.velocity, slot, grad.shape());
        for ((p, &g), v) in params.zip(v.data_mut()) {
            // g = scale g + wd * p
            let g = g * scale + wd * *p;
            // v = m * v + g (v = g on the first step)
            *v = if first_step { g } else { m * *v + g };
            // p = p - lr * (g + m * v) with Nesterov, else p - lr * v
            *p -= lr * if self.nesterov { g + m * *v } else { *v };
        }
    }

    fn state(&self) -> OptimizerState<T> {
        OptimizerState {
            steps: self.steps,
            buffers: export_buffers("velocity", &self.velocity),
        }
    }

    fn load_state(
        &mut self,
        state: OptimizerState<T>,
        shapes: &[Vec<usize>],
    ) -> Result<(), String> {
        let kinds: &[&str] = if self.momentum == 0.0 {
            &[]
        } else {
            &["velocity"]
        };
        let mut states = import_buffers(&state.buffers, kinds, shapes)?;
        let velocity = states.pop().unwrap_or_default();
        let has_velocity = velocity.iter().any(Option::is_some);
        if self.momentum != 0.0 && has_velocity != (state.steps > 0) {
            return Err(format!(
                "has momentum buffers that do not fit its step count ({})",
                state.steps
            ));
        }
        (self.steps, self.velocity) = (state.steps, velocity);
        Ok(())
    }

    fn lr(&self) -> f64 {
        self.lr
    }

    fn set_lr(&mut self, lr: f64) {
        self.lr = lr;
    }
}
