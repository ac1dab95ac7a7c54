//! Layers run one after another: forward in order, backward in reverse.

use super::Layer;
use crate::array::{Array, Float};

/// A stack of layers.
pub struct Sequential<T: Float> {
    /// The layers, input side first.
    pub layers: Vec<Box<dyn Layer<T>>>,
}

impl<T: Float> Sequential<T> {
    /// A model made of `layers`, applied in order.
    pub fn new(layers: Vec<Box<dyn Layer<T>>>) -> Self {
        Sequential { layers }
    }

    /// Runs every layer's `forward` in order.
    pub fn forward(&mut self, x: &Array<T>) -> Array<T> {
        self.layers
            .iter_mut()
            .fold(x.clone(), |h, layer| layer.forward(&h))
    }

    /// Runs every layer's `backward` in reverse order (the chain rule, layer by layer) and
    /// returns d(loss)/d(input).
    pub fn backward(&mut self, grad_output: &Array<T>) -> Array<T> {
        self.layers
            .iter_mut()
            .rev()
            .fold(grad_output.clone(), |g, layer| layer.backward(&g))
    }

    /// Every parameter with its gradient, named as PyTorch's `nn.Sequential` would
    /// (`0.weight`, `0.bias`, `2.weight`, ...).
    pub fn parameters_mut(&mut self) -> Vec<(String, &mut Array<T>, &Array<T>)> {
        let mut all = Vec::new();
        for (i, layer) in self.layers.iter_mut().enumerate() {
            for (name, value, grad) in layer.parameters_mut() {
                all.push((format!("{i}.{name}"), value, grad));
            }
        }
        all
    }

    /// Plain gradient descent: every parameter p -= lr * dL/dp.
    pub fn sgd_step(&mut self, lr: T) {
        for (_, value, grad) in self.parameters_mut() {
            value.add_assign(&grad.mul_scalar(-lr));
        }
    }
}
