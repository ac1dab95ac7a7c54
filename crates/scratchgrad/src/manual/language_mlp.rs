//! makemore's MLP language model with every gradient derived by hand (the lectures' "become
//! a backprop ninja" exercise): embedding, linear, batch norm, tanh, linear, cross-entropy.
//!
//! Forward, for a batch of contexts: `x = concat(C[ids])`, `pre = x W1^T + b1`,
//! `h = tanh(bn(pre))`, `logits = h W2^T + b2`, `loss = mean -log softmax(logits)[target]`.
//! Backward runs the same chain the other way, each step one layer's own derivative:
//! `dlogits = (softmax - onehot) / batch`; `dW2 = dlogits^T h`, `db2 = sum dlogits`,
//! `dh = dlogits W2`; `dbn = dh (1 - h^2)`; batch norm's closed form gives `dpre` (and
//! dgamma, dbeta); `dW1 = dpre^T x`, `db1 = sum dpre` (zero up to rounding: batch norm takes
//! the mean away, as the lecture points out), `dx = dpre W1`; `dC[ids] += dx` row by row.
//! `lm::LanguageModel` is the same model on the autograd engine; the tests check that both
//! give the same loss and gradients, and both PyTorch's.

use super::{BatchNorm, Embedding, Layer, Linear, SoftmaxCrossEntropyWithLogits, Tanh};
use crate::array::{Array, Float};

/// The MLP language model, by hand.
pub struct MlpLanguageModel<T: Float> {
    pub embedding: Embedding<T>,
    pub hidden: Linear<T>,
    pub norm: BatchNorm<T>,
    pub tanh: Tanh<T>,
    pub out: Linear<T>,
    pub loss: SoftmaxCrossEntropyWithLogits<T>,
}

impl<T: Float> MlpLanguageModel<T> {
    /// The model from its tensors: `table` `[V, E]`, `w1` `[H, context * E]` (with a zero
    /// bias: batch norm follows), batch norm's `gamma` and `beta` `[H]` (fresh running
    /// statistics), `w2` `[V, H]` and `b2` `[V]`.
    pub fn new(
        table: Array<T>,
        w1: Array<T>,
        gamma: Array<T>,
        beta: Array<T>,
        w2: Array<T>,
        b2: Array<T>,
    ) -> Self {
        let hidden = w1.shape()[0];
        MlpLanguageModel {
            embedding: Embedding::new(table),
            hidden: Linear::new(w1, Array::zeros(&[hidden])),
            norm: BatchNorm::new(
                gamma,
                beta,
                Array::zeros(&[hidden]),
                Array::ones(&[hidden]),
                0,
            ),
            tanh: Tanh::default(),
            out: Linear::new(w2, b2),
            loss: SoftmaxCrossEntropyWithLogits::default(),
        }
    }

    /// The mean cross-entropy of `targets` after `contexts` (`targets.len()` rows of ids).
    pub fn forward(&mut self, contexts: &[usize], targets: &[usize]) -> T {
        let x = self.embedding.forward(contexts, targets.len());
        let pre = self.hidden.forward(&x);
        let normed = self.norm.forward(&pre);
        let h = self.tanh.forward(&normed);
        let logits = self.out.forward(&h);
        self.loss.forward(&logits, targets)
    }

    /// Every parameter's gradient for the last `forward`, each layer its own derivative.
    pub fn backward(&mut self) {
        let dlogits = self.loss.backward();
        let dh = self.out.backward(&dlogits);
        let dnormed = self.tanh.backward(&dh);
        let dpre = self.norm.backward(&dnormed);
        let dx = self.hidden.backward(&dpre);
        self.embedding.backward(&dx);
    }

    /// Each gradient by the name `lm::LanguageModel` gives its tensor.
    pub fn gradients(&self) -> Vec<(&'static str, &Array<T>)> {
        vec![
            ("wte.weight", &self.embedding.table_grad),
            ("hidden.weight", &self.hidden.weight_grad),
            ("bn.weight", &self.norm.weight_grad),
            ("bn.bias", &self.norm.bias_grad),
            ("out.weight", &self.out.weight_grad),
            ("out.bias", &self.out.bias_grad),
        ]
    }
}
