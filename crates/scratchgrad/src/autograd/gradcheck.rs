//! Checking analytic gradients against central finite differences.

use super::{no_grad, Tensor};
use crate::array::{Array, Rng};

/// The outcome of [`gradcheck`]: for each input, the worst disagreement between the analytic
/// gradient `a` and the finite-difference estimate `n`, measured as
/// `|a - n| / max(1, |a|, |n|)` (relative for large gradients, absolute near zero). A
/// gradient that is NaN or infinite on either side makes its error NaN or infinite, so the
/// check fails ([`GradcheckReport::passes`]).
#[derive(Debug, Clone)]
pub struct GradcheckReport {
    /// One entry per input, in the order given.
    pub worst_relative_error: Vec<f64>,
}

/// The larger of two errors, NaN if either is: `f64::max` would drop a NaN, and a backward
/// rule that returns NaN must fail the check, not pass it.
fn worse(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() {
        f64::NAN
    } else {
        a.max(b)
    }
}

impl GradcheckReport {
    /// The worst error over all inputs (NaN if any gradient was not a number).
    pub fn worst(&self) -> f64 {
        self.worst_relative_error.iter().copied().fold(0.0, worse)
    }

    /// True when every error is a finite number below `tolerance`.
    pub fn passes(&self, tolerance: f64) -> bool {
        let worst = self.worst();
        worst.is_finite() && worst < tolerance
    }
}

/// Compares the gradients that `backward` computes for `f` at `inputs` with central finite
/// differences, `(L(x + h) - L(x - h)) / 2h` with `h = 1e-6`, one element at a time.
///
/// `f` may return a tensor of any shape; it is reduced to the scalar `L = sum(w * f(inputs))`
/// with fixed random weights `w`, so that every output element is checked.
///
/// ```
/// use scratchgrad::array::Array;
/// use scratchgrad::autograd::gradcheck;
/// let x = Array::from_vec(vec![0.3, -1.2, 2.0], &[3]);
/// let report = gradcheck(|t| t[0].tanh().mul(&t[0]), &[x]);
/// assert!(report.passes(1e-8), "{report:?}");
/// ```
pub fn gradcheck(
    f: impl Fn(&[Tensor<f64>]) -> Tensor<f64>,
    inputs: &[Array<f64>],
) -> GradcheckReport {
    const H: f64 = 1e-6;
    let params: Vec<Tensor<f64>> = inputs
        .iter()
        .map(|a| Tensor::parameter(a.clone()))
        .collect();
    let out = f(&params);
    let weights = Array::rand_uniform(&out.dims(), 0.5, 1.5, &mut Rng::seed(0));
    out.backward_with(weights.clone());

    let loss_at = |values: &[Array<f64>]| -> f64 {
        no_grad(|| {
            let tensors: Vec<Tensor<f64>> = values.iter().map(|a| Tensor::new(a.clone())).collect();
            f(&tensors).data().mul(&weights).sum_all()
        })
    };
    let worst_relative_error = params
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let analytic = p.grad().unwrap_or_else(|| Array::zeros(&p.dims()));
            let mut values = inputs.to_vec();
            (0..inputs[i].len())
                .map(|j| {
                    let x = inputs[i].data()[j];
                    values[i].data_mut()[j] = x + H;
                    let plus = loss_at(&values);
                    values[i].data_mut()[j] = x - H;
                    let minus = loss_at(&values);
                    values[i].data_mut()[j] = x;
                    let numeric = (plus - minus) / (2.0 * H);
                    let a = analytic.data()[j];
                    if !(a.is_finite() && numeric.is_finite()) {
                        return f64::NAN;
                    }
                    (a - numeric).abs() / 1f64.max(a.abs()).max(numeric.abs())
                })
                .fold(0.0, worse)
        })
        .collect();
    GradcheckReport {
        worst_relative_error,
    }
}
