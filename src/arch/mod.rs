//! What a network is, written down: the shape of one input and a list of layers. Training,
//! model files, `eval`, `predict` and `bench` all rebuild a network from this description,
//! and check it against one set of limits, so `train` can never write a model that the
//! loaders refuse.
//!
//! Never here: weights' values or any computation on them (that is `train::Model`).
//!
//! ```
//! use scratchgrad::arch::{Activation, Architecture};
//! let mlp = Architecture::mlp(784, &[256], 10, Activation::Sigmoid);
//! assert_eq!(mlp.describe(), "784-256-10 sigmoid");
//! assert_eq!(mlp.layers_text(), "linear256,sigmoid,linear10");
//! let names: Vec<String> = mlp.parameter_shapes().into_iter().map(|(n, _)| n).collect();
//! assert_eq!(names, ["0.weight", "0.bias", "2.weight", "2.bias"]); // as nn.Sequential
//! let same = Architecture::parse(&[784], "linear256,sigmoid,linear10").unwrap();
//! assert_eq!(same, mlp);
//! ```

mod layer;

pub use layer::{Activation, LayerSpec, LAYER_GRAMMAR};

use crate::array::{Array, Rng};

/// The most layers a network may have.
pub const MAX_LAYERS: usize = 128;
/// The most features (outputs) any layer may have.
pub const MAX_FEATURES: usize = 1 << 16;
/// The most parameters a network may have (400 MB of f32 weights).
pub const MAX_PARAMETERS: usize = 100_000_000;

/// A network: the shape of one example (`[784]` for flattened 28x28 images) and its layers,
/// applied in order. The last layer's outputs are the classes' scores (logits).
#[derive(Debug, Clone, PartialEq)]
pub struct Architecture {
    /// The shape of one input example, without the batch axis.
    pub input: Vec<usize>,
    /// The layers, input side first.
    pub layers: Vec<LayerSpec>,
}

impl Architecture {
    /// A multi-layer perceptron: `inputs`, each hidden width followed by `activation`, then
    /// `classes` outputs (not validated: see [`Architecture::validate`]).
    pub fn mlp(inputs: usize, hidden: &[usize], classes: usize, activation: Activation) -> Self {
        let mut layers = Vec::new();
        for &outputs in hidden {
            layers.push(LayerSpec::Linear { outputs });
            layers.push(LayerSpec::Activation(activation));
        }
        layers.push(LayerSpec::Linear { outputs: classes });
        Architecture {
            input: vec![inputs],
            layers,
        }
    }

    /// Reads a comma-separated layer list (`linear128,relu,linear10`) for inputs of shape
    /// `input`, and validates the result. A bad token is named, with its position.
    pub fn parse(input: &[usize], text: &str) -> Result<Self, String> {
        let mut layers = Vec::new();
        for (i, token) in text.split(',').enumerate() {
            let token = token.trim();
            let layer = token
                .parse::<LayerSpec>()
                .map_err(|e| format!("layer {} {e}", i + 1))?;
            layers.push(layer);
            if layers.len() > MAX_LAYERS {
                return Err(format!("more than {MAX_LAYERS} layers"));
            }
        }
        let arch = Architecture {
            input: input.to_vec(),
            layers,
        };
        arch.validate()?;
        Ok(arch)
    }

    /// The layers in the written form [`Architecture::parse`] reads.
    pub fn layers_text(&self) -> String {
        let tokens: Vec<String> = self.layers.iter().map(ToString::to_string).collect();
        tokens.join(",")
    }

    /// The shape of each layer's output for one example, or why the layers do not fit
    /// together.
    pub fn shapes(&self) -> Result<Vec<Vec<usize>>, String> {
        let mut shape = self.input.clone();
        let mut shapes = Vec::with_capacity(self.layers.len());
        for (i, layer) in self.layers.iter().enumerate() {
            shape = match layer {
                LayerSpec::Linear { outputs } => {
                    if shape.len() != 1 {
                        return Err(format!(
                            "layer {} `{layer}` needs a flat input but gets {shape:?}: put flatten before it",
                            i + 1
                        ));
                    }
                    vec![*outputs]
                }
                LayerSpec::Activation(_) => shape,
                LayerSpec::Flatten => vec![shape.iter().product()],
            };
            shapes.push(shape.clone());
        }
        Ok(shapes)
    }

    /// Checks the description against the limits every part of scratchgrad shares: at least
    /// one and at most [`MAX_LAYERS`] layers that fit together, at most [`MAX_FEATURES`]
    /// features anywhere, at most [`MAX_PARAMETERS`] parameters, and a flat output.
    pub fn validate(&self) -> Result<(), String> {
        if self.input.is_empty() || self.input.len() > 3 || self.input.contains(&0) {
            return Err(format!(
                "an input shape of {:?} is not one of 1 to 3 positive sizes",
                self.input
            ));
        }
        if self.layers.is_empty() || self.layers.len() > MAX_LAYERS {
            return Err(format!(
                "{} layers: a network has 1 to {MAX_LAYERS}",
                self.layers.len()
            ));
        }
        for (i, layer) in self.layers.iter().enumerate() {
            if let LayerSpec::Linear { outputs } = layer {
                if *outputs == 0 || *outputs > MAX_FEATURES {
                    return Err(format!(
                        "layer {} `{layer}`: a layer has 1 to {MAX_FEATURES} outputs",
                        i + 1
                    ));
                }
            }
        }
        let inputs: usize = self.input.iter().product();
        if inputs > MAX_FEATURES {
            return Err(format!(
                "inputs of {inputs} features: at most {MAX_FEATURES}"
            ));
        }
        let shapes = self.shapes()?;
        if shapes
            .iter()
            .any(|s| s.iter().product::<usize>() > MAX_FEATURES)
        {
            return Err(format!(
                "a layer has more than {MAX_FEATURES} outputs per example"
            ));
        }
        let output = shapes.last().expect("at least one layer");
        if output.len() != 1 {
            return Err(format!(
                "the last layer gives {output:?} per example; end with a linear layer with one output per class"
            ));
        }
        if !self
            .layers
            .iter()
            .any(|l| matches!(l, LayerSpec::Linear { .. }))
        {
            return Err("a network needs at least one layer that learns (linearN)".into());
        }
        let parameters = self.parameter_count();
        if parameters > MAX_PARAMETERS {
            return Err(format!(
                "{parameters} parameters: at most {MAX_PARAMETERS}; choose smaller layers"
            ));
        }
        Ok(())
    }

    /// The number of classes: the last layer's outputs.
    pub fn classes(&self) -> usize {
        self.shapes()
            .ok()
            .and_then(|s| s.last().map(|s| s.iter().product()))
            .unwrap_or(0)
    }

    /// Features in one input example.
    pub fn input_size(&self) -> usize {
        self.input.iter().product()
    }

    /// Every parameter's name and shape, in order, named as PyTorch's `nn.Sequential`
    /// state_dict names them (`{layer index}.weight`, `{layer index}.bias`).
    pub fn parameter_shapes(&self) -> Vec<(String, Vec<usize>)> {
        let mut shape = self.input.clone();
        let mut params = Vec::new();
        for (i, layer) in self.layers.iter().enumerate() {
            match layer {
                LayerSpec::Linear { outputs } => {
                    let inputs = shape.iter().product();
                    params.push((format!("{i}.weight"), vec![*outputs, inputs]));
                    params.push((format!("{i}.bias"), vec![*outputs]));
                    shape = vec![*outputs];
                }
                LayerSpec::Activation(_) => {}
                LayerSpec::Flatten => shape = vec![shape.iter().product()],
            }
        }
        params
    }

    /// How many numbers the parameters hold (saturating, for absurd descriptions).
    pub fn parameter_count(&self) -> usize {
        self.parameter_shapes()
            .iter()
            .fold(0usize, |total, (_, s)| {
                total.saturating_add(s.iter().fold(1usize, |n, &d| n.saturating_mul(d)))
            })
    }

    /// Fresh weights: Xavier-normal weights, zero biases, drawn in parameter order.
    pub fn init(&self, rng: &mut Rng) -> Vec<(String, Array<f32>)> {
        let shapes = self.parameter_shapes();
        shapes
            .into_iter()
            .map(|(name, shape)| {
                let value = if shape.len() == 2 {
                    crate::init::xavier_normal(shape[1], shape[0], rng)
                } else {
                    Array::zeros(&shape)
                };
                (name, value)
            })
            .collect()
    }

    /// The widths and activation when this is a plain MLP (linear layers with one activation
    /// between each pair), else `None`.
    pub fn as_mlp(&self) -> Option<(Vec<usize>, Activation)> {
        if self.input.len() != 1 || self.layers.len().is_multiple_of(2) {
            return None;
        }
        let mut widths = vec![self.input[0]];
        let mut activation = None;
        for (i, layer) in self.layers.iter().enumerate() {
            match (i % 2, layer) {
                (0, LayerSpec::Linear { outputs }) => widths.push(*outputs),
                (1, LayerSpec::Activation(a)) if activation.is_none_or(|b| b == *a) => {
                    activation = Some(*a)
                }
                _ => return None,
            }
        }
        Some((widths, activation.unwrap_or(Activation::Relu)))
    }

    /// A short description: `784-256-10 sigmoid` for an MLP, else the input shape and the
    /// layer list.
    pub fn describe(&self) -> String {
        if let Some((widths, activation)) = self.as_mlp() {
            let widths: Vec<String> = widths.iter().map(ToString::to_string).collect();
            if widths.len() == 2 {
                return format!("{} linear", widths.join("-"));
            }
            return format!("{} {activation}", widths.join("-"));
        }
        let input: Vec<String> = self.input.iter().map(ToString::to_string).collect();
        format!("{} {}", input.join("x"), self.layers_text())
    }

    /// As JSON: `{"input": [784], "layers": "linear256,sigmoid,linear10"}`, the one form model
    /// files, checkpoints and summaries use.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({ "input": self.input, "layers": self.layers_text() })
    }

    /// Back from [`Architecture::to_json`], validated.
    pub fn from_json(json: &serde_json::Value) -> Result<Self, String> {
        let input = json["input"]
            .as_array()
            .filter(|a| (1..=3).contains(&a.len()))
            .and_then(|a| {
                a.iter()
                    .map(|d| {
                        d.as_u64()
                            .filter(|&d| (1..=MAX_FEATURES as u64).contains(&d))
                    })
                    .map(|d| d.map(|d| d as usize))
                    .collect::<Option<Vec<usize>>>()
            })
            .ok_or("its `input` is not a list of 1 to 3 positive sizes")?;
        let layers = json["layers"].as_str().ok_or("it has no `layers` list")?;
        if layers.len() > 64 * MAX_LAYERS {
            return Err("its `layers` list is too long".into());
        }
        Architecture::parse(&input, layers)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layer_lists_are_checked_and_bad_tokens_named() {
        let cases = [
            ("linear128,relu,lineer10", "layer 3 `lineer10` is not a layer (known: linearN (N outputs), relu, sigmoid, tanh, flatten)"),
            ("linear0", "layer 1 `linear0` needs a positive whole number after its name"),
            ("linear99999999999999999999", "layer 1 `linear99999999999999999999` needs a positive whole number after its name"),
            ("linear70000,linear10", "layer 1 `linear70000`: a layer has 1 to 65536 outputs"),
            ("relu", "a network needs at least one layer that learns (linearN)"),
            ("flatten,relu", "a network needs"),
            ("linear60000,linear60000,linear10", "3647760010 parameters: at most 100000000"),
        ];
        for (text, want) in cases {
            let err = Architecture::parse(&[784], text).unwrap_err();
            assert!(err.starts_with(want), "{text}: {err}");
        }
        let deep = vec!["linear2"; MAX_LAYERS + 1].join(",");
        assert_eq!(
            Architecture::parse(&[784], &deep).unwrap_err(),
            "more than 128 layers"
        );
        let err = Architecture::parse(&[1, 28, 28], "linear10").unwrap_err();
        assert!(err.contains("put flatten before it"), "{err}");
        assert!(Architecture::parse(&[1, 28, 28], "flatten,linear10").is_ok());
    }

    #[test]
    fn json_round_trips_and_is_validated() {
        let mlp = Architecture::mlp(784, &[512, 256], 10, Activation::Tanh);
        assert_eq!(Architecture::from_json(&mlp.to_json()).unwrap(), mlp);
        assert_eq!(mlp.describe(), "784-512-256-10 tanh");
        let forged = serde_json::json!({"input": [784], "layers": "linear1,linear1048577"});
        assert!(Architecture::from_json(&forged).is_err());
        let forged = serde_json::json!({"input": [0], "layers": "linear10"});
        assert!(Architecture::from_json(&forged).is_err());
    }
}
