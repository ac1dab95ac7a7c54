//! Activation functions with their derivatives, each worked out by hand.

use super::Layer;
use crate::array::{Array, Float};

/// relu(x) = max(x, 0).
#[derive(Default)]
pub struct Relu<T: Float> {
    input: Option<Array<T>>,
}

impl<T: Float> Layer<T> for Relu<T> {
    fn forward(&mut self, x: &Array<T>) -> Array<T> {
        self.input = Some(x.clone());
        x.relu()
    }

    fn backward(&mut self, grad_output: &Array<T>) -> Array<T> {
        let x = self
            .input
            .as_ref()
            .expect("Relu: backward called before forward");
        // d relu(x)/dx = 1 where x > 0, else 0
        grad_output.zip_with(
            "relu backward",
            x,
            |g, x| if x > T::ZERO { g } else { T::ZERO },
        )
    }
}

/// sigmoid(x) = 1 / (1 + e^-x).
#[derive(Default)]
pub struct Sigmoid<T: Float> {
    output: Option<Array<T>>,
}

impl<T: Float> Layer<T> for Sigmoid<T> {
    fn forward(&mut self, x: &Array<T>) -> Array<T> {
        let y = x.sigmoid();
        self.output = Some(y.clone());
        y
    }

    fn backward(&mut self, grad_output: &Array<T>) -> Array<T> {
        let s = self
            .output
            .as_ref()
            .expect("Sigmoid: backward called before forward");
        // d sigmoid(x)/dx = s (1 - s), s = sigmoid(x)
        grad_output.zip_with("sigmoid backward", s, |g, s| g * s * (T::ONE - s))
    }
}

/// tanh(x).
#[derive(Default)]
pub struct Tanh<T: Float> {
    output: Option<Array<T>>,
}

impl<T: Float> Layer<T> for Tanh<T> {
    fn forward(&mut self, x: &Array<T>) -> Array<T> {
        let y = x.tanh();
        self.output = Some(y.clone());
        y
    }

    fn backward(&mut self, grad_output: &Array<T>) -> Array<T> {
        let t = self
            .output
            .as_ref()
            .expect("Tanh: backward called before forward");
        // d tanh(x)/dx = 1 - tanh(x)^2
        grad_output.zip_with("tanh backward", t, |g, t| g * (T::ONE - t * t))
    }
}
