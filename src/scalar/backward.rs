//! Every rule of the scalar engine in one place: how each operation computes its value
//! (`forward`) and its derivative with respect to each input (`local_grads`).

use super::value::ScalarOp;

/// The value of an operation from its inputs' values.
pub(crate) fn forward(op: &ScalarOp) -> f64 {
    use ScalarOp::*;
    match op {
        Leaf => unreachable!("a leaf has no operation to run"),
        Add(a, b) => a.data() + b.data(),
        Sub(a, b) => a.data() - b.data(),
        Mul(a, b) => a.data() * b.data(),
        Div(a, b) => a.data() / b.data(),
        Pow(a, b) => a.data().powf(b.data()),
        Powf(x, e) => x.data().powf(*e),
        Neg(x) => -x.data(),
        Exp(x) => x.data().exp(),
        Log(x) => x.data().ln(),
        Sqrt(x) => x.data().sqrt(),
        Tanh(x) => x.data().tanh(),
        Sigmoid(x) => sigmoid(x.data()),
        Relu(x) => x.data().max(0.0),
        Sin(x) => x.data().sin(),
        Cos(x) => x.data().cos(),
        Abs(x) => x.data().abs(),
    }
}

/// d(out)/d(input) for each input of `op` (in the order of `ScalarOp::inputs`), given the
/// operation's output `out`. Unused slots are 0.
pub(crate) fn local_grads(op: &ScalarOp, out: f64) -> [f64; 2] {
    use ScalarOp::*;
    match op {
        Leaf => [0.0, 0.0],
        // d(a+b)/da = 1, d(a+b)/db = 1
        Add(..) => [1.0, 1.0],
        // d(a-b)/da = 1, d(a-b)/db = -1
        Sub(..) => [1.0, -1.0],
        // d(a*b)/da = b, d(a*b)/db = a
        Mul(a, b) => [b.data(), a.data()],
        // d(a/b)/da = 1/b, d(a/b)/db = -a/b^2
        Div(a, b) => [1.0 / b.data(), -a.data() / (b.data() * b.data())],
        // d(a^b)/da = b a^(b-1), d(a^b)/db = a^b ln(a)
        Pow(a, b) => [
            b.data() * a.data().powf(b.data() - 1.0),
            out * a.data().ln(),
        ],
        // d(x^e)/dx = e x^(e-1)
        Powf(x, e) => [e * x.data().powf(e - 1.0), 0.0],
        // d(-x)/dx = -1
        Neg(_) => [-1.0, 0.0],
        // d e^x/dx = e^x
        Exp(_) => [out, 0.0],
        // d ln(x)/dx = 1/x
        Log(x) => [1.0 / x.data(), 0.0],
        // d sqrt(x)/dx = 1 / (2 sqrt(x))
        Sqrt(_) => [0.5 / out, 0.0],
        // d tanh(x)/dx = 1 - tanh(x)^2
        Tanh(_) => [1.0 - out * out, 0.0],
        // d sigmoid(x)/dx = sigmoid(x) (1 - sigmoid(x))
        Sigmoid(_) => [out * (1.0 - out), 0.0],
        // d relu(x)/dx = 1 if x > 0 else 0
        Relu(x) => [if x.data() > 0.0 { 1.0 } else { 0.0 }, 0.0],
        // d sin(x)/dx = cos(x)
        Sin(x) => [x.data().cos(), 0.0],
        // d cos(x)/dx = -sin(x)
        Cos(x) => [-x.data().sin(), 0.0],
        // d|x|/dx = sign(x), 0 at 0 (as PyTorch)
        Abs(x) => [sign(x.data()), 0.0],
    }
}

/// 1 / (1 + e^-x), without overflow for large |x|.
fn sigmoid(x: f64) -> f64 {
    if x >= 0.0 {
        1.0 / (1.0 + (-x).exp())
    } else {
        let e = x.exp();
        e / (1.0 + e)
    }
}

fn sign(x: f64) -> f64 {
    if x > 0.0 {
        1.0
    } else if x < 0.0 {
        -1.0
    } else {
        0.0
    }
}
