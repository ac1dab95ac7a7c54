//! Every convolution of `cnn` and `lenet5` (batch 64, f32), each pass (forward, input
//! gradient, weight gradient), by every path: the direct kernels on each instruction set this
//! CPU has, im2col + GEMM, and (with `--python PATH`, a Python with torch) PyTorch's own
//! per-operation time (`tools/bench_conv_torch.py`: `F.conv2d` and
//! `aten.convolution_backward` with one gradient asked for, as autograd asks).
//!
//! Run: `cargo bench --bench conv -- [--threads N] [--rounds R] [--python PATH]`. Each round
//! times every path of every pass in turn (and runs the PyTorch script once); medians.

use std::process::Command;
use std::time::Instant;

use scratchgrad::array::{num_threads, set_num_threads, Array, ConvPath, Isa, Rng, Window};

const REPEATS: usize = 10;

/// A convolution of the presets: name, input channels, output channels, side, padding.
const LAYERS: [(&str, usize, usize, usize, usize); 4] = [
    ("cnn conv1 1->16 28x28 p2", 1, 16, 28, 2),
    ("cnn conv2 16->32 14x14 p2", 16, 32, 14, 2),
    ("lenet5 conv1 1->6 28x28 p2", 1, 6, 28, 2),
    ("lenet5 conv2 6->16 14x14 p0", 6, 16, 14, 0),
];
const BATCH: usize = 64;
const KERNEL: usize = 5;
const PASSES: [&str; 3] = ["forward", "input grad", "weight grad"];

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

/// Milliseconds per call, after one call to warm up.
fn time(mut f: impl FnMut()) -> f64 {
    f();
    let t = Instant::now();
    for _ in 0..REPEATS {
        f();
    }
    t.elapsed().as_secs_f64() * 1e3 / REPEATS as f64
}

fn flag(args: &[String], name: &str) -> Option<String> {
    let i = args.iter().position(|a| a == name)?;
    args.get(i + 1).cloned()
}

/// One pass of one layer by one path, in milliseconds.
fn time_pass(
    path: ConvPath,
    pass: usize,
    x: &Array<f32>,
    w: &Array<f32>,
    b: &Array<f32>,
    window: &Window,
) -> f64 {
    let (y, saved) = x.conv2d_by(w, Some(b), window, path);
    let g = Array::<f32>::ones(y.shape());
    match pass {
        0 => time(|| {
            std::hint::black_box(x.conv2d_by(w, Some(b), window, path));
        }),
        1 => time(|| {
            std::hint::black_box(saved.input_grad(&g, w, x.shape(), window));
        }),
        _ => time(|| {
            std::hint::black_box(saved.weight_grad(&g, w.shape(), x.shape(), window));
        }),
    }
}

/// PyTorch's milliseconds per pass of each layer, `[layer][pass]`, from one run of the script.
fn torch(python: &str, threads: usize) -> Option<Vec<Vec<f64>>> {
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tools/bench_conv_torch.py"
    );
    let out = Command::new(python)
        .args([
            script,
            "--threads",
            &threads.to_string(),
            "--repeats",
            &REPEATS.to_string(),
        ])
        .output()
        .ok()?;
    if !out.status.success() {
        eprintln!(
            "PyTorch skipped: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
        return None;
    }
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).ok()?;
    let layers = doc["layers"].as_array()?;
    let pick = |layer: &serde_json::Value| PASSES.iter().map(|p| layer[p].as_f64()).collect();
    layers.iter().map(pick).collect()
}

fn main() {
    // The allocator tuning the scratchgrad binary applies (src/main.rs): without it, every
    // multi-megabyte buffer is a fresh mmap whose pages fault in.
    // SAFETY: mallopt only changes allocator parameters, before any other thread exists.
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 256 << 20);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 512 << 20);
    }
    let args: Vec<String> = std::env::args().collect();
    if let Some(n) = flag(&args, "--threads").and_then(|n| n.parse().ok()) {
        set_num_threads(n);
    }
    let rounds: usize = flag(&args, "--rounds")
        .and_then(|n| n.parse().ok())
        .unwrap_or(5);
    let python = flag(&args, "--python");
    let threads = num_threads();
    let mut paths: Vec<(String, ConvPath)> = Isa::available()
        .into_iter()
        .map(|isa| (format!("direct {}", isa.name()), ConvPath::Direct(isa)))
        .collect();
    paths.push(("im2col+GEMM".into(), ConvPath::Gemm));

    let mut rng = Rng::seed(0);
    let inputs: Vec<_> = LAYERS
        .iter()
        .map(|&(_, c, o, side, padding)| {
            let x = Array::<f32>::rand_uniform(&[BATCH, c, side, side], -1.0, 1.0, &mut rng);
            let w = Array::<f32>::rand_uniform(&[o, c, KERNEL, KERNEL], -0.2, 0.2, &mut rng);
            let b = Array::<f32>::rand_uniform(&[o], -0.1, 0.1, &mut rng);
            (
                x,
                w,
                b,
                Window {
                    padding,
                    ..Window::square(KERNEL)
                },
            )
        })
        .collect();

    // times[layer][pass][column], one entry per round
    let columns = paths.len() + usize::from(python.is_some());
    let mut times = vec![vec![vec![Vec::new(); columns]; PASSES.len()]; LAYERS.len()];
    for round in 0..rounds {
        for ((x, w, b, window), layer_times) in inputs.iter().zip(&mut times) {
            for (pass, pass_times) in layer_times.iter_mut().enumerate() {
                for ((_, path), column) in paths.iter().zip(pass_times) {
                    column.push(time_pass(*path, pass, x, w, b, window));
                }
            }
        }
        if let Some(torch) = python.as_deref().and_then(|p| torch(p, threads)) {
            for (layer, passes) in torch.iter().enumerate() {
                for (pass, &ms) in passes.iter().enumerate() {
                    times[layer][pass][paths.len()].push(ms);
                }
            }
        }
        eprintln!("round {}/{rounds} done", round + 1);
    }

    println!("ms per batch of {BATCH} (f32, 5x5 kernels), {threads} thread(s), median of {rounds} rounds");
    let mut header = format!("{:<28} {:<12}", "layer", "pass");
    for (name, _) in &paths {
        header += &format!(" {name:>16}");
    }
    if python.is_some() {
        header += &format!(" {:>16}", "PyTorch");
    }
    println!("{header}");
    for (layer, &(name, ..)) in LAYERS.iter().enumerate() {
        for (pass, pass_name) in PASSES.iter().enumerate() {
            let mut line = format!("{name:<28} {pass_name:<12}");
            for column in &times[layer][pass] {
                match column.is_empty() {
                    true => line += &format!(" {:>16}", "-"),
                    false => line += &format!(" {:>16.3}", median(column.clone())),
                }
            }
            println!("{line}");
        }
    }
}
