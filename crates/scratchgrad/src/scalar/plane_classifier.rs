//! A classifier of points in the plane trained on the scalar engine's tape: the playground's
//! network (2 inputs, hidden layers of any width, one score whose sign is the class).
//! Gradients come from `Tape` alone; the plain `f64` forward pass here is only for drawing.
//! Never here: sessions, pictures, HTTP.

use super::toy::LabelledPoint;
use super::{Tape, Var};
use crate::array::Rng;
use crate::text::named_choices;

/// The hidden layers' nonlinearity.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PlaneActivation {
    /// max(0, x)
    Relu,
    /// tanh(x)
    Tanh,
    /// 1 / (1 + e^-x)
    Sigmoid,
}

/// What training minimises, for a score `s` and a label `y` of +1 or -1.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PlaneLoss {
    /// micrograd's demo: max(0, 1 - y s).
    MaxMargin,
    /// Logistic (binary cross-entropy on sigmoid(s)): log(1 + e^(-y s)).
    CrossEntropy,
}

/// A fully connected network from the plane to one score.
///
/// ```
/// use scratchgrad::array::Rng;
/// use scratchgrad::scalar::{PlaneActivation, PlaneClassifier, PlaneLoss, Tape, ToyData};
/// let mut rng = Rng::seed(0);
/// let points = ToyData::Moons.generate(100, 0.1, &mut rng);
/// let mut net = PlaneClassifier::new(&[16, 16], PlaneActivation::Relu, &mut rng);
/// let mut tape = Tape::new();
/// for _ in 0..300 {
///     let (_, gradient) = net.gradient(&points, PlaneLoss::MaxMargin, 1e-4, &mut tape);
///     net.sgd_step(&gradient, 0.1);
/// }
/// assert!(net.evaluate(&points, PlaneLoss::MaxMargin).1 > 0.95);
/// ```
#[derive(Clone, Debug)]
pub struct PlaneClassifier {
    /// Layer widths: 2, the hidden widths, 1.
    sizes: Vec<usize>,
    activation: PlaneActivation,
    /// Per layer, its weights `[out][in]` row by row, then its biases.
    parameters: Vec<f64>,
}

impl PlaneClassifier {
    /// A network with the given hidden widths; weights uniform in +-sqrt(6 / (fan_in +
    /// fan_out)) (Glorot), biases 0.
    pub fn new(hidden: &[usize], activation: PlaneActivation, rng: &mut Rng) -> Self {
        let mut sizes = vec![2];
        sizes.extend_from_slice(hidden);
        sizes.push(1);
        let mut parameters = Vec::new();
        for pair in sizes.windows(2) {
            let (fan_in, fan_out) = (pair[0], pair[1]);
            let limit = (6.0 / (fan_in + fan_out) as f64).sqrt();
            parameters.extend((0..fan_in * fan_out).map(|_| limit * (2.0 * rng.uniform() - 1.0)));
            parameters.extend(std::iter::repeat_n(0.0, fan_out));
        }
        PlaneClassifier {
            sizes,
            activation,
            parameters,
        }
    }

    /// The layer widths, input and output included.
    pub fn sizes(&self) -> &[usize] {
        &self.sizes
    }

    /// Every weight and bias, layer by layer (each layer's weights row by row, then biases).
    pub fn parameters(&self) -> &[f64] {
        &self.parameters
    }

    /// The score of `x` and every hidden neuron's output on the way (layer by layer), in
    /// plain `f64`: for drawing the decision boundary and each neuron's map.
    pub fn forward(&self, x: [f64; 2]) -> (f64, Vec<f64>) {
        let mut h = x.to_vec();
        let mut hidden = Vec::new();
        let mut at = 0;
        let last = self.sizes.len() - 2;
        for (l, pair) in self.sizes.windows(2).enumerate() {
            let (fan_in, fan_out) = (pair[0], pair[1]);
            let (weights, biases) =
                self.parameters[at..at + fan_in * fan_out + fan_out].split_at(fan_in * fan_out);
            at += fan_in * fan_out + fan_out;
            h = (0..fan_out)
                .map(|o| {
                    let row = &weights[o * fan_in..(o + 1) * fan_in];
                    let z = biases[o] + row.iter().zip(&h).map(|(w, x)| w * x).sum::<f64>();
                    if l == last {
                        z
                    } else {
                        self.activation.apply(z)
                    }
                })
                .collect();
            if l != last {
                hidden.extend_from_slice(&h);
            }
        }
        (h[0], hidden)
    }

    /// The mean loss over `points` (without the L2 term) and the fraction whose score has
    /// the sign of their label.
    pub fn evaluate(&self, points: &[LabelledPoint], loss: PlaneLoss) -> (f64, f64) {
        let (mut total, mut right) = (0.0, 0);
        for (x, y) in points {
            let s = self.forward(*x).0;
            total += loss.value(y * s);
            right += usize::from((s > 0.0) == (*y > 0.0));
        }
        let n = points.len().max(1) as f64;
        (total / n, right as f64 / n)
    }

    /// The mean loss over `batch` plus `l2 * sum(w^2)`, and its gradient for every
    /// parameter, by the tape: each point is recorded and backpropagated on its own (so the
    /// tape never holds more than one point's graph) and the gradients are averaged.
    pub fn gradient(
        &self,
        batch: &[LabelledPoint],
        loss: PlaneLoss,
        l2: f64,
        tape: &mut Tape,
    ) -> (f64, Vec<f64>) {
        let mut gradient = vec![0.0; self.parameters.len()];
        let n = batch.len().max(1) as f64;
        let mut total = 0.0;
        for (x, y) in batch {
            tape.clear();
            let vars: Vec<Var> = self.parameters.iter().map(|&p| tape.var(p)).collect();
            let s = self.forward_on_tape(&vars, [tape.var(x[0]), tape.var(x[1])]);
            let point_loss = loss.on_tape(s * *y);
            let grads = point_loss.backward();
            total += point_loss.data();
            for (g, &v) in gradient.iter_mut().zip(&vars) {
                *g += grads[v] / n;
            }
        }
        tape.clear();
        let vars: Vec<Var> = self.parameters.iter().map(|&p| tape.var(p)).collect();
        let penalty = vars.iter().fold(tape.var(0.0), |acc, &p| acc + p * p) * l2;
        let grads = penalty.backward();
        for (g, &v) in gradient.iter_mut().zip(&vars) {
            *g += grads[v];
        }
        (total / n + penalty.data(), gradient)
    }

    /// One step of gradient descent: every parameter moves by `-lr` times its gradient.
    pub fn sgd_step(&mut self, gradient: &[f64], lr: f64) {
        for (p, g) in self.parameters.iter_mut().zip(gradient) {
            *p -= lr * g;
        }
    }

    /// The score on the tape, with the parameters given as vars in `parameters()` order.
    fn forward_on_tape<'t>(&self, parameters: &[Var<'t>], x: [Var<'t>; 2]) -> Var<'t> {
        let mut h = x.to_vec();
        let mut at = 0;
        let last = self.sizes.len() - 2;
        for (l, pair) in self.sizes.windows(2).enumerate() {
            let (fan_in, fan_out) = (pair[0], pair[1]);
            let weights = &parameters[at..at + fan_in * fan_out];
            let biases = &parameters[at + fan_in * fan_out..at + fan_in * fan_out + fan_out];
            at += fan_in * fan_out + fan_out;
            h = (0..fan_out)
                .map(|o| {
                    let row = &weights[o * fan_in..(o + 1) * fan_in];
                    let z = row
                        .iter()
                        .zip(&h)
                        .fold(biases[o], |acc, (&w, &x)| acc + w * x);
                    if l == last {
                        z
                    } else {
                        self.activation.on_tape(z)
                    }
                })
                .collect();
        }
        h[0]
    }
}

impl PlaneActivation {
    fn apply(self, z: f64) -> f64 {
        match self {
            PlaneActivation::Relu => z.max(0.0),
            PlaneActivation::Tanh => z.tanh(),
            PlaneActivation::Sigmoid => 1.0 / (1.0 + (-z).exp()),
        }
    }

    fn on_tape(self, z: Var<'_>) -> Var<'_> {
        match self {
            PlaneActivation::Relu => z.relu(),
            PlaneActivation::Tanh => z.tanh(),
            PlaneActivation::Sigmoid => z.sigmoid(),
        }
    }
}

impl PlaneLoss {
    /// The loss for a margin `m = y s`.
    fn value(self, m: f64) -> f64 {
        match self {
            PlaneLoss::MaxMargin => (1.0 - m).max(0.0),
            PlaneLoss::CrossEntropy => (-m).max(0.0) + (-m.abs()).exp().ln_1p(),
        }
    }

    /// The same on the tape.
    fn on_tape(self, m: Var<'_>) -> Var<'_> {
        match self {
            PlaneLoss::MaxMargin => (1.0 - m).relu(),
            // log(1 + e^-m) written so that e^x never overflows: max(0, -m) + log(1 + e^-|m|).
            PlaneLoss::CrossEntropy => (-m).relu() + (1.0 + (-m.abs()).exp()).log(),
        }
    }
}

named_choices!(PlaneActivation, "activation", [Relu => "relu", Tanh => "tanh", Sigmoid => "sigmoid"]);
named_choices!(PlaneLoss, "loss", [MaxMargin => "max-margin", CrossEntropy => "cross-entropy"]);

#[cfg(test)]
mod tests {
    use super::*;

    /// The tape's gradient against central finite differences of the plain forward pass.
    #[test]
    fn tape_gradient_matches_finite_differences() {
        let mut rng = Rng::seed(3);
        let points = crate::scalar::ToyData::Spiral.generate(12, 0.1, &mut rng);
        for (activation, loss) in [
            (PlaneActivation::Tanh, PlaneLoss::CrossEntropy),
            (PlaneActivation::Sigmoid, PlaneLoss::MaxMargin),
            (PlaneActivation::Relu, PlaneLoss::CrossEntropy),
        ] {
            let net = PlaneClassifier::new(&[5, 3], activation, &mut rng);
            let l2 = 0.01;
            let (value, gradient) = net.gradient(&points, loss, l2, &mut Tape::new());
            let objective = |n: &PlaneClassifier| {
                let squares: f64 = n.parameters.iter().map(|p| p * p).sum();
                n.evaluate(&points, loss).0 + l2 * squares
            };
            assert!((value - objective(&net)).abs() < 1e-12);
            for (i, tape) in gradient.iter().enumerate() {
                let h = 1e-6;
                let (mut up, mut down) = (net.clone(), net.clone());
                up.parameters[i] += h;
                down.parameters[i] -= h;
                let numeric = (objective(&up) - objective(&down)) / (2.0 * h);
                assert!(
                    (numeric - tape).abs() < 1e-6,
                    "{activation} {loss} parameter {i}: tape {tape} vs finite differences {numeric}"
                );
            }
        }
    }

    #[test]
    fn names_round_trip_and_unknown_names_are_listed() {
        assert_eq!("tanh".parse::<PlaneActivation>(), Ok(PlaneActivation::Tanh));
        assert_eq!(PlaneLoss::CrossEntropy.to_string(), "cross-entropy");
        let e = "softplus".parse::<PlaneActivation>().unwrap_err();
        assert_eq!(
            e,
            "unknown activation `softplus` (known: relu, tanh, sigmoid)"
        );
    }
}
