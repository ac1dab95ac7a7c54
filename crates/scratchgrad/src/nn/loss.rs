//! Losses on tensors, averaged over the batch as PyTorch's defaults are.

use crate::array::{Array, Float};
use crate::autograd::Tensor;

/// Picks `log_probs[row, labels[row]]` for each row, as a `[batch, 1]` tensor.
fn pick<T: Float>(log_probs: &Tensor<T>, labels: &[usize]) -> Tensor<T> {
    let shape = log_probs.dims();
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

/// Cross-entropy over the rows whose label is not `ignored` (PyTorch's `ignore_index`):
/// the mean over the rows that count, the others given no gradient. At least one must count.
///
/// ```
/// use scratchgrad::array::Array;
/// use scratchgrad::autograd::Tensor;
/// use scratchgrad::nn::{cross_entropy, cross_entropy_ignoring};
/// let logits = Tensor::new(Array::from_vec(vec![0.0f64, 1.0, 5.0, -5.0], &[2, 2]));
/// let first = Tensor::new(Array::from_vec(vec![0.0f64, 1.0], &[1, 2]));
/// let both = cross_entropy_ignoring(&logits, &[0, usize::MAX], usize::MAX).item();
/// assert_eq!(both, cross_entropy(&first, &[0]).item());
/// ```
pub fn cross_entropy_ignoring<T: Float>(
    logits: &Tensor<T>,
    labels: &[usize],
    ignored: usize,
) -> Tensor<T> {
    if !labels.contains(&ignored) {
        return cross_entropy(logits, labels);
    }
    let rows: Vec<usize> = (0..labels.len())
        .filter(|&r| labels[r] != ignored)
        .collect();
    let kept: Vec<usize> = rows.iter().map(|&r| labels[r]).collect();
    assert!(
        !rows.is_empty(),
        "cross_entropy_ignoring: every label is ignored"
    );
    // The rows that count, gathered as an embedding gathers (its backward puts each row's
    // gradient back in its place, and leaves the ignored rows at zero).
    let counted = logits.embedding(&Array::from_vec(rows.clone(), &[rows.len()]));
    cross_entropy(&counted, &kept)
}

/// Mean squared error: mean((prediction - target)^2).
pub fn mse<T: Float>(prediction: &Tensor<T>, target: &Tensor<T>) -> Tensor<T> {
    assert!(
        prediction.dims() == target.dims(),
        "mse: prediction {:?} and target {:?} differ",
        prediction.dims(),
        target.dims()
    );
    let d = prediction.sub(target);
    d.mul(&d).mean_all()
}
