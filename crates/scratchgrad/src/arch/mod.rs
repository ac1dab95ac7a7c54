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
/// The most features (outputs) a linear layer, or channels a convolution, may have.
pub const MAX_FEATURES: usize = 1 << 16;
/// The most values any layer may give for one example (a 64-channel 128x128 feature map).
pub const MAX_VALUES_PER_EXAMPLE: usize = 1 << 20;
/// The largest kernel side a convolution or pooling window may have.
pub const MAX_KERNEL: usize = 64;
/// The most parameters a network may have (400 MB of f32 weights).
pub const MAX_PARAMETERS: usize = 100_000_000;
/// The most values one layer may hold at once for one example while it runs forward: its
/// input, its output and a convolution's im2col columns (256 MiB of f32). Every loader checks
/// this before anything is allocated, so no model file can ask for more memory than a
/// machine has.
pub const MAX_WORKING_VALUES_PER_EXAMPLE: usize = 1 << 26;

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

    /// Reads a layer list for one-channel `rows x cols` images: as `[1, rows, cols]` when
    /// some layer works on images (a convolution or a pooling), else flattened to
    /// `[rows * cols]`, so an MLP needs no `flatten` first.
    pub fn parse_for_images(text: &str, rows: usize, cols: usize) -> Result<Self, String> {
        let spatial = text.split(',').map(str::trim).any(|t| {
            matches!(
                t.parse(),
                Ok(LayerSpec::Conv2d { .. } | LayerSpec::MaxPool2d(_) | LayerSpec::AvgPool2d(_))
            )
        });
        if spatial {
            Architecture::parse(&[1, rows, cols], text)
        } else {
            Architecture::parse(&[rows * cols], text)
        }
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
            let at = |problem: String| format!("layer {} `{layer}` {problem}", i + 1);
            shape = match layer {
                LayerSpec::Linear { outputs } => {
                    if shape.len() != 1 {
                        return Err(at(format!(
                            "needs a flat input but gets {shape:?}: put flatten before it"
                        )));
                    }
                    vec![*outputs]
                }
                LayerSpec::Conv2d { window, .. }
                | LayerSpec::MaxPool2d(window)
                | LayerSpec::AvgPool2d(window) => {
                    let [c, h, w] = shape[..] else {
                        return Err(at(format!(
                            "needs [channels, height, width] per example but gets {shape:?}"
                        )));
                    };
                    let (oh, ow) = window.output_size(h, w).ok_or_else(|| {
                        at(format!(
                            "has a {}x{} window (padding {}) that does not fit {h}x{w}",
                            window.kh, window.kw, window.padding
                        ))
                    })?;
                    let channels = match layer {
                        LayerSpec::Conv2d { outputs, .. } => *outputs,
                        _ => c,
                    };
                    vec![channels, oh, ow]
                }
                LayerSpec::BatchNorm => {
                    if !matches!(shape.len(), 1 | 3) {
                        return Err(at(format!("needs [features] or [channels, height, width] per example but gets {shape:?}")));
                    }
                    shape
                }
                LayerSpec::Dropout { .. } | LayerSpec::Activation(_) => shape,
                LayerSpec::Flatten => vec![shape.iter().product()],
            };
            shapes.push(shape.clone());
        }
        Ok(shapes)
    }

    /// Per layer: the values one example's input, im2col columns (convolutions only) and
    /// output take, or `None` when the layers do not fit together.
    fn values_per_layer(&self) -> Option<Vec<(usize, usize, usize)>> {
        let shapes = self.shapes().ok()?;
        let mut before = &self.input;
        let mut sizes = Vec::with_capacity(shapes.len());
        for (layer, shape) in self.layers.iter().zip(&shapes) {
            let columns = match layer {
                // [c kh kw, oh ow] per example
                LayerSpec::Conv2d { window, .. } => {
                    [before[0], window.kh, window.kw, shape[1], shape[2]]
                        .iter()
                        .fold(1usize, |n, &d| n.saturating_mul(d))
                }
                _ => 0,
            };
            let (input, output) = (before.iter().product(), shape.iter().product());
            sizes.push((input, columns, output));
            before = shape;
        }
        Some(sizes)
    }

    /// The most values one example holds at once while any one layer runs forward: the
    /// layer's input and output and, for a convolution, the columns im2col makes of its input
    /// (by far the largest buffer of a CNN: 78,400 values per example for `cnn`'s second
    /// convolution). Evaluation sizes its batches by this.
    pub fn values_in_flight_per_example(&self) -> usize {
        self.values_per_layer().map_or(usize::MAX, |sizes| {
            sizes
                .iter()
                .map(|(i, c, o)| i.saturating_add(*c).saturating_add(*o))
                .max()
                .unwrap_or(0)
        })
    }

    /// The values one example keeps for the backward pass: the input, every layer's output
    /// and every convolution's columns.
    pub fn values_kept_per_example(&self) -> usize {
        self.values_per_layer().map_or(usize::MAX, |sizes| {
            sizes.iter().fold(self.input_size(), |n, (_, c, o)| {
                n.saturating_add(*c).saturating_add(*o)
            })
        })
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
            let (outputs, window) = match layer {
                LayerSpec::Linear { outputs } => (Some(*outputs), None),
                LayerSpec::Conv2d { outputs, window } => (Some(*outputs), Some(window)),
                LayerSpec::MaxPool2d(window) | LayerSpec::AvgPool2d(window) => (None, Some(window)),
                _ => (None, None),
            };
            if outputs.is_some_and(|o| o == 0 || o > MAX_FEATURES) {
                return Err(format!(
                    "layer {} `{layer}`: a layer has 1 to {MAX_FEATURES} outputs",
                    i + 1
                ));
            }
            if window.is_some_and(|w| {
                w.kh > MAX_KERNEL
                    || w.kw > MAX_KERNEL
                    || w.stride > MAX_KERNEL
                    || w.padding > MAX_KERNEL
            }) {
                return Err(format!(
                    "layer {} `{layer}`: kernels, strides and padding go up to {MAX_KERNEL}",
                    i + 1
                ));
            }
        }
        let inputs: usize = self.input.iter().product();
        if inputs > MAX_VALUES_PER_EXAMPLE {
            return Err(format!(
                "inputs of {inputs} values: at most {MAX_VALUES_PER_EXAMPLE}"
            ));
        }
        let shapes = self.shapes()?;
        let too_big = |s: &Vec<usize>| s.iter().product::<usize>() > MAX_VALUES_PER_EXAMPLE;
        if let Some(i) = shapes.iter().position(too_big) {
            return Err(format!(
                "layer {} `{}` gives {:?} per example: more than {MAX_VALUES_PER_EXAMPLE} values",
                i + 1,
                self.layers[i],
                shapes[i]
            ));
        }
        let working = self.values_per_layer().expect("the shapes fit");
        let in_flight = |(i, c, o): &(usize, usize, usize)| i.saturating_add(*c).saturating_add(*o);
        if let Some(i) = working
            .iter()
            .position(|sizes| in_flight(sizes) > MAX_WORKING_VALUES_PER_EXAMPLE)
        {
            return Err(format!(
                "layer {} `{}` needs {} for one example (its input, output{}): at most {}; choose a smaller kernel, fewer channels or less padding",
                i + 1,
                self.layers[i],
                bytes_text(4 * in_flight(&working[i]) as u64),
                if working[i].1 > 0 { " and im2col columns" } else { "" },
                bytes_text(4 * MAX_WORKING_VALUES_PER_EXAMPLE as u64),
            ));
        }
        let output = shapes.last().expect("at least one layer");
        if output.len() != 1 {
            return Err(format!(
                "the last layer gives {output:?} per example; end with a linear layer with one output per class"
            ));
        }
        let learns =
            |l: &LayerSpec| matches!(l, LayerSpec::Linear { .. } | LayerSpec::Conv2d { .. });
        if !self.layers.iter().any(learns) {
            return Err(
                "a network needs at least one layer that learns (linearN or convNkK)".into(),
            );
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

    /// The convolutional network of issue 13, `cnn`: two 5x5 convolutions (16 and 32
    /// filters, padding 2) each followed by ReLU and 2x2 max pooling, then one linear layer
    /// from the 32x7x7 maps to the classes.
    pub fn cnn(classes: usize) -> Self {
        let layers =
            format!("conv16k5p2,relu,maxpool2,conv32k5p2,relu,maxpool2,flatten,linear{classes}");
        Architecture::parse(&[1, 28, 28], &layers).expect("a valid preset")
    }

    /// LeNet-5 as it is usually built today: 6 and 16 5x5 convolutions with ReLU and 2x2 max
    /// pooling, then 120, 84 and the classes.
    pub fn lenet5(classes: usize) -> Self {
        let layers = format!("conv6k5p2,relu,maxpool2,conv16k5,relu,maxpool2,flatten,linear120,relu,linear84,relu,linear{classes}");
        Architecture::parse(&[1, 28, 28], &layers).expect("a valid preset")
    }

    /// True when some layer works on images (`[channels, height, width]` per example).
    pub fn is_spatial(&self) -> bool {
        self.input.len() == 3
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

/// A number of bytes as people read it: `145.1 GB`, `256 MB`, `12 kB`.
pub fn bytes_text(bytes: u64) -> String {
    let units = [(1e12, "TB"), (1e9, "GB"), (1e6, "MB"), (1e3, "kB")];
    let b = bytes as f64;
    match units.iter().find(|(size, _)| b >= *size) {
        Some((size, unit)) => {
            let x = b / size;
            if x >= 100.0 || x.fract() == 0.0 {
                format!("{x:.0} {unit}")
            } else {
                format!("{x:.1} {unit}")
            }
        }
        None => format!("{bytes} bytes"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layer_lists_are_checked_and_bad_tokens_named() {
        let cases = [
            (
                "linear128,relu,lineer10",
                "layer 3 `lineer10` is not a layer (known: linearN (N outputs), convNkK",
            ),
            (
                "linear0",
                "layer 1 `linear0` needs a positive whole number after its name",
            ),
            (
                "linear99999999999999999999",
                "layer 1 `linear99999999999999999999` needs a positive whole number after its name",
            ),
            (
                "linear70000,linear10",
                "layer 1 `linear70000`: a layer has 1 to 65536 outputs",
            ),
            (
                "relu",
                "a network needs at least one layer that learns (linearN or convNkK)",
            ),
            ("flatten,relu", "a network needs"),
            (
                "linear60000,linear60000,linear10",
                "3647760010 parameters: at most 100000000",
            ),
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
        let image_cases = [
            (
                "conv8k3,linear10",
                "layer 2 `linear10` needs a flat input but gets [8, 26, 26]: put flatten before it",
            ),
            (
                "conv8k30,flatten,linear10",
                "layer 1 `conv8k30` has a 30x30 window (padding 0) that does not fit 28x28",
            ),
            (
                "maxpool2,maxpool2,maxpool2,maxpool2,maxpool2,flatten,linear10",
                "layer 5 `maxpool2` has a 2x2 window (padding 0) that does not fit 1x1",
            ),
            (
                "conv8k65,flatten,linear10",
                "layer 1 `conv8k65`: kernels, strides and padding go up to 64",
            ),
            (
                // 17 MB of weights, but 145 GB of im2col columns for one image: refused by
                // every loader before anything is allocated (issue 21).
                "conv1024k1,conv1k64p64,flatten,linear10",
                "layer 2 `conv1k64p64` needs 145 GB for one example (its input, output and im2col columns): at most 268 MB;",
            ),
            (
                "conv2048k3p1,flatten,linear10",
                "layer 1 `conv2048k3p1` gives [2048, 28, 28] per example: more than 1048576 values",
            ),
        ];
        for (text, want) in image_cases {
            let err = Architecture::parse(&[1, 28, 28], text).unwrap_err();
            assert!(err.starts_with(want), "{text}: {err}");
        }
        let err = Architecture::parse(&[784], "conv8k3,flatten,linear10").unwrap_err();
        assert!(
            err.contains("needs [channels, height, width] per example but gets [784]"),
            "{err}"
        );
    }

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

    #[test]
    fn a_cnns_largest_buffer_is_its_second_convolutions_columns() {
        let cnn = Architecture::cnn(10);
        // conv 16 -> 32, 5x5, on 14x14: input 16*14*14, columns (16*5*5) x (14*14), output
        // 32*14*14.
        let second = 16 * 14 * 14 + 16 * 25 * 14 * 14 + 32 * 14 * 14;
        assert_eq!(cnn.values_in_flight_per_example(), second);
        // Kept for backward: the input, each layer's output, both convolutions' columns.
        let outputs = 16 * 28 * 28 * 2 + 16 * 14 * 14 + 32 * 14 * 14 * 2 + 32 * 7 * 7 * 2 + 10;
        let columns = 25 * 28 * 28 + 16 * 25 * 14 * 14;
        assert_eq!(cnn.values_kept_per_example(), 784 + outputs + columns);
        let mlp = Architecture::mlp(784, &[256], 10, Activation::Sigmoid);
        assert_eq!(mlp.values_in_flight_per_example(), 784 + 256);
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
