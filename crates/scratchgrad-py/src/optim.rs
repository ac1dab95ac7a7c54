//! The update rules behind `scratchgrad.optim` (SGD, Adam, AdamW): the library's optimizers
//! (`scratchgrad::optim`, one update rule each, the same the command line trains with) over a
//! list of tensors. The Python classes in `optim.py` give them PyTorch's names and arguments.

use std::sync::Mutex;

use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use scratchgrad::array::Float;
use scratchgrad::autograd::Tensor;
use scratchgrad::optim::{Adam, Optimizer, Sgd};

use crate::tensor::{AnyTensor, PyTensor};

/// The parameters of one dtype, and the rule that updates them.
struct Rule<T: Float> {
    params: Vec<Tensor<T>>,
    rule: Box<dyn Optimizer<T> + Send>,
}

/// Either dtype's parameters and rule.
enum AnyRule {
    F32(Rule<f32>),
    F64(Rule<f64>),
}

/// An update rule over fixed parameters (the Rust half of `scratchgrad.optim`'s classes).
#[pyclass(name = "_UpdateRule", module = "scratchgrad", frozen)]
pub struct UpdateRule(Mutex<AnyRule>);

/// The settings of a rule, as the Python classes pass them.
#[derive(Clone, Copy)]
struct Settings {
    adam: bool,
    lr: f64,
    momentum: f64,
    nesterov: bool,
    weight_decay: f64,
    decoupled: bool,
    betas: (f64, f64),
    eps: f64,
}

fn build<T: Float>(s: Settings) -> Box<dyn Optimizer<T> + Send> {
    if s.adam {
        let adam = Adam::new(s.lr).betas(s.betas.0, s.betas.1).eps(s.eps);
        Box::new(if s.decoupled {
            adam.decoupled_weight_decay(s.weight_decay)
        } else {
            adam.weight_decay(s.weight_decay)
        })
    } else {
        let mut sgd = Sgd::new(s.lr)
            .momentum(s.momentum)
            .weight_decay(s.weight_decay);
        if s.nesterov {
            sgd = sgd.nesterov();
        }
        Box::new(sgd)
    }
}

#[pymethods]
impl UpdateRule {
    /// `kind` is "sgd" or "adam"; `params` tensors of one dtype that require grad.
    #[new]
    #[pyo3(signature = (kind, params, lr, momentum, nesterov, weight_decay, decoupled, betas, eps = 1e-8))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        kind: &str,
        params: Vec<PyRef<'_, PyTensor>>,
        lr: f64,
        momentum: f64,
        nesterov: bool,
        weight_decay: f64,
        decoupled: bool,
        betas: (f64, f64),
        eps: f64,
    ) -> PyResult<Self> {
        let settings = Settings {
            adam: match kind {
                "sgd" => false,
                "adam" => true,
                other => return Err(PyValueError::new_err(format!("unknown rule {other:?}"))),
            },
            lr,
            momentum,
            nesterov,
            weight_decay,
            decoupled,
            betas,
            eps,
        };
        check(settings)?;
        if params.is_empty() {
            return Err(PyValueError::new_err(
                "the optimizer got an empty parameter list",
            ));
        }
        let mut f32s = Vec::new();
        let mut f64s = Vec::new();
        for p in &params {
            match &p.0 {
                AnyTensor::F32(t) if t.requires_grad() && t.is_leaf() => f32s.push(t.clone()),
                AnyTensor::F64(t) if t.requires_grad() && t.is_leaf() => f64s.push(t.clone()),
                _ => {
                    return Err(PyValueError::new_err(
                        "an optimizer updates leaf tensors made with requires_grad=True",
                    ))
                }
            }
        }
        let rule = match (f32s.is_empty(), f64s.is_empty()) {
            (false, true) => AnyRule::F32(Rule {
                params: f32s,
                rule: build(settings),
            }),
            (true, false) => AnyRule::F64(Rule {
                params: f64s,
                rule: build(settings),
            }),
            _ => {
                return Err(PyTypeError::new_err(
                    "the parameters must all be float32 or all float64",
                ))
            }
        };
        Ok(UpdateRule(Mutex::new(rule)))
    }

    /// One update of every parameter that has a gradient.
    /// (With the GIL held: parameters may read numpy memory lent to them, see `tensor.rs`.)
    fn step(&self) {
        let mut rule = self.0.lock().unwrap_or_else(|e| e.into_inner());
        match &mut *rule {
            AnyRule::F32(r) => r.rule.step(&r.params),
            AnyRule::F64(r) => r.rule.step(&r.params),
        }
    }

    /// Forgets every parameter's gradient.
    fn zero_grad(&self) {
        let rule = self.0.lock().unwrap_or_else(|e| e.into_inner());
        match &*rule {
            AnyRule::F32(r) => scratchgrad::optim::zero_grad(&r.params),
            AnyRule::F64(r) => scratchgrad::optim::zero_grad(&r.params),
        }
    }

    /// The learning rate (settable, for schedules).
    #[getter]
    fn lr(&self) -> f64 {
        let rule = self.0.lock().unwrap_or_else(|e| e.into_inner());
        match &*rule {
            AnyRule::F32(r) => r.rule.lr(),
            AnyRule::F64(r) => r.rule.lr(),
        }
    }

    #[setter]
    fn set_lr(&self, lr: f64) -> PyResult<()> {
        if !(lr.is_finite() && lr >= 0.0) {
            return Err(PyValueError::new_err(format!(
                "lr must be 0 or more, not {lr}"
            )));
        }
        let mut rule = self.0.lock().unwrap_or_else(|e| e.into_inner());
        match &mut *rule {
            AnyRule::F32(r) => r.rule.set_lr(lr),
            AnyRule::F64(r) => r.rule.set_lr(lr),
        }
        Ok(())
    }
}

/// Refuses settings PyTorch refuses, naming the setting.
fn check(s: Settings) -> PyResult<()> {
    let bad = |what: &str, v: f64| PyValueError::new_err(format!("invalid {what}: {v}"));
    if !(s.lr.is_finite() && s.lr >= 0.0) {
        return Err(bad("learning rate", s.lr));
    }
    if !(s.momentum.is_finite() && s.momentum >= 0.0) {
        return Err(bad("momentum", s.momentum));
    }
    if !(s.weight_decay.is_finite() && s.weight_decay >= 0.0) {
        return Err(bad("weight_decay", s.weight_decay));
    }
    for beta in [s.betas.0, s.betas.1] {
        if !(0.0..1.0).contains(&beta) {
            return Err(bad("beta", beta));
        }
    }
    if !(s.eps.is_finite() && s.eps >= 0.0) {
        return Err(bad("eps", s.eps));
    }
    if s.nesterov && s.momentum == 0.0 {
        return Err(PyValueError::new_err(
            "nesterov momentum needs a momentum above 0",
        ));
    }
    Ok(())
}
