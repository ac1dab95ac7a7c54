//! Layers: `Linear`, the activations (GELU among them) and `Flatten`.

use super::Module;
use crate::array::{Array, Float, Rng};
use crate::autograd::Tensor;
use crate::init;

/// y = x W^T + b, with `W` stored as PyTorch stores it: `[out, in]`.
pub struct Linear<T: Float> {
    /// `[out, in]`.
    pub weight: Tensor<T>,
    /// `[out]`.
    pub bias: Tensor<T>,
}

impl<T: Float> Linear<T> {
    /// Xavier-normal weights and zero bias (the texts' MNIST network's choice).
    pub fn new(inputs: usize, outputs: usize, rng: &mut Rng) -> Self {
        Self::from_arrays(
            init::xavier_normal(inputs, outputs, rng),
            Array::zeros(&[outputs]),
        )
    }

    /// A layer with the given weight (`[out, in]`) and bias (`[out]`).
    pub fn from_arrays(weight: Array<T>, bias: Array<T>) -> Self {
        Self::from_tensors(Tensor::parameter(weight), Tensor::parameter(bias))
    }

    /// A layer that learns the given parameters (shared with whoever else holds them, as
    /// a replica of a model for one part of a batch does).
    pub fn from_tensors(weight: Tensor<T>, bias: Tensor<T>) -> Self {
        let (w, b) = (weight.dims(), bias.dims());
        assert!(
            w.len() == 2 && b[..] == [w[0]],
            "Linear: weight {w:?} and bias {b:?} do not fit ([out, in] and [out])"
        );
        Linear { weight, bias }
    }

    /// `x W^T + b` in one operation ([`Tensor::linear`]): the sum starts from the bias and
    /// the product is added in where it is written, one pass fewer than [`Module::forward`]'s
    /// product and then addition, to the same bits for 3 to 512 inputs (gemm sums more in
    /// chunks, and the bias then meets the first chunk's sum). `forward` keeps the two
    /// steps, which the image models' recorded runs were made with.
    pub fn forward_fused(&self, x: &Tensor<T>) -> Tensor<T> {
        x.linear(&self.weight, &self.bias)
    }

    /// `onto + (x W^T + b)` in one operation ([`Tensor::linear_onto`]): a residual stream's
    /// step, the stream added into the layer's output where gemm wrote it, to the bits of
    /// `onto.add(&self.forward_fused(x))`.
    ///
    /// ```
    /// use scratchgrad::array::Array;
    /// use scratchgrad::autograd::Tensor;
    /// use scratchgrad::nn::Linear;
    /// let layer = Linear::from_arrays(
    ///     Array::from_vec(vec![1.0f64, 0.0, 0.0, 2.0], &[2, 2]),
    ///     Array::from_vec(vec![0.5, 0.5], &[2]),
    /// );
    /// let x = Tensor::from_vec(vec![1.0, 1.0], &[1, 2]);
    /// let stream = Tensor::from_vec(vec![10.0, 20.0], &[1, 2]);
    /// let y = layer.forward_onto(&x, &stream);
    /// assert_eq!(y.data().data(), &[11.5, 22.5]); // 10 + (1 + 0.5), 20 + (2 + 0.5)
    /// ```
    pub fn forward_onto(&self, x: &Tensor<T>, onto: &Tensor<T>) -> Tensor<T> {
        x.linear_onto(&self.weight, &self.bias, onto)
    }

    /// gelu(x W^T + b) in one operation ([`Tensor::linear_gelu`]): the same numbers as
    /// `Gelu.forward(&self.forward(x))` for 3 to 512 inputs, with fewer passes and arrays
    /// each way.
    pub fn forward_gelu(&self, x: &Tensor<T>) -> Tensor<T> {
        x.linear_gelu(&self.weight, &self.bias)
    }
}

impl<T: Float> Module<T> for Linear<T> {
    fn forward(&self, x: &Tensor<T>) -> Tensor<T> {
        x.matmul_t(false, &self.weight, true).add(&self.bias)
    }

    fn named_parameters(&self) -> Vec<(String, Tensor<T>)> {
        vec![
            ("weight".into(), self.weight.clone()),
            ("bias".into(), self.bias.clone()),
        ]
    }
}

/// GELU in its tanh form (makemore's and GPT-2's `NewGELU`, PyTorch's
/// `gelu(approximate="tanh")`): 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))).
pub struct Gelu;

impl<T: Float> Module<T> for Gelu {
    /// One operation with its own gradient rule (`autograd/backward.rs`): written as nine
    /// elementwise operations it made nine arrays forward and more backward at every step.
    fn forward(&self, x: &Tensor<T>) -> Tensor<T> {
        x.gelu()
    }
}

/// max(x, 0) elementwise.
pub struct ReLU;
/// 1 / (1 + e^-x) elementwise.
pub struct Sigmoid;
/// tanh(x) elementwise.
pub struct Tanh;

impl<T: Float> Module<T> for ReLU {
    fn forward(&self, x: &Tensor<T>) -> Tensor<T> {
        x.relu()
    }
}

impl<T: Float> Module<T> for Sigmoid {
    fn forward(&self, x: &Tensor<T>) -> Tensor<T> {
        x.sigmoid()
    }
}

impl<T: Float> Module<T> for Tanh {
    fn forward(&self, x: &Tensor<T>) -> Tensor<T> {
        x.tanh()
    }
}

/// Flattens every axis after the first: `[batch, 28, 28]` becomes `[batch, 784]`.
pub struct Flatten;

impl<T: Float> Module<T> for Flatten {
    fn forward(&self, x: &Tensor<T>) -> Tensor<T> {
        let shape = x.dims();
        let rest: usize = shape[1..].iter().product();
        x.reshape(&[shape[0], rest])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `forward_fused` gives `forward`'s very bits where gemm sums the inputs in one chunk
    /// (the bias only starts the sum the product's rounding ends): on rows of 2-D and 3-D
    /// inputs, a copied and a strided W, and the GPT's widths.
    #[test]
    fn forward_fused_gives_forwards_bits_for_up_to_512_inputs() {
        let mut rng = Rng::seed(41);
        for (x_shape, outputs) in [
            (vec![7, 5], 3),
            (vec![100, 128], 384),
            (vec![6, 64, 128], 128),
            (vec![6, 64, 512], 128),
        ] {
            let inputs = *x_shape.last().unwrap();
            let layer = Linear::<f32>::from_arrays(
                Array::rand_uniform(&[outputs, inputs], -0.5, 0.5, &mut rng),
                Array::rand_uniform(&[outputs], -0.5, 0.5, &mut rng),
            );
            let x = Tensor::new(Array::rand_uniform(&x_shape, -1.0, 1.0, &mut rng));
            let (fused, steps) = (layer.forward_fused(&x), layer.forward(&x));
            assert_eq!(fused.data().data(), steps.data().data(), "{x_shape:?}");
        }
    }

    /// `y`'s values, and the gradient of `loss` with respect to each of `learnt` (whatever
    /// they held before cleared first).
    fn values_and_grads(
        y: &Tensor<f32>,
        loss: Tensor<f32>,
        learnt: &[&Tensor<f32>],
    ) -> (Vec<f32>, Vec<Vec<f32>>) {
        for p in learnt {
            p.zero_grad();
        }
        loss.backward();
        let grads = learnt
            .iter()
            .map(|p| p.grad().expect("learns").data().to_vec());
        (y.data().data().to_vec(), grads.collect())
    }

    /// `forward_gelu` in one operation gives the bits of the product and then the bias and
    /// GELU in one pass (which are `Gelu.forward(&forward(x))`'s), its gradients too.
    #[test]
    fn forward_gelu_gives_the_bits_of_its_steps_both_ways() {
        let mut rng = Rng::seed(43);
        let layer = Linear::<f32>::from_arrays(
            Array::rand_uniform(&[512, 128], -0.5, 0.5, &mut rng),
            Array::rand_uniform(&[512], -0.5, 0.5, &mut rng),
        );
        let x = Tensor::parameter(Array::rand_uniform(&[3, 64, 128], -1.0, 1.0, &mut rng));
        let g = Tensor::new(Array::rand_uniform(&[3, 64, 512], -1.0, 1.0, &mut rng));
        let learnt = [&x, &layer.weight, &layer.bias];
        let run = |y: Tensor<f32>| {
            let loss = y.mul(&g).sum(&[0, 1, 2], false);
            values_and_grads(&y, loss, &learnt)
        };
        let fused = run(layer.forward_gelu(&x));
        let steps = run(x
            .matmul_t(false, &layer.weight, true)
            .bias_gelu(&layer.bias));
        assert_eq!(fused, steps);
        let no_grad = crate::autograd::no_grad(|| layer.forward_gelu(&x));
        assert_eq!(no_grad.data().data(), &fused.0[..]);
    }

    /// `forward_onto` gives the bits of the stream plus the layer's output, both ways: the
    /// value, the layer's three gradients and the stream's (at the GPT's projection sizes).
    #[test]
    fn forward_onto_gives_the_bits_of_the_stream_plus_the_layer_both_ways() {
        let mut rng = Rng::seed(47);
        let layer = Linear::<f32>::from_arrays(
            Array::rand_uniform(&[128, 512], -0.5, 0.5, &mut rng),
            Array::rand_uniform(&[128], -0.5, 0.5, &mut rng),
        );
        let x = Tensor::parameter(Array::rand_uniform(&[3, 64, 512], -1.0, 1.0, &mut rng));
        let stream = Tensor::parameter(Array::rand_uniform(&[3, 64, 128], -4.0, 4.0, &mut rng));
        let g = Tensor::new(Array::rand_uniform(&[3, 64, 128], -1.0, 1.0, &mut rng));
        let learnt = [&x, &layer.weight, &layer.bias, &stream];
        let run = |y: Tensor<f32>| {
            // the stream is read by something else too, as a block's input is (layer norm)
            let loss = (y.mul(&g) + stream.tanh()).sum(&[0, 1, 2], false);
            values_and_grads(&y, loss, &learnt)
        };
        let fused = run(layer.forward_onto(&x, &stream));
        let steps = run(stream.add(&layer.forward_fused(&x)));
        assert_eq!(fused, steps);
        let no_grad = crate::autograd::no_grad(|| layer.forward_onto(&x, &stream));
        assert_eq!(no_grad.data().data(), &fused.0[..]);
    }
}
