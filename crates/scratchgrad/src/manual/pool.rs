//! Pooling with hand-derived backward passes.
//!
//! Max pooling: `y = max(window)` depends on one input only, the largest (the first of equal
//! ones), so `dy/dx` is 1 there and 0 elsewhere: each output's gradient goes back to that one
//! input. Average pooling: `y = mean(window)`, so each of the `kh kw` inputs gets `1 / (kh kw)`
//! of the gradient.

use super::Layer;
use crate::array::{Array, Float, Window};

/// The largest value of each window (no padding).
pub struct MaxPool2d {
    window: Window,
    /// The last input's shape and, per output, the flat index of the input it took.
    saved: Option<(Vec<usize>, Array<usize>)>,
}

impl MaxPool2d {
    /// Pooling over `window` (its padding must be 0).
    pub fn new(window: Window) -> Self {
        MaxPool2d {
            window,
            saved: None,
        }
    }
}

impl<T: Float> Layer<T> for MaxPool2d {
    fn forward(&mut self, x: &Array<T>) -> Array<T> {
        let (y, argmax) = x.max_pool2d(&self.window);
        self.saved = Some((x.shape().to_vec(), argmax));
        y
    }

    fn backward(&mut self, grad_output: &Array<T>) -> Array<T> {
        let (shape, argmax) = self
            .saved
            .as_ref()
            .expect("MaxPool2d: backward called before forward");
        // dy/dx = 1 for the input each window took, 0 for the others
        grad_output.scatter_to(argmax, shape)
    }
}

/// The mean of each window (no padding).
pub struct AvgPool2d {
    window: Window,
    input_shape: Option<Vec<usize>>,
}

impl AvgPool2d {
    /// Pooling over `window` (its padding must be 0).
    pub fn new(window: Window) -> Self {
        AvgPool2d {
            window,
            input_shape: None,
        }
    }
}

impl<T: Float> Layer<T> for AvgPool2d {
    fn forward(&mut self, x: &Array<T>) -> Array<T> {
        self.input_shape = Some(x.shape().to_vec());
        x.avg_pool2d(&self.window)
    }

    fn backward(&mut self, grad_output: &Array<T>) -> Array<T> {
        let shape = self
            .input_shape
            .as_ref()
            .expect("AvgPool2d: backward called before forward");
        // dy/dx = 1 / (kh kw) for every input of the window
        grad_output.avg_pool2d_backward(shape, &self.window)
    }
}
