//! The classifier that `train`, `eval` and `predict` use: an MLP described by an
//! [`Architecture`], run by either engine.

use crate::array::{Array, Rng};
use crate::autograd::{no_grad, Tensor};
use crate::manual::{self, Layer};
use crate::names::named_choices;
use crate::nn::{self, Module};
use crate::optim::Optimizer;

/// The hidden layers' activation function.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Activation {
    /// 1 / (1 + e^-x): the texts' choice.
    Sigmoid,
    /// max(x, 0).
    Relu,
    /// tanh(x).
    Tanh,
}

named_choices!(Activation, "activation", [Sigmoid => "sigmoid", Relu => "relu", Tanh => "tanh"]);

/// Which engine computes the gradients.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    /// `nn` modules on the autograd engine.
    Autograd,
    /// `manual` layers with hand-derived backward passes.
    Manual,
}

named_choices!(Engine, "engine", [Autograd => "autograd", Manual => "manual"]);

/// A multi-layer perceptron: `inputs`, then each hidden width with `activation`, then
/// `classes` logits. Layer `k` of PyTorch's `nn.Sequential` equivalent is Linear for even `k`
/// and the activation for odd `k`, which fixes the parameter names (`0.weight`, `2.bias`...).
#[derive(Debug, Clone, PartialEq)]
pub struct Architecture {
    /// Input features (784 for 28x28 images).
    pub inputs: usize,
    /// Hidden layer widths.
    pub hidden: Vec<usize>,
    /// Output classes.
    pub classes: usize,
    /// Activation after each hidden layer.
    pub activation: Activation,
}

impl Architecture {
    /// Every parameter's name and shape, in order.
    pub fn parameter_shapes(&self) -> Vec<(String, Vec<usize>)> {
        let mut sizes = vec![self.inputs];
        sizes.extend(&self.hidden);
        sizes.push(self.classes);
        let mut shapes = Vec::new();
        for (k, pair) in sizes.windows(2).enumerate() {
            shapes.push((format!("{}.weight", 2 * k), vec![pair[1], pair[0]]));
            shapes.push((format!("{}.bias", 2 * k), vec![pair[1]]));
        }
        shapes
    }

    /// Fresh weights: Xavier-normal weights, zero biases.
    pub fn init(&self, rng: &mut Rng) -> Vec<(String, Array<f32>)> {
        let shapes = self.parameter_shapes();
        shapes
            .into_iter()
            .map(|(name, shape)| {
                let value = if shape.len() == 2 {
                    nn::init::xavier_normal(shape[1], shape[0], rng)
                } else {
                    Array::zeros(&shape)
                };
                (name, value)
            })
            .collect()
    }

    /// "784-256-10 sigmoid".
    pub fn describe(&self) -> String {
        let widths: Vec<String> = std::iter::once(self.inputs)
            .chain(self.hidden.iter().copied())
            .chain([self.classes])
            .map(|w| w.to_string())
            .collect();
        format!("{} {}", widths.join("-"), self.activation)
    }
}

/// The model, in one engine or the other.
pub enum Model {
    /// On autograd, with its parameters in `named_parameters` order.
    Autograd(nn::Sequential<f32>, Vec<Tensor<f32>>),
    /// Hand-derived layers, with the softmax cross-entropy used for training.
    Manual(
        manual::Sequential<f32>,
        manual::SoftmaxCrossEntropyWithLogits<f32>,
    ),
}

impl Model {
    /// Builds the model with the given weights (named as [`Architecture::parameter_shapes`]).
    pub fn new(arch: &Architecture, engine: Engine, weights: &[(String, Array<f32>)]) -> Model {
        let layers = weights.len() / 2;
        match engine {
            Engine::Autograd => {
                let mut modules: Vec<Box<dyn Module<f32>>> = Vec::new();
                for k in 0..layers {
                    modules.push(Box::new(nn::Linear::from_arrays(
                        weights[2 * k].1.clone(),
                        weights[2 * k + 1].1.clone(),
                    )));
                    if k + 1 < layers {
                        modules.push(match arch.activation {
                            Activation::Sigmoid => Box::new(nn::Sigmoid),
                            Activation::Relu => Box::new(nn::ReLU),
                            Activation::Tanh => Box::new(nn::Tanh),
                        });
                    }
                }
                let net = nn::Sequential::new(modules);
                let params = net.parameters();
                Model::Autograd(net, params)
            }
            Engine::Manual => {
                let mut layers_: Vec<Box<dyn Layer<f32>>> = Vec::new();
                for k in 0..layers {
                    layers_.push(Box::new(manual::Linear::new(
                        weights[2 * k].1.clone(),
                        weights[2 * k + 1].1.clone(),
                    )));
                    if k + 1 < layers {
                        layers_.push(match arch.activation {
                            Activation::Sigmoid => Box::new(manual::Sigmoid::default()),
                            Activation::Relu => Box::new(manual::Relu::default()),
                            Activation::Tanh => Box::new(manual::Tanh::default()),
                        });
                    }
                }
                Model::Manual(
                    manual::Sequential::new(layers_),
                    manual::SoftmaxCrossEntropyWithLogits::default(),
                )
            }
        }
    }

    /// The logits for a batch, without recording anything for backward.
    pub fn logits(&mut self, x: Array<f32>) -> Array<f32> {
        match self {
            Model::Autograd(net, _) => no_grad(|| net.forward(&Tensor::new(x)).to_array()),
            Model::Manual(net, _) => net.forward(&x),
        }
    }

    /// One training step on a batch: forward, loss, backward, optimizer update. Returns the
    /// batch's mean loss and how many it classified correctly (before the update).
    pub fn train_step(
        &mut self,
        x: Array<f32>,
        labels: &[usize],
        optimizer: &mut dyn Optimizer<f32>,
    ) -> (f32, usize) {
        match self {
            Model::Autograd(net, params) => {
                let logits = net.forward(&Tensor::new(x));
                let loss = nn::cross_entropy(&logits, labels);
                crate::optim::zero_grad(params);
                loss.backward();
                optimizer.step(params);
                (loss.item(), correct(&logits.data(), labels))
            }
            Model::Manual(net, loss_fn) => {
                let logits = net.forward(&x);
                let loss = loss_fn.forward(&logits, labels);
                net.backward_parameters(&loss_fn.backward());
                optimizer.step_arrays(
                    net.parameters_mut()
                        .into_iter()
                        .map(|(_, p, g)| (p, g))
                        .collect(),
                );
                (loss, correct(&logits, labels))
            }
        }
    }

    /// The current weights, named as PyTorch's `nn.Sequential` state_dict.
    pub fn weights(&mut self) -> Vec<(String, Array<f32>)> {
        match self {
            Model::Autograd(net, _) => net
                .named_parameters()
                .into_iter()
                .map(|(n, p)| (n, p.to_array()))
                .collect(),
            Model::Manual(net, _) => net
                .parameters_mut()
                .into_iter()
                .map(|(n, p, _)| (n, p.clone()))
                .collect(),
        }
    }
}

/// How many rows of `logits` have their largest value at the label.
pub fn correct(logits: &Array<f32>, labels: &[usize]) -> usize {
    logits
        .argmax(1)
        .data()
        .iter()
        .zip(labels)
        .filter(|(p, y)| p == y)
        .count()
}
