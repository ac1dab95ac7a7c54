//! Matrix products at the texts' MLP shapes (784-256-10, batch 64) and at the names GPT's
//! linear layers (half a batch: 256 positions, embedding 64), in GFLOP/s:
//! scratchgrad's `matmul_t` (the `gemm` crate) against `matrixmultiply` (the other candidate
//! kernel) and, when `python3` can import torch and numpy, against PyTorch and numpy.
//!
//! Run: `cargo bench --bench matmul` (set `PYTHON=/path/to/python` to pick the interpreter).
//! Rounds alternate scratchgrad, matrixmultiply and Python; medians over rounds are printed.

use std::process::Command;
use std::time::Instant;

use scratchgrad::array::{set_num_threads, Array, Rng};

/// (name, m, k, n, transpose a, transpose b): the five products of one MLP training step, then
/// a GPT block's three forward products `x @ W^T` (queries-keys-values, the MLP's two layers).
const SHAPES: [(&str, usize, usize, usize, bool, bool); 8] = [
    ("X @ W1        64x784 @ 784x256", 64, 784, 256, false, false),
    ("H @ W2        64x256 @ 256x10", 64, 256, 10, false, false),
    ("dZ2 @ W2^T    64x10 @ 10x256", 64, 10, 256, false, true),
    ("H^T @ dZ2     256x64 @ 64x10", 256, 64, 10, true, false),
    ("X^T @ dZ1     784x64 @ 64x256", 784, 64, 256, true, false),
    ("x @ Wqkv^T    256x64 @ 64x192", 256, 64, 192, false, true),
    ("x @ Wfc^T     256x64 @ 64x256", 256, 64, 256, false, true),
    ("h @ Wproj^T   256x256 @ 256x64", 256, 256, 64, false, true),
];
const ROUNDS: usize = 7;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

/// Calls before timing: after the Python round the cores have idled, and a helper thread's
/// first products after an idle spell take milliseconds (measured: 1-2.4 ms for the first
/// of a 400 µs product), which the threading learns from before it splits again.
const WARM_UP: usize = 100;

/// Median seconds of `reps` calls of `f`, after [`WARM_UP`] calls.
fn time(reps: usize, mut f: impl FnMut()) -> f64 {
    (0..WARM_UP).for_each(|_| f());
    median(
        (0..reps)
            .map(|_| {
                let t = Instant::now();
                f();
                t.elapsed().as_secs_f64()
            })
            .collect(),
    )
}

fn operands(m: usize, k: usize, n: usize, ta: bool, tb: bool) -> (Array<f32>, Array<f32>) {
    let mut rng = Rng::seed(0);
    let a = Array::rand_uniform(&if ta { [k, m] } else { [m, k] }, -1.0, 1.0, &mut rng);
    let b = Array::rand_uniform(&if tb { [n, k] } else { [k, n] }, -1.0, 1.0, &mut rng);
    (a, b)
}

fn matrixmultiply(
    a: &Array<f32>,
    b: &Array<f32>,
    out: &mut [f32],
    (m, k, n, ta, tb): (usize, usize, usize, bool, bool),
) {
    let (rsa, csa) = if ta { (1, m as isize) } else { (k as isize, 1) };
    let (rsb, csb) = if tb { (1, k as isize) } else { (n as isize, 1) };
    // SAFETY: the strides describe exactly the m x k, k x n and m x n matrices held by `a`,
    // `b` and `out`.
    unsafe {
        matrixmultiply::sgemm(
            m,
            k,
            n,
            1.0,
            a.data().as_ptr(),
            rsa,
            csa,
            b.data().as_ptr(),
            rsb,
            csb,
            0.0,
            out.as_mut_ptr(),
            n as isize,
            1,
        );
    }
}

fn python_round(threads: usize) -> Option<serde_json::Value> {
    let python = std::env::var("PYTHON").unwrap_or_else(|_| "python3".into());
    let specs = SHAPES
        .iter()
        .map(|&(_, m, k, n, ta, tb)| format!("{m},{k},{n},{},{}", ta as u8, tb as u8));
    let out = Command::new(python)
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../tools/bench_matmul.py"
        ))
        .args(["--threads", &threads.to_string()])
        .args(specs)
        .output()
        .ok()?;
    serde_json::from_slice(&out.stdout).ok()
}

fn main() {
    for threads in [1, 2] {
        set_num_threads(threads);
        let mut ours = vec![vec![]; SHAPES.len()];
        let mut mm = vec![vec![]; SHAPES.len()];
        let mut torch = vec![vec![]; SHAPES.len()];
        let mut numpy = vec![vec![]; SHAPES.len()];
        for _ in 0..ROUNDS {
            for (i, &(_, m, k, n, ta, tb)) in SHAPES.iter().enumerate() {
                let (a, b) = operands(m, k, n, ta, tb);
                ours[i].push(time(50, || drop(a.matmul_t(ta, &b, tb))));
                let mut out = vec![0.0f32; m * n];
                if threads == 1 {
                    mm[i].push(time(50, || {
                        matrixmultiply(&a, &b, &mut out, (m, k, n, ta, tb))
                    }));
                }
            }
            if let Some(py) = python_round(threads) {
                for (i, &(_, m, k, n, ta, tb)) in SHAPES.iter().enumerate() {
                    let spec = format!("{m},{k},{n},{},{}", ta as u8, tb as u8);
                    torch[i].push(py["torch"][&spec].as_f64().unwrap_or(f64::NAN));
                    numpy[i].push(py["numpy"][&spec].as_f64().unwrap_or(f64::NAN));
                }
            }
        }
        println!("\n{threads} thread(s), GFLOP/s (median of {ROUNDS} rounds; higher is better)");
        println!(
            "{:<34} {:>12} {:>14} {:>9} {:>9} {:>14}",
            "product", "scratchgrad", "matrixmultiply", "torch", "numpy", "ours/torch"
        );
        let gflops = |secs: &[f64], flops: f64| {
            if secs.is_empty() {
                f64::NAN
            } else {
                flops / median(secs.to_vec()) / 1e9
            }
        };
        for (i, &(name, m, k, n, _, _)) in SHAPES.iter().enumerate() {
            let flops = 2.0 * (m * k * n) as f64;
            let (o, x, t, p) = (
                gflops(&ours[i], flops),
                gflops(&mm[i], flops),
                gflops(&torch[i], flops),
                gflops(&numpy[i], flops),
            );
            println!(
                "{name:<34} {o:>12.1} {x:>14.1} {t:>9.1} {p:>9.1} {:>14.2}",
                o / t
            );
        }
    }
}
