//! What a network's layers make of one example: each layer's output shape, the memory one
//! example needs while a layer runs (input, output, a convolution's im2col columns), and
//! the checks every loader applies to an architecture before anything is allocated.

use super::{
    Architecture, LayerSpec, MAX_FEATURES, MAX_KERNEL, MAX_LAYERS, MAX_PARAMETERS,
    MAX_VALUES_PER_EXAMPLE, MAX_WORKING_VALUES_PER_EXAMPLE,
};

impl Architecture {
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
    use crate::arch::Activation;

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
}
