//! The scalar engine's contract: the texts' example, deep graphs, reuse.

use scratchgrad::scalar::Value;

/// x = -2, y = 5, z = -4: f = (x + y) * z = -12, df/dx = -4, df/dy = -4, df/dz = 3.
#[test]
fn texts_worked_example() {
    let (x, y, z) = (Value::new(-2.0), Value::new(5.0), Value::new(-4.0));
    let q = &x + &y;
    let f = &q * &z;
    f.backward();
    assert_eq!(f.data(), -12.0);
    assert_eq!(
        (x.grad(), y.grad(), z.grad(), q.grad()),
        (-4.0, -4.0, 3.0, -4.0)
    );
}

#[test]
fn million_node_chain() {
    // f = x * 1.000001 * 1.000001 ... (10^6 times): df/dx = 1.000001^(10^6).
    let x = Value::new(1.0);
    let mut f = x.clone();
    for _ in 0..1_000_000 {
        f = f * 1.000001;
    }
    f.backward();
    let want = 1.000001f64.powi(1_000_000);
    assert!(
        (x.grad() - want).abs() < 1e-9 * want,
        "{} vs {want}",
        x.grad()
    );
    drop(f);
}

#[test]
fn value_used_twice_gets_both_gradients() {
    let a = Value::new(3.0);
    let f = (&a * &a).tanh() + &a; // df/da = (1 - tanh(a^2)^2) 2a + 1
    f.backward();
    let t = 9f64.tanh();
    assert!((a.grad() - ((1.0 - t * t) * 6.0 + 1.0)).abs() < 1e-15);
}

#[test]
fn pow_with_a_value_exponent() {
    let (a, b) = (Value::new(2.0), Value::new(3.0));
    let f = a.pow(&b);
    f.backward();
    assert_eq!(f.data(), 8.0);
    assert_eq!(a.grad(), 12.0); // b a^(b-1)
    assert!((b.grad() - 8.0 * 2f64.ln()).abs() < 1e-15); // a^b ln a
}

#[test]
fn moons_mlp_reaches_full_training_accuracy() {
    use scratchgrad::array::Rng;
    use scratchgrad::scalar::{hinge_loss, make_moons, Mlp};
    let mut rng = Rng::seed(1337);
    let data = make_moons(100, 0.1, &mut rng);
    let mlp = Mlp::new(2, &[16, 16, 1], &mut rng);
    let (_, before) = hinge_loss(&mlp, &data, 1e-4);
    for step in 0..100 {
        let (total, _) = hinge_loss(&mlp, &data, 1e-4);
        mlp.zero_grad();
        total.backward();
        let lr = 1.0 - 0.9 * step as f64 / 100.0;
        for p in mlp.parameters() {
            p.set_data(p.data() - lr * p.grad());
        }
    }
    let (_, after) = hinge_loss(&mlp, &data, 1e-4);
    assert!(
        before < 0.9,
        "the untrained model should not already separate the moons"
    );
    assert_eq!(after, 1.0, "100% training accuracy after 100 steps");
}

/// The tape is the fast path; the graph of `Value`s is the reference it must reproduce.
#[test]
fn tape_gives_the_moons_loss_and_gradients_of_the_value_graph() {
    use scratchgrad::array::Rng;
    use scratchgrad::scalar::{hinge_loss, hinge_loss_backward_on_tape, make_moons, Mlp, Tape};
    let mut rng = Rng::seed(7);
    let data = make_moons(40, 0.1, &mut rng);
    let mlp = Mlp::new(2, &[8, 8, 1], &mut rng);
    let (loss, accuracy) = hinge_loss(&mlp, &data, 1e-4);
    loss.backward();
    let want: Vec<f64> = mlp.parameters().iter().map(Value::grad).collect();
    mlp.zero_grad();
    let mut tape = Tape::new();
    let (taped_loss, taped_accuracy) = hinge_loss_backward_on_tape(&mlp, &data, 1e-4, &mut tape);
    assert_eq!(tape.len(), loss.topological_order().len(), "same graph");
    assert!((taped_loss - loss.data()).abs() <= 1e-12 * loss.data().abs());
    assert_eq!(taped_accuracy, accuracy);
    let got: Vec<f64> = mlp.parameters().iter().map(Value::grad).collect();
    // Sums run in a different order on the tape, so compare against the gradients' scale:
    // a gradient that cancels to ~1e-17 may come out with either sign.
    let scale = want.iter().fold(0.0f64, |m, g| m.max(g.abs()));
    assert!(scale > 0.0);
    for (i, (g, w)) in got.iter().zip(&want).enumerate() {
        assert!((g - w).abs() <= 1e-12 * scale, "param {i}: {g} vs {w}");
    }
}
