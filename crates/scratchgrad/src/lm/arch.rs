//! What a language model is: which of the lectures' models, and its sizes, with their limits
//! and the JSON a model file stores.

use serde_json::{json, Value};

/// A character-level language model: the context it reads and how it turns it into scores
/// for the next character.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LmArch {
    /// One character of context; the scores of the next are one row of a `[V, V]` table
    /// (makemore's first lecture, trained instead of counted).
    Bigram,
    /// Bengio et al. (2003) as makemore's lectures build it: the last `context` characters,
    /// each embedded in `embedding` numbers, concatenated, through a hidden layer of `hidden`
    /// tanh units (with batch norm before the tanh when `batch_norm`), then a linear layer
    /// to the scores.
    Mlp {
        context: usize,
        embedding: usize,
        hidden: usize,
        batch_norm: bool,
    },
}

/// The longest context a model reads.
pub const MAX_CONTEXT: usize = 256;
/// The widest embedding or hidden layer.
pub const MAX_WIDTH: usize = 4096;
/// The most parameters a language model may have (100 million, as an image network).
pub const MAX_LM_PARAMETERS: usize = 100_000_000;

impl LmArch {
    /// The lectures' MLP: 3 characters of context, embeddings of 10, 200 hidden units, batch
    /// norm (makemore part 3).
    pub const LECTURE_MLP: LmArch = LmArch::Mlp {
        context: 3,
        embedding: 10,
        hidden: 200,
        batch_norm: true,
    };

    /// How many characters of context it reads.
    pub fn context(&self) -> usize {
        match *self {
            LmArch::Bigram => 1,
            LmArch::Mlp { context, .. } => context,
        }
    }

    /// Its name, as `--arch` takes it.
    pub fn kind(&self) -> &'static str {
        match self {
            LmArch::Bigram => "bigram",
            LmArch::Mlp { .. } => "mlp",
        }
    }

    /// Each parameter's name and shape, for `vocabulary` characters, in a fixed order.
    pub fn parameter_shapes(&self, vocabulary: usize) -> Vec<(&'static str, Vec<usize>)> {
        match *self {
            LmArch::Bigram => vec![("logits.weight", vec![vocabulary, vocabulary])],
            LmArch::Mlp {
                context,
                embedding,
                hidden,
                batch_norm,
            } => {
                let mut shapes = vec![
                    ("wte.weight", vec![vocabulary, embedding]),
                    ("hidden.weight", vec![hidden, context * embedding]),
                ];
                if batch_norm {
                    shapes.push(("bn.weight", vec![hidden]));
                    shapes.push(("bn.bias", vec![hidden]));
                } else {
                    shapes.push(("hidden.bias", vec![hidden]));
                }
                shapes.push(("out.weight", vec![vocabulary, hidden]));
                shapes.push(("out.bias", vec![vocabulary]));
                shapes
            }
        }
    }

    /// How many numbers it learns for `vocabulary` characters.
    pub fn parameters(&self, vocabulary: usize) -> usize {
        self.parameter_shapes(vocabulary)
            .iter()
            .map(|(_, s)| s.iter().product::<usize>())
            .sum()
    }

    /// Checks the sizes against the limits, for `vocabulary` characters.
    ///
    /// ```
    /// use scratchgrad::lm::LmArch;
    /// assert!(LmArch::LECTURE_MLP.validate(27).is_ok());
    /// let wide = LmArch::Mlp { context: 3, embedding: 0, hidden: 200, batch_norm: true };
    /// assert_eq!(wide.validate(27).unwrap_err(), "`embedding` must be 1 to 4096, not 0");
    /// ```
    pub fn validate(&self, vocabulary: usize) -> Result<(), String> {
        if let LmArch::Mlp {
            context,
            embedding,
            hidden,
            ..
        } = *self
        {
            let check = |name: &str, value: usize, most: usize| {
                if (1..=most).contains(&value) {
                    Ok(())
                } else {
                    Err(format!("`{name}` must be 1 to {most}, not {value}"))
                }
            };
            check("context", context, MAX_CONTEXT)?;
            check("embedding", embedding, MAX_WIDTH)?;
            check("hidden", hidden, MAX_WIDTH)?;
        }
        let count = self
            .parameter_shapes(vocabulary)
            .iter()
            .try_fold(0usize, |sum, (_, s)| {
                s.iter()
                    .try_fold(1usize, |p, &d| p.checked_mul(d))
                    .and_then(|n| sum.checked_add(n))
            });
        match count {
            Some(n) if n <= MAX_LM_PARAMETERS => Ok(()),
            _ => Err(format!(
                "a {} model of these sizes has more than {MAX_LM_PARAMETERS} parameters",
                self.kind()
            )),
        }
    }

    /// The model as one line: `mlp (context 3, embedding 10, hidden 200, batch norm)`.
    pub fn describe(&self) -> String {
        match *self {
            LmArch::Bigram => "bigram".into(),
            LmArch::Mlp {
                context,
                embedding,
                hidden,
                batch_norm,
            } => format!(
                "mlp (context {context}, embedding {embedding}, hidden {hidden}{})",
                if batch_norm { ", batch norm" } else { "" }
            ),
        }
    }

    /// The JSON a model file stores.
    pub fn to_json(&self) -> Value {
        match *self {
            LmArch::Bigram => json!({"kind": "bigram"}),
            LmArch::Mlp {
                context,
                embedding,
                hidden,
                batch_norm,
            } => json!({
                "kind": "mlp", "context": context, "embedding": embedding,
                "hidden": hidden, "batch_norm": batch_norm,
            }),
        }
    }

    /// Reads what [`LmArch::to_json`] wrote (sizes are checked by [`LmArch::validate`]).
    pub fn from_json(value: &Value) -> Result<LmArch, String> {
        let size = |key: &str| {
            value[key]
                .as_u64()
                .map(|n| n.min(usize::MAX as u64) as usize)
                .ok_or_else(|| format!("the architecture's `{key}` is not a whole number"))
        };
        match value["kind"].as_str() {
            Some("bigram") => Ok(LmArch::Bigram),
            Some("mlp") => Ok(LmArch::Mlp {
                context: size("context")?,
                embedding: size("embedding")?,
                hidden: size("hidden")?,
                batch_norm: value["batch_norm"]
                    .as_bool()
                    .ok_or("the architecture's `batch_norm` is not true or false")?,
            }),
            _ => Err("the architecture is not a known language model (bigram, mlp)".into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lecture_mlp_has_the_lectures_parameter_count() {
        // makemore part 3 prints 12,097 parameters for C, W1, W2, b2, bngain and bnbias.
        assert_eq!(LmArch::LECTURE_MLP.parameters(27), 12_097);
        assert_eq!(LmArch::Bigram.parameters(27), 729);
        for arch in [LmArch::Bigram, LmArch::LECTURE_MLP] {
            assert_eq!(LmArch::from_json(&arch.to_json()), Ok(arch));
        }
        let huge = LmArch::Mlp {
            context: 256,
            embedding: 4096,
            hidden: 4096,
            batch_norm: false,
        };
        assert!(huge.validate(27).unwrap_err().contains("more than"));
        assert!(LmArch::from_json(&json!({"kind": "gpt"})).is_err());
        assert!(LmArch::from_json(&json!({"kind": "mlp", "context": -1})).is_err());
    }
}
