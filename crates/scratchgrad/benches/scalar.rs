//! The scalar engine's forward+backward throughput (graph nodes per second), side by side
//! with micrograd (PyPI `micrograd`, run through `tools/bench_micrograd.py`).
//!
//! Run: `cargo bench --bench scalar` (set `PYTHON=/path/to/python` with micrograd installed).
//! Both scalar engines are timed: the graph of `Value`s (micrograd's design) and the `Tape`.
//! Rounds alternate scratchgrad and micrograd; medians over rounds are printed. Each engine
//! counts the nodes of its own graph (micrograd's MLP uses ReLU, ours tanh; the numbers of
//! nodes differ slightly, which is why the comparison is per node).

use std::process::Command;
use std::time::Instant;

use scratchgrad::array::Rng;
use scratchgrad::scalar::{hinge_loss, hinge_loss_backward_on_tape, make_moons, Mlp, Tape, Value};

const ROUNDS: usize = 5;
const CHAIN: usize = 300;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

/// Median seconds of `reps` runs of `f` (which builds a graph, runs backward, and lets
/// the graph go: all three are timed).
fn time(reps: usize, f: impl Fn()) -> f64 {
    let times = (0..reps).map(|_| {
        let t = Instant::now();
        f();
        t.elapsed().as_secs_f64()
    });
    median(times.collect())
}

fn chain_of_values() -> Value {
    let x = Value::new(1.0);
    let mut y = x.clone();
    for _ in 0..CHAIN {
        y = y * 1.0001 + 0.0001;
    }
    y.backward();
    y
}

fn chain_on_tape(tape: &Tape) {
    let x = tape.var(1.0);
    let y = (0..CHAIN).fold(x, |y, _| y * 1.0001 + 0.0001);
    std::hint::black_box(y.backward());
}

fn micrograd() -> Option<serde_json::Value> {
    let python = std::env::var("PYTHON").unwrap_or_else(|_| "python3".into());
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tools/bench_micrograd.py"
    );
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
    let moons_of_values = || {
        let (loss, _) = hinge_loss(&mlp, &data, 1e-4);
        mlp.zero_grad();
        loss.backward();
        loss
    };
    let moons_on_tape = |tape: &mut Tape| {
        mlp.zero_grad();
        hinge_loss_backward_on_tape(&mlp, &data, 1e-4, tape);
    };
    let moons_nodes = moons_of_values().topological_order().len();
    let chain_nodes = chain_of_values().topological_order().len();
    let mut tape = Tape::new();
    moons_on_tape(&mut tape);
    assert_eq!(tape.len(), moons_nodes, "both engines build the same graph");

    // Rows: (workload, engine); each gets its nodes per second from every round.
    let rows = [
        ("moons MLP, 100 points", "Value", moons_nodes),
        ("moons MLP, 100 points", "Tape", moons_nodes),
        ("chain of 300 steps", "Value", chain_nodes),
        ("chain of 300 steps", "Tape", chain_nodes),
    ];
    let mut ours: [Vec<f64>; 4] = Default::default();
    let mut theirs: [Vec<f64>; 2] = Default::default();
    let mut their_nodes = [0usize; 2];
    for _ in 0..ROUNDS {
        ours[0].push(moons_nodes as f64 / time(50, || drop(moons_of_values())));
        ours[1].push(moons_nodes as f64 / time(50, || moons_on_tape(&mut Tape::new())));
        ours[2].push(chain_nodes as f64 / time(2000, || drop(chain_of_values())));
        ours[3].push(chain_nodes as f64 / time(2000, || chain_on_tape(&Tape::new())));
        if let Some(m) = micrograd() {
            for (i, key) in ["moons", "chain"].iter().enumerate() {
                let n = m[key]["nodes"].as_u64().unwrap_or(0) as usize;
                theirs[i].push(n as f64 / m[key]["seconds"].as_f64().unwrap_or(f64::NAN));
                their_nodes[i] = n;
            }
        }
    }
    println!("forward+backward+free, million nodes per second (median of {ROUNDS} rounds)");
    println!(
        "{:<22} {:<6} {:>12} {:>7} {:>10} {:>7} {:>7}",
        "workload", "engine", "scratchgrad", "nodes", "micrograd", "nodes", "ratio"
    );
    for (i, (workload, engine, nodes)) in rows.iter().enumerate() {
        let o = median(ours[i].clone()) / 1e6;
        let t = if theirs[i / 2].is_empty() {
            f64::NAN
        } else {
            median(theirs[i / 2].clone()) / 1e6
        };
        println!(
            "{workload:<22} {engine:<6} {o:>12.2} {nodes:>7} {t:>10.3} {:>7} {:>6.0}x",
            their_nodes[i / 2],
            o / t
        );
    }
}
