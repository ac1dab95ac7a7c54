//! The engine's contract: deep graphs, reuse, accumulation, detach and no_grad.

use scratchgrad::array::{Array, Rng};
use scratchgrad::autograd::{no_grad, Tensor};

#[test]
fn million_op_chain_backprops_without_stack_overflow() {
    // y = x + 1 + 1 + ... (10^6 additions): dy/dx = 1. Built, backpropagated and dropped
    // on the test thread's ordinary stack.
    let x = Tensor::parameter_from(vec![0.5], &[1]);
    let one = Tensor::from_vec(vec![1.0], &[1]);
    let mut y = x.clone();
    for _ in 0..1_000_000 {
        y = &y + &one;
    }
    assert_eq!(y.item(), 1_000_000.5);
    y.backward();
    assert_eq!(x.grad().unwrap().data(), &[1.0]);
    drop(y);
}

#[test]
fn tensor_used_twice_receives_both_gradients() {
    // y = x * x + x: dy/dx = 2x + 1 = 7 at x = 3.
    let x = Tensor::parameter_from(vec![3.0], &[1]);
    let y = &(&x * &x) + &x;
    y.backward();
    assert_eq!(x.grad().unwrap().data(), &[7.0]);
}

#[test]
fn second_backward_accumulates_until_zero_grad() {
    let x = Tensor::parameter_from(vec![2.0, -1.0], &[2]);
    let y = (&x * &x).sum_all(); // dy/dx = 2x
    y.backward();
    y.backward();
    assert_eq!(x.grad().unwrap().data(), &[8.0, -4.0]);
    x.zero_grad();
    assert!(x.grad().is_none());
    y.backward();
    assert_eq!(x.grad().unwrap().data(), &[4.0, -2.0]);
}

#[test]
fn backward_with_takes_an_upstream_gradient() {
    let x = Tensor::parameter_from(vec![1.0, 2.0, 3.0, 4.0], &[2, 2]);
    let y = x.mul_scalar(3.0);
    y.backward_with(Array::from_vec(vec![1.0, 0.0, 2.0, -1.0], &[2, 2]));
    assert_eq!(x.grad().unwrap().data(), &[3.0, 0.0, 6.0, -3.0]);
}

#[test]
#[should_panic(expected = "backward_with: gradient of shape [3] for a tensor of shape [2, 2]")]
fn backward_with_wrong_shape_names_both() {
    let x = Tensor::parameter(Array::<f64>::ones(&[2, 2]));
    x.exp().backward_with(Array::ones(&[3]));
}

#[test]
#[should_panic(expected = "backward: the tensor has shape [2]")]
fn backward_needs_a_scalar() {
    Tensor::parameter(Array::<f64>::ones(&[2])).exp().backward();
}

#[test]
fn detach_and_no_grad_stop_gradients() {
    let w = Tensor::parameter_from(vec![2.0], &[1]);
    let frozen = w.detach();
    let y = &(&w * &frozen) + &no_grad(|| &w * &w);
    assert!(!frozen.requires_grad());
    y.backward();
    // Only the first product's w reaches the gradient: d(w * c)/dw = c = 2.
    assert_eq!(w.grad().unwrap().data(), &[2.0]);
    assert!(scratchgrad::autograd::grad_enabled());
}

#[test]
fn constants_get_no_gradient_and_graph_is_freed() {
    let c = Tensor::from_vec(vec![1.0, 2.0], &[2]);
    let w = Tensor::parameter_from(vec![1.0, 1.0], &[2]);
    let product = &c * &w;
    let watch = product.downgrade();
    let loss = product.sum_all();
    drop(product);
    assert!(watch.is_alive(), "the loss's graph holds the product");
    loss.backward();
    assert!(c.grad().is_none());
    assert_eq!(w.grad().unwrap().data(), &[1.0, 2.0]);
    drop(loss);
    assert!(!watch.is_alive(), "dropping the loss frees its graph");
    // Under no_grad nothing is recorded: the result holds no graph at all.
    let inside = no_grad(|| &c * &w);
    assert!(inside.is_leaf() && !inside.requires_grad());
}

#[test]
fn a_million_deep_graph_is_freed_when_its_last_handle_goes() {
    let x = Tensor::parameter_from(vec![0.5], &[1]);
    let first = x.exp();
    let watch = first.downgrade();
    let mut y = first;
    for _ in 0..1_000_000 {
        y = y.add_scalar(1.0);
    }
    assert!(watch.is_alive());
    drop(y); // iterative Drop: no stack overflow
    assert!(!watch.is_alive());
}

#[test]
fn optimizer_style_update_keeps_shape() {
    let w = Tensor::parameter_from(vec![1.0f32, 2.0], &[2]);
    let snapshot = w.data();
    w.update_data(|v| v.data_mut().iter_mut().for_each(|x| *x -= 0.5));
    assert_eq!(w.data().data(), &[0.5, 1.5]);
    assert_eq!(
        snapshot.data(),
        &[1.0, 2.0],
        "an earlier read is not changed under it"
    );
}

#[test]
#[should_panic(
    expected = "was changed in place (now version 1) after a result was computed from it (at version 0)"
)]
fn a_graph_over_a_changed_parameter_refuses_to_backpropagate() {
    // d(w*w)/dw = 2w is read from w when backward runs: after an optimizer step, a kept
    // graph would silently give 2 * (new w). PyTorch's version counter refuses; so do we.
    let w = Tensor::parameter_from(vec![3.0], &[1]);
    let y = (&w * &w).sum_all();
    w.update_data(|v| v.data_mut()[0] = 5.0);
    y.backward();
}

#[test]
fn a_fresh_graph_after_an_update_backpropagates() {
    let w = Tensor::parameter_from(vec![3.0], &[1]);
    (&w * &w).sum_all().backward();
    w.update_data(|v| v.data_mut()[0] = 5.0);
    w.zero_grad();
    (&w * &w).sum_all().backward();
    assert_eq!(w.grad().unwrap().data(), &[10.0]);
    assert_eq!(w.version(), 1);
}

#[test]
fn causal_attention_as_one_operation_matches_its_steps_values_and_gradients() {
    // The fused operation against the five it replaces (each checked against PyTorch and by
    // finite differences on its own), in f64: the same outputs and the same gradient of qkv.
    let mut rng = Rng::seed(41);
    let (batch, time, heads, size) = (2, 11, 3, 4);
    let c = heads * size;
    let qkv = Array::<f64>::rand_uniform(&[batch, time, 3 * c], -2.0, 2.0, &mut rng);
    let upstream = Tensor::new(Array::<f64>::rand_uniform(
        &[batch, time, c],
        -1.0,
        1.0,
        &mut rng,
    ));
    let fused = Tensor::parameter(qkv.clone());
    let (out, weights) = fused.causal_attention(heads);
    (&out * &upstream).sum_all().backward();
    let steps = Tensor::parameter(qkv);
    let split = |i: usize| steps.narrow(2, i * c, c).split_heads(heads);
    let (q, k, v) = (split(0), split(1), split(2));
    let want_weights = q
        .matmul_t(false, &k, true)
        .causal_softmax(1.0 / (size as f64).sqrt());
    let want_out = want_weights.matmul(&v).merge_heads();
    (&want_out * &upstream).sum_all().backward();
    let pairs = [
        ("out", out.to_array(), want_out.to_array()),
        ("weights", weights.to_array(), want_weights.to_array()),
        ("gradient", fused.grad().unwrap(), steps.grad().unwrap()),
    ];
    for (what, got, want) in pairs {
        assert_eq!(got.shape(), want.shape(), "{what}");
        for (i, (g, w)) in got.data().iter().zip(want.data()).enumerate() {
            assert!(
                (g - w).abs() <= 1e-12 * (1.0 + w.abs()),
                "{what}[{i}]: {g} against {w}"
            );
        }
    }
}

#[test]
fn a_parameters_kept_transpose_follows_its_value_and_each_alias_its_own() {
    // x @ W^T with x [2, 40, 3]: 80 rows, so W^T is copied out before the product, and the
    // copy is kept for the parameter and its aliases. Whatever the order of updates and
    // products, each product must be the one of the value its tensor holds now.
    let mut rng = Rng::seed(42);
    let x = Tensor::new(Array::<f64>::rand_uniform(&[2, 40, 3], -1.0, 1.0, &mut rng));
    let w = Tensor::parameter(Array::<f64>::rand_uniform(&[4, 3], -1.0, 1.0, &mut rng));
    let alias = w.alias();
    let expected = |t: &Tensor<f64>| x.to_array().matmul_t(false, &t.to_array(), true);
    let product = |t: &Tensor<f64>| x.matmul_t(false, t, true).to_array();
    assert_eq!(product(&alias), expected(&alias));
    assert_eq!(product(&w), expected(&w)); // the alias's copy, the same value
    w.update_data(|v| v.data_mut().iter_mut().for_each(|v| *v += 1.0));
    assert_ne!(
        w.to_array(),
        alias.to_array(),
        "the alias keeps the old value"
    );
    for _ in 0..2 {
        assert_eq!(product(&w), expected(&w));
        assert_eq!(product(&alias), expected(&alias));
    }
    // An update while nobody else holds the value (in place).
    drop(alias);
    w.update_data(|v| v.data_mut().iter_mut().for_each(|v| *v *= -2.0));
    assert_eq!(product(&w), expected(&w));
}
