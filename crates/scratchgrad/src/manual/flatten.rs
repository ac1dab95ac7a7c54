//! Flattening: every axis after the batch axis into one, and back again for the gradient.

use super::Layer;
use crate::array::{Array, Float};

/// `[batch, d1, d2, ...]` becomes `[batch, d1 * d2 * ...]`.
#[derive(Default)]
pub struct Flatten {
    input_shape: Option<Vec<usize>>,
}

impl<T: Float> Layer<T> for Flatten {
    fn forward(&mut self, x: &Array<T>) -> Array<T> {
        let shape = x.shape().to_vec();
        let rest = shape[1..].iter().product();
        self.input_shape = Some(shape.clone());
        x.reshape(&[shape[0], rest])
    }

    fn backward(&mut self, grad_output: &Array<T>) -> Array<T> {
        let shape = self
            .input_shape
            .as_ref()
            .expect("Flatten: backward called before forward");
        // Flattening moves no value: each gradient goes back to where its value came from.
        grad_output.reshape(shape)
    }
}
