//! One layer of an architecture, and its short written form (`linear256`, `relu`): the
//! grammar of `train --layers` and of the architecture stored in model files.

use std::fmt;

use crate::names::named_choices;

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
    /// `relu`, `sigmoid`, `tanh`.
    Activation(Activation),
    /// `flatten`: every axis after the batch axis into one.
    Flatten,
}

/// How each kind of layer is written, for messages.
pub const LAYER_GRAMMAR: &str = "linearN (N outputs), relu, sigmoid, tanh, flatten";

impl fmt::Display for LayerSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LayerSpec::Linear { outputs } => write!(f, "linear{outputs}"),
            LayerSpec::Activation(a) => write!(f, "{a}"),
            LayerSpec::Flatten => f.write_str("flatten"),
        }
    }
}

/// A positive whole number written after a layer's name.
fn count(token: &str, digits: &str) -> Result<usize, String> {
    match digits.parse::<usize>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(format!(
            "`{token}` needs a positive whole number after its name"
        )),
    }
}

impl std::str::FromStr for LayerSpec {
    type Err = String;

    /// Reads one token of the grammar ([`LAYER_GRAMMAR`]).
    ///
    /// ```
    /// use scratchgrad::arch::{Activation, LayerSpec};
    /// assert_eq!("linear128".parse(), Ok(LayerSpec::Linear { outputs: 128 }));
    /// assert_eq!("relu".parse(), Ok(LayerSpec::Activation(Activation::Relu)));
    /// assert!("linear".parse::<LayerSpec>().is_err());
    /// ```
    fn from_str(token: &str) -> Result<Self, String> {
        if let Ok(activation) = token.parse::<Activation>() {
            return Ok(LayerSpec::Activation(activation));
        }
        if token == "flatten" {
            return Ok(LayerSpec::Flatten);
        }
        if let Some(digits) = token.strip_prefix("linear") {
            return Ok(LayerSpec::Linear {
                outputs: count(token, digits)?,
            });
        }
        Err(format!(
            "`{}` is not a layer (known: {LAYER_GRAMMAR})",
            token.escape_debug()
        ))
    }
}
