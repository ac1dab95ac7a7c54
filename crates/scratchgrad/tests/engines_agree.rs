//! The hand-derived layers (`manual`), the texts' fully derived network, and the same models
//! on autograd (`nn`) give the same losses and gradients (f64, 1e-10 relative), and all of
//! them match central finite differences.

use scratchgrad::array::{Array, Rng};
use scratchgrad::autograd::Tensor;
use scratchgrad::manual::{self, Layer, OneHiddenLayerNet};
use scratchgrad::nn::{self, Module};

fn random(shape: &[usize], seed: u64) -> Array<f64> {
    Array::rand_uniform(shape, -1.0, 1.0, &mut Rng::seed(seed))
}

/// Relative agreement; below `floor` in magnitude, absolute agreement to `tolerance * floor`.
fn agree_within(what: &str, a: &Array<f64>, b: &Array<f64>, tolerance: f64, floor: f64) {
    assert_eq!(a.shape(), b.shape(), "{what}: shapes");
    for (i, (&x, &y)) in a.data().iter().zip(b.data()).enumerate() {
        let scale = x.abs().max(y.abs()).max(floor);
        assert!(
            (x - y).abs() <= tolerance * scale,
            "{what}[{i}]: {x:e} vs {y:e}"
        );
    }
}

/// Engines against each other: relative, down to tiny values.
fn assert_agree(what: &str, a: &Array<f64>, b: &Array<f64>, tolerance: f64) {
    agree_within(what, a, b, tolerance, 1e-6);
}

/// Against finite differences, whose error is absolute (about 1e-10 here): relative for
/// gradients above 1, absolute below.
fn assert_numeric(what: &str, analytic: &Array<f64>, numeric: &Array<f64>) {
    agree_within(what, analytic, numeric, 1e-7, 1.0);
}

/// d f / d x by central differences, one element at a time.
fn numeric_grad(x: &Array<f64>, mut f: impl FnMut(&Array<f64>) -> f64) -> Array<f64> {
    let h = 1e-6;
    let mut probe = x.clone();
    let grads = (0..x.len()).map(|i| {
        let v = x.data()[i];
        probe.data_mut()[i] = v + h;
        let plus = f(&probe);
        probe.data_mut()[i] = v - h;
        let minus = f(&probe);
        probe.data_mut()[i] = v;
        (plus - minus) / (2.0 * h)
    });
    Array::from_vec(grads.collect(), x.shape())
}

/// A manual layer and its autograd twin: the same output and input gradient for an upstream
/// gradient `g`, and both match finite differences of sum(g * layer(x)).
fn check_activation(name: &str, mut manual: impl Layer<f64>, module: impl Module<f64>) {
    let x = random(&[4, 5], 1);
    let g = random(&[4, 5], 2);
    let y = manual.forward(&x);
    let dx = manual.backward(&g);
    let xt = Tensor::parameter(x.clone());
    let yt = module.forward(&xt);
    yt.backward_with(g.clone());
    assert_agree(&format!("{name} output"), &y, &yt.data(), 1e-12);
    assert_agree(&format!("{name} dx"), &dx, &xt.grad().unwrap(), 1e-10);
    let numeric = numeric_grad(&x, |x| manual.forward(x).mul(&g).sum_all());
    assert_numeric(&format!("{name} dx vs finite differences"), &dx, &numeric);
}

#[test]
fn activations_agree() {
    check_activation("relu", manual::Relu::default(), nn::ReLU);
    check_activation("sigmoid", manual::Sigmoid::default(), nn::Sigmoid);
    check_activation("tanh", manual::Tanh::default(), nn::Tanh);
}

#[test]
fn linear_agrees() {
    let (w, b, x, g) = (
        random(&[3, 5], 3),
        random(&[3], 4),
        random(&[4, 5], 5),
        random(&[4, 3], 6),
    );
    let mut manual = manual::Linear::new(w.clone(), b.clone());
    let y = manual.forward(&x);
    let dx = manual.backward(&g);
    let module = nn::Linear::from_arrays(w.clone(), b.clone());
    let xt = Tensor::parameter(x.clone());
    let yt = module.forward(&xt);
    yt.backward_with(g.clone());
    assert_agree("linear output", &y, &yt.data(), 1e-12);
    assert_agree("linear dx", &dx, &xt.grad().unwrap(), 1e-10);
    assert_agree(
        "linear dW",
        &manual.weight_grad,
        &module.weight.grad().unwrap(),
        1e-10,
    );
    assert_agree(
        "linear db",
        &manual.bias_grad,
        &module.bias.grad().unwrap(),
        1e-10,
    );
    let f = |w: &Array<f64>, b: &Array<f64>, x: &Array<f64>| {
        manual::Linear::new(w.clone(), b.clone())
            .forward(x)
            .mul(&g)
            .sum_all()
    };
    assert_numeric(
        "linear dW numeric",
        &manual.weight_grad,
        &numeric_grad(&w, |w| f(w, &b, &x)),
    );
    assert_numeric(
        "linear db numeric",
        &manual.bias_grad,
        &numeric_grad(&b, |b| f(&w, b, &x)),
    );
    assert_numeric(
        "linear dx numeric",
        &dx,
        &numeric_grad(&x, |x| f(&w, &b, x)),
    );
}

#[test]
fn losses_agree() {
    let logits = random(&[6, 4], 7).mul_scalar(3.0);
    let labels = [0, 3, 1, 1, 2, 0];
    let mut ce = manual::SoftmaxCrossEntropyWithLogits::default();
    let loss = ce.forward(&logits, &labels);
    let dz = ce.backward();
    let z = Tensor::parameter(logits.clone());
    let auto = nn::cross_entropy(&z, &labels);
    auto.backward();
    assert_agree("cross-entropy", &Array::scalar(loss), &auto.data(), 1e-12);
    assert_agree("cross-entropy dz", &dz, &z.grad().unwrap(), 1e-10);
    let numeric = numeric_grad(&logits, |z| {
        manual::SoftmaxCrossEntropyWithLogits::default().forward(z, &labels)
    });
    assert_numeric("cross-entropy dz numeric", &dz, &numeric);

    let (p, t) = (random(&[5, 2], 8), random(&[5, 2], 9));
    let mut mse = manual::Mse::default();
    let loss = mse.forward(&p, &t);
    let dp = mse.backward();
    let pt = Tensor::parameter(p.clone());
    let auto = nn::mse(&pt, &Tensor::new(t.clone()));
    auto.backward();
    assert_agree("mse", &Array::scalar(loss), &auto.data(), 1e-12);
    assert_agree("mse dp", &dp, &pt.grad().unwrap(), 1e-10);
    assert_numeric(
        "mse dp numeric",
        &dp,
        &numeric_grad(&p, |p| manual::Mse::default().forward(p, &t)),
    );
}

#[test]
fn huge_logits_stay_finite() {
    let logits = Array::from_vec(vec![1000.0, 0.0, -1000.0, 5000.0], &[2, 2]);
    let mut ce = manual::SoftmaxCrossEntropyWithLogits::<f64>::default();
    let loss = ce.forward(&logits, &[1, 0]);
    // -log softmax per row: 1000 - 0 for the first, 5000 - (-1000) for the second.
    assert_eq!(loss, (1000.0 + 6000.0) / 2.0);
    assert!(ce.backward().data().iter().all(|g| g.is_finite()));
}

/// The texts' one-hidden-layer network three ways: the hand-derived `OneHiddenLayerNet`,
/// `manual::Sequential` of hand-derived layers, and `nn::Sequential` on autograd.
#[test]
fn whole_networks_agree() {
    let (inputs, hidden, classes, batch) = (6, 5, 3, 8);
    let mut rng = Rng::seed(10);
    let net = OneHiddenLayerNet::<f64>::new(inputs, hidden, classes, &mut rng);
    let net = OneHiddenLayerNet {
        b1: random(&[hidden], 11),
        b2: random(&[classes], 12),
        ..net
    };
    let x = random(&[batch, inputs], 13);
    let labels = [0, 2, 1, 1, 0, 2, 2, 1];

    let acts = net.forward(&x);
    let loss = net.loss(&acts, &labels);
    let grads = net.compute_grad(&x, &labels, &acts);

    let mut seq = manual::Sequential::new(vec![
        Box::new(manual::Linear::new(net.w1.clone(), net.b1.clone())),
        Box::new(manual::Sigmoid::default()),
        Box::new(manual::Linear::new(net.w2.clone(), net.b2.clone())),
    ]);
    let mut ce = manual::SoftmaxCrossEntropyWithLogits::default();
    let seq_loss = ce.forward(&seq.forward(&x), &labels);
    seq.backward(&ce.backward());

    let model = nn::Sequential::new(vec![
        Box::new(nn::Linear::from_arrays(net.w1.clone(), net.b1.clone())),
        Box::new(nn::Sigmoid),
        Box::new(nn::Linear::from_arrays(net.w2.clone(), net.b2.clone())),
    ]);
    let auto_loss = nn::cross_entropy(&model.forward(&Tensor::new(x.clone())), &labels);
    auto_loss.backward();

    assert_agree(
        "loss: derived vs manual layers",
        &Array::scalar(loss),
        &Array::scalar(seq_loss),
        1e-12,
    );
    assert_agree(
        "loss: derived vs autograd",
        &Array::scalar(loss),
        &auto_loss.data(),
        1e-12,
    );
    let derived = [&grads.w1, &grads.b1, &grads.w2, &grads.b2];
    let layered: Vec<Array<f64>> = seq
        .parameters_mut()
        .into_iter()
        .map(|(_, _, g)| g.clone())
        .collect();
    let named = model.named_parameters();
    for (k, (name, p)) in named.iter().enumerate() {
        assert_agree(
            &format!("{name}: derived vs manual layers"),
            derived[k],
            &layered[k],
            1e-10,
        );
        assert_agree(
            &format!("{name}: derived vs autograd"),
            derived[k],
            &p.grad().unwrap(),
            1e-10,
        );
    }

    // Finite differences of the derived network's loss, parameter by parameter.
    let loss_with = |w1: &Array<f64>, b1: &Array<f64>, w2: &Array<f64>, b2: &Array<f64>| {
        let n = OneHiddenLayerNet {
            w1: w1.clone(),
            b1: b1.clone(),
            w2: w2.clone(),
            b2: b2.clone(),
        };
        n.loss(&n.forward(&x), &labels)
    };
    let (w1, b1, w2, b2) = (&net.w1, &net.b1, &net.w2, &net.b2);
    assert_numeric(
        "dW1 numeric",
        &grads.w1,
        &numeric_grad(w1, |p| loss_with(p, b1, w2, b2)),
    );
    assert_numeric(
        "db1 numeric",
        &grads.b1,
        &numeric_grad(b1, |p| loss_with(w1, p, w2, b2)),
    );
    assert_numeric(
        "dW2 numeric",
        &grads.w2,
        &numeric_grad(w2, |p| loss_with(w1, b1, p, b2)),
    );
    assert_numeric(
        "db2 numeric",
        &grads.b2,
        &numeric_grad(b2, |p| loss_with(w1, b1, w2, p)),
    );
}

/// A small CNN with every kind of layer, on both engines from the same weights.
fn small_cnn() -> (manual::Sequential<f64>, nn::Sequential<f64>) {
    use scratchgrad::array::Window;
    let conv = Window {
        kh: 3,
        kw: 3,
        stride: 1,
        padding: 1,
    };
    let pool = Window {
        kh: 2,
        kw: 2,
        stride: 2,
        padding: 0,
    };
    let (w1, b1) = (random(&[4, 2, 3, 3], 40), random(&[4], 41));
    let (gamma, beta) = (random(&[4], 42).add_scalar(1.5), random(&[4], 43));
    let (w2, b2) = (random(&[3, 64], 44), random(&[3], 45));
    let stats = || (Array::zeros(&[4]), Array::ones(&[4]));
    let by_hand = manual::Sequential::new(vec![
        Box::new(manual::Conv2d::new(w1.clone(), b1.clone(), conv)),
        Box::new(manual::BatchNorm::new(
            gamma.clone(),
            beta.clone(),
            stats().0,
            stats().1,
            0,
        )),
        Box::new(manual::Relu::default()),
        Box::new(manual::MaxPool2d::new(pool)),
        Box::new(manual::Dropout::new(0.3)),
        Box::new(manual::Flatten::default()),
        Box::new(manual::Linear::new(w2.clone(), b2.clone())),
    ]);
    let on_autograd = nn::Sequential::new(vec![
        Box::new(nn::Conv2d::from_arrays(w1, b1, conv)),
        Box::new(nn::BatchNorm::from_arrays(
            gamma,
            beta,
            stats().0,
            stats().1,
            0,
        )),
        Box::new(nn::ReLU),
        Box::new(nn::MaxPool2d(pool)),
        Box::new(nn::Dropout::new(0.3)),
        Box::new(nn::Flatten),
        Box::new(nn::Linear::from_arrays(w2, b2)),
    ]);
    (by_hand, on_autograd)
}

#[test]
fn a_whole_cnn_step_agrees_and_matches_finite_differences() {
    let x = random(&[4, 2, 8, 8], 46);
    let labels = [0, 2, 1, 2];
    let seed = 99;
    let (mut by_hand, on_autograd) = small_cnn();
    by_hand.reseed(seed);
    on_autograd.reseed_all(seed);
    let mut loss_fn = manual::SoftmaxCrossEntropyWithLogits::default();
    let loss = loss_fn.forward(&by_hand.forward(&x), &labels);
    by_hand.backward(&loss_fn.backward());
    let tensor_loss = nn::cross_entropy(&on_autograd.forward(&Tensor::new(x.clone())), &labels);
    tensor_loss.backward();
    assert!(
        (loss - tensor_loss.item()).abs() < 1e-12,
        "{loss} vs {}",
        tensor_loss.item()
    );
    let params = on_autograd.named_parameters();
    let manual_params = by_hand.parameters_mut();
    assert_eq!(params.len(), manual_params.len());
    for ((name, t), (manual_name, _, grad)) in params.iter().zip(&manual_params) {
        assert_eq!(name, manual_name);
        // The convolution's bias has a gradient of exactly 0 in exact arithmetic (batch norm
        // subtracts every channel's mean), so its rounding noise is compared absolutely.
        agree_within(
            &format!("cnn d/d{name}"),
            grad,
            &t.grad().unwrap(),
            1e-10,
            1e-2,
        );
    }
    // Finite differences of the whole network's loss for the first convolution's weights,
    // with the same dropout mask every time.
    let analytic = manual_params[0].2.clone();
    drop(manual_params);
    let w1 = by_hand.parameters_mut()[0].1.clone();
    let numeric = numeric_grad(&w1, |w| {
        let (mut net, _) = small_cnn();
        *net.parameters_mut()[0].1 = w.clone();
        net.reseed(seed);
        manual::SoftmaxCrossEntropyWithLogits::default().forward(&net.forward(&x), &labels)
    });
    assert_numeric("cnn d/d0.weight vs finite differences", &analytic, &numeric);
}

#[test]
fn dropout_drops_about_p_and_keeps_the_expected_value() {
    let x = Array::<f64>::ones(&[200, 100]);
    let mut dropout = manual::Dropout::new(0.3);
    dropout.reseed(Rng::stream(5, 0));
    let y = dropout.forward(&x);
    let dropped = y.data().iter().filter(|&&v| v == 0.0).count() as f64 / y.len() as f64;
    assert!((dropped - 0.3).abs() < 0.01, "{dropped}");
    assert!((y.sum_all() / y.len() as f64 - 1.0).abs() < 0.02);
    dropout.set_training(false);
    assert_eq!(
        dropout.forward(&x),
        x,
        "evaluation passes the input through"
    );
}

#[test]
fn both_engines_keep_batch_norms_count_exactly() {
    // The count went through an f32 on its way out of the engines: exact only up to 2^24.
    use scratchgrad::train::{Engine, Model};
    let arch = scratchgrad::arch::Architecture::parse(&[4], "linear3,bn,linear2").unwrap();
    let weights = arch.init(&mut scratchgrad::array::Rng::seed(0));
    let counts = vec![("1.num_batches_tracked".to_string(), (1u64 << 24) + 1)];
    for engine in [Engine::Autograd, Engine::Manual] {
        let model = Model::new(&arch, engine, &weights, &counts);
        assert_eq!(model.counts(), counts, "{engine}");
    }
}

#[test]
fn both_engines_track_the_same_running_statistics_in_f32() {
    // The autograd engine took its batch statistics from f32 tensors, the hand-derived layer
    // from f64 sums: their running statistics drifted apart. Both now take the batch's
    // moments in f64 from one function.
    use scratchgrad::optim::Sgd;
    use scratchgrad::train::{Engine, Model};
    let arch = scratchgrad::arch::Architecture::parse(&[784], "bn,linear10").unwrap();
    let weights = arch.init(&mut scratchgrad::array::Rng::seed(0));
    let counts = vec![("0.num_batches_tracked".to_string(), 0)];
    let mut rng = scratchgrad::array::Rng::seed(1);
    let x = scratchgrad::array::Array::<f32>::rand_uniform(&[64, 784], 0.0, 1.0, &mut rng);
    let labels: Vec<usize> = (0..64).map(|i| i % 10).collect();
    let statistics: Vec<Vec<(String, Vec<u32>)>> = [Engine::Autograd, Engine::Manual]
        .into_iter()
        .map(|engine| {
            let mut model = Model::new(&arch, engine, &weights, &counts);
            model.train_step(x.clone(), &labels, &mut Sgd::new(0.1), 0);
            model
                .weights(&arch)
                .into_iter()
                .filter(|(n, _)| n.contains("running"))
                .map(|(n, a)| (n, a.data().iter().map(|v| v.to_bits()).collect()))
                .collect()
        })
        .collect();
    assert_eq!(statistics[0].len(), 2);
    assert!(
        statistics[0] == statistics[1],
        "the engines' running statistics differ"
    );
}
