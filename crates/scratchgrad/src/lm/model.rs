//! A language model on the autograd engine: an embedding table, and for the MLP a hidden
//! layer (batch norm, tanh) and an output layer. The backward pass is autograd's.

use std::cell::RefCell;
use std::fmt::Write;
use std::sync::Arc;

use super::arch::LmArch;
use super::layers::LmLayer;
use crate::array::{Array, Rng};
use crate::autograd::{no_grad, Tensor};
use crate::nn::{BatchNorm, CausalSelfAttention, Dropout, LayerNorm, Linear, Module};

/// A language model's learnt state, by name (as the model file stores it).
pub type NamedArrays = Vec<(String, Array<f32>)>;
/// Its whole numbers by name: each batch norm's `num_batches_tracked`.
pub type NamedCounts = Vec<(String, u64)>;

/// A model ready to train or to sample from.
pub struct LanguageModel {
    arch: LmArch,
    vocabulary: usize,
    /// Learnt tensors in the order of [`LmArch::parameter_shapes`], batch norm's apart (the
    /// names shared, so that a replica's copies of them allocate nothing).
    parameters: Vec<(Arc<str>, Tensor<f32>)>,
    /// Each batch norm layer with its prefix, in the order of [`LmArch::norm_prefixes`].
    norms: Vec<(String, BatchNorm<f32>)>,
    /// A GPT's dropout while training (nanoGPT's places: the embeddings, the attention
    /// weights, each block's two outputs before they join the residual stream).
    dropout: Option<Dropout>,
}

impl LanguageModel {
    /// A new model for `vocabulary` characters, initialised as makemore's lectures do: the
    /// table from N(0, 1); the hidden weights N(0, 1) * (5/3) / sqrt(fan-in) (tanh's gain);
    /// the output layer small (N(0, 1) * 0.01, bias 0) so the first scores are almost
    /// uniform and the first loss is near ln(vocabulary). A GPT as nanoGPT: every matrix
    /// N(0, 0.02), the residual projections N(0, 0.02 / sqrt(2 blocks)), biases 0, layer
    /// norms 1 and 0. A WaveNet as makemore part 5: N(0, 1) / sqrt(fan-in) for each level and
    /// a tenth of that for the output layer.
    pub fn new(arch: LmArch, vocabulary: usize, rng: &mut Rng) -> Result<Self, String> {
        arch.validate(vocabulary)?;
        let mut arrays = NamedArrays::new();
        for (name, shape) in arch.parameter_shapes(vocabulary) {
            if let LmArch::Gpt { blocks, .. } = arch {
                let array = if name.ends_with("c_proj.weight") {
                    Array::rand_normal(&shape, 0.0, 0.02 / (2.0 * blocks as f64).sqrt(), rng)
                } else if shape.len() == 2 {
                    Array::rand_normal(&shape, 0.0, 0.02, rng)
                } else if name.contains("ln_") && name.ends_with(".weight") {
                    Array::ones(&shape)
                } else {
                    Array::zeros(&shape)
                };
                arrays.push((name, array));
                continue;
            }
            let array = match name.as_str() {
                "logits.weight" | "wte.weight" => Array::rand_normal(&shape, 0.0, 1.0, rng),
                "hidden.weight" => {
                    Array::rand_normal(&shape, 0.0, 5.0 / 3.0 / (shape[1] as f64).sqrt(), rng)
                }
                "hidden.bias" => Array::rand_normal(&shape, 0.0, 0.01, rng),
                "out.weight" if matches!(arch, LmArch::WaveNet { .. } | LmArch::Layers { .. }) => {
                    Array::rand_normal(&shape, 0.0, 0.1 / (shape[1] as f64).sqrt(), rng)
                }
                "out.weight" => Array::rand_normal(&shape, 0.0, 0.01, rng),
                // every norm's scale (batch norm's `bn.weight`, a layer list's norms)
                _ if shape.len() == 1 && name.ends_with(".weight") => Array::ones(&shape),
                _ if shape.len() == 2 => {
                    Array::rand_normal(&shape, 0.0, 1.0 / (shape[1] as f64).sqrt(), rng)
                }
                _ => Array::zeros(&shape),
            };
            arrays.push((name, array));
        }
        for prefix in arch.norm_prefixes() {
            let channels = arrays
                .iter()
                .find(|(n, _)| *n == format!("{prefix}.weight"))
                .map(|(_, a)| a.len())
                .expect("each batch norm has a scale");
            arrays.push((format!("{prefix}.running_mean"), Array::zeros(&[channels])));
            arrays.push((format!("{prefix}.running_var"), Array::ones(&[channels])));
        }
        Self::from_arrays(arch, vocabulary, arrays, &NamedCounts::new())
    }

    /// A model from its named arrays (parameters and batch norm's running statistics) and
    /// batch norm's counts of batches (a missing one is 0); every name and shape must be the
    /// architecture's.
    pub fn from_arrays(
        arch: LmArch,
        vocabulary: usize,
        mut arrays: NamedArrays,
        counts: &NamedCounts,
    ) -> Result<Self, String> {
        arch.validate(vocabulary)?;
        let mut take = |name: &str, shape: &[usize]| -> Result<Array<f32>, String> {
            let at = arrays.iter().position(|(n, _)| n == name).ok_or_else(|| {
                format!(
                    "has no tensor `{name}`, which a {} model needs",
                    arch.kind()
                )
            })?;
            let (_, array) = arrays.swap_remove(at);
            if array.shape() != shape {
                return Err(format!(
                    "has `{name}` of shape {:?}, not the {shape:?} the model needs",
                    array.shape()
                ));
            }
            Ok(array)
        };
        let prefixes = arch.norm_prefixes();
        let in_norm = |name: &str| {
            prefixes.iter().any(|p| {
                name.strip_prefix(p.as_str())
                    .is_some_and(|r| r.starts_with('.'))
            })
        };
        let mut parameters = Vec::new();
        let mut norm_parts = Vec::new();
        for (name, shape) in arch.parameter_shapes(vocabulary) {
            let array = take(&name, &shape)?;
            if in_norm(&name) {
                norm_parts.push(array);
            } else {
                parameters.push((name.into(), Tensor::parameter(array)));
            }
        }
        let mut norms = Vec::new();
        for (prefix, parts) in prefixes.iter().zip(norm_parts.chunks(2)) {
            let [weight, bias] = parts else {
                unreachable!("each batch norm has a scale and a shift")
            };
            let channels = weight.shape()[0];
            let mean = take(&format!("{prefix}.running_mean"), &[channels])?;
            let var = take(&format!("{prefix}.running_var"), &[channels])?;
            if var.data().iter().any(|&v| v < 0.0) {
                return Err(format!("has a negative running variance in `{prefix}`"));
            }
            let count_name = format!("{prefix}.num_batches_tracked");
            let count = counts
                .iter()
                .find(|(n, _)| *n == count_name)
                .map_or(0, |(_, c)| *c);
            let norm = BatchNorm::from_arrays(weight.clone(), bias.clone(), mean, var, count);
            norms.push((prefix.clone(), norm));
        }
        if let Some((name, _)) = counts.iter().find(|(n, _)| {
            !norms
                .iter()
                .any(|(p, _)| *n == format!("{p}.num_batches_tracked"))
        }) {
            return Err(format!(
                "has a count `{name}` that a {} model does not have",
                arch.kind()
            ));
        }
        if let Some((name, _)) = arrays.first() {
            return Err(format!(
                "has tensor `{name}` that a {} model does not have",
                arch.kind()
            ));
        }
        Ok(LanguageModel {
            arch,
            vocabulary,
            parameters,
            norms,
            dropout: None,
        })
    }

    /// A copy that reads this model's values (shared, not copied) and gathers gradients of
    /// its own, so that parts of a batch can go forward and backward side by side and their
    /// gradients be added in a fixed order. `None` for a model with batch norm, whose
    /// statistics must be the whole batch's.
    pub fn replica(&self) -> Option<LanguageModel> {
        self.norms.is_empty().then(|| LanguageModel {
            arch: self.arch,
            vocabulary: self.vocabulary,
            parameters: self
                .parameters
                .iter()
                .map(|(name, tensor)| (name.clone(), tensor.alias()))
                .collect(),
            norms: Vec::new(),
            dropout: self.dropout.clone(),
        })
    }

    /// Its architecture.
    pub fn arch(&self) -> LmArch {
        self.arch
    }

    /// How many characters it knows.
    pub fn vocabulary(&self) -> usize {
        self.vocabulary
    }

    fn parameter(&self, name: &str) -> &Tensor<f32> {
        &self
            .parameters
            .iter()
            .find(|(n, _)| **n == *name)
            .expect("the model's own tensor")
            .1
    }

    /// The scores (logits) of the next character after each context: `contexts` holds
    /// `batch` contexts of [`LmArch::context`] tokens, row by row; the result is
    /// `[batch, vocabulary]`, or for a GPT (whose contexts may be shorter) the scores after
    /// every position, `[batch * time, vocabulary]`.
    pub fn forward(&self, contexts: &[usize], batch: usize) -> Tensor<f32> {
        let context = contexts.len() / batch.max(1);
        let ids = Array::from_vec(contexts.to_vec(), &[batch, context]);
        match self.arch {
            // logits = W[previous character]
            LmArch::Bigram => self
                .parameter("logits.weight")
                .embedding(&ids)
                .reshape(&[batch, self.vocabulary]),
            // h = tanh(bn(concat(C[ids]) W1^T)) (or + b1 without batch norm); logits = h W2^T + b2
            LmArch::Mlp { embedding, .. } => {
                let x = self
                    .parameter("wte.weight")
                    .embedding(&ids)
                    .reshape(&[batch, context * embedding]);
                let pre = x.matmul_t(false, self.parameter("hidden.weight"), true);
                let pre = match self.norms.first() {
                    Some((_, norm)) => norm.forward(&pre),
                    None => &pre + self.parameter("hidden.bias"),
                };
                self.output(&pre.tanh())
            }
            LmArch::WaveNet { embedding, .. } => {
                // [B, T, E] with T = context; each level joins neighbours in pairs:
                // [B * T/2, 2E] -> linear -> batch norm over (batch, time) -> tanh -> [B * T/2, H]
                let mut x = self
                    .parameter("wte.weight")
                    .embedding(&ids)
                    .reshape(&[batch * context, embedding]);
                for (level, (_, norm)) in self.norms.iter().enumerate() {
                    let joined = flatten_consecutive(&x, 2);
                    let pre =
                        joined.matmul_t(false, self.parameter(&format!("h.{level}.weight")), true);
                    x = norm.forward(&pre).tanh();
                }
                self.output(&x)
            }
            LmArch::Gpt { heads, blocks, .. } => self.gpt(&ids, heads, blocks, None),
            LmArch::Layers {
                embedding, layers, ..
            } => {
                // [B * T, E], then each layer on [B * positions, width]
                let mut x = self
                    .parameter("wte.weight")
                    .embedding(&ids)
                    .reshape(&[batch * context, embedding]);
                for (i, layer) in layers.layers().iter().enumerate() {
                    let name = |part: &str| format!("layers.{i}.{part}");
                    x = match *layer {
                        LmLayer::Flatten => {
                            let rows = x.dims();
                            let width = rows[0] * rows[1] / batch.max(1);
                            x.reshape(&[batch, width])
                        }
                        LmLayer::Join(n) => flatten_consecutive(&x, usize::from(n)),
                        LmLayer::Linear(_) => {
                            &x.matmul_t(false, self.parameter(&name("weight")), true)
                                + self.parameter(&name("bias"))
                        }
                        LmLayer::BatchNorm => {
                            let prefix = format!("layers.{i}");
                            let (_, norm) = (self.norms.iter())
                                .find(|(p, _)| *p == prefix)
                                .expect("each bn layer has its batch norm");
                            norm.forward(&x)
                        }
                        LmLayer::LayerNorm => x.layer_norm(
                            self.parameter(&name("weight")),
                            self.parameter(&name("bias")),
                            1e-5,
                        ),
                        LmLayer::Tanh => x.tanh(),
                        LmLayer::Relu => x.relu(),
                        LmLayer::Gelu => x.gelu(),
                    };
                }
                self.output(&x)
            }
        }
    }

    /// logits = h W_out^T + b_out, the MLP's and the WaveNet's last layer.
    fn output(&self, h: &Tensor<f32>) -> Tensor<f32> {
        &h.matmul_t(false, self.parameter("out.weight"), true) + self.parameter("out.bias")
    }

    /// A GPT's attention over `window`: for each block, each head's weights `[time, time]`
    /// (row `i`: how much position `i` takes from each position up to it). Empty for the other
    /// models.
    pub fn attention(&self, window: &[usize]) -> Vec<Vec<Array<f32>>> {
        let LmArch::Gpt { heads, blocks, .. } = self.arch else {
            return Vec::new();
        };
        let ids = Array::from_vec(window.to_vec(), &[1, window.len()]);
        let mut weights = Vec::new();
        no_grad(|| self.gpt(&ids, heads, blocks, Some(&mut weights)));
        let t = window.len();
        weights
            .iter()
            .map(|w| {
                let data = w.data();
                (0..heads)
                    .map(|h| Array::from_vec(data[h * t * t..(h + 1) * t * t].to_vec(), &[t, t]))
                    .collect()
            })
            .collect()
    }

    /// A GPT's scores at every position: `[batch * time, vocabulary]`; with `weights`, each
    /// block's attention weights are kept in it.
    fn gpt(
        &self,
        ids: &Array<usize>,
        heads: usize,
        blocks: usize,
        mut weights: Option<&mut Vec<Array<f32>>>,
    ) -> Tensor<f32> {
        let (batch, time) = (ids.shape()[0], ids.shape()[1]);
        // Each name is written into one buffer to be looked up: no allocation per name.
        let name = RefCell::new(String::new());
        let p = |block: usize, layer: &str, part: &str| {
            let mut name = name.borrow_mut();
            name.clear();
            write!(name, "h.{block}.{layer}.{part}").expect("writing to a String");
            self.parameter(&name).clone()
        };
        let norm = |block, layer| LayerNorm {
            weight: p(block, layer, "weight"),
            bias: p(block, layer, "bias"),
        };
        let linear = |block, layer| Linear {
            weight: p(block, layer, "weight"),
            bias: p(block, layer, "bias"),
        };
        // x = token embedding + position embedding, [B, T, E]
        let positions = self.parameter("wpe.weight").narrow(0, 0, time);
        let mut x = self.drop(&self.parameter("wte.weight").embedding(ids) + &positions);
        for b in 0..blocks {
            // x = x + attention(ln_1(x)); x = x + mlp(ln_2(x)): each block adds to the stream
            let attention = CausalSelfAttention {
                qkv: linear(b, "attn.c_attn"),
                proj: linear(b, "attn.c_proj"),
                heads,
            };
            let (mixed, attended) =
                attention.heads_mixed(&norm(b, "ln_1").forward(&x), self.dropout.as_ref());
            if let Some(kept) = weights.as_deref_mut() {
                kept.push(attended.to_array());
            }
            x = self.add_to_stream(&x, &attention.proj, &mixed);
            let wide = linear(b, "mlp.c_fc").forward_gelu(&norm(b, "ln_2").forward(&x));
            x = self.add_to_stream(&x, &linear(b, "mlp.c_proj"), &wide);
        }
        let ln_f = LayerNorm {
            weight: self.parameter("ln_f.weight").clone(),
            bias: self.parameter("ln_f.bias").clone(),
        };
        let x = ln_f.forward(&x);
        x.matmul_t(false, self.parameter("lm_head.weight"), true)
            .reshape(&[batch * time, self.vocabulary])
    }

    /// The scores of the character after `window` (at most the model's context), for writing
    /// text one character at a time.
    pub fn next_scores(&self, window: &[usize]) -> Vec<f64> {
        // Nothing to learn here: no graph is kept.
        let logits = no_grad(|| self.forward(window, 1)).data();
        let all = logits.data();
        all[all.len() - self.vocabulary..]
            .iter()
            .map(|&v| v as f64)
            .collect()
    }

    /// Training (batch statistics, dropout) or evaluation (running statistics, no dropout)
    /// behaviour.
    pub fn set_training(&mut self, training: bool) {
        for (_, norm) in &mut self.norms {
            norm.set_training(training);
        }
        if let Some(dropout) = &mut self.dropout {
            Module::<f32>::set_training(dropout, training);
        }
    }

    /// Drops out values with probability `p` while training (a GPT's; 0 drops none, and the
    /// other models have none).
    pub fn set_dropout(&mut self, p: f64) {
        self.dropout =
            (p > 0.0 && matches!(self.arch, LmArch::Gpt { .. })).then(|| Dropout::new(p));
    }

    /// The generator of the next step's dropout masks.
    pub fn reseed_dropout(&self, rng: Rng) {
        if let Some(dropout) = &self.dropout {
            Module::<f32>::reseed(dropout, rng, 0);
        }
    }

    /// The residual stream's step `x + dropout(layer(h))`: one operation where nothing is
    /// dropped ([`Linear::forward_onto`], the same bits as the steps).
    fn add_to_stream(&self, x: &Tensor<f32>, layer: &Linear<f32>, h: &Tensor<f32>) -> Tensor<f32> {
        match self.dropout.as_ref().filter(|dropout| dropout.drops()) {
            Some(dropout) => x + &dropout.forward(&layer.forward_fused(h)),
            None => layer.forward_onto(h, x),
        }
    }

    /// `x` dropped out, when the model has dropout.
    fn drop(&self, x: Tensor<f32>) -> Tensor<f32> {
        match &self.dropout {
            Some(dropout) => dropout.forward(&x),
            None => x,
        }
    }

    /// Every learnt tensor in the order of [`LanguageModel::named_parameters`], without the
    /// names (a training step's list of what gathers gradients).
    pub fn parameter_tensors(&self) -> Vec<Tensor<f32>> {
        let own = self.parameters.iter().map(|(_, t)| t.clone());
        let norms = self
            .norms
            .iter()
            .flat_map(|(_, norm)| norm.named_parameters().into_iter().map(|(_, t)| t));
        own.chain(norms).collect()
    }

    /// Every learnt tensor, with its name, batch norm's included.
    pub fn named_parameters(&self) -> Vec<(String, Tensor<f32>)> {
        let mut all: Vec<_> = (self.parameters.iter())
            .map(|(name, t)| (name.to_string(), t.clone()))
            .collect();
        for (prefix, norm) in &self.norms {
            all.extend(
                norm.named_parameters()
                    .into_iter()
                    .map(|(n, t)| (format!("{prefix}.{n}"), t)),
            );
        }
        all
    }

    /// Everything a model file keeps (parameters and running statistics) and batch norm's
    /// counts of batches, by name.
    pub fn state(&self) -> (NamedArrays, NamedCounts) {
        let mut arrays: NamedArrays = self
            .named_parameters()
            .into_iter()
            .map(|(n, t)| (n, t.to_array()))
            .collect();
        let mut counts = NamedCounts::new();
        for (prefix, norm) in &self.norms {
            arrays.extend(
                norm.named_buffers()
                    .into_iter()
                    .map(|(n, a)| (format!("{prefix}.{n}"), a)),
            );
            counts.extend(
                norm.named_counts()
                    .into_iter()
                    .map(|(n, c)| (format!("{prefix}.{n}"), c)),
            );
        }
        (arrays, counts)
    }
}

/// makemore's FlattenConsecutive: rows `[N, C]` (positions of windows, in order) become
/// `[N / n, n * C]`, each row the `n` neighbours side by side. In row-major order this is a
/// reshape: the numbers do not move, and the backward pass is the reshape back.
///
/// ```
/// use scratchgrad::array::Array;
/// use scratchgrad::autograd::Tensor;
/// use scratchgrad::lm::flatten_consecutive;
/// let x = Tensor::new(Array::from_vec(vec![1.0f32, 2.0, 3.0, 4.0], &[4, 1]));
/// let pairs = flatten_consecutive(&x, 2);
/// assert_eq!(pairs.shape()[..], [2, 2]);
/// assert_eq!(pairs.to_array().data(), &[1.0, 2.0, 3.0, 4.0]);
/// ```
pub fn flatten_consecutive(x: &Tensor<f32>, n: usize) -> Tensor<f32> {
    let shape = x.dims();
    x.reshape(&[shape[0] / n, n * shape[1]])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nn::cross_entropy;

    #[test]
    fn parameter_tensors_come_in_the_order_of_named_parameters() {
        // A training step pairs gradients and optimizer slots by position in
        // `parameter_tensors`; checkpoints by name in `named_parameters`. Two lists built
        // apart must agree, for every architecture, batch norm's tensors included.
        let mlp = |batch_norm| LmArch::Mlp {
            context: 3,
            embedding: 4,
            hidden: 8,
            batch_norm,
        };
        let archs = [
            LmArch::Bigram,
            mlp(true),
            mlp(false),
            LmArch::LECTURE_WAVENET,
            LmArch::Gpt {
                context: 8,
                embedding: 8,
                heads: 2,
                blocks: 2,
            },
            LmArch::Layers {
                context: 4,
                embedding: 6,
                layers: "flatten2,linear16,bn,tanh,flatten,linear8,layernorm,gelu"
                    .parse()
                    .unwrap(),
            },
        ];
        let mut rng = Rng::seed(9);
        for arch in archs {
            let model = LanguageModel::new(arch, 27, &mut rng).unwrap();
            let named: Vec<usize> = model
                .named_parameters()
                .iter()
                .map(|(_, t)| t.id())
                .collect();
            let tensors: Vec<usize> = model.parameter_tensors().iter().map(|t| t.id()).collect();
            assert!(!named.is_empty(), "{arch:?}");
            assert_eq!(tensors, named, "{arch:?}");
        }
    }

    #[test]
    fn a_layer_list_computes_what_the_lectures_mlp_computes() {
        // The MLP's own tensors under a layer list's names (and a zero hidden bias, which the
        // MLP leaves out before its batch norm) give the same scores, bit for bit.
        let mut rng = Rng::seed(4);
        let mlp = LanguageModel::new(LmArch::LECTURE_MLP, 27, &mut rng).unwrap();
        let (state, counts) = mlp.state();
        let rename = |name: &str| match name {
            "hidden.weight" => "layers.1.weight".to_string(),
            other => other.replacen("bn.", "layers.2.", 1),
        };
        let mut arrays: NamedArrays = state.iter().map(|(n, a)| (rename(n), a.clone())).collect();
        arrays.push(("layers.1.bias".into(), Array::zeros(&[200])));
        let layers = LmArch::Layers {
            context: 3,
            embedding: 10,
            layers: "flatten,linear200,bn,tanh".parse().unwrap(),
        };
        let counts: NamedCounts = counts.iter().map(|(n, c)| (rename(n), *c)).collect();
        let list = LanguageModel::from_arrays(layers, 27, arrays, &counts).unwrap();
        let contexts = [0, 0, 5, 1, 2, 3, 26, 4, 4, 9, 0, 13];
        assert_eq!(
            list.forward(&contexts, 4).to_array(),
            mlp.forward(&contexts, 4).to_array()
        );
        assert_eq!(
            layers.parameters(27),
            LmArch::LECTURE_MLP.parameters(27) + 200
        );
        assert_eq!(LmArch::from_json(&layers.to_json()), Ok(layers));
    }

    #[test]
    fn a_new_model_starts_near_the_uniform_guess() {
        let mut rng = Rng::seed(0);
        let model = LanguageModel::new(LmArch::LECTURE_MLP, 27, &mut rng).unwrap();
        let contexts: Vec<usize> = (0..3 * 64).map(|i| i % 27).collect();
        let targets: Vec<usize> = (0..64).map(|i| (i * 7) % 27).collect();
        let loss = cross_entropy(&model.forward(&contexts, 64), &targets).item();
        // ln 27 = 3.2958: a small output layer gives almost equal scores.
        assert!((loss - 27f32.ln()).abs() < 0.05, "{loss}");
        let (state, counts) = model.state();
        assert_eq!(state.len(), 8);
        let again =
            LanguageModel::from_arrays(LmArch::LECTURE_MLP, 27, state.clone(), &counts).unwrap();
        assert_eq!(again.state().0, state);
        let mut missing = state;
        missing.pop();
        assert!(LanguageModel::from_arrays(LmArch::LECTURE_MLP, 27, missing, &counts).is_err());
    }
}
