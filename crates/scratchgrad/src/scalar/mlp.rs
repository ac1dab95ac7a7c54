//! A tiny neural network on the scalar engine (micrograd's `Neuron`, `Layer`, `MLP`), with the
//! max-margin loss it is classically trained with on the two moons (`toy::make_moons`).

use super::{Tape, Value, Var};
use crate::array::Rng;

/// One neuron: `act(w . x + b)`, with `act` = tanh or none (a linear output).
pub struct Neuron {
    /// One weight per input.
    pub weights: Vec<Value>,
    /// The bias.
    pub bias: Value,
    /// Whether the output goes through tanh.
    pub nonlinear: bool,
}

impl Neuron {
    /// Weights uniform in [-1, 1) (micrograd's initialisation), bias 0.
    pub fn new(inputs: usize, nonlinear: bool, rng: &mut Rng) -> Self {
        let weights = (0..inputs)
            .map(|_| Value::new(rng.uniform() * 2.0 - 1.0))
            .collect();
        Neuron {
            weights,
            bias: Value::new(0.0),
            nonlinear,
        }
    }

    /// The neuron's output for inputs `x`.
    pub fn forward(&self, x: &[Value]) -> Value {
        let sum = self
            .weights
            .iter()
            .zip(x)
            .fold(self.bias.clone(), |acc, (w, xi)| acc + w * xi);
        if self.nonlinear {
            sum.tanh()
        } else {
            sum
        }
    }
}

/// A layer of neurons that all see the same inputs.
pub struct Layer {
    /// The neurons, one per output.
    pub neurons: Vec<Neuron>,
}

impl Layer {
    /// `outputs` neurons of `inputs` weights each.
    pub fn new(inputs: usize, outputs: usize, nonlinear: bool, rng: &mut Rng) -> Self {
        Layer {
            neurons: (0..outputs)
                .map(|_| Neuron::new(inputs, nonlinear, rng))
                .collect(),
        }
    }

    /// One output per neuron.
    pub fn forward(&self, x: &[Value]) -> Vec<Value> {
        self.neurons.iter().map(|n| n.forward(x)).collect()
    }
}

/// A multi-layer perceptron: tanh hidden layers and a linear output layer.
///
/// ```
/// use scratchgrad::array::Rng;
/// use scratchgrad::scalar::{Mlp, Value};
/// let mlp = Mlp::new(2, &[16, 16, 1], &mut Rng::seed(0));
/// assert_eq!(mlp.parameters().len(), 2 * 16 + 16 + 16 * 16 + 16 + 16 + 1);
/// let score = &mlp.forward(&[Value::new(0.5), Value::new(-1.0)])[0];
/// score.backward();
/// ```
pub struct Mlp {
    /// The layers, input side first.
    pub layers: Vec<Layer>,
}

impl Mlp {
    /// An MLP with `inputs` inputs and the given layer widths (the last is the output).
    pub fn new(inputs: usize, widths: &[usize], rng: &mut Rng) -> Self {
        let mut sizes = vec![inputs];
        sizes.extend_from_slice(widths);
        let layers = (0..widths.len())
            .map(|i| Layer::new(sizes[i], sizes[i + 1], i + 1 < widths.len(), rng))
            .collect();
        Mlp { layers }
    }

    /// The outputs for inputs `x`.
    pub fn forward(&self, x: &[Value]) -> Vec<Value> {
        self.layers
            .iter()
            .fold(x.to_vec(), |h, layer| layer.forward(&h))
    }

    /// Every weight and bias.
    pub fn parameters(&self) -> Vec<Value> {
        let neurons = self.layers.iter().flat_map(|l| &l.neurons);
        neurons
            .flat_map(|n| n.weights.iter().chain([&n.bias]).cloned())
            .collect()
    }

    /// Sets every parameter's gradient to 0.
    pub fn zero_grad(&self) {
        self.parameters().iter().for_each(Value::zero_grad);
    }
}

/// The moons demo's loss for labels +1/-1: the mean max-margin (hinge) loss
/// max(0, 1 - label * score) plus the L2 penalty `alpha * sum(w^2)` over every parameter;
/// also returns the accuracy of the scores' signs.
pub fn hinge_loss(mlp: &Mlp, data: &[([f64; 2], f64)], alpha: f64) -> (Value, f64) {
    let mut margins = Value::new(0.0);
    let mut correct = 0;
    for (point, label) in data {
        let score = &mlp.forward(&[Value::new(point[0]), Value::new(point[1])])[0];
        margins = margins + (1.0 - score * *label).relu();
        correct += usize::from((score.data() > 0.0) == (*label > 0.0));
    }
    let l2 = mlp
        .parameters()
        .iter()
        .fold(Value::new(0.0), |acc, p| acc + p * p);
    let total = margins / data.len() as f64 + l2 * alpha;
    (total, correct as f64 / data.len() as f64)
}

/// `hinge_loss` followed by `loss.backward()`, recorded on a `Tape` rather than as a graph
/// of `Value`s: the same loss, accuracy and parameter gradients (added into each parameter's
/// `grad()`, as `backward()` does), several times faster. The tape is cleared first and left
/// holding the step's nodes.
pub fn hinge_loss_backward_on_tape(
    mlp: &Mlp,
    data: &[([f64; 2], f64)],
    alpha: f64,
    tape: &mut Tape,
) -> (f64, f64) {
    tape.clear();
    let parameters = mlp.parameters();
    let vars: Vec<Var> = parameters.iter().map(|p| tape.var(p.data())).collect();
    let mut margins = tape.var(0.0);
    let mut correct = 0;
    for (point, label) in data {
        let score = forward_on_tape(mlp, &vars, vec![tape.var(point[0]), tape.var(point[1])])[0];
        margins = margins + (1.0 - score * *label).relu();
        correct += usize::from((score.data() > 0.0) == (*label > 0.0));
    }
    let l2 = vars.iter().fold(tape.var(0.0), |acc, &p| acc + p * p);
    let total = margins / data.len() as f64 + l2 * alpha;
    let grads = total.backward();
    for (p, &v) in parameters.iter().zip(&vars) {
        p.set_grad(p.grad() + grads[v]);
    }
    (total.data(), correct as f64 / data.len() as f64)
}

/// `Mlp::forward` on a tape, with the parameters given as vars in `Mlp::parameters` order.
fn forward_on_tape<'t>(mlp: &Mlp, parameters: &[Var<'t>], x: Vec<Var<'t>>) -> Vec<Var<'t>> {
    let mut next = 0;
    let mut h = x;
    for layer in &mlp.layers {
        let mut out = Vec::with_capacity(layer.neurons.len());
        for neuron in &layer.neurons {
            let weights = &parameters[next..next + neuron.weights.len()];
            let bias = parameters[next + neuron.weights.len()];
            next += neuron.weights.len() + 1;
            let sum = weights
                .iter()
                .zip(&h)
                .fold(bias, |acc, (&w, &xi)| acc + w * xi);
            out.push(if neuron.nonlinear { sum.tanh() } else { sum });
        }
        h = out;
    }
    h
}
