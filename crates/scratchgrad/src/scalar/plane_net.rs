//! A network from points in the plane to one score, trained on the scalar engine's tape: the
//! playground's network. Its inputs are features of the point (x, y, x², ..., as TensorFlow
//! Playground offers them); its score's sign is the class, or the score is the value, for a
//! regression data set. Gradients come from `Tape` alone; the plain `f64` forward pass here
//! is only for drawing and scoring. Never here: sessions, pictures, HTTP.

use std::fmt::Write as _;

use super::toy::LabelledPoint;
use super::{Tape, Var};
use crate::array::Rng;
use crate::text::named_choices;

/// What the network sees of a point `(x, y)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PlaneFeature {
    X,
    Y,
    XSquared,
    YSquared,
    XTimesY,
    SinX,
    SinY,
}

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

/// What training minimises for a score `s` and a point's label or target `y`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PlaneLoss {
    /// micrograd's demo (the hinge loss), for labels +1 and -1: max(0, 1 - y s).
    MaxMargin,
    /// Logistic (binary cross-entropy on sigmoid(s)), for labels +1 and -1: log(1 + e^(-y s)).
    CrossEntropy,
    /// For a regression data set: (s - y)².
    Squared,
}

/// The penalty on the weights' size added to the loss.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Regularization {
    None,
    /// rate × Σ|w|: pushes weights to exactly 0.
    L1,
    /// rate × Σw²: keeps weights small.
    L2,
}

/// A fully connected network from features of the plane to one score.
///
/// ```
/// use scratchgrad::array::Rng;
/// use scratchgrad::scalar::{PlaneActivation, PlaneFeature, PlaneLoss, PlaneNet, Regularization, Tape, ToyData};
/// let mut rng = Rng::seed(0);
/// let points = ToyData::Moons.generate(100, 0.1, &mut rng);
/// let features = [PlaneFeature::X, PlaneFeature::Y];
/// let mut net = PlaneNet::new(&features, &[16, 16], PlaneActivation::Relu, &mut rng);
/// let mut tape = Tape::new();
/// for _ in 0..300 {
///     let penalty = (Regularization::L2, 1e-4);
///     let (_, gradient) = net.gradient(&points, PlaneLoss::MaxMargin, penalty, &mut tape);
///     net.sgd_step(&gradient, 0.1);
/// }
/// assert!(net.evaluate(&points, PlaneLoss::MaxMargin).1.unwrap() > 0.95);
/// ```
#[derive(Clone, Debug)]
pub struct PlaneNet {
    features: Vec<PlaneFeature>,
    /// Layer widths: the features, the hidden widths, 1.
    sizes: Vec<usize>,
    activation: PlaneActivation,
    /// Per layer, its weights `[out][in]` row by row, then its biases.
    parameters: Vec<f64>,
}

impl PlaneNet {
    /// A network on `features` with the given hidden widths; weights uniform in
    /// +-sqrt(6 / (fan_in + fan_out)) (Glorot), biases 0.
    pub fn new(
        features: &[PlaneFeature],
        hidden: &[usize],
        activation: PlaneActivation,
        rng: &mut Rng,
    ) -> Self {
        let mut sizes = vec![features.len()];
        sizes.extend_from_slice(hidden);
        sizes.push(1);
        let mut parameters = Vec::new();
        for pair in sizes.windows(2) {
            let (fan_in, fan_out) = (pair[0], pair[1]);
            let limit = (6.0 / (fan_in + fan_out) as f64).sqrt();
            parameters.extend((0..fan_in * fan_out).map(|_| limit * (2.0 * rng.uniform() - 1.0)));
            parameters.extend(std::iter::repeat_n(0.0, fan_out));
        }
        PlaneNet {
            features: features.to_vec(),
            sizes,
            activation,
            parameters,
        }
    }

    /// The layer widths, the features and the output included.
    pub fn sizes(&self) -> &[usize] {
        &self.sizes
    }

    /// Every weight and bias, layer by layer (each layer's weights row by row, then biases).
    pub fn parameters(&self) -> &[f64] {
        &self.parameters
    }

    /// Where layer `layer`'s (counting from 1, the first hidden layer) weights start in
    /// [`PlaneNet::parameters`]; its biases follow them.
    pub fn layer_start(&self, layer: usize) -> usize {
        self.sizes
            .windows(2)
            .take(layer - 1)
            .map(|p| p[0] * p[1] + p[1])
            .sum()
    }

    /// The score of `x` and every hidden neuron's output on the way (layer by layer), in
    /// plain `f64`: for drawing the decision boundary and each neuron's map.
    pub fn forward(&self, x: [f64; 2]) -> (f64, Vec<f64>) {
        let mut h: Vec<f64> = self.features.iter().map(|f| f.value(x)).collect();
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

    /// The mean loss over `points` (without the penalty) and, for a classification loss, the
    /// fraction whose score has the sign of their label.
    pub fn evaluate(&self, points: &[LabelledPoint], loss: PlaneLoss) -> (f64, Option<f64>) {
        let (mut total, mut right) = (0.0, 0);
        for (x, y) in points {
            let s = self.forward(*x).0;
            total += loss.value(s, *y);
            right += usize::from((s > 0.0) == (*y > 0.0));
        }
        let n = points.len().max(1) as f64;
        let accuracy = (loss != PlaneLoss::Squared).then_some(right as f64 / n);
        (total / n, accuracy)
    }

    /// The penalty `rate × Σ|w|` or `rate × Σw²` over the weights (biases are not
    /// penalised, as in TensorFlow Playground).
    pub fn penalty(&self, (kind, rate): (Regularization, f64)) -> f64 {
        let weights = self.weight_flags();
        let sum: f64 = self
            .parameters
            .iter()
            .zip(&weights)
            .filter(|(_, &is_weight)| is_weight)
            .map(|(w, _)| match kind {
                Regularization::None => 0.0,
                Regularization::L1 => w.abs(),
                Regularization::L2 => w * w,
            })
            .sum();
        rate * sum
    }

    /// For each parameter, whether it is a weight (not a bias).
    fn weight_flags(&self) -> Vec<bool> {
        self.sizes
            .windows(2)
            .flat_map(|p| {
                std::iter::repeat_n(true, p[0] * p[1]).chain(std::iter::repeat_n(false, p[1]))
            })
            .collect()
    }

    /// The mean loss over `batch` plus the penalty, and its gradient for every parameter, by
    /// the tape: each point is recorded and backpropagated on its own (so the tape never
    /// holds more than one point's graph) and the gradients are averaged.
    pub fn gradient(
        &self,
        batch: &[LabelledPoint],
        loss: PlaneLoss,
        penalty: (Regularization, f64),
        tape: &mut Tape,
    ) -> (f64, Vec<f64>) {
        let mut gradient = vec![0.0; self.parameters.len()];
        let n = batch.len().max(1) as f64;
        let mut total = 0.0;
        for (x, y) in batch {
            tape.clear();
            let vars: Vec<Var> = self.parameters.iter().map(|&p| tape.var(p)).collect();
            let inputs: Vec<Var> = self
                .features
                .iter()
                .map(|f| tape.var(f.value(*x)))
                .collect();
            let s = self.forward_on_tape(&vars, inputs);
            let point_loss = loss.on_tape(s, *y);
            let grads = point_loss.backward();
            total += point_loss.data();
            for (g, &v) in gradient.iter_mut().zip(&vars) {
                *g += grads[v] / n;
            }
        }
        tape.clear();
        let vars: Vec<Var> = self.parameters.iter().map(|&p| tape.var(p)).collect();
        let (kind, rate) = penalty;
        let terms = vars
            .iter()
            .zip(self.weight_flags())
            .filter(|(_, is_weight)| *is_weight);
        let penalty = terms.fold(tape.var(0.0), |acc, (&w, _)| match kind {
            Regularization::None => acc,
            Regularization::L1 => acc + w.abs(),
            Regularization::L2 => acc + w * w,
        }) * rate;
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

    /// The loss of one point as an expression that `scalar::evaluate` (and the graph page)
    /// reads, with the point as `x` and `y` and each parameter named (`w1_2_1` is layer 1's
    /// weight from input 1 to neuron 2, `b1_2` its bias), and the values of those names.
    ///
    /// ```
    /// use scratchgrad::array::Rng;
    /// use scratchgrad::scalar::{evaluate::evaluate, PlaneActivation, PlaneFeature, PlaneLoss, PlaneNet};
    /// let features = [PlaneFeature::X, PlaneFeature::XTimesY];
    /// let net = PlaneNet::new(&features, &[2], PlaneActivation::Tanh, &mut Rng::seed(1));
    /// let (expr, values) = net.loss_expression(([0.5, -1.0], 1.0), PlaneLoss::MaxMargin);
    /// assert!(expr.starts_with("relu(1 - 1*(") && expr.contains("x*y"));
    /// let graph = evaluate(&expr, &values).unwrap();
    /// let (s, _) = net.forward([0.5, -1.0]);
    /// assert!((graph.output.data() - (1.0 - s).max(0.0)).abs() < 1e-12);
    /// ```
    pub fn loss_expression(
        &self,
        (point, target): LabelledPoint,
        loss: PlaneLoss,
    ) -> (String, Vec<(String, f64)>) {
        let mut values = Vec::new();
        for (name, value, uses) in [("x", point[0], "x"), ("y", point[1], "y")] {
            if self.features.iter().any(|f| f.expression().contains(uses)) {
                values.push((name.to_string(), value));
            }
        }
        let mut h: Vec<String> = self
            .features
            .iter()
            .map(|f| f.expression().to_string())
            .collect();
        let mut at = 0;
        let last = self.sizes.len() - 2;
        for (l, pair) in self.sizes.windows(2).enumerate() {
            let (fan_in, fan_out) = (pair[0], pair[1]);
            h = (0..fan_out)
                .map(|o| {
                    let mut sum = String::new();
                    for (i, input) in h.iter().enumerate() {
                        let name = format!("w{}_{}_{}", l + 1, o + 1, i + 1);
                        let _ = write!(sum, "{name}*{} + ", bracketed(input));
                        values.push((name, self.parameters[at + o * fan_in + i]));
                    }
                    let bias = format!("b{}_{}", l + 1, o + 1);
                    sum.push_str(&bias);
                    values.push((bias, self.parameters[at + fan_in * fan_out + o]));
                    if l == last {
                        sum
                    } else {
                        format!("{}({sum})", self.activation)
                    }
                })
                .collect();
            at += fan_in * fan_out + fan_out;
        }
        let (s, t) = (&h[0], bracketed(&target.to_string()));
        let expr = match loss {
            PlaneLoss::MaxMargin => format!("relu(1 - {t}*({s}))"),
            PlaneLoss::CrossEntropy => format!("log(1 + exp(-{t}*({s})))"),
            PlaneLoss::Squared => format!("({s} - {t})**2"),
        };
        (expr, values)
    }

    /// The score on the tape, with the parameters given as vars in `parameters()` order.
    fn forward_on_tape<'t>(&self, parameters: &[Var<'t>], inputs: Vec<Var<'t>>) -> Var<'t> {
        let mut h = inputs;
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

/// `text` in parentheses unless it is a name, a call or a non-negative number.
fn bracketed(text: &str) -> String {
    let simple = text
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
        || (text.ends_with(')') && text.starts_with(|c: char| c.is_ascii_alphabetic()) && {
            // A single call such as sin(x), not tanh(a) + tanh(b).
            let mut depth = 0;
            text.char_indices().all(|(i, c)| {
                match c {
                    '(' => depth += 1,
                    ')' => depth -= 1,
                    _ => {}
                }
                depth > 0 || i + 1 == text.len() || !text[..=i].contains('(')
            })
        });
    if simple {
        text.to_string()
    } else {
        format!("({text})")
    }
}

impl PlaneFeature {
    /// Every feature, in the order the playground offers them.
    pub const ALL: [PlaneFeature; 7] = [
        PlaneFeature::X,
        PlaneFeature::Y,
        PlaneFeature::XSquared,
        PlaneFeature::YSquared,
        PlaneFeature::XTimesY,
        PlaneFeature::SinX,
        PlaneFeature::SinY,
    ];

    /// Its value at the point `p`.
    pub fn value(self, p: [f64; 2]) -> f64 {
        let [x, y] = p;
        match self {
            PlaneFeature::X => x,
            PlaneFeature::Y => y,
            PlaneFeature::XSquared => x * x,
            PlaneFeature::YSquared => y * y,
            PlaneFeature::XTimesY => x * y,
            PlaneFeature::SinX => x.sin(),
            PlaneFeature::SinY => y.sin(),
        }
    }

    /// Itself as an expression of `x` and `y`.
    fn expression(self) -> &'static str {
        match self {
            PlaneFeature::X => "x",
            PlaneFeature::Y => "y",
            PlaneFeature::XSquared => "x*x",
            PlaneFeature::YSquared => "y*y",
            PlaneFeature::XTimesY => "x*y",
            PlaneFeature::SinX => "sin(x)",
            PlaneFeature::SinY => "sin(y)",
        }
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
    /// The loss for a score `s` and a label or target `y`.
    fn value(self, s: f64, y: f64) -> f64 {
        let m = y * s;
        match self {
            PlaneLoss::MaxMargin => (1.0 - m).max(0.0),
            PlaneLoss::CrossEntropy => (-m).max(0.0) + (-m.abs()).exp().ln_1p(),
            PlaneLoss::Squared => (s - y) * (s - y),
        }
    }

    /// The same on the tape.
    fn on_tape(self, s: Var<'_>, y: f64) -> Var<'_> {
        match self {
            PlaneLoss::MaxMargin => (1.0 - s * y).relu(),
            // log(1 + e^-m) written so that e^x never overflows: max(0, -m) + log(1 + e^-|m|).
            PlaneLoss::CrossEntropy => {
                let m = s * y;
                (-m).relu() + (1.0 + (-m.abs()).exp()).log()
            }
            PlaneLoss::Squared => (s - y) * (s - y),
        }
    }
}

named_choices!(PlaneFeature, "feature", [X => "x", Y => "y", XSquared => "x^2", YSquared => "y^2", XTimesY => "xy", SinX => "sin(x)", SinY => "sin(y)"]);
named_choices!(PlaneActivation, "activation", [Relu => "relu", Tanh => "tanh", Sigmoid => "sigmoid"]);
named_choices!(PlaneLoss, "loss", [MaxMargin => "max-margin", CrossEntropy => "cross-entropy", Squared => "squared"]);
named_choices!(Regularization, "regularization", [None => "none", L1 => "l1", L2 => "l2"]);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scalar::evaluate::evaluate;

    /// The tape's gradient against central finite differences of the plain forward pass.
    #[test]
    fn tape_gradient_matches_finite_differences() {
        let mut rng = Rng::seed(3);
        let points = crate::scalar::ToyData::Spiral.generate(12, 0.1, &mut rng);
        let regression = crate::scalar::ToyData::Gaussians.generate(12, 0.1, &mut rng);
        let features = PlaneFeature::ALL;
        for (activation, loss, kind, data) in [
            (
                PlaneActivation::Tanh,
                PlaneLoss::CrossEntropy,
                Regularization::L2,
                &points,
            ),
            (
                PlaneActivation::Sigmoid,
                PlaneLoss::MaxMargin,
                Regularization::L1,
                &points,
            ),
            (
                PlaneActivation::Relu,
                PlaneLoss::CrossEntropy,
                Regularization::None,
                &points,
            ),
            (
                PlaneActivation::Tanh,
                PlaneLoss::Squared,
                Regularization::L2,
                &regression,
            ),
        ] {
            let net = PlaneNet::new(&features, &[5, 3], activation, &mut rng);
            let penalty = (kind, 0.01);
            let (value, gradient) = net.gradient(data, loss, penalty, &mut Tape::new());
            let objective = |n: &PlaneNet| n.evaluate(data, loss).0 + n.penalty(penalty);
            assert!((value - objective(&net)).abs() < 1e-12);
            for (i, tape) in gradient.iter().enumerate() {
                let h = 1e-6;
                let (mut up, mut down) = (net.clone(), net.clone());
                up.parameters[i] += h;
                down.parameters[i] -= h;
                let numeric = (objective(&up) - objective(&down)) / (2.0 * h);
                assert!(
                    (numeric - tape).abs() < 1e-6,
                    "{activation} {loss} {kind} parameter {i}: tape {tape} vs finite differences {numeric}"
                );
            }
        }
    }

    #[test]
    fn one_points_loss_as_an_expression_has_the_tapes_gradient() {
        // The graph page differentiates this expression with `Value`; its gradients must be
        // the ones training uses for that point.
        let mut rng = Rng::seed(5);
        let features = [PlaneFeature::X, PlaneFeature::Y, PlaneFeature::SinY];
        for loss in [
            PlaneLoss::MaxMargin,
            PlaneLoss::CrossEntropy,
            PlaneLoss::Squared,
        ] {
            let net = PlaneNet::new(&features, &[3, 2], PlaneActivation::Tanh, &mut rng);
            let point = (
                [0.3, -0.7],
                if loss == PlaneLoss::Squared {
                    0.4
                } else {
                    -1.0
                },
            );
            let (expr, values) = net.loss_expression(point, loss);
            let graph = evaluate(&expr, &values).unwrap();
            let none = (Regularization::None, 0.0);
            let (value, gradient) = net.gradient(&[point], loss, none, &mut Tape::new());
            assert!(
                (graph.output.data() - value).abs() < 1e-12,
                "{loss}: {expr}"
            );
            let by_name: std::collections::HashMap<&str, f64> = graph
                .gradients
                .iter()
                .map(|(name, g)| (name.as_str(), *g))
                .collect();
            let names: Vec<&String> = values.iter().map(|(n, _)| n).collect();
            // Parameters in the expression's order are layer by layer, neuron by neuron.
            for layer in 1..net.sizes().len() {
                let start = net.layer_start(layer);
                let (fan_in, fan_out) = (net.sizes()[layer - 1], net.sizes()[layer]);
                for o in 0..fan_out {
                    for i in 0..fan_in {
                        let name = format!("w{layer}_{}_{}", o + 1, i + 1);
                        assert!(names.contains(&&name));
                        let tape = gradient[start + o * fan_in + i];
                        assert!((by_name[name.as_str()] - tape).abs() < 1e-12, "{name}");
                    }
                    let bias = format!("b{layer}_{}", o + 1);
                    let tape = gradient[start + fan_in * fan_out + o];
                    assert!((by_name[bias.as_str()] - tape).abs() < 1e-12, "{bias}");
                }
            }
        }
    }

    #[test]
    fn names_round_trip_and_unknown_names_are_listed() {
        assert_eq!("tanh".parse::<PlaneActivation>(), Ok(PlaneActivation::Tanh));
        assert_eq!(PlaneLoss::CrossEntropy.to_string(), "cross-entropy");
        assert_eq!("sin(x)".parse::<PlaneFeature>(), Ok(PlaneFeature::SinX));
        assert_eq!("l1".parse::<Regularization>(), Ok(Regularization::L1));
        let e = "softplus".parse::<PlaneActivation>().unwrap_err();
        assert_eq!(
            e,
            "unknown activation `softplus` (known: relu, tanh, sigmoid)"
        );
    }
}
