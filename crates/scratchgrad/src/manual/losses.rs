//! Losses with their hand-derived gradients. Both average over the batch, as PyTorch's
//! `cross_entropy` and `mse_loss` do by default.

use crate::array::{Array, Float};

/// The mean over rows of -log_p[row, label]: the cross-entropy of log-probabilities
/// (`[batch, classes]`). Panics on a label that is not a class, which would otherwise read
/// the next row's numbers.
pub(crate) fn mean_cross_entropy<T: Float>(log_p: &Array<T>, labels: &[usize]) -> T {
    assert!(
        log_p.ndim() == 2 && log_p.shape()[0] == labels.len(),
        "cross-entropy: log-probabilities {:?} do not fit {} labels",
        log_p.shape(),
        labels.len()
    );
    let classes = log_p.shape()[1];
    let picked: T = labels
        .iter()
        .enumerate()
        .map(|(row, &y)| {
            assert!(
                y < classes,
                "cross-entropy: label {y} out of range for {classes} classes"
            );
            log_p.data()[row * classes + y]
        })
        .sum();
    -picked / T::from_usize(labels.len())
}

/// Softmax followed by cross-entropy, on logits and integer labels:
/// loss = mean over rows of -log softmax(z)\[label\].
///
/// Computed as `log_softmax`, i.e. (z - max) - log(sum(e^(z - max))), so logits of any size
/// give a finite loss (the texts' version exponentiates raw logits and overflows above ~710).
#[derive(Default)]
pub struct SoftmaxCrossEntropyWithLogits<T: Float> {
    softmax: Option<Array<T>>,
    labels: Vec<usize>,
}

impl<T: Float> SoftmaxCrossEntropyWithLogits<T> {
    /// The mean loss for `logits` (`[batch, classes]`) and one label per row.
    pub fn forward(&mut self, logits: &Array<T>, labels: &[usize]) -> T {
        assert!(
            logits.ndim() == 2 && logits.shape()[0] == labels.len(),
            "SoftmaxCrossEntropyWithLogits: logits {:?} do not fit {} labels",
            logits.shape(),
            labels.len()
        );
        let log_p = logits.log_softmax(1);
        let loss = mean_cross_entropy(&log_p, labels);
        self.softmax = Some(log_p.exp_nonpositive());
        self.labels = labels.to_vec();
        loss
    }

    /// d(loss)/d(logits) for the last `forward`: (softmax(z) - onehot(y)) / batch.
    pub fn backward(&self) -> Array<T> {
        let p = self
            .softmax
            .as_ref()
            .expect("SoftmaxCrossEntropyWithLogits: backward called before forward");
        let n = T::from_usize(self.labels.len());
        // dL/dz = (softmax(z) - onehot(y)) / n: the softmax and log cancel into this
        p.sub(&Array::one_hot(&self.labels, p.shape()[1]))
            .mul_scalar(T::ONE / n)
    }
}

/// Mean squared error: loss = mean((prediction - target)^2).
#[derive(Default)]
pub struct Mse<T: Float> {
    difference: Option<Array<T>>,
}

impl<T: Float> Mse<T> {
    /// The mean of the squared differences.
    pub fn forward(&mut self, prediction: &Array<T>, target: &Array<T>) -> T {
        assert!(
            prediction.shape() == target.shape(),
            "Mse: prediction {:?} and target {:?} differ",
            prediction.shape(),
            target.shape()
        );
        let d = prediction.sub(target);
        let loss = d.mul(&d).sum_all() / T::from_usize(d.len());
        self.difference = Some(d);
        loss
    }

    /// d(loss)/d(prediction) for the last `forward`: 2 (prediction - target) / n.
    pub fn backward(&self) -> Array<T> {
        let d = self
            .difference
            .as_ref()
            .expect("Mse: backward called before forward");
        // d/dp mean((p - t)^2) = 2 (p - t) / n
        d.mul_scalar(T::from_f64(2.0) / T::from_usize(d.len()))
    }
}
