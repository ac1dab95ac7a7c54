//! The classifier that `train`, `eval` and `predict` use: a network described by an
//! [`Architecture`], run by either engine.

use crate::arch::{Activation, Architecture, LayerSpec};
use crate::array::Array;
use crate::autograd::{no_grad, Tensor};
use crate::manual::{self, Layer};
use crate::names::named_choices;
use crate::nn::{self, Module};
use crate::optim::Optimizer;

/// Which engine computes the gradients.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    /// `nn` modules on the autograd engine.
    Autograd,
    /// `manual` layers with hand-derived backward passes.
    Manual,
}

named_choices!(Engine, "engine", [Autograd => "autograd", Manual => "manual"]);

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

fn module(activation: Activation) -> Box<dyn Module<f32>> {
    match activation {
        Activation::Sigmoid => Box::new(nn::Sigmoid),
        Activation::Relu => Box::new(nn::ReLU),
        Activation::Tanh => Box::new(nn::Tanh),
    }
}

fn layer(activation: Activation) -> Box<dyn Layer<f32>> {
    match activation {
        Activation::Sigmoid => Box::new(manual::Sigmoid::default()),
        Activation::Relu => Box::new(manual::Relu::default()),
        Activation::Tanh => Box::new(manual::Tanh::default()),
    }
}

impl Model {
    /// Builds the model with the given weights, named and ordered as
    /// [`Architecture::parameter_shapes`] (a model file's or a checkpoint's, already checked
    /// against it).
    pub fn new(arch: &Architecture, engine: Engine, weights: &[(String, Array<f32>)]) -> Model {
        let mut weights = weights.iter().map(|(_, w)| w.clone());
        let mut next = || {
            weights
                .next()
                .expect("one weight per parameter of the architecture")
        };
        match engine {
            Engine::Autograd => {
                let modules: Vec<Box<dyn Module<f32>>> = arch
                    .layers
                    .iter()
                    .map(|spec| -> Box<dyn Module<f32>> {
                        match spec {
                            LayerSpec::Linear { .. } => {
                                Box::new(nn::Linear::from_arrays(next(), next()))
                            }
                            LayerSpec::Activation(a) => module(*a),
                            LayerSpec::Flatten => Box::new(nn::Flatten),
                        }
                    })
                    .collect();
                let net = nn::Sequential::new(modules);
                let params = net.parameters();
                Model::Autograd(net, params)
            }
            Engine::Manual => {
                let layers: Vec<Box<dyn Layer<f32>>> = arch
                    .layers
                    .iter()
                    .map(|spec| -> Box<dyn Layer<f32>> {
                        match spec {
                            LayerSpec::Linear { .. } => {
                                Box::new(manual::Linear::new(next(), next()))
                            }
                            LayerSpec::Activation(a) => layer(*a),
                            LayerSpec::Flatten => Box::new(manual::Flatten::default()),
                        }
                    })
                    .collect();
                Model::Manual(
                    manual::Sequential::new(layers),
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
