//! The scalar engine's forward+backward throughput (graph nodes per second), side by side
//! with micrograd (PyPI `micrograd`, run through `tools/bench_micrograd.py`).
//!
//! Run: `cargo bench --bench scalar` (set `PYTHON=/path/to/python` with micrograd installed).
//! Rounds alternate scratchgrad and micrograd; medians over rounds are printed. Each engine
//! counts the nodes of its own graph (micrograd's MLP uses ReLU, ours tanh; the numbers of
//! nodes differ slightly, which is why the comparison is per node).

use std::process::Command;
use std::time::Instant;

use scratchgrad::array::Rng;
use scratchgrad::scalar::{hinge_loss, make_moons, Mlp, Value};

const ROUNDS: usize = 5;
const CHAIN: usize = 300;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

/// Median seconds of `reps` runs of `f`, and the node count of the graph it returns.
fn time(reps: usize, f: impl Fn() -> Value) -> (f64, usize) {
    let nodes = f().topological_order().len();
    let times = (0..reps).map(|_| {
        let t = Instant::now();
        drop(f());
        t.elapsed().as_secs_f64()
    });
    (median(times.collect()), nodes)
}

fn chain() -> Value {
    let x = Value::new(1.0);
    let mut y = x.clone();
    for _ in 0..CHAIN {
        y = y * 1.0001 + 0.0001;
    }
    y.backward();
    y
}

fn micrograd() -> Option<serde_json::Value> {
    let python = std::env::var("PYTHON").unwrap_or_else(|_| "python3".into());
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tools/bench_micrograd.py");
    let out = Command::new(python)
        .args([script, "--chain", &CHAIN.to_string()])
        .output()
        .ok()?;
    serde_json::from_slice(&out.stdout).ok()
}

fn main() {
    let mut rng = Rng::seed(1337);
    let data = make_moons(100, 0.1, &mut rng);
    let mlp = Mlp::new(2, &[16, 16, 1], &mut rng);
    let moons = || {
        let (loss, _) = hinge_loss(&mlp, &data, 1e-4);
        mlp.zero_grad();
        loss.backward();
        loss
    };
    let mut ours: [Vec<f64>; 2] = Default::default();
    let mut theirs: [Vec<f64>; 2] = Default::default();
    let mut nodes = [0usize; 2];
    let mut their_nodes = [0usize; 2];
    for _ in 0..ROUNDS {
        let (s, n) = time(50, moons);
        ours[0].push(n as f64 / s);
        nodes[0] = n;
        let (s, n) = time(2000, chain);
        ours[1].push(n as f64 / s);
        nodes[1] = n;
        if let Some(m) = micrograd() {
            for (i, key) in ["moons", "chain"].iter().enumerate() {
                let n = m[key]["nodes"].as_u64().unwrap_or(0) as usize;
                theirs[i].push(n as f64 / m[key]["seconds"].as_f64().unwrap_or(f64::NAN));
                their_nodes[i] = n;
            }
        }
    }
    println!("forward+backward, million nodes per second (median of {ROUNDS} rounds)");
    println!(
        "{:<24} {:>12} {:>8} {:>12} {:>8} {:>8}",
        "workload", "scratchgrad", "nodes", "micrograd", "nodes", "ratio"
    );
    for (i, name) in ["moons MLP, 100 points", "chain of 300 steps"]
        .iter()
        .enumerate()
    {
        let o = median(ours[i].clone()) / 1e6;
        let t = if theirs[i].is_empty() {
            f64::NAN
        } else {
            median(theirs[i].clone()) / 1e6
        };
        println!(
            "{name:<24} {o:>12.2} {:>8} {t:>12.3} {:>8} {:>7.0}x",
            nodes[i],
            their_nodes[i],
            o / t
        );
    }
}
