//! A network's state: every tensor a model file holds for it (parameters, running
//! statistics, counts), named as PyTorch's `nn.Sequential` names them, and a fresh one drawn
//! at random.

use super::{Architecture, LayerSpec};
use crate::array::{Array, Rng};

/// What a tensor of a network's state holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StateKind {
    /// A parameter the optimizer updates (`weight`, `bias`).
    Parameter,
    /// A statistic kept while training, used in evaluation (`running_mean`, `running_var`).
    Statistic,
    /// A whole number (`num_batches_tracked`): an int64 in PyTorch, kept as `u64` here, never
    /// as a float (which stops counting exactly at 2^24).
    Count,
}

/// One tensor of a network's state.
#[derive(Debug, Clone, PartialEq)]
pub struct StateTensor {
    /// Its name in PyTorch's state_dict (`0.weight`, `3.running_var`).
    pub name: String,
    /// Its shape (`[]` for a count).
    pub shape: Vec<usize>,
    /// What it holds.
    pub kind: StateKind,
}

impl Architecture {
    /// Every tensor of the network's state, in order, named as PyTorch's `nn.Sequential`
    /// state_dict names them (`{layer index}.weight`, `{layer index}.running_mean`, ...):
    /// the learnt parameters and, for batch normalization, its running statistics and count.
    pub fn state(&self) -> Vec<StateTensor> {
        use StateKind::{Count, Parameter, Statistic};
        let mut shape = self.input.clone();
        let mut state = Vec::new();
        let mut push = |name: String, shape: Vec<usize>, kind: StateKind| {
            state.push(StateTensor { name, shape, kind })
        };
        let shapes = self.shapes().unwrap_or_default();
        for (i, layer) in self.layers.iter().enumerate() {
            match layer {
                LayerSpec::Linear { outputs } => {
                    push(
                        format!("{i}.weight"),
                        vec![*outputs, shape.iter().product()],
                        Parameter,
                    );
                    push(format!("{i}.bias"), vec![*outputs], Parameter);
                }
                LayerSpec::Conv2d { outputs, window } => {
                    let channels = shape.first().copied().unwrap_or(0);
                    push(
                        format!("{i}.weight"),
                        vec![*outputs, channels, window.kh, window.kw],
                        Parameter,
                    );
                    push(format!("{i}.bias"), vec![*outputs], Parameter);
                }
                LayerSpec::BatchNorm => {
                    let channels = shape.first().copied().unwrap_or(0);
                    push(format!("{i}.weight"), vec![channels], Parameter);
                    push(format!("{i}.bias"), vec![channels], Parameter);
                    push(format!("{i}.running_mean"), vec![channels], Statistic);
                    push(format!("{i}.running_var"), vec![channels], Statistic);
                    push(format!("{i}.num_batches_tracked"), vec![], Count);
                }
                _ => {}
            }
            if let Some(next) = shapes.get(i) {
                shape = next.clone();
            }
        }
        state
    }

    /// Every learnt parameter's name and shape, in order (what an optimizer updates).
    pub fn parameter_shapes(&self) -> Vec<(String, Vec<usize>)> {
        self.state()
            .into_iter()
            .filter(|t| t.kind == StateKind::Parameter)
            .map(|t| (t.name, t.shape))
            .collect()
    }

    /// How many numbers the parameters hold (saturating, for absurd descriptions).
    pub fn parameter_count(&self) -> usize {
        self.parameter_shapes()
            .iter()
            .fold(0usize, |total, (_, s)| {
                total.saturating_add(s.iter().fold(1usize, |n, &d| n.saturating_mul(d)))
            })
    }

    /// The names of the counts in the state (batch norm's `num_batches_tracked`), in order.
    pub fn count_names(&self) -> Vec<String> {
        self.state()
            .into_iter()
            .filter(|t| t.kind == StateKind::Count)
            .map(|t| t.name)
            .collect()
    }

    /// A fresh state's tensors (its counts start at 0), drawn in order: Xavier-normal linear
    /// weights (the texts' choice), He-normal convolution weights (std sqrt(2 / fan_in), for
    /// the ReLUs that follow them), zero biases; batch normalization starts as the identity
    /// (scale 1, shift 0, running mean 0 and variance 1).
    pub fn init(&self, rng: &mut Rng) -> Vec<(String, Array<f32>)> {
        self.state()
            .into_iter()
            .filter(|t| t.kind != StateKind::Count)
            .map(|t| {
                let value = match (t.shape.len(), t.name.rsplit('.').next()) {
                    (2, _) => crate::init::xavier_normal(t.shape[1], t.shape[0], rng),
                    (4, _) => {
                        let fan_in = t.shape[1..].iter().product::<usize>();
                        let std = (2.0 / fan_in as f64).sqrt();
                        Array::rand_normal(&t.shape, 0.0, std, rng)
                    }
                    (_, Some("running_var")) => Array::ones(&t.shape),
                    (_, Some("weight")) => Array::ones(&t.shape), // batch norm's scale
                    _ => Array::zeros(&t.shape),
                };
                (t.name, value)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presets_have_pytorchs_names_and_shapes() {
        let cnn = Architecture::cnn(10);
        let state: Vec<(String, Vec<usize>)> =
            cnn.state().into_iter().map(|t| (t.name, t.shape)).collect();
        assert_eq!(state[0], ("0.weight".to_string(), vec![16, 1, 5, 5]));
        assert_eq!(state[2], ("3.weight".to_string(), vec![32, 16, 5, 5]));
        assert_eq!(state[4], ("7.weight".to_string(), vec![10, 1568]));
        let lenet = Architecture::lenet5(10);
        assert_eq!(lenet.state()[4].shape, vec![120, 400]);
        let bn = Architecture::parse(&[1, 28, 28], "conv4k3,bn,relu,flatten,linear10").unwrap();
        let names: Vec<String> = bn.state().into_iter().map(|t| t.name).collect();
        assert_eq!(
            names,
            [
                "0.weight",
                "0.bias",
                "1.weight",
                "1.bias",
                "1.running_mean",
                "1.running_var",
                "1.num_batches_tracked",
                "4.weight",
                "4.bias"
            ]
        );
        assert_eq!(
            bn.parameter_shapes().len(),
            6,
            "running statistics are not learnt"
        );
    }
}
