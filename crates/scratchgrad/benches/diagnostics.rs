//! What the dashboard's health panel costs a run: three epochs of training (with their
//! evaluation and files) with an observer that wants diagnostics (a probe before training and
//! after each epoch, update sizes at up to 10 steps per epoch) against one that does not,
//! rounds alternating, medians of each and of their ratio.
//!
//! Run: `cargo bench -p scratchgrad --bench diagnostics` (MNIST from the data folder when it
//! is there, else only the built-in mnist-mini).

use std::path::Path;
use std::time::Instant;

use scratchgrad::data::{data_dir, dataset_dir, Dataset, DatasetName, Split};
use scratchgrad::train::{train, Diagnostics, Observer, RunDir, Settings};

const ROUNDS: usize = 7;
const EPOCHS: usize = 3;

struct Quiet {
    diagnose: bool,
    probes: usize,
}

impl Observer for Quiet {
    fn wants_diagnostics(&self) -> bool {
        self.diagnose
    }
    fn on_diagnostics(&mut self, _epochs_done: usize, _seen: &Diagnostics) {
        self.probes += 1;
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

/// Seconds per epoch of `settings` (three epochs), with or without diagnostics.
fn epoch(
    settings: &serde_json::Value,
    train_set: &Dataset,
    test_set: &Dataset,
    diagnose: bool,
) -> f64 {
    let config = Settings::from_json(settings).unwrap().config().unwrap();
    let folder = tempfile::tempdir().unwrap();
    let dir = RunDir::create(&folder.path().join("run")).unwrap();
    let mut observer = Quiet {
        diagnose,
        probes: 0,
    };
    let started = Instant::now();
    train(&config, train_set, test_set, &dir, None, &mut observer).unwrap();
    let seconds = started.elapsed().as_secs_f64();
    assert_eq!(observer.probes, if diagnose { EPOCHS + 1 } else { 0 });
    seconds / EPOCHS as f64
}

fn compare(what: &str, settings: serde_json::Value, name: DatasetName, data: &Path) {
    let data = &dataset_dir(data, name);
    let Ok(train_set) = Dataset::load(name, Split::Train, data) else {
        println!("{what}: no {name} in {} (skipped)", data.display());
        return;
    };
    let test_set = Dataset::load(name, Split::Test, data).unwrap();
    let (mut with, mut without, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
    epoch(&settings, &train_set, &test_set, true); // warm up
    for _ in 0..ROUNDS {
        let b = epoch(&settings, &train_set, &test_set, false);
        let a = epoch(&settings, &train_set, &test_set, true);
        with.push(a);
        without.push(b);
        ratios.push(a / b);
    }
    println!(
        "{what}: {:.3} s per epoch without diagnostics, {:.3} s with; median ratio {:.3} ({ROUNDS} alternating rounds of {EPOCHS} epochs)",
        median(without),
        median(with),
        median(ratios)
    );
}

fn main() {
    let data = data_dir(None).unwrap_or_else(|_| Path::new(".").to_path_buf());
    let mlp = serde_json::json!({"dataset": "mnist", "epochs": EPOCHS});
    compare(
        "784-256-10 sigmoid on mnist",
        mlp,
        DatasetName::Mnist,
        &data,
    );
    let mini = serde_json::json!({"dataset": "mnist-mini", "epochs": EPOCHS});
    compare(
        "784-256-10 sigmoid on mnist-mini",
        mini,
        DatasetName::MnistMini,
        &data,
    );
    let cnn = serde_json::json!({"dataset": "mnist-mini", "arch": "cnn", "epochs": EPOCHS});
    compare("cnn on mnist-mini", cnn, DatasetName::MnistMini, &data);
}
