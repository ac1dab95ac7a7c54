//! Causal multi-head self-attention, as makemore's and nanoGPT's `CausalSelfAttention`: each
//! position mixes the values of the positions up to itself, weighted by how well its query
//! matches their keys; `heads` such mixtures of `features / heads` numbers side by side.

use super::{Dropout, Linear, Module};
use crate::array::{Float, Rng};
use crate::autograd::Tensor;

/// Self-attention over `[batch, time, features]` where no position sees a later one.
pub struct CausalSelfAttention<T: Float> {
    /// Queries, keys and values in one product: `[3 * features, features]`.
    pub qkv: Linear<T>,
    /// The heads' outputs mixed back: `[features, features]`.
    pub proj: Linear<T>,
    pub heads: usize,
}

impl<T: Float> CausalSelfAttention<T> {
    /// A new layer over `features` numbers in `heads` heads (`features` a multiple of it).
    pub fn new(features: usize, heads: usize, rng: &mut Rng) -> Self {
        assert!(
            heads > 0 && features.is_multiple_of(heads),
            "CausalSelfAttention: {features} features do not split into {heads} heads"
        );
        CausalSelfAttention {
            qkv: Linear::new(features, 3 * features, rng),
            proj: Linear::new(features, features, rng),
            heads,
        }
    }
}

impl<T: Float> Module<T> for CausalSelfAttention<T> {
    fn forward(&self, x: &Tensor<T>) -> Tensor<T> {
        self.forward_with_weights(x, None).0
    }

    fn named_parameters(&self) -> Vec<(String, Tensor<T>)> {
        let mut all = Vec::new();
        for (prefix, layer) in [("c_attn", &self.qkv), ("c_proj", &self.proj)] {
            all.extend(
                layer
                    .named_parameters()
                    .into_iter()
                    .map(|(n, p)| (format!("{prefix}.{n}"), p)),
            );
        }
        all
    }
}

impl<T: Float> CausalSelfAttention<T> {
    /// The output, and the attention weights `[batch, heads, time, time]`: row `i` of a
    /// head is how much position `i` takes from each position up to it (a softmax: it sums
    /// to 1, and is 0 after `i`). With `dropout` (nanoGPT's `attn_dropout`) while it trains,
    /// the weights are dropped out before they mix the values, in five steps; otherwise the
    /// steps run as one operation. The weights returned are the softmax's (and carry a
    /// gradient only in the first case).
    pub fn forward_with_weights(
        &self,
        x: &Tensor<T>,
        dropout: Option<&Dropout>,
    ) -> (Tensor<T>, Tensor<T>) {
        let (mixed, weights) = self.heads_mixed(x, dropout);
        (self.proj.forward_fused(&mixed), weights)
    }

    /// [`CausalSelfAttention::forward_with_weights`] before its last layer (`proj`): the
    /// heads' mixtures side by side, `[batch, time, features]`, and the weights. For a
    /// caller that adds `proj`'s output to a residual stream in the same operation
    /// ([`Linear::forward_onto`]).
    ///
    /// ```
    /// use scratchgrad::array::{Array, Rng};
    /// use scratchgrad::autograd::Tensor;
    /// use scratchgrad::nn::CausalSelfAttention;
    /// let attention = CausalSelfAttention::<f64>::new(8, 2, &mut Rng::seed(0));
    /// let x = Tensor::new(Array::rand_uniform(&[3, 5, 8], -1.0, 1.0, &mut Rng::seed(1)));
    /// let (mixed, weights) = attention.heads_mixed(&x, None);
    /// assert_eq!((mixed.dims().as_slice(), weights.dims().as_slice()), (&[3, 5, 8][..], &[3, 2, 5, 5][..]));
    /// let (out, _) = attention.forward_with_weights(&x, None);
    /// assert_eq!(attention.proj.forward_fused(&mixed).data().data(), out.data().data());
    /// ```
    pub fn heads_mixed(&self, x: &Tensor<T>, dropout: Option<&Dropout>) -> (Tensor<T>, Tensor<T>) {
        let c = x.dims()[2];
        let (h, hs) = (self.heads, c / self.heads);
        let qkv = self.qkv.forward_fused(x);
        let Some(dropout) = dropout.filter(|dropout| dropout.drops()) else {
            // The steps below in one operation, which reads each head where it lies in `qkv`
            // and computes only the causal triangle (`array/attention.rs`).
            return qkv.causal_attention(h);
        };
        // [B, T, C] -> [B, H, T, hs]: each head's slice of the features, heads as a batch axis
        let split = |i: usize| qkv.narrow(2, i * c, c).split_heads(h);
        let (q, k, v) = (split(0), split(1), split(2));
        // weights = softmax(q k^T / sqrt(hs)) over each position's past and itself, [B, H, T, T]
        let scale = T::from_f64(1.0 / (hs as f64).sqrt());
        let weights = q.matmul_t(false, &k, true).causal_softmax(scale);
        // each position's mixture of the dropped-out weights' values, heads put back side by
        // side: [B, T, C]
        let mixed = dropout.forward(&weights).matmul(&v).merge_heads();
        (mixed, weights)
    }
}
