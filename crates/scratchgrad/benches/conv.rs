//! The `cnn` network's first convolution (1 -> 16 channels, 5x5, padding 2, 28x28 images,
//! batch 64), forward and weight gradient, two ways: im2col + GEMM (what scratchgrad does)
//! and a direct loop written for this thin shape (one input channel: each output row is a
//! sum of 25 shifted, scaled input rows, an inner loop the compiler vectorizes). The first
//! layer's input needs no gradient, so forward and dW are its whole cost.
//!
//! Run: `cargo bench --bench conv` (add `-- --threads 1` for one thread; the direct loop
//! splits the batch across the same number of threads). Rounds alternate the two; medians.

use std::time::Instant;

use scratchgrad::array::{num_threads, set_num_threads, Array, Rng, Window};

const ROUNDS: usize = 9;
const REPEATS: usize = 20;
const N: usize = 64;
const O: usize = 16;
const K: usize = 5;
const P: usize = 2;
const SIDE: usize = 28;
const PADDED: usize = SIDE + 2 * P;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn time(mut f: impl FnMut()) -> f64 {
    f();
    let t = Instant::now();
    for _ in 0..REPEATS {
        f();
    }
    t.elapsed().as_secs_f64() * 1e3 / REPEATS as f64
}

/// Each image once, padded with zeros: `[N, PADDED, PADDED]`.
fn pad(x: &[f32]) -> Vec<f32> {
    let mut padded = vec![0.0; N * PADDED * PADDED];
    for n in 0..N {
        for i in 0..SIDE {
            let from = &x[(n * SIDE + i) * SIDE..][..SIDE];
            padded[(n * PADDED + i + P) * PADDED + P..][..SIDE].copy_from_slice(from);
        }
    }
    padded
}

/// Runs `work(first, last)` over the images, split across `threads`.
fn split(threads: usize, work: impl Fn(usize, usize) + Sync) {
    std::thread::scope(|s| {
        let per = N.div_ceil(threads);
        for t in 1..threads {
            let work = &work;
            s.spawn(move || work(t * per, ((t + 1) * per).min(N)));
        }
        work(0, per.min(N));
    });
}

/// y[n, o, i, :] = b[o] + sum_{u, v} w[o, u, v] * padded[n, i + u, v .. v + SIDE].
fn direct_forward(padded: &[f32], w: &[f32], b: &[f32], threads: usize) -> Vec<f32> {
    let mut y = vec![0.0f32; N * O * SIDE * SIDE];
    let out = y.as_mut_ptr() as usize;
    split(threads, |first, last| {
        for n in first..last {
            let image = &padded[n * PADDED * PADDED..][..PADDED * PADDED];
            for o in 0..O {
                // Safety: each thread writes only its own images' outputs.
                let plane = unsafe {
                    std::slice::from_raw_parts_mut(
                        (out as *mut f32).add((n * O + o) * SIDE * SIDE),
                        SIDE * SIDE,
                    )
                };
                for i in 0..SIDE {
                    let row = &mut plane[i * SIDE..][..SIDE];
                    row.fill(b[o]);
                    for u in 0..K {
                        for v in 0..K {
                            let weight = w[(o * K + u) * K + v];
                            let input = &image[(i + u) * PADDED + v..][..SIDE];
                            for (r, x) in row.iter_mut().zip(input) {
                                *r += weight * x;
                            }
                        }
                    }
                }
            }
        }
    });
    y
}

/// dW[o, u, v] = sum_{n, i, j} g[n, o, i, j] * padded[n, i + u, j + v] (per thread, then summed).
fn direct_weight_grad(padded: &[f32], g: &[f32], threads: usize) -> Vec<f32> {
    let parts = std::sync::Mutex::new(Vec::new());
    split(threads, |first, last| {
        let mut dw = vec![0.0f32; O * K * K];
        for n in first..last {
            let image = &padded[n * PADDED * PADDED..][..PADDED * PADDED];
            for o in 0..O {
                let grad = &g[(n * O + o) * SIDE * SIDE..][..SIDE * SIDE];
                for u in 0..K {
                    for v in 0..K {
                        let mut sum = 0.0f32;
                        for i in 0..SIDE {
                            let input = &image[(i + u) * PADDED + v..][..SIDE];
                            let row = &grad[i * SIDE..][..SIDE];
                            sum += row.iter().zip(input).map(|(a, b)| a * b).sum::<f32>();
                        }
                        dw[(o * K + u) * K + v] += sum;
                    }
                }
            }
        }
        parts.lock().unwrap().push(dw);
    });
    let parts = parts.into_inner().unwrap();
    (0..O * K * K)
        .map(|k| parts.iter().map(|p| p[k]).sum())
        .collect()
}

fn main() {
    // The allocator tuning the scratchgrad binary applies (src/main.rs): without it, every
    // multi-megabyte buffer is a fresh mmap whose pages fault in, and that, not arithmetic,
    // dominates these timings (14 ms instead of 4 for the forward pass).
    // SAFETY: mallopt only changes allocator parameters, before any other thread exists.
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 256 << 20);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 512 << 20);
    }
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--threads") {
        set_num_threads(args.get(i + 1).and_then(|n| n.parse().ok()).unwrap_or(1));
    }
    let threads = num_threads();
    let mut rng = Rng::seed(0);
    let x = Array::<f32>::rand_uniform(&[N, 1, SIDE, SIDE], 0.0, 1.0, &mut rng);
    let w = Array::<f32>::rand_uniform(&[O, 1, K, K], -0.2, 0.2, &mut rng);
    let b = Array::<f32>::rand_uniform(&[O], -0.1, 0.1, &mut rng);
    let g = Array::<f32>::rand_uniform(&[N, O, SIDE, SIDE], -1.0, 1.0, &mut rng);
    let window = Window {
        kh: K,
        kw: K,
        stride: 1,
        padding: P,
    };

    // Both ways agree before anything is timed.
    let (y, cols) = x.conv2d(&w, Some(&b), &window);
    let padded = pad(x.data());
    let direct = direct_forward(&padded, w.data(), b.data(), threads);
    let g_rows = g.nchw_to_rows();
    let dw = cols.matmul_t(false, &g_rows, false);
    let dw_direct = direct_weight_grad(&padded, g.data(), threads);
    let largest = |a: &[f32], b: &[f32]| {
        a.iter()
            .zip(b)
            .map(|(p, q)| (p - q).abs())
            .fold(0.0, f32::max)
    };
    assert!(largest(y.data(), &direct) < 1e-4, "forward differs");
    let dw_t: Vec<f32> = (0..O * K * K)
        .map(|k| dw.data()[(k % (K * K)) * O + k / (K * K)])
        .collect();
    assert!(largest(&dw_t, &dw_direct) < 1e-2, "dW differs");

    let (mut gemm_fwd, mut gemm_dw, mut direct_fwd, mut direct_dw) =
        (vec![], vec![], vec![], vec![]);
    for _ in 0..ROUNDS {
        gemm_fwd.push(time(|| {
            std::hint::black_box(x.conv2d(&w, Some(&b), &window));
        }));
        direct_fwd.push(time(|| {
            std::hint::black_box(direct_forward(&pad(x.data()), w.data(), b.data(), threads));
        }));
        gemm_dw.push(time(|| {
            std::hint::black_box(cols.matmul_t(false, &g.nchw_to_rows(), false));
        }));
        direct_dw.push(time(|| {
            std::hint::black_box(direct_weight_grad(&padded, g.data(), threads));
        }));
    }
    println!("first convolution of `cnn` (1->16, 5x5, pad 2, 28x28, batch {N}), {threads} thread(s), median ms per batch:");
    println!(
        "  forward   im2col + GEMM {:7.3}   direct loop {:7.3}",
        median(gemm_fwd),
        median(direct_fwd)
    );
    println!(
        "  dW        im2col + GEMM {:7.3}   direct loop {:7.3}",
        median(gemm_dw),
        median(direct_dw)
    );
}
