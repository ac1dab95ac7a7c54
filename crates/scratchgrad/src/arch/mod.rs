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
mod shapes;
mod state;

pub use layer::{Activation, LayerSpec, LAYER_GRAMMAR};
pub use shapes::bytes_text;
pub use state::{StateKind, StateTensor};

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

    /// True when one input example is a one-channel `rows x cols` image, flat
    /// (`[rows * cols]`) or as an image (`[1, rows, cols]`): the shapes the data sets' images
    /// take. A model for `[4, 14, 14]` has as many inputs, but would read a digit as four
    /// little pictures.
    ///
    /// ```
    /// use scratchgrad::arch::Architecture;
    /// assert!(Architecture::parse(&[784], "linear10").unwrap().takes_images(28, 28));
    /// assert!(!Architecture::parse(&[4, 14, 14], "conv2k3,flatten,linear10").unwrap().takes_images(28, 28));
    /// ```
    pub fn takes_images(&self, rows: usize, cols: usize) -> bool {
        self.input == [rows * cols] || self.input == [1, rows, cols]
    }

    /// The input shape in words, for messages: `[784]` or `1x28x28`.
    pub fn input_text(&self) -> String {
        let dims: Vec<String> = self.input.iter().map(ToString::to_string).collect();
        dims.join("x")
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

    /// True when some layer is batch norm, whose statistics are a whole batch's.
    pub fn has_batch_norm(&self) -> bool {
        self.layers.contains(&LayerSpec::BatchNorm)
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
