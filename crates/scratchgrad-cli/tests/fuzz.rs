//! Fuzzing what reads what users hand us: the IDX reader, the safetensors model and
//! checkpoint loader, resuming from a checkpoint whose config and optimizer state were edited,
//! the expression parser of `grad` (short mutants and long flat chains), and the image loader
//! of `predict`. A seeded mutation fuzzer (bit flips, interesting integers, truncation,
//! insertion, deletion, duplication) starts from valid inputs; every mutant must be accepted
//! or refused with an error, never a panic. (Special files for every reader and writer are in
//! `tests/special_files.rs`.)
//!
//! In CI each target runs for a bounded number of inputs; for a long run set
//! `SCRATCHGRAD_FUZZ_SECONDS` (per target), e.g.
//! `SCRATCHGRAD_FUZZ_SECONDS=600 cargo test --release --test fuzz -- --nocapture --test-threads 1`.
//! A crashing input is written to `target/fuzz-crashes/` and the test fails; each crash found
//! becomes a regression test (none so far: docs/RELIABILITY.md has the long runs' counts).

mod common;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::{Duration, Instant};

use scratchgrad::arch::{Activation, Architecture};
use scratchgrad::array::Rng;
use scratchgrad::data::idx::parse_idx;
use scratchgrad::data::preprocess::{decode_image, mnist_style};
use scratchgrad::model_files::{
    decode_checkpoint, decode_model, encode_checkpoint, encode_model, Checkpoint, ModelFile,
};
use scratchgrad::optim::OptimizerState;
use scratchgrad::scalar::evaluate::evaluate;

const INTERESTING: [u32; 9] = [
    0,
    1,
    2,
    0x7f,
    0x80,
    0xff,
    0x7fff_ffff,
    0x8000_0000,
    0xffff_ffff,
];

fn mutate(seed: &[u8], rng: &mut Rng) -> Vec<u8> {
    let mut data = seed.to_vec();
    for _ in 0..1 + rng.below(4) {
        let len = data.len();
        match rng.below(8) {
            0 if len > 0 => {
                let i = rng.below(len);
                data[i] ^= 1 << rng.below(8);
            }
            1 if len > 0 => {
                let i = rng.below(len);
                data[i] = INTERESTING[rng.below(INTERESTING.len())] as u8;
            }
            2 if len >= 4 => {
                let i = rng.below(len - 3);
                let v = INTERESTING[rng.below(INTERESTING.len())];
                let bytes = if rng.below(2) == 0 {
                    v.to_be_bytes()
                } else {
                    v.to_le_bytes()
                };
                data[i..i + 4].copy_from_slice(&bytes);
            }
            3 => data.truncate(rng.below(len + 1)),
            4 => {
                let at = rng.below(len + 1);
                let extra: Vec<u8> = (0..1 + rng.below(16))
                    .map(|_| rng.below(256) as u8)
                    .collect();
                data.splice(at..at, extra);
            }
            5 if len > 0 => {
                let a = rng.below(len);
                let b = (a + 1 + rng.below(64)).min(len);
                data.drain(a..b);
            }
            6 if len > 0 => {
                let a = rng.below(len);
                let b = (a + 1 + rng.below(64)).min(len);
                let chunk = data[a..b].to_vec();
                let at = rng.below(len + 1);
                data.splice(at..at, chunk);
            }
            _ => {
                if len > 0 {
                    let i = rng.below(len);
                    data[i] = rng.below(256) as u8;
                }
            }
        }
    }
    data
}

/// Feeds mutants of `seeds` to `target` until the budget is spent; returns how many ran.
fn fuzz(name: &str, seeds: &[Vec<u8>], default_inputs: usize, target: impl Fn(&[u8])) -> usize {
    let seconds: Option<u64> = std::env::var("SCRATCHGRAD_FUZZ_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok());
    let deadline = seconds.map(|s| Instant::now() + Duration::from_secs(s));
    let mut rng = Rng::seed(name.len() as u64 * 7919);
    let mut count = 0;
    loop {
        match deadline {
            Some(d) if Instant::now() >= d => break,
            None if count >= default_inputs => break,
            _ => {}
        }
        let seed = &seeds[rng.below(seeds.len())];
        let input = mutate(seed, &mut rng);
        if catch_unwind(AssertUnwindSafe(|| target(&input))).is_err() {
            let dir =
                std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/fuzz-crashes");
            std::fs::create_dir_all(&dir).unwrap();
            let path = dir.join(format!("{name}-{count}.bin"));
            std::fs::write(&path, &input).unwrap();
            panic!(
                "{name}: input {count} panicked; saved to {}",
                path.display()
            );
        }
        count += 1;
    }
    eprintln!("fuzz {name}: {count} inputs, no panic");
    count
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(bytes).unwrap();
    gz.finish().unwrap()
}

#[test]
fn idx_reader() {
    let mut images = vec![0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 3];
    images.extend((0..18).map(|i| i as u8 * 14));
    let labels = vec![0, 0, 8, 1, 0, 0, 0, 2, 7, 3];
    let seeds = vec![images.clone(), labels.clone(), gzip(&images), gzip(&labels)];
    fuzz("idx", &seeds, 20_000, |bytes| {
        let _ = parse_idx(bytes, 3, "fuzz");
        let _ = parse_idx(bytes, 1, "fuzz");
    });
}

#[test]
fn safetensors_loader() {
    let arch = Architecture::mlp(6, &[4], 3, Activation::Tanh);
    let weights = arch.init(&mut Rng::seed(1));
    let model = ModelFile {
        arch,
        dataset: "mnist".into(),
        class_names: vec!["a".into(), "b".into(), "c".into()],
        weights,
        counts: Vec::new(),
    };
    let checkpoint = Checkpoint {
        model: model.clone(),
        optimizer: OptimizerState {
            steps: 3,
            buffers: vec![("velocity.0".into(), model.weights[0].1.clone())],
        },
        epochs_done: 1,
        config: serde_json::json!({"lr": 1.0}),
    };
    let seeds = vec![encode_model(&model), encode_checkpoint(&checkpoint)];
    fuzz("safetensors", &seeds, 20_000, |bytes| {
        let _ = decode_model(bytes, "fuzz");
        let _ = decode_checkpoint(bytes, "fuzz");
    });
}

#[test]
fn expression_parser() {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../scratchgrad/tests/fixtures/scalar_expressions.json"
    ))
    .unwrap();
    let doc: serde_json::Value = serde_json::from_str(&text).unwrap();
    let mut seeds: Vec<Vec<u8>> = doc["cases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["expr"].as_str().unwrap().as_bytes().to_vec())
        .collect();
    seeds.extend(["-x**2", "2**3**2", "((x))", "x ** -1", "1e-3*x"].map(|s| s.as_bytes().to_vec()));
    let bindings: Vec<(String, f64)> = ["x", "y", "z", "w", "rate_2"]
        .iter()
        .enumerate()
        .map(|(i, n)| (n.to_string(), i as f64 - 1.5))
        .collect();
    fuzz("expression", &seeds, 20_000, |bytes| {
        let source = String::from_utf8_lossy(bytes);
        for used in 0..=bindings.len() {
            let _ = evaluate(&source, &bindings[..used]);
        }
    });
}

#[test]
fn long_flat_expressions() {
    // Chains of 1 to 60,000 terms of random operators, names and numbers: a flat chain was
    // once built recursively and overflowed the stack at about 28,700 terms.
    let budget: usize = std::env::var("SCRATCHGRAD_FUZZ_SECONDS").map_or(12, |_| 400);
    let mut rng = Rng::seed(99);
    let bindings = vec![("x".to_string(), 0.5), ("y".to_string(), -1.25)];
    for _ in 0..budget {
        let terms = 1 + rng.below(60_000);
        let mut source = String::with_capacity(terms * 4);
        for t in 0..terms {
            if t > 0 {
                source.push_str(["+", "-", "*", "/", "**"][rng.below(5)]);
            }
            source.push_str(["x", "y", "1", "0.5", "(x)", "-y", "exp(x)"][rng.below(7)]);
        }
        let result = catch_unwind(AssertUnwindSafe(|| {
            let _ = evaluate(&source, &bindings);
        }));
        assert!(result.is_ok(), "a chain of {terms} terms panicked");
    }
}

/// A one-epoch run of a small network on `mnist-mini`, kept for the resume fuzzer.
fn small_run(dir: &std::path::Path) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_scratchgrad"))
        .args([
            "train",
            "--dataset",
            "mnist-mini",
            "--hidden",
            "8",
            "--epochs",
            "1",
            "--optimizer",
            "adam",
            "--quiet",
            "--threads",
            "1",
            "--out",
        ])
        .arg(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn resuming_from_edited_checkpoints() {
    // The checkpoint's config (as JSON text) and its optimizer tensors' names are mutated;
    // whatever `load_resume` accepts must then train an epoch without a panic.
    use scratchgrad::data::{Dataset, DatasetName, Split};
    use scratchgrad::train::{load_resume, train, Observer, RunDir};
    struct Quiet;
    impl Observer for Quiet {}
    let base = common::temp_dir("fuzz-resume");
    let good = base.join("good");
    small_run(&good);
    let checkpoint = decode_checkpoint(
        &std::fs::read(good.join("checkpoint.safetensors")).unwrap(),
        "c",
    )
    .unwrap();
    let config_text = checkpoint.config.to_string();
    let names: Vec<String> = checkpoint
        .optimizer
        .buffers
        .iter()
        .map(|(n, _)| n.clone())
        .collect();
    let train_set = Dataset::load(
        DatasetName::MnistMini,
        Split::Train,
        std::path::Path::new(""),
    )
    .unwrap();
    let small = train_set.subset(&(0..64).collect::<Vec<_>>());
    let seeds: Vec<Vec<u8>> = std::iter::once(config_text.into_bytes())
        .chain(names.iter().map(|n| n.clone().into_bytes()))
        .collect();
    let trial = base.join("trial");
    let accepted = std::cell::Cell::new(0);
    fuzz("resume", &seeds, 400, |bytes| {
        let mut edited = checkpoint.clone();
        let text = String::from_utf8_lossy(bytes).into_owned();
        // Half the time, one setting gets an interesting value instead of a byte mutant.
        if bytes.len() % 2 == 0 {
            let keys = [
                "epochs",
                "batch_size",
                "lr",
                "seed",
                "val_split",
                "dataset",
                "engine",
                "optimizer",
                "schedule",
            ];
            let values = [
                serde_json::json!(0),
                serde_json::json!(1),
                serde_json::json!(-1),
                serde_json::json!(3),
                serde_json::json!(1e300),
                serde_json::json!(0.5),
                serde_json::json!(u64::MAX),
                serde_json::json!("manual"),
                serde_json::json!("momentum"),
                serde_json::json!("mnist-mini"),
                serde_json::json!([1, 2]),
                serde_json::json!(null),
            ];
            let key = keys[bytes.first().map_or(0, |&b| b as usize) % keys.len()];
            let value = &values[bytes.get(1).map_or(0, |&b| b as usize) % values.len()];
            edited.config[key] = value.clone();
        } else {
            match serde_json::from_str(&text) {
                Ok(config) if text.starts_with('{') => edited.config = config,
                _ => {
                    if edited.optimizer.buffers.iter().any(|(n, _)| *n == text) {
                        return; // a file cannot hold one name twice
                    }
                    let slot = bytes.len() % edited.optimizer.buffers.len();
                    edited.optimizer.buffers[slot].0 = text;
                }
            }
        }
        let _ = std::fs::remove_dir_all(&trial);
        std::fs::create_dir_all(&trial).unwrap();
        std::fs::copy(good.join("metrics.jsonl"), trial.join("metrics.jsonl")).unwrap();
        std::fs::write(
            trial.join("checkpoint.safetensors"),
            encode_checkpoint(&edited),
        )
        .unwrap();
        let dir = RunDir::open(&trial).expect("the folder holds a checkpoint");
        if let Ok((mut config, resume)) = load_resume(&dir) {
            accepted.set(accepted.get() + 1);
            config.epochs = resume.epochs_done + 1;
            config.batch_size = config.batch_size.min(64);
            let _ = train(&config, &small, &small, &dir, Some(resume), &mut Quiet);
        }
    });
    eprintln!(
        "resume: {} edited checkpoints accepted and trained",
        accepted.get()
    );
    assert!(
        accepted.get() > 0,
        "the fuzzer never produced an acceptable checkpoint"
    );
}

#[test]
fn image_loader() {
    let digit = image::GrayImage::from_fn(20, 16, |x, y| {
        image::Luma([if (6..14).contains(&x) && (3..13).contains(&y) {
            10
        } else {
            250
        }])
    });
    let mut png = std::io::Cursor::new(Vec::new());
    digit.write_to(&mut png, image::ImageFormat::Png).unwrap();
    let mut jpeg = std::io::Cursor::new(Vec::new());
    digit.write_to(&mut jpeg, image::ImageFormat::Jpeg).unwrap();
    let seeds = vec![png.into_inner(), jpeg.into_inner()];
    fuzz("image", &seeds, 5_000, |bytes| {
        if let Ok(img) = decode_image(bytes) {
            let _ = mnist_style(&img);
        }
    });
}
