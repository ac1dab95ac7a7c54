//! A network's health while it trains, as the makemore lectures teach reading it: per layer,
//! how its activations are spread (how many sigmoid or tanh units are saturated, how many
//! ReLUs are off), how its weights' gradients are spread, and how large each update is next
//! to the weights it changes. Measured on a probe batch in evaluation mode, which changes
//! nothing in the run (no weight, no running statistic, no random number).

use crate::arch::{Activation, Architecture, LayerSpec};
use crate::array::Array;

use super::Model;

/// Bins in every histogram.
pub const BINS: usize = 40;
/// The most images a probe looks at.
pub const PROBE_IMAGES: usize = 128;

/// Counts of values in `BINS` equal bins over `[low, high]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Histogram {
    pub low: f64,
    pub high: f64,
    pub counts: Vec<u64>,
}

impl Histogram {
    /// The histogram of `values` over `[low, high]` (values outside go to the end bins).
    ///
    /// ```
    /// use scratchgrad::train::Histogram;
    /// let h = Histogram::of(&[0.0, 0.1, 0.91, 1.0], 0.0, 1.0);
    /// assert_eq!((h.counts[0], h.counts[3], h.counts[36], h.counts[39]), (1, 0, 1, 1));
    /// assert_eq!(h.counts.iter().sum::<u64>(), 4);
    /// ```
    pub fn of(values: &[f32], low: f64, high: f64) -> Histogram {
        let mut counts = vec![0; BINS];
        let width = (high - low).max(f64::MIN_POSITIVE);
        for &v in values {
            let bin = ((v as f64 - low) / width * BINS as f64).floor();
            counts[(bin.max(0.0) as usize).min(BINS - 1)] += 1;
        }
        Histogram { low, high, counts }
    }
}

/// One activation layer's outputs on the probe.
#[derive(Debug, Clone)]
pub struct ActivationHealth {
    /// Its place in the network (`1` for the layer `1` in state names).
    pub layer: usize,
    pub activation: Activation,
    pub histogram: Histogram,
    /// The share of units at the flat ends of the curve, where almost no gradient passes:
    /// |tanh| > 0.97, sigmoid below 0.015 or above 0.985 (the same places), ReLU at 0.
    pub saturated: f64,
}

/// The weights of a linear or convolution layer (not a batch norm's scale, nor a bias).
fn is_matrix(tensor: &Array<f32>) -> bool {
    tensor.shape().len() >= 2
}

/// One weight tensor's gradient on the probe (linear and convolution layers).
#[derive(Debug, Clone)]
pub struct GradientHealth {
    /// Its name (`0.weight`).
    pub name: String,
    pub histogram: Histogram,
    /// The gradient's standard deviation, and the weights'.
    pub gradient_std: f64,
    pub weight_std: f64,
}

/// What a probe saw.
#[derive(Debug, Clone)]
pub struct Diagnostics {
    /// How many images the probe looked at.
    pub images: usize,
    pub activations: Vec<ActivationHealth>,
    pub gradients: Vec<GradientHealth>,
}

fn std(values: &[f32]) -> f64 {
    let n = values.len().max(1) as f64;
    let mean = values.iter().map(|&v| v as f64).sum::<f64>() / n;
    (values
        .iter()
        .map(|&v| (v as f64 - mean).powi(2))
        .sum::<f64>()
        / n)
        .sqrt()
}

/// Looks at `model` on the probe batch `x` (flat examples) with `labels`.
pub fn probe(
    model: &mut Model,
    arch: &Architecture,
    x: &Array<f32>,
    labels: &[usize],
) -> Diagnostics {
    let outputs = model.layer_outputs(x.clone());
    let activations = arch
        .layers
        .iter()
        .zip(&outputs)
        .enumerate()
        .filter_map(|(layer, (spec, output))| {
            let LayerSpec::Activation(activation) = *spec else {
                return None;
            };
            let values = output.data();
            let flat = |v: f32| match activation {
                Activation::Tanh => v.abs() > 0.97,
                Activation::Sigmoid => !(0.015..=0.985).contains(&v),
                Activation::Relu => v <= 0.0,
            };
            let (low, high) = match activation {
                Activation::Tanh => (-1.0, 1.0),
                Activation::Sigmoid => (0.0, 1.0),
                Activation::Relu => (0.0, values.iter().fold(1e-6f32, |m, &v| m.max(v)) as f64),
            };
            let saturated = values.iter().filter(|&&v| flat(v)).count();
            Some(ActivationHealth {
                layer,
                activation,
                histogram: Histogram::of(values, low, high),
                saturated: saturated as f64 / values.len().max(1) as f64,
            })
        })
        .collect();
    let weights = model.weights(arch);
    let gradients = model
        .gradients(x.clone(), labels)
        .into_iter()
        .filter(|(_, g)| is_matrix(g))
        .filter_map(|(name, gradient)| {
            let (_, weight) = weights.iter().find(|(n, _)| *n == name)?;
            let g = gradient.data();
            let largest = g.iter().fold(1e-12f32, |m, &v| m.max(v.abs())) as f64;
            Some(GradientHealth {
                histogram: Histogram::of(g, -largest, largest),
                gradient_std: std(g),
                weight_std: std(weight.data()),
                name,
            })
        })
        .collect();
    Diagnostics {
        images: labels.len(),
        activations,
        gradients,
    }
}

/// For each weight tensor, log10 of how large an update was next to the weights it changed:
/// std(after - before) / std(before). About -3 is healthy (Karpathy's rule of thumb); far
/// below, the layer learns slowly; far above, it jumps about.
///
/// ```
/// use scratchgrad::array::Array;
/// use scratchgrad::train::update_ratios;
/// let before = vec![("0.weight".to_string(), Array::from_vec(vec![1.0, -1.0, 1.0, -1.0], &[2, 2]))];
/// let after = vec![("0.weight".to_string(), Array::from_vec(vec![1.001, -1.001, 1.001, -1.001], &[2, 2]))];
/// let ratios = update_ratios(&before, &after);
/// assert_eq!(ratios[0].0, "0.weight");
/// assert!((ratios[0].1 - (-3.0)).abs() < 1e-3);
/// ```
pub fn update_ratios(
    before: &[(String, Array<f32>)],
    after: &[(String, Array<f32>)],
) -> Vec<(String, f64)> {
    before
        .iter()
        .zip(after)
        .filter(|((_, b), _)| is_matrix(b))
        .map(|((name, b), (_, a))| {
            let change: Vec<f32> = a.data().iter().zip(b.data()).map(|(a, b)| a - b).collect();
            let ratio = std(&change) / std(b.data()).max(1e-12);
            (name.clone(), ratio.max(1e-12).log10())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::train::Engine;

    #[test]
    fn a_probe_changes_nothing_and_both_engines_see_the_same() {
        // The probe runs in evaluation mode: batch norm's running statistics, the weights
        // and the next step must be exactly as without it.
        let arch = Architecture::parse(
            &[1, 6, 6],
            "conv3k3,bn,relu,flatten,linear16,sigmoid,linear4",
        )
        .unwrap();
        let x = Array::from_vec(
            (0..3 * 36).map(|i| (i % 7) as f32 / 7.0).collect(),
            &[3, 36],
        );
        let labels = [0, 3, 1];
        let mut seen = Vec::new();
        for engine in [Engine::Autograd, Engine::Manual] {
            let mut probed = Model::fresh(&arch, engine, 4);
            let mut untouched = Model::fresh(&arch, engine, 4);
            let diagnostics = probe(&mut probed, &arch, &x, &labels);
            let mut sgd = crate::optim::Sgd::new(0.1);
            let mut sgd2 = crate::optim::Sgd::new(0.1);
            let a = probed.train_step(x.clone(), &labels, &mut sgd, 1);
            let b = untouched.train_step(x.clone(), &labels, &mut sgd2, 1);
            assert_eq!(a, b);
            assert_eq!(probed.weights(&arch), untouched.weights(&arch));
            assert_eq!(diagnostics.activations.len(), 2);
            assert_eq!(diagnostics.gradients.len(), 3);
            seen.push(diagnostics);
        }
        for (a, b) in seen[0].activations.iter().zip(&seen[1].activations) {
            assert_eq!(a.histogram.counts, b.histogram.counts);
        }
        for (a, b) in seen[0].gradients.iter().zip(&seen[1].gradients) {
            assert_eq!(a.name, b.name);
            assert!((a.gradient_std - b.gradient_std).abs() <= 1e-5 * a.gradient_std.max(1e-9));
        }
    }
}
