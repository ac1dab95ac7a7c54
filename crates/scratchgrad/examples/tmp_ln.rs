use scratchgrad::array::{Array, Rng};
use scratchgrad::autograd::Tensor;
use std::time::Instant;
fn main() {
    let mut rng = Rng::seed(1);
    let (rows, n) = (384, 128);
    let mut v = |len: usize| (0..len).map(|_| rng.normal() as f32).collect::<Vec<f32>>();
    let x = Tensor::parameter_from(v(rows * n), &[rows, n]);
    let w = Tensor::parameter_from(v(n), &[n]);
    let b = Tensor::parameter_from(v(n), &[n]);
    let g = Array::from_vec(v(rows * n), &[rows, n]);
    let mut times = vec![];
    for _ in 0..15 {
        let t = Instant::now();
        for _ in 0..300 {
            let y = x.layer_norm(&w, &b, 1e-5);
            if std::env::var("FWD").is_err() {
                y.backward_with(g.clone());
            }
            x.zero_grad();
            w.zero_grad();
            b.zero_grad();
        }
        times.push(t.elapsed().as_secs_f64() / 300.0 * 1e6);
    }
    times.sort_by(|a, b| a.partial_cmp(b).unwrap());
    println!("median {:.1} us per forward+backward", times[7]);
}
