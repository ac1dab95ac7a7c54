//! What a language model is: which of the lectures' models, and its sizes, with their limits
//! and the JSON a model file stores.

use serde_json::{json, Value};

use super::layers::{LayerList, LmLayer};

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
    /// makemore's WaveNet-style tree (after van den Oord et al. 2016): the last `context`
    /// characters (a power of two) embedded in `embedding` numbers; at each level, neighbours
    /// are joined in pairs (a consecutive flatten) and go through a linear layer of `hidden`
    /// units, batch norm over (batch, time) and tanh, halving the positions, until one is left;
    /// then a linear layer to the scores.
    WaveNet {
        context: usize,
        embedding: usize,
        hidden: usize,
    },
    /// A GPT as makemore's and nanoGPT's: token and position embeddings of `embedding`
    /// numbers, `blocks` transformer blocks (layer norm, causal self-attention in `heads`
    /// heads, a residual; layer norm, a 4x-wide GELU MLP, a residual), a last layer norm and
    /// a linear head; it reads `context` characters and predicts the next at every position.
    Gpt {
        context: usize,
        embedding: usize,
        heads: usize,
        blocks: usize,
    },
    /// A model written as a list of layers (`train --layers`): the last `context` characters
    /// embedded in `embedding` numbers, `layers` in order, then a linear layer to the scores.
    Layers {
        context: usize,
        embedding: usize,
        layers: LayerList,
    },
}

/// The longest context a model reads.
pub const MAX_CONTEXT: usize = 256;
/// The widest embedding or hidden layer.
pub const MAX_WIDTH: usize = 4096;
/// The most heads or blocks of a GPT.
pub const MAX_BLOCKS: usize = 64;
/// The most numbers a training step may keep for its batch (outputs along the way and their
/// gradients): 2^31, 8 GiB of f32.
pub const MAX_STEP_VALUES: usize = 1 << 31;
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

    /// makemore's WaveNet lecture: 8 characters of context, embeddings of 24, 128 hidden units
    /// at each of its 3 levels (makemore part 5).
    pub const LECTURE_WAVENET: LmArch = LmArch::WaveNet {
        context: 8,
        embedding: 24,
        hidden: 128,
    };

    /// How many characters of context it reads.
    pub fn context(&self) -> usize {
        match *self {
            LmArch::Bigram => 1,
            LmArch::Mlp { context, .. }
            | LmArch::WaveNet { context, .. }
            | LmArch::Gpt { context, .. }
            | LmArch::Layers { context, .. } => context,
        }
    }

    /// The prefixes of its batch norm layers' tensors (`bn`, or `h.0.bn` for a WaveNet's first
    /// level), in order.
    pub fn norm_prefixes(&self) -> Vec<String> {
        match *self {
            LmArch::Mlp {
                batch_norm: true, ..
            } => vec!["bn".into()],
            LmArch::WaveNet { context, .. } => (0..levels(context))
                .map(|level| format!("h.{level}.bn"))
                .collect(),
            LmArch::Layers { layers, .. } => (layers.layers().iter().enumerate())
                .filter(|(_, layer)| **layer == LmLayer::BatchNorm)
                .map(|(i, _)| format!("layers.{i}"))
                .collect(),
            _ => Vec::new(),
        }
    }

    /// Whether it predicts the next character at every position of its context (a GPT),
    /// rather than only after the last.
    pub fn predicts_every_position(&self) -> bool {
        matches!(self, LmArch::Gpt { .. })
    }

    /// Its name, as `--arch` takes it.
    pub fn kind(&self) -> &'static str {
        match self {
            LmArch::Bigram => "bigram",
            LmArch::Mlp { .. } => "mlp",
            LmArch::WaveNet { .. } => "wavenet",
            LmArch::Gpt { .. } => "gpt",
            LmArch::Layers { .. } => "layers",
        }
    }

    /// Each parameter's name and shape, for `vocabulary` characters, in a fixed order.
    pub fn parameter_shapes(&self, vocabulary: usize) -> Vec<(String, Vec<usize>)> {
        self.static_shapes(vocabulary)
            .into_iter()
            .map(|(n, s)| (n.to_string(), s))
            .chain(self.block_shapes())
            .chain(self.level_shapes())
            .chain(self.list_shapes())
            .chain(self.head_shapes(vocabulary))
            .collect()
    }

    /// A WaveNet's levels' tensors: `h.0.weight` `[hidden, 2 * embedding]`, its batch norm's
    /// `h.0.bn.weight` and `h.0.bn.bias`, then `h.1.weight` `[hidden, 2 * hidden]`...
    fn level_shapes(&self) -> Vec<(String, Vec<usize>)> {
        let LmArch::WaveNet {
            context,
            embedding,
            hidden,
        } = *self
        else {
            return Vec::new();
        };
        let mut shapes = Vec::new();
        for level in 0..levels(context) {
            let joined = 2 * if level == 0 { embedding } else { hidden };
            shapes.push((format!("h.{level}.weight"), vec![hidden, joined]));
            shapes.push((format!("h.{level}.bn.weight"), vec![hidden]));
            shapes.push((format!("h.{level}.bn.bias"), vec![hidden]));
        }
        shapes
    }

    /// A layer list's tensors: `layers.{i}.weight` and `layers.{i}.bias` for each linear
    /// layer (`[outputs, inputs]`, `[outputs]`) and each norm (`[width]` both).
    fn list_shapes(&self) -> Vec<(String, Vec<usize>)> {
        let LmArch::Layers {
            context,
            embedding,
            layers,
        } = *self
        else {
            return Vec::new();
        };
        let mut shapes = Vec::new();
        let steps = layers.walk(context, embedding).unwrap_or_default();
        for (i, step) in steps.into_iter().enumerate() {
            let ((_, width), (_, out)) = (step.input, step.output);
            let (weight, bias) = match step.layer {
                LmLayer::Linear(_) => (vec![out, width], vec![out]),
                LmLayer::BatchNorm | LmLayer::LayerNorm => (vec![out], vec![out]),
                _ => continue,
            };
            shapes.push((format!("layers.{i}.weight"), weight));
            shapes.push((format!("layers.{i}.bias"), bias));
        }
        shapes
    }

    /// The output layer of an MLP, a WaveNet and a layer list, after the hidden layers.
    fn head_shapes(&self, vocabulary: usize) -> Vec<(String, Vec<usize>)> {
        let width = match *self {
            LmArch::Mlp { hidden, .. } | LmArch::WaveNet { hidden, .. } => hidden,
            LmArch::Layers {
                context,
                embedding,
                layers,
            } => match layers
                .walk(context, embedding)
                .ok()
                .and_then(|s| s.last().copied())
            {
                Some(last) => last.output.1,
                None => embedding,
            },
            _ => return Vec::new(),
        };
        vec![
            ("out.weight".into(), vec![vocabulary, width]),
            ("out.bias".into(), vec![vocabulary]),
        ]
    }

    /// A GPT's blocks' tensors, named as nanoGPT's (`h.0.attn.c_attn.weight`).
    fn block_shapes(&self) -> Vec<(String, Vec<usize>)> {
        let LmArch::Gpt {
            embedding: e,
            blocks,
            ..
        } = *self
        else {
            return Vec::new();
        };
        let mut shapes = Vec::new();
        for b in 0..blocks.min(MAX_BLOCKS) {
            for (name, shape) in [
                ("ln_1.weight", vec![e]),
                ("ln_1.bias", vec![e]),
                ("attn.c_attn.weight", vec![3 * e, e]),
                ("attn.c_attn.bias", vec![3 * e]),
                ("attn.c_proj.weight", vec![e, e]),
                ("attn.c_proj.bias", vec![e]),
                ("ln_2.weight", vec![e]),
                ("ln_2.bias", vec![e]),
                ("mlp.c_fc.weight", vec![4 * e, e]),
                ("mlp.c_fc.bias", vec![4 * e]),
                ("mlp.c_proj.weight", vec![e, 4 * e]),
                ("mlp.c_proj.bias", vec![e]),
            ] {
                shapes.push((format!("h.{b}.{name}"), shape));
            }
        }
        shapes
    }

    /// The tensors outside a GPT's blocks, and every other model's.
    fn static_shapes(&self, vocabulary: usize) -> Vec<(&'static str, Vec<usize>)> {
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
                shapes
            }
            LmArch::WaveNet { embedding, .. } | LmArch::Layers { embedding, .. } => {
                vec![("wte.weight", vec![vocabulary, embedding])]
            }
            LmArch::Gpt {
                context, embedding, ..
            } => vec![
                ("wte.weight", vec![vocabulary, embedding]),
                ("wpe.weight", vec![context, embedding]),
                ("ln_f.weight", vec![embedding]),
                ("ln_f.bias", vec![embedding]),
                ("lm_head.weight", vec![vocabulary, embedding]),
            ],
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
        let check = |name: &str, value: usize, most: usize| {
            if (1..=most).contains(&value) {
                Ok(())
            } else {
                Err(format!("`{name}` must be 1 to {most}, not {value}"))
            }
        };
        if let LmArch::Mlp {
            context,
            embedding,
            hidden,
            ..
        } = *self
        {
            check("context", context, MAX_CONTEXT)?;
            check("embedding", embedding, MAX_WIDTH)?;
            check("hidden", hidden, MAX_WIDTH)?;
        }
        if let LmArch::WaveNet {
            context,
            embedding,
            hidden,
        } = *self
        {
            if !(2..=MAX_CONTEXT).contains(&context) || !context.is_power_of_two() {
                return Err(format!(
                    "a wavenet's context joins characters in pairs until one is left: it must be \
                     2, 4, 8, 16... up to {MAX_CONTEXT}, not {context}"
                ));
            }
            check("embedding", embedding, MAX_WIDTH)?;
            check("hidden", hidden, MAX_WIDTH)?;
        }
        if let LmArch::Gpt {
            context,
            embedding,
            heads,
            blocks,
        } = *self
        {
            check("context", context, MAX_CONTEXT)?;
            check("embedding", embedding, MAX_WIDTH)?;
            check("heads", heads, MAX_BLOCKS)?;
            check("blocks", blocks, MAX_BLOCKS)?;
            if !embedding.is_multiple_of(heads) {
                return Err(format!(
                    "the embedding ({embedding}) must split evenly into the {heads} heads"
                ));
            }
        }
        if let LmArch::Layers {
            context,
            embedding,
            layers,
        } = *self
        {
            check("context", context, MAX_CONTEXT)?;
            check("embedding", embedding, MAX_WIDTH)?;
            let steps = layers.walk(context, embedding)?;
            let positions = steps.last().map_or(context, |last| last.output.0);
            if positions != 1 {
                return Err(format!(
                    "the layers leave {positions} positions, and the scores are for one: end \
                     the joining with flatten (or enough flattenN)"
                ));
            }
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

    /// About how many numbers a training step keeps per example (every output along the way
    /// and its gradient; for a GPT, each block's dozen arrays of the embedding's width and its
    /// attention scores, at every position), for `vocabulary` characters.
    pub fn values_per_example(&self, vocabulary: usize) -> usize {
        let v = vocabulary;
        match *self {
            LmArch::Bigram => 4 * v,
            LmArch::Mlp {
                context,
                embedding,
                hidden,
                ..
            } => 2 * context * embedding + 12 * hidden + 4 * v,
            // Each level keeps half the positions of the one before, each about 12 arrays wide.
            LmArch::WaveNet {
                context,
                embedding,
                hidden,
            } => 2 * context * embedding + 12 * context * hidden + 4 * v,
            // Each layer keeps its output and its gradient, about 6 arrays' worth at most.
            LmArch::Layers {
                context,
                embedding,
                layers,
            } => layers
                .walk(context, embedding)
                .unwrap_or_default()
                .iter()
                .fold(2 * context * embedding + 4 * v, |sum, step| {
                    let (positions, width) = step.output;
                    sum.saturating_add(12usize.saturating_mul(positions).saturating_mul(width))
                }),
            LmArch::Gpt {
                context: t,
                embedding: e,
                heads: h,
                blocks,
            } => t.saturating_mul(
                blocks
                    .saturating_mul(96 * e + 8 * h * t)
                    .saturating_add(4 * v + 8 * e),
            ),
        }
    }

    /// Refuses a batch whose step would keep more than [`MAX_STEP_VALUES`] numbers, before
    /// anything is allocated.
    ///
    /// ```
    /// use scratchgrad::lm::LmArch;
    /// let gpt = LmArch::Gpt { context: 64, embedding: 128, heads: 4, blocks: 4 };
    /// assert!(gpt.check_batch(65, 12).is_ok());
    /// assert!(gpt.check_batch(65, 65_536).unwrap_err().contains("--batch-size"));
    /// ```
    pub fn check_batch(&self, vocabulary: usize, batch: usize) -> Result<(), String> {
        let per = self.values_per_example(vocabulary);
        match per.checked_mul(batch) {
            Some(n) if n <= MAX_STEP_VALUES => Ok(()),
            _ => Err(format!(
                "a step of {batch} examples of this {} would keep about {} GB of numbers; \
                 the most is {} GB: lower --batch-size or the model's sizes",
                self.kind(),
                (per as f64 * batch as f64 * 4.0 / 1e9).round(),
                MAX_STEP_VALUES * 4 / 1_000_000_000
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
            LmArch::WaveNet {
                context,
                embedding,
                hidden,
            } => format!(
                "wavenet (context {context}, embedding {embedding}, {} levels of {hidden}, batch norm)",
                levels(context)
            ),
            LmArch::Gpt {
                context,
                embedding,
                heads,
                blocks,
            } => format!(
                "gpt (context {context}, embedding {embedding}, {heads} heads, {blocks} blocks)"
            ),
            LmArch::Layers {
                context,
                embedding,
                layers,
            } => format!("layers (context {context}, embedding {embedding}: {layers})"),
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
            LmArch::WaveNet {
                context,
                embedding,
                hidden,
            } => json!({
                "kind": "wavenet", "context": context, "embedding": embedding, "hidden": hidden,
            }),
            LmArch::Gpt {
                context,
                embedding,
                heads,
                blocks,
            } => json!({
                "kind": "gpt", "context": context, "embedding": embedding,
                "heads": heads, "blocks": blocks,
            }),
            LmArch::Layers {
                context,
                embedding,
                layers,
            } => json!({
                "kind": "layers", "context": context, "embedding": embedding,
                "layers": layers.to_string(),
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
            Some("wavenet") => Ok(LmArch::WaveNet {
                context: size("context")?,
                embedding: size("embedding")?,
                hidden: size("hidden")?,
            }),
            Some("gpt") => Ok(LmArch::Gpt {
                context: size("context")?,
                embedding: size("embedding")?,
                heads: size("heads")?,
                blocks: size("blocks")?,
            }),
            Some("layers") => Ok(LmArch::Layers {
                context: size("context")?,
                embedding: size("embedding")?,
                layers: value["layers"]
                    .as_str()
                    .filter(|t| t.len() <= 1000)
                    .ok_or("the architecture's `layers` is not a short line of text")?
                    .parse()?,
            }),
            _ => Err(
                "the architecture is not a known language model (bigram, mlp, wavenet, gpt, layers)"
                    .into(),
            ),
        }
    }
}

/// How many levels a WaveNet of `context` characters has: pairs are joined until one is left.
fn levels(context: usize) -> usize {
    context.max(1).ilog2() as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lecture_mlp_has_the_lectures_parameter_count() {
        // makemore part 3 prints 12,097 parameters for C, W1, W2, b2, bngain and bnbias.
        assert_eq!(LmArch::LECTURE_MLP.parameters(27), 12_097);
        assert_eq!(LmArch::Bigram.parameters(27), 729);
        // makemore part 5 prints 76,579 parameters for its WaveNet.
        assert_eq!(LmArch::LECTURE_WAVENET.parameters(27), 76_579);
        let odd = LmArch::WaveNet {
            context: 6,
            embedding: 24,
            hidden: 128,
        };
        assert!(odd.validate(27).unwrap_err().contains("2, 4, 8, 16"));
        for arch in [LmArch::Bigram, LmArch::LECTURE_MLP, LmArch::LECTURE_WAVENET] {
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
        // nanoGPT's CPU configuration's sizes on Shakespeare's 65 characters, with biases and
        // an untied head: a block is 2 * 256 (layer norms) + 49,536 + 16,512 (attention) +
        // 66,048 + 65,664 (MLP) = 198,272; then wte 8,320, wpe 8,192, ln_f 256, head 8,320.
        let gpt = LmArch::Gpt {
            context: 64,
            embedding: 128,
            heads: 4,
            blocks: 4,
        };
        assert_eq!(
            gpt.parameters(65),
            4 * 198_272 + 8_320 + 8_192 + 256 + 8_320
        );
        assert_eq!(LmArch::from_json(&gpt.to_json()), Ok(gpt));
        assert!(LmArch::from_json(&json!({"kind": "mlp", "context": -1})).is_err());
    }
}
