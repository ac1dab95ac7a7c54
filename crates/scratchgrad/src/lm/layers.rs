//! A language model written as a list of layers (`train --layers` on a text data set): the
//! context's characters embedded, then the layers in order, then a linear layer to the
//! scores. The lectures' MLP is `flatten,linear200,bn,tanh`; their WaveNet is
//! `flatten2,linear128,bn,tanh,flatten2,linear128,bn,tanh,flatten2,linear128,bn,tanh`.

use std::fmt;

use super::arch::MAX_WIDTH;

/// The most layers a list may hold.
pub const MAX_LM_LAYERS: usize = 16;

/// How each kind of layer is written, for messages.
pub const LM_LAYER_GRAMMAR: &str = "flatten (every position into one), flattenN (N neighbouring positions joined), linearN (N outputs), bn (batch norm over batch and time), layernorm, tanh, relu, gelu";

/// One layer after the embedding. Each works on `[batch * positions, width]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LmLayer {
    /// `flatten`: every position's numbers into one row (the MLP's concatenation).
    Flatten,
    /// `flattenN`: N neighbouring positions joined into one (the WaveNet's consecutive
    /// flatten).
    Join(u16),
    /// `linearN`: a linear layer with N outputs (at most [`MAX_WIDTH`]), and a bias.
    Linear(u16),
    /// `bn`: batch norm of each feature over the batch and the positions (makemore's).
    BatchNorm,
    /// `layernorm`: each row normalized over its features.
    LayerNorm,
    /// `tanh`.
    Tanh,
    /// `relu`.
    Relu,
    /// `gelu` (its tanh form).
    Gelu,
}

impl fmt::Display for LmLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LmLayer::Flatten => write!(f, "flatten"),
            LmLayer::Join(n) => write!(f, "flatten{n}"),
            LmLayer::Linear(n) => write!(f, "linear{n}"),
            LmLayer::BatchNorm => write!(f, "bn"),
            LmLayer::LayerNorm => write!(f, "layernorm"),
            LmLayer::Tanh => write!(f, "tanh"),
            LmLayer::Relu => write!(f, "relu"),
            LmLayer::Gelu => write!(f, "gelu"),
        }
    }
}

impl LmLayer {
    /// Reads one token of [`LM_LAYER_GRAMMAR`].
    fn parse(token: &str) -> Result<LmLayer, String> {
        let shown: String = token
            .chars()
            .take(40)
            .flat_map(char::escape_debug)
            .collect();
        if token.is_empty() {
            return Err(
                "an item of the list is empty (two commas in a row, or one at an end)".into(),
            );
        }
        let sized = |rest: &str, make: fn(u16) -> LmLayer| -> Option<Result<LmLayer, String>> {
            if rest.is_empty() || !rest.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            Some(match rest.parse::<u16>() {
                Ok(n) if n > 0 && usize::from(n) <= MAX_WIDTH => Ok(make(n)),
                _ => Err(format!("`{shown}`: a layer's size is 1 to {MAX_WIDTH}")),
            })
        };
        let layer = match token {
            "flatten" => Some(Ok(LmLayer::Flatten)),
            "bn" => Some(Ok(LmLayer::BatchNorm)),
            "layernorm" => Some(Ok(LmLayer::LayerNorm)),
            "tanh" => Some(Ok(LmLayer::Tanh)),
            "relu" => Some(Ok(LmLayer::Relu)),
            "gelu" => Some(Ok(LmLayer::Gelu)),
            _ => token
                .strip_prefix("flatten")
                .and_then(|rest| sized(rest, LmLayer::Join))
                .or_else(|| {
                    (token.strip_prefix("linear")).and_then(|rest| sized(rest, LmLayer::Linear))
                }),
        };
        layer.unwrap_or_else(|| {
            Err(format!(
                "`{shown}` is not a language model's layer (known: {LM_LAYER_GRAMMAR})"
            ))
        })
    }
}

/// A layer of a list with the shape it takes and the shape it gives, each
/// `(positions, width)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Step {
    /// The layer.
    pub layer: LmLayer,
    /// What reaches it.
    pub input: (usize, usize),
    /// What it gives.
    pub output: (usize, usize),
}

/// Up to [`MAX_LM_LAYERS`] layers, in order (a fixed array, so an architecture stays `Copy`),
/// read from a comma-separated list.
///
/// ```
/// use scratchgrad::lm::LayerList;
/// let mlp: LayerList = "flatten, linear200,bn,tanh".parse().unwrap();
/// assert_eq!(mlp.to_string(), "flatten,linear200,bn,tanh");
/// assert!("flatten,linear".parse::<LayerList>().unwrap_err().contains("`linear`"));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LayerList {
    layers: [LmLayer; MAX_LM_LAYERS],
    len: usize,
}

impl LayerList {
    /// The layers, in order.
    pub fn layers(&self) -> &[LmLayer] {
        &self.layers[..self.len]
    }

    /// Each layer with the shapes it takes and gives, from `(context, embedding)`; refuses a
    /// join that does not divide the positions.
    pub fn walk(&self, context: usize, embedding: usize) -> Result<Vec<Step>, String> {
        let mut shape = (context, embedding);
        let mut steps = Vec::new();
        for &layer in self.layers() {
            let (positions, width) = shape;
            let output = match layer {
                LmLayer::Flatten => (1, positions.saturating_mul(width)),
                LmLayer::Join(n) if positions.is_multiple_of(usize::from(n)) => (
                    positions / usize::from(n),
                    usize::from(n).saturating_mul(width),
                ),
                LmLayer::Join(n) => {
                    return Err(format!(
                        "flatten{n} joins {n} neighbouring positions, but the {} reaching it \
                         do not divide by {n}",
                        match positions {
                            1 => "one position".to_string(),
                            p => format!("{p} positions"),
                        }
                    ))
                }
                LmLayer::Linear(n) => (positions, usize::from(n)),
                _ => shape,
            };
            steps.push(Step {
                layer,
                input: shape,
                output,
            });
            shape = output;
        }
        Ok(steps)
    }
}

impl std::str::FromStr for LayerList {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let tokens: Vec<&str> = text.split(',').map(str::trim).collect();
        if tokens.len() > MAX_LM_LAYERS {
            return Err(format!(
                "a language model takes at most {MAX_LM_LAYERS} layers, not {}",
                tokens.len()
            ));
        }
        let mut list = LayerList {
            layers: [LmLayer::Tanh; MAX_LM_LAYERS],
            len: 0,
        };
        for token in tokens {
            list.layers[list.len] = LmLayer::parse(token)?;
            list.len += 1;
        }
        Ok(list)
    }
}

impl fmt::Display for LayerList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let tokens: Vec<String> = self.layers().iter().map(ToString::to_string).collect();
        write!(f, "{}", tokens.join(","))
    }
}
