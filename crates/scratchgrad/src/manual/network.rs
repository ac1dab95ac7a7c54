//! The texts' fully derived network: one sigmoid hidden layer, a softmax output and
//! cross-entropy, with every gradient written out by hand from the chain rule.
//!
//! Weights are stored as PyTorch stores them (`W1: [hidden, in]`, `W2: [out, hidden]`), so
//! the texts' `X W1` is `X W1^T` here and their `dW1 = X^T dZ1` is its transpose, `dZ1^T X`.

use super::losses::mean_cross_entropy;
use crate::array::{Array, Float, Rng};

/// One hidden layer: Y_hat = softmax(sigmoid(X W1^T + b1) W2^T + b2).
pub struct OneHiddenLayerNet<T: Float> {
    /// `[hidden, in]`.
    pub w1: Array<T>,
    /// `[hidden]`.
    pub b1: Array<T>,
    /// `[out, hidden]`.
    pub w2: Array<T>,
    /// `[out]`.
    pub b2: Array<T>,
}

/// What the forward pass computed, kept for the backward pass.
pub struct Activations<T: Float> {
    /// Z1 = X W1^T + b1.
    pub z1: Array<T>,
    /// H = sigmoid(Z1).
    pub h: Array<T>,
    /// Z2 = H W2^T + b2 (the logits).
    pub z2: Array<T>,
    /// Y_hat = softmax(Z2).
    pub y_hat: Array<T>,
}

/// d(loss)/d(parameter) for each parameter of [`OneHiddenLayerNet`].
pub struct NetworkGradients<T: Float> {
    /// dL/dW1.
    pub w1: Array<T>,
    /// dL/db1.
    pub b1: Array<T>,
    /// dL/dW2.
    pub w2: Array<T>,
    /// dL/db2.
    pub b2: Array<T>,
}

impl<T: Float> OneHiddenLayerNet<T> {
    /// Xavier-normal weights and zero biases.
    pub fn new(inputs: usize, hidden: usize, outputs: usize, rng: &mut Rng) -> Self {
        OneHiddenLayerNet {
            w1: crate::init::xavier_normal(inputs, hidden, rng),
            b1: Array::zeros(&[hidden]),
            w2: crate::init::xavier_normal(hidden, outputs, rng),
            b2: Array::zeros(&[outputs]),
        }
    }

    /// The forward pass, keeping every intermediate result.
    pub fn forward(&self, x: &Array<T>) -> Activations<T> {
        let z1 = x.matmul_t(false, &self.w1, true).add(&self.b1);
        let h = z1.sigmoid();
        let z2 = h.matmul_t(false, &self.w2, true).add(&self.b2);
        let y_hat = z2.softmax(1);
        Activations { z1, h, z2, y_hat }
    }

    /// The mean cross-entropy of the forward pass's predictions against `labels`, from the
    /// logits' log-softmax so that it stays finite. Panics on a label that is not a class.
    pub fn loss(&self, a: &Activations<T>, labels: &[usize]) -> T {
        mean_cross_entropy(&a.z2.log_softmax(1), labels)
    }

    /// Every gradient of the mean cross-entropy, by the chain rule (n = batch size, Y the
    /// one-hot labels):
    pub fn compute_grad(
        &self,
        x: &Array<T>,
        labels: &[usize],
        a: &Activations<T>,
    ) -> NetworkGradients<T> {
        let n = T::from_usize(labels.len());
        let y = Array::one_hot(labels, a.y_hat.shape()[1]);
        // dZ2 = (Y_hat - Y) / n          softmax + cross-entropy, averaged over the batch
        let dz2 = a.y_hat.sub(&y).mul_scalar(T::ONE / n);
        // dW2 = dZ2^T H                  (the texts' H^T dZ2, in PyTorch's layout)
        let w2 = dz2.matmul_t(true, &a.h, false);
        // db2 = sum of dZ2 over the batch
        let b2 = dz2.sum(&[0], false);
        // dZ1 = (dZ2 W2) * H (1 - H)     back through W2, then through the sigmoid
        let dz1 = dz2
            .matmul(&self.w2)
            .zip_with("dZ1", &a.h, |g, h| g * h * (T::ONE - h));
        // dW1 = dZ1^T X                  (the texts' X^T dZ1)
        let w1 = dz1.matmul_t(true, x, false);
        // db1 = sum of dZ1 over the batch
        let b1 = dz1.sum(&[0], false);
        NetworkGradients { w1, b1, w2, b2 }
    }

    /// Gradient descent: each parameter P -= lr * dL/dP.
    pub fn update(&mut self, grads: &NetworkGradients<T>, lr: T) {
        self.w1.add_assign(&grads.w1.mul_scalar(-lr));
        self.b1.add_assign(&grads.b1.mul_scalar(-lr));
        self.w2.add_assign(&grads.w2.mul_scalar(-lr));
        self.b2.add_assign(&grads.b2.mul_scalar(-lr));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[should_panic(expected = "cross-entropy: label 3 out of range for 3 classes")]
    fn a_label_that_is_not_a_class_is_refused() {
        // Once read as row * classes + label: the first number of the next row.
        let net = OneHiddenLayerNet::<f64>::new(2, 4, 3, &mut Rng::seed(0));
        let x = Array::from_vec(vec![0.1, 0.2, 0.3, 0.4], &[2, 2]);
        let a = net.forward(&x);
        net.loss(&a, &[3, 0]);
    }
}
