//! The texts' regression demo (`examples/interpolate.rs`) ends within 0.1 of the true 25 with
//! either engine, and both engines follow the same path (same seed, same arithmetic).

#[allow(dead_code)] // the example's `main` is not called here
#[path = "../examples/interpolate.rs"]
mod interpolate;

use scratchgrad::array::Rng;

#[test]
fn both_engines_predict_25_within_a_tenth() {
    let manual = interpolate::train_manual(&mut Rng::seed(0));
    let autograd = interpolate::train_autograd(&mut Rng::seed(0));
    assert!(
        (manual - 25.0).abs() < 0.1,
        "manual engine predicted {manual}"
    );
    assert!(
        (autograd - 25.0).abs() < 0.1,
        "autograd engine predicted {autograd}"
    );
    assert!((manual - autograd).abs() < 1e-9, "{manual} vs {autograd}");
}
