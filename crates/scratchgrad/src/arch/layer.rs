//! One layer of an architecture, and its short written form (`linear256`, `conv16k5p2`): the
//! grammar of `train --layers` and of the architecture stored in model files.

use std::fmt;

use crate::array::Window;
use crate::text::named_choices;

/// An activation function between layers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Activation {
    /// 1 / (1 + e^-x): the texts' choice.
    Sigmoid,
    /// max(x, 0).
    Relu,
    /// tanh(x).
    Tanh,
}

named_choices!(Activation, "activation", [Sigmoid => "sigmoid", Relu => "relu", Tanh => "tanh"]);

/// A layer, with what it needs besides the shape of its input.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum LayerSpec {
    /// `linearN`: a fully connected layer with N outputs (weight `[N, in]`, bias `[N]`).
    Linear {
        /// Output features.
        outputs: usize,
    },
    /// `convNkK` (or `kHxW`), optionally `sS` and `pP`: a 2-D convolution with N filters
    /// (weight `[N, in, kh, kw]`, bias `[N]`).
    Conv2d {
        /// Output channels.
        outputs: usize,
        /// Kernel, stride and padding.
        window: Window,
    },
    /// `maxpoolK` (optionally `sS`; the stride is K unless given).
    MaxPool2d(Window),
    /// `avgpoolK` (optionally `sS`).
    AvgPool2d(Window),
    /// `bn`: batch normalization over each channel (or feature), with a learnt scale and
    /// shift and running statistics for evaluation, momentum 0.1 and eps 1e-5 as PyTorch's.
    BatchNorm,
    /// `dropoutP`: zeroes each value with probability P while training (and scales the rest
    /// by 1 / (1 - P)); does nothing in evaluation.
    Dropout {
        /// The probability of dropping a value, in (0, 1).
        p: f64,
    },
    /// `relu`, `sigmoid`, `tanh`.
    Activation(Activation),
    /// `flatten`: every axis after the batch axis into one.
    Flatten,
}

/// How each kind of layer is written, for messages.
pub const LAYER_GRAMMAR: &str = "linearN (N outputs), convNkK[sS][pP] (N filters of KxK, or kHxW; stride S, padding P), maxpoolK[sS], avgpoolK[sS], bn, dropoutP, relu, sigmoid, tanh, flatten";

/// Writes a window's kernel, then stride and padding where they differ from `default_stride`
/// and 0.
fn write_window(f: &mut fmt::Formatter<'_>, w: &Window, default_stride: usize) -> fmt::Result {
    if w.kh == w.kw {
        write!(f, "k{}", w.kh)?;
    } else {
        write!(f, "k{}x{}", w.kh, w.kw)?;
    }
    if w.stride != default_stride {
        write!(f, "s{}", w.stride)?;
    }
    if w.padding != 0 {
        write!(f, "p{}", w.padding)?;
    }
    Ok(())
}

impl fmt::Display for LayerSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LayerSpec::Linear { outputs } => write!(f, "linear{outputs}"),
            LayerSpec::Conv2d { outputs, window } => {
                write!(f, "conv{outputs}")?;
                write_window(f, window, 1)
            }
            LayerSpec::MaxPool2d(w) | LayerSpec::AvgPool2d(w) => {
                let name = if matches!(self, LayerSpec::MaxPool2d(_)) {
                    "maxpool"
                } else {
                    "avgpool"
                };
                write!(f, "{name}{}", w.kh)?;
                if w.stride != w.kh {
                    write!(f, "s{}", w.stride)?;
                }
                Ok(())
            }
            LayerSpec::BatchNorm => f.write_str("bn"),
            LayerSpec::Dropout { p } => write!(f, "dropout{p}"),
            LayerSpec::Activation(a) => write!(f, "{a}"),
            LayerSpec::Flatten => f.write_str("flatten"),
        }
    }
}

/// A token as messages show it: escaped, and shortened to 40 characters (a token comes from
/// a user or a file, and may be of any length).
fn shown(token: &str) -> String {
    crate::text::elide(&token.escape_debug().to_string(), 40)
}

/// The number at the start of `text` and the rest, or `None` if it does not start with a
/// digit or the number is too large.
fn leading_number(text: &str) -> Option<(usize, &str)> {
    let end = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let n = text[..end].parse().ok()?;
    Some((n, &text[end..]))
}

/// Reads `K` or `HxW`, then the optional `sS` and `pP` (in that order) after a layer's name.
fn window(
    token: &str,
    rest: &str,
    default_stride: Option<usize>,
    padding: bool,
) -> Result<Window, String> {
    let bad = || {
        format!(
            "`{}` does not read as {}",
            shown(token),
            if padding {
                "kK[sS][pP] (or kHxW)"
            } else {
                "K[sS]"
            }
        )
    };
    let (kh, mut rest) = leading_number(rest).ok_or_else(bad)?;
    let mut kw = kh;
    if let Some(after) = rest.strip_prefix('x') {
        (kw, rest) = leading_number(after).ok_or_else(bad)?;
    }
    let mut stride = default_stride.unwrap_or(kh);
    if let Some(after) = rest.strip_prefix('s') {
        (stride, rest) = leading_number(after).ok_or_else(bad)?;
    }
    let mut pad = 0;
    if padding {
        if let Some(after) = rest.strip_prefix('p') {
            (pad, rest) = leading_number(after).ok_or_else(bad)?;
        }
    }
    if !rest.is_empty() {
        return Err(bad());
    }
    if kh == 0 || kw == 0 {
        return Err(format!("`{}`: a window is 1 or more wide", shown(token)));
    }
    if stride == 0 {
        return Err(format!("`{}`: a stride is 1 or more", shown(token)));
    }
    Ok(Window {
        kh,
        kw,
        stride,
        padding: pad,
    })
}

impl std::str::FromStr for LayerSpec {
    type Err = String;

    /// Reads one token of the grammar ([`LAYER_GRAMMAR`]).
    ///
    /// ```
    /// use scratchgrad::arch::{Activation, LayerSpec};
    /// use scratchgrad::array::Window;
    /// assert_eq!("linear128".parse(), Ok(LayerSpec::Linear { outputs: 128 }));
    /// let conv = LayerSpec::Conv2d { outputs: 16, window: Window { kh: 5, kw: 5, stride: 1, padding: 2 } };
    /// assert_eq!("conv16k5p2".parse(), Ok(conv));
    /// assert_eq!(conv.to_string(), "conv16k5p2");
    /// assert_eq!("maxpool2".parse(), Ok(LayerSpec::MaxPool2d(Window { kh: 2, kw: 2, stride: 2, padding: 0 })));
    /// assert!("linear".parse::<LayerSpec>().is_err());
    /// ```
    fn from_str(token: &str) -> Result<Self, String> {
        if let Ok(activation) = token.parse::<Activation>() {
            return Ok(LayerSpec::Activation(activation));
        }
        match token {
            "flatten" => return Ok(LayerSpec::Flatten),
            "bn" => return Ok(LayerSpec::BatchNorm),
            _ => {}
        }
        if let Some(digits) = token.strip_prefix("linear") {
            return match digits.parse::<usize>() {
                Ok(outputs) if outputs > 0 => Ok(LayerSpec::Linear { outputs }),
                _ => Err(format!(
                    "`{}` needs a positive whole number after its name",
                    shown(token)
                )),
            };
        }
        if let Some(rest) = token.strip_prefix("conv") {
            let bad = || format!("`{}` does not read as convNkK[sS][pP]", shown(token));
            let (outputs, rest) = leading_number(rest).ok_or_else(bad)?;
            let rest = rest.strip_prefix('k').ok_or_else(bad)?;
            if outputs == 0 {
                return Err(format!(
                    "`{}`: a convolution has 1 or more filters",
                    shown(token)
                ));
            }
            let window = window(token, rest, Some(1), true)?;
            return Ok(LayerSpec::Conv2d { outputs, window });
        }
        if let Some(rest) = token.strip_prefix("maxpool") {
            return Ok(LayerSpec::MaxPool2d(window(token, rest, None, false)?));
        }
        if let Some(rest) = token.strip_prefix("avgpool") {
            return Ok(LayerSpec::AvgPool2d(window(token, rest, None, false)?));
        }
        if let Some(p) = token.strip_prefix("dropout") {
            return match p.parse::<f64>() {
                Ok(p) if p > 0.0 && p < 1.0 => Ok(LayerSpec::Dropout { p }),
                _ => Err(format!(
                    "`{}` needs a probability above 0 and below 1 after its name, e.g. dropout0.5",
                    shown(token)
                )),
            };
        }
        Err(format!(
            "`{}` is not a layer (known: {LAYER_GRAMMAR})",
            shown(token)
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_token_reads_back_as_written() {
        for token in [
            "linear10",
            "conv16k5p2",
            "conv32k3s2p1",
            "conv8k3x5",
            "maxpool2",
            "maxpool3s1",
            "avgpool2",
            "bn",
            "dropout0.25",
            "relu",
            "tanh",
            "sigmoid",
            "flatten",
        ] {
            let layer: LayerSpec = token.parse().unwrap();
            assert_eq!(layer.to_string(), token);
        }
        for bad in [
            "conv",
            "conv16",
            "conv16k",
            "conv16k0",
            "conv0k3",
            "conv16k3q",
            "maxpool",
            "maxpool2p1",
            "dropout1",
            "dropout0",
            "dropoutx",
            "bn2",
        ] {
            assert!(bad.parse::<LayerSpec>().is_err(), "{bad}");
        }
        // A number out of range is named, not the token's form.
        for (bad, message) in [
            ("conv0k3", "1 or more filters"),
            ("conv4k3s0", "a stride is 1 or more"),
            ("maxpool0", "a window is 1 or more wide"),
            ("conv4k3x0", "a window is 1 or more wide"),
            ("dropout1", "above 0 and below 1"),
        ] {
            let err = bad.parse::<LayerSpec>().unwrap_err();
            assert!(err.contains(message), "{bad}: {err}");
        }
    }
}
