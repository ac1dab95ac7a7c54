//! The texts' broadcasting example: y = (a*x + b) * a with x, a of shape 3x3, b of shape (3,)
//! broadcast over the rows, and a random 3x3 upstream gradient passed to backward.
//!
//! `a` is used twice, so its gradient is the sum of both uses; `b` was broadcast, so its
//! gradient is summed over the rows it was copied into.
//!
//! Run: `cargo run --release --example broadcast_grad`
//!
//! PyTorch prints the same numbers for the same inputs (float64; the inputs printed by this
//! example, fed to `(a*x + b)*a` and `y.backward(upstream)`):
//! ```text
//! y = tensor([[0.1098, 1.1436, 1.0586],
//!         [0.3322, 0.4197, 0.9597],
//!         [0.7294, 0.2021, 0.5090]], dtype=torch.float64, grad_fn=<MulBackward0>)
//! x.grad = tensor([[0.0182, 0.4018, 0.4461],
//!         [0.2510, 0.1180, 0.5659],
//!         [0.2107, 0.0244, 0.1249]], dtype=torch.float64)
//! a.grad = tensor([[0.6266, 0.8852, 1.4369],
//!         [0.6081, 1.4428, 1.6220],
//!         [0.8508, 0.8419, 1.0283]], dtype=torch.float64)
//! b.grad = tensor([0.9246, 0.9210, 1.6091], dtype=torch.float64)
//! ```

use scratchgrad::array::{Array, Rng};
use scratchgrad::autograd::Tensor;

fn main() {
    let mut rng = Rng::seed(0);
    let x = Tensor::parameter(Array::<f64>::rand_uniform(&[3, 3], 0.0, 1.0, &mut rng));
    let a = Tensor::parameter(Array::rand_uniform(&[3, 3], 0.0, 1.0, &mut rng));
    let b = Tensor::parameter(Array::rand_uniform(&[3], 0.0, 1.0, &mut rng));
    let upstream = Array::rand_uniform(&[3, 3], 0.0, 1.0, &mut rng);
    println!("inputs (full precision, to feed PyTorch):");
    for (name, value) in [
        ("x", x.to_array()),
        ("a", a.to_array()),
        ("b", b.to_array()),
        ("upstream", upstream.clone()),
    ] {
        println!("{name} = {:?}", value.data());
    }

    let y = (&a * &x + &b) * &a;
    y.backward_with(upstream);

    println!("\ny =\n{y}");
    println!("x.grad =\n{}", x.grad().expect("x is a parameter"));
    println!("a.grad =\n{}", a.grad().expect("a is a parameter"));
    println!("b.grad =\n{}", b.grad().expect("b is a parameter"));
}
