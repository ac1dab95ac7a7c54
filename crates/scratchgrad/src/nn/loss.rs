//! Losses on tensors, averaged over the batch as PyTorch's defaults are.

use crate::array::{Array, Float};
use crate::autograd::Tensor;

/// Picks `log_probs[row, labels[row]]` for each row, as a `[batch, 1]` tensor.
fn pick<T: Float>(log_probs: &Tensor<T>, labels: &[usize]) -> Tensor<T> {
    let shape = log_probs.shape();
    assert!(
        shape.len() == 2 && shape[0] == labels.len(),
        "loss: scores {shape:?} do not fit {} labels",
        labels.len()
    );
    log_probs.gather(1, &Array::from_vec(labels.to_vec(), &[labels.len(), 1]))
}

/// Negative log-likelihood: mean over rows of -log_probs[row, label].
pub fn nll<T: Float>(log_probs: &Tensor<T>, labels: &[usize]) -> Tensor<T> {
    pick(log_probs, labels).mean_all().neg()
}

/// Cross-entropy from logits (`[batch, classes]`) and integer labels: nll(log_softmax(z)).
pub fn cross_entropy<T: Float>(logits: &Tensor<T>, labels: &[usize]) -> Tensor<T> {
    nll(&logits.log_softmax(1), labels)
}

/// Mean squared error: mean((prediction - target)^2).
pub fn mse<T: Float>(prediction: &Tensor<T>, target: &Tensor<T>) -> Tensor<T> {
    assert!(
        prediction.shape() == target.shape(),
        "mse: prediction {:?} and target {:?} differ",
        prediction.shape(),
        target.shape()
    );
    let d = prediction.sub(target);
    d.mul(&d).mean_all()
}
