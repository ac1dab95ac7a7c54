//! Adam and AdamW, as `torch.optim.Adam` and `torch.optim.AdamW`.

use super::{export_buffers, import_buffers, slot_state, Optimizer, OptimizerState};
use crate::array::{Array, Float, Isa};

/// Adam (Kingma & Ba), or AdamW (decoupled weight decay) with `.decoupled_weight_decay(wd)`.
#[derive(Clone, Debug)]
pub struct Adam<T: Float> {
    lr: f64,
    beta1: f64,
    beta2: f64,
    eps: f64,
    weight_decay: f64,
    decoupled: bool,
    steps: u64,
    m: Vec<Option<Array<T>>>,
    v: Vec<Option<Array<T>>>,
}

impl<T: Float> Adam<T> {
    /// Adam with PyTorch's defaults: betas (0.9, 0.999), eps 1e-8, no weight decay.
    pub fn new(lr: f64) -> Self {
        Adam {
            lr,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 0.0,
            decoupled: false,
            steps: 0,
            m: Vec::new(),
            v: Vec::new(),
        }
    }

    /// The decay rates of the first and second moment estimates.
    pub fn betas(mut self, beta1: f64, beta2: f64) -> Self {
        (self.beta1, self.beta2) = (beta1, beta2);
        self
    }

    /// The term added to the denominator, sqrt(v) + eps, so it never divides by zero.
    pub fn eps(mut self, eps: f64) -> Self {
        self.eps = eps;
        self
    }

    /// Adam's L2 penalty: g = g + wd * p.
    pub fn weight_decay(mut self, weight_decay: f64) -> Self {
        (self.weight_decay, self.decoupled) = (weight_decay, false);
        self
    }

    /// AdamW: p = p - lr * wd * p, apart from the gradient.
    pub fn decoupled_weight_decay(mut self, weight_decay: f64) -> Self {
        (self.weight_decay, self.decoupled) = (weight_decay, true);
        self
    }
}

impl<T: Float> Optimizer<T> for Adam<T> {
    fn begin_step(&mut self) {
        self.steps = self.steps.saturating_add(1);
    }

    fn update_scaled(&mut self, slot: usize, param: &mut Array<T>, grad: &Array<T>, scale: T) {
        let t = self.steps.clamp(1, i32::MAX as u64) as i32;
        let (b1, b2) = (self.beta1, self.beta2);
        // Bias corrections: the moments start at 0, so early estimates are scaled up.
        let (c1, c2) = (1.0 - b1.powi(t), 1.0 - b2.powi(t));
        let step = T::from_f64(self.lr / c1);
        let (b1, b2, wd) = (
            T::from_f64(b1),
            T::from_f64(b2),
            T::from_f64(self.weight_decay),
        );
        let (root_c2, eps, lr) = (
            T::from_f64(c2.sqrt()),
            T::from_f64(self.eps),
            T::from_f64(self.lr),
        );
        let decoupled = self.decoupled;
        let m = slot_state(&mut self.m, slot, grad.shape());
        let v = slot_state(&mut self.v, slot, grad.shape());
        let each = param
            .data_mut()
            .iter_mut()
            .zip(grad.data())
            .zip(m.data_mut())
            .zip(v.data_mut());
        // Compiled for the widest vectors the CPU has (a square root and two divisions a
        // value); each value's arithmetic is the same on every set, so are the bits.
        Isa::detect().run(
            #[inline(always)]
            || {
                for (((p, &g), m), v) in each {
                    // the gradient, clipped: g = scale g
                    let g = g * scale;
                    let g = if decoupled {
                        // AdamW: p = p (1 - lr wd)
                        *p -= lr * wd * *p;
                        g
                    } else {
                        // Adam: g = g + wd p
                        g + wd * *p
                    };
                    // m = b1 m + (1 - b1) g
                    *m = b1 * *m + (T::ONE - b1) * g;
                    // v = b2 v + (1 - b2) g^2
                    *v = b2 * *v + (T::ONE - b2) * g * g;
                    // p = p - lr * m_hat / (sqrt(v_hat) + eps), m_hat = m / c1, v_hat = v / c2
                    *p -= step * *m / ((*v).sqrt() / root_c2 + eps);
                }
            },
        );
    }

    fn state(&self) -> OptimizerState<T> {
        let mut buffers = export_buffers("m", &self.m);
        buffers.extend(export_buffers("v", &self.v));
        OptimizerState {
            steps: self.steps,
            buffers,
        }
    }

    fn load_state(
        &mut self,
        state: OptimizerState<T>,
        shapes: &[Vec<usize>],
    ) -> Result<(), String> {
        let [m, v] = import_buffers(&state.buffers, &["m", "v"], shapes)?
            .try_into()
            .expect("one list per kind");
        let (has_m, has_v) = (m.iter().any(Option::is_some), v.iter().any(Option::is_some));
        if has_m != has_v || has_m != (state.steps > 0) {
            return Err("has Adam state whose moments and step count do not fit together".into());
        }
        // v is a running mean of squares: below zero it can only come from a damaged file,
        // and its square root would make every update NaN.
        let negative = v.iter().enumerate().find_map(|(slot, v)| {
            let v = v.as_ref()?;
            v.data().iter().any(|x| *x < T::ZERO).then_some(slot)
        });
        if let Some(slot) = negative {
            return Err(format!(
                "has Adam second moments below zero (`v.{slot}`), which no run can make"
            ));
        }
        (self.steps, self.m, self.v) = (state.steps, m, v);
        Ok(())
    }

    fn lr(&self) -> f64 {
        self.lr
    }

    fn set_lr(&mut self, lr: f64) {
        self.lr = lr;
    }
}
