//! The classifier that `train`, `eval` and `predict` use: a network described by an
//! [`Architecture`], run by either engine.

use std::collections::HashMap;

use crate::arch::{Activation, Architecture, LayerSpec};
use crate::array::Array;
use crate::autograd::{no_grad, Tensor};
use crate::manual::{self, Layer};
use crate::nn::{self, Module};
use crate::optim::Optimizer;
use crate::text::named_choices;

use super::micro_batch;

/// Which engine computes the gradients.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    /// `nn` modules on the autograd engine.
    Autograd,
    /// `manual` layers with hand-derived backward passes.
    Manual,
}

named_choices!(Engine, "engine", [Autograd => "autograd", Manual => "manual"]);

/// The model, in one engine or the other, with the shape of one input example.
pub enum Model {
    /// On autograd, with its parameters in `named_parameters` order.
    Autograd {
        /// The modules.
        net: nn::Sequential<f32>,
        /// Its parameters, in the optimizer's slot order.
        params: Vec<Tensor<f32>>,
        /// What it is made of (one example's shape, and replicas for parts of a batch).
        arch: Architecture,
    },
    /// Hand-derived layers, with the softmax cross-entropy used for training.
    Manual {
        /// The layers.
        net: manual::Sequential<f32>,
        /// The loss.
        loss: manual::SoftmaxCrossEntropyWithLogits<f32>,
        /// One example's shape.
        input: Vec<usize>,
    },
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

/// A network's state by name, taken out as layers are built: its tensors and counts, and for
/// a replica the parameters it shares with the model it copies.
struct State {
    tensors: HashMap<String, Array<f32>>,
    counts: HashMap<String, u64>,
    shared: HashMap<String, Tensor<f32>>,
}

impl State {
    fn take(&mut self, layer: usize, name: &str) -> Array<f32> {
        self.tensors
            .remove(&format!("{layer}.{name}"))
            .unwrap_or_else(|| {
                panic!("the state lacks {layer}.{name}, which the architecture needs")
            })
    }

    fn count(&mut self, layer: usize) -> u64 {
        self.counts
            .remove(&format!("{layer}.num_batches_tracked"))
            .unwrap_or_else(|| panic!("the state lacks {layer}.num_batches_tracked"))
    }

    /// A learnt tensor: an alias of the shared one (same value, a gradient of its own), else a
    /// new parameter.
    fn parameter(&mut self, layer: usize, name: &str) -> Tensor<f32> {
        match self.shared.remove(&format!("{layer}.{name}")) {
            Some(shared) => shared.alias(),
            None => Tensor::parameter(self.take(layer, name)),
        }
    }
}

/// The autograd modules of `arch`, built from `state`.
fn autograd_net(arch: &Architecture, state: &mut State) -> nn::Sequential<f32> {
    let modules: Vec<Box<dyn Module<f32>>> = arch
        .layers
        .iter()
        .enumerate()
        .map(|(i, spec)| -> Box<dyn Module<f32>> {
            match *spec {
                LayerSpec::Linear { .. } => Box::new(nn::Linear::from_tensors(
                    state.parameter(i, "weight"),
                    state.parameter(i, "bias"),
                )),
                LayerSpec::Conv2d { window, .. } => Box::new(nn::Conv2d::from_tensors(
                    state.parameter(i, "weight"),
                    state.parameter(i, "bias"),
                    window,
                )),
                LayerSpec::MaxPool2d(window) => Box::new(nn::MaxPool2d(window)),
                LayerSpec::AvgPool2d(window) => Box::new(nn::AvgPool2d(window)),
                LayerSpec::BatchNorm => Box::new(nn::BatchNorm::from_arrays(
                    state.take(i, "weight"),
                    state.take(i, "bias"),
                    state.take(i, "running_mean"),
                    state.take(i, "running_var"),
                    state.count(i),
                )),
                LayerSpec::Dropout { p } => Box::new(nn::Dropout::new(p)),
                LayerSpec::Activation(a) => module(a),
                LayerSpec::Flatten => Box::new(nn::Flatten),
            }
        })
        .collect();
    nn::Sequential::new(modules)
}

/// A copy of `net` (of `arch`, without batch norm) that shares its parameters' values and
/// gathers gradients of its own: for one part of a batch.
pub(super) fn replica(arch: &Architecture, net: &nn::Sequential<f32>) -> nn::Sequential<f32> {
    assert!(
        !arch.has_batch_norm(),
        "replica: batch norm's running statistics belong to one model"
    );
    let mut state = State {
        tensors: HashMap::new(),
        counts: HashMap::new(),
        shared: net.named_parameters().into_iter().collect(),
    };
    autograd_net(arch, &mut state)
}

impl Model {
    /// Builds the model with the given state (named as [`Architecture::state`]: a model
    /// file's or a checkpoint's, already checked against it): its tensors and its counts.
    pub fn new(
        arch: &Architecture,
        engine: Engine,
        weights: &[(String, Array<f32>)],
        counts: &[(String, u64)],
    ) -> Model {
        let mut state = State {
            tensors: weights.iter().cloned().collect(),
            counts: counts.iter().cloned().collect(),
            shared: HashMap::new(),
        };
        match engine {
            Engine::Autograd => {
                let net = autograd_net(arch, &mut state);
                let params = net.parameters();
                Model::Autograd {
                    net,
                    params,
                    arch: arch.clone(),
                }
            }
            Engine::Manual => {
                let layers: Vec<Box<dyn Layer<f32>>> = arch
                    .layers
                    .iter()
                    .enumerate()
                    .map(|(i, spec)| -> Box<dyn Layer<f32>> {
                        match *spec {
                            LayerSpec::Linear { .. } => Box::new(manual::Linear::new(
                                state.take(i, "weight"),
                                state.take(i, "bias"),
                            )),
                            LayerSpec::Conv2d { window, .. } => Box::new(manual::Conv2d::new(
                                state.take(i, "weight"),
                                state.take(i, "bias"),
                                window,
                            )),
                            LayerSpec::MaxPool2d(window) => {
                                Box::new(manual::MaxPool2d::new(window))
                            }
                            LayerSpec::AvgPool2d(window) => {
                                Box::new(manual::AvgPool2d::new(window))
                            }
                            LayerSpec::BatchNorm => Box::new(manual::BatchNorm::new(
                                state.take(i, "weight"),
                                state.take(i, "bias"),
                                state.take(i, "running_mean"),
                                state.take(i, "running_var"),
                                state.count(i),
                            )),
                            LayerSpec::Dropout { p } => Box::new(manual::Dropout::new(p)),
                            LayerSpec::Activation(a) => layer(a),
                            LayerSpec::Flatten => Box::new(manual::Flatten::default()),
                        }
                    })
                    .collect();
                Model::Manual {
                    net: manual::Sequential::new(layers),
                    loss: manual::SoftmaxCrossEntropyWithLogits::default(),
                    input: arch.input.clone(),
                }
            }
        }
    }

    /// The model a model file holds, run by `engine`.
    pub fn from_file(file: &crate::model_files::ModelFile, engine: Engine) -> Model {
        Model::new(&file.arch, engine, &file.weights, &file.counts)
    }

    /// A fresh model of `arch` (weights drawn from `seed`, counts at 0).
    pub fn fresh(arch: &Architecture, engine: Engine, seed: u64) -> Model {
        let weights = arch.init(&mut crate::array::Rng::seed(seed));
        let counts: Vec<(String, u64)> = arch.count_names().into_iter().map(|n| (n, 0)).collect();
        Model::new(arch, engine, &weights, &counts)
    }

    /// A batch of flat examples (`[n, pixels]`, as data sets give them) in the shape the
    /// network takes (`[n, 1, 28, 28]` for a convolutional one).
    fn shaped(&self, x: Array<f32>) -> Array<f32> {
        let input = match self {
            Model::Autograd { arch, .. } => &arch.input,
            Model::Manual { input, .. } => input,
        };
        if input.len() == 1 {
            return x;
        }
        let mut shape = vec![x.shape()[0]];
        shape.extend(input);
        x.reshape(&shape)
    }

    /// Training or evaluation behaviour for every layer (dropout, batch norm).
    fn set_training(&mut self, training: bool) {
        match self {
            Model::Autograd { net, .. } => net.set_training(training),
            Model::Manual { net, .. } => net.set_training(training),
        }
    }

    /// The logits for a batch of flat examples, in evaluation mode, without recording
    /// anything for backward.
    pub fn logits(&mut self, x: Array<f32>) -> Array<f32> {
        let x = self.shaped(x);
        self.set_training(false);
        match self {
            Model::Autograd { net, .. } => no_grad(|| net.forward(&Tensor::new(x)).to_array()),
            Model::Manual { net, .. } => net.forward(&x),
        }
    }

    /// Every layer's output for a batch of flat examples, in evaluation mode (for pictures of
    /// what the network makes of an image).
    pub fn layer_outputs(&mut self, x: Array<f32>) -> Vec<Array<f32>> {
        let mut h = self.shaped(x);
        self.set_training(false);
        let mut outputs = Vec::new();
        match self {
            Model::Autograd { net, .. } => no_grad(|| {
                for module in &net.modules {
                    h = module.forward(&Tensor::new(h.clone())).to_array();
                    outputs.push(h.clone());
                }
            }),
            Model::Manual { net, .. } => {
                for layer in &mut net.layers {
                    h = layer.forward(&h);
                    outputs.push(h.clone());
                }
            }
        }
        outputs
    }

    /// The loss's gradient for every parameter on a batch of flat examples, in evaluation
    /// mode (batch norm on its running statistics, no dropout), named as the state is. Nothing
    /// changes: no weight, no running statistic; for diagnostics.
    pub fn gradients(&mut self, x: Array<f32>, labels: &[usize]) -> Vec<(String, Array<f32>)> {
        let x = self.shaped(x);
        self.set_training(false);
        match self {
            Model::Autograd { net, params, .. } => {
                let loss = nn::cross_entropy(&net.forward(&Tensor::new(x)), labels);
                crate::optim::zero_grad(params);
                loss.backward();
                let named = net
                    .named_parameters()
                    .into_iter()
                    .map(|(name, p)| {
                        let grad = p.grad().unwrap_or_else(|| Array::zeros(&p.dims()));
                        (name, grad)
                    })
                    .collect();
                crate::optim::zero_grad(params);
                named
            }
            Model::Manual {
                net, loss: loss_fn, ..
            } => {
                let logits = net.forward(&x);
                loss_fn.forward(&logits, labels);
                net.backward_parameters(&loss_fn.backward());
                net.parameters_mut()
                    .into_iter()
                    .map(|(name, _, grad)| (name, grad.clone()))
                    .collect()
            }
        }
    }

    /// How the score (logit) of `class` changes with each input pixel, for one flat example
    /// `x` (`[1, pixels]`): d(logit)/d(x), in evaluation mode, as `[1, pixels]`. Drawn over the
    /// image it is a saliency map: where ink would most change the model's mind.
    pub fn input_gradient(&mut self, x: Array<f32>, class: usize) -> Array<f32> {
        let flat = x.shape().to_vec();
        let x = self.shaped(x);
        self.set_training(false);
        let pick = |logits: &Array<f32>| Array::one_hot(&[class], logits.shape()[1]);
        let gradient = match self {
            Model::Autograd { net, params, .. } => {
                let input = Tensor::parameter(x);
                let logits = net.forward(&input);
                logits.backward_with(pick(&logits.to_array()));
                crate::optim::zero_grad(params);
                input.grad().expect("the input takes part in the logits")
            }
            Model::Manual { net, .. } => {
                let logits = net.forward(&x);
                net.backward(&pick(&logits))
            }
        };
        gradient.reshape(&flat)
    }

    /// One training step on a batch of flat examples: forward, loss, backward, optimizer
    /// update, with dropout's masks drawn from `step_seed`. Returns the batch's mean loss and
    /// how many it classified correctly (before the update).
    pub fn train_step(
        &mut self,
        x: Array<f32>,
        labels: &[usize],
        optimizer: &mut dyn Optimizer<f32>,
        step_seed: u64,
    ) -> (f32, usize) {
        let x = self.shaped(x);
        self.set_training(true);
        match self {
            Model::Autograd {
                net, params, arch, ..
            } => {
                let parts = micro_batch::parts(arch, labels.len());
                if parts > 1 {
                    return micro_batch::train_step_in_parts(
                        arch, net, params, &x, labels, optimizer, step_seed, parts,
                    );
                }
                net.reseed_all(step_seed);
                let logits = net.forward(&Tensor::new(x));
                let loss = nn::cross_entropy(&logits, labels);
                crate::optim::zero_grad(params);
                loss.backward();
                optimizer.step(params);
                (loss.item(), correct(&logits.data(), labels))
            }
            Model::Manual {
                net, loss: loss_fn, ..
            } => {
                net.reseed(step_seed);
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

    /// The current counts (batch norm's `num_batches_tracked`), in the order of
    /// [`Architecture::state`].
    pub fn counts(&self) -> Vec<(String, u64)> {
        match self {
            Model::Autograd { net, .. } => net.named_counts(),
            Model::Manual { net, .. } => net.counts(),
        }
    }

    /// The current tensors (parameters and buffers), named as PyTorch's `nn.Sequential`
    /// state_dict, in the order of [`Architecture::state`].
    pub fn weights(&mut self, arch: &Architecture) -> Vec<(String, Array<f32>)> {
        let mut all: HashMap<String, Array<f32>> = match self {
            Model::Autograd { net, .. } => net
                .named_parameters()
                .into_iter()
                .map(|(n, p)| (n, p.to_array()))
                .chain(net.named_buffers())
                .collect(),
            Model::Manual { net, .. } => {
                let buffers = net.buffers();
                net.parameters_mut()
                    .into_iter()
                    .map(|(n, p, _)| (n, p.clone()))
                    .chain(buffers)
                    .collect()
            }
        };
        arch.state()
            .into_iter()
            .filter(|t| t.kind != crate::arch::StateKind::Count)
            .map(|t| {
                let value = all.remove(&t.name).unwrap_or_else(|| {
                    panic!("the model lacks {}, which its architecture has", t.name)
                });
                (t.name, value)
            })
            .collect()
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_input_gradient_is_the_logits_slope_on_both_engines() {
        // Central finite differences of the class's logit, pixel by pixel, in f64 terms of
        // the f32 model: the saliency map is that slope.
        let arch =
            Architecture::parse(&[1, 5, 5], "conv2k3p1,relu,maxpool2,flatten,linear3").unwrap();
        let x: Vec<f32> = (0..25).map(|i| ((i * 7) % 11) as f32 / 11.0).collect();
        for engine in [Engine::Autograd, Engine::Manual] {
            let mut model = Model::fresh(&arch, engine, 9);
            let gradient = model.input_gradient(Array::from_vec(x.clone(), &[1, 25]), 2);
            assert_eq!(gradient.shape(), &[1, 25]);
            let logit = |model: &mut Model, x: &[f32]| {
                model.logits(Array::from_vec(x.to_vec(), &[1, 25])).data()[2] as f64
            };
            for pixel in 0..25 {
                let h = 1e-2f32;
                let (mut up, mut down) = (x.clone(), x.clone());
                up[pixel] += h;
                down[pixel] -= h;
                let slope = (logit(&mut model, &up) - logit(&mut model, &down)) / (2.0 * h as f64);
                let got = gradient.data()[pixel] as f64;
                assert!(
                    (slope - got).abs() < 2e-3,
                    "{engine} pixel {pixel}: {got} vs {slope}"
                );
            }
        }
    }
}
