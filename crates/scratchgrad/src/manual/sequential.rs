//! Layers run one after another: forward in order, backward in reverse.

use super::Layer;
use crate::array::{Array, Float, Rng};

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
        let Some((first, rest)) = self.layers.split_first_mut() else {
            return x.clone();
        };
        rest.iter_mut()
            .fold(first.forward(x), |h, layer| layer.forward(&h))
    }

    /// Runs every layer's `backward` in reverse order (the chain rule, layer by layer) and
    /// returns d(loss)/d(input).
    pub fn backward(&mut self, grad_output: &Array<T>) -> Array<T> {
        self.layers
            .iter_mut()
            .rev()
            .fold(grad_output.clone(), |g, layer| layer.backward(&g))
    }

    /// `backward` for training: every parameter gets its gradient, but d(loss)/d(input) (the
    /// data's gradient, which nothing uses) is not computed.
    pub fn backward_parameters(&mut self, grad_output: &Array<T>) {
        let Some((first, rest)) = self.layers.split_first_mut() else {
            return;
        };
        let g = rest
            .iter_mut()
            .rev()
            .fold(grad_output.clone(), |g, layer| layer.backward(&g));
        first.backward_parameters(&g);
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

    /// Every buffer (state that is not learnt), named as PyTorch's `nn.Sequential` would.
    pub fn buffers(&self) -> Vec<(String, Array<T>)> {
        let mut all = Vec::new();
        for (i, layer) in self.layers.iter().enumerate() {
            for (name, value) in layer.buffers() {
                all.push((format!("{i}.{name}"), value));
            }
        }
        all
    }

    /// Every count (batch norm's `num_batches_tracked`), named as PyTorch's `nn.Sequential`
    /// would.
    pub fn counts(&self) -> Vec<(String, u64)> {
        let mut all = Vec::new();
        for (i, layer) in self.layers.iter().enumerate() {
            for (name, n) in layer.counts() {
                all.push((format!("{i}.{name}"), n));
            }
        }
        all
    }

    /// Training or evaluation behaviour for every layer.
    pub fn set_training(&mut self, training: bool) {
        self.layers
            .iter_mut()
            .for_each(|l| l.set_training(training));
    }

    /// Random numbers for the next step: layer `i` gets stream `i` of the family `seed`.
    pub fn reseed(&mut self, seed: u64) {
        for (i, layer) in self.layers.iter_mut().enumerate() {
            layer.reseed(Rng::stream(seed, i as u64));
        }
    }

    /// Plain gradient descent: every parameter p -= lr * dL/dp.
    pub fn sgd_step(&mut self, lr: T) {
        for (_, value, grad) in self.parameters_mut() {
            value.add_assign(&grad.mul_scalar(-lr));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::array::Rng;
    use crate::manual::{Linear, Sigmoid};

    #[test]
    fn backward_parameters_gives_backwards_parameter_gradients() {
        // Two identical networks, so neither can see the other's gradients.
        let net = || {
            let mut rng = Rng::seed(3);
            Sequential::<f64>::new(vec![
                Box::new(Linear::xavier_normal(5, 4, &mut rng)),
                Box::new(Sigmoid::default()),
                Box::new(Linear::xavier_normal(4, 3, &mut rng)),
            ])
        };
        let mut rng = Rng::seed(4);
        let x = Array::rand_uniform(&[6, 5], -1.0, 1.0, &mut rng);
        let g = Array::rand_uniform(&[6, 3], -1.0, 1.0, &mut rng);
        let grads = |net: &mut Sequential<f64>| -> Vec<Array<f64>> {
            let params = net.parameters_mut().into_iter();
            params.map(|(_, _, g)| g.clone()).collect()
        };
        let (mut plain, mut fast) = (net(), net());
        plain.forward(&x);
        plain.backward(&g);
        fast.forward(&x);
        fast.backward_parameters(&g);
        let want = grads(&mut plain);
        assert_eq!(grads(&mut fast), want);
        assert!(want.iter().all(|g| g.data().iter().any(|v| *v != 0.0)));
    }
}
