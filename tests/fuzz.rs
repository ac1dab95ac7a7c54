//! Fuzzing the four parsers that read what users hand us: the IDX reader, the safetensors
//! model and checkpoint loader, the expression parser of `grad`, and the image loader of
//! `predict`. A seeded mutation fuzzer (bit flips, interesting integers, truncation,
//! insertion, deletion, duplication) starts from valid inputs; every mutant must be accepted
//! or refused with an error, never a panic.
//!
//! In CI each target runs for a bounded number of inputs; for a long run set
//! `SCRATCHGRAD_FUZZ_SECONDS` (per target), e.g.
//! `SCRATCHGRAD_FUZZ_SECONDS=600 cargo test --release --test fuzz -- --nocapture --test-threads 1`.
//! A crashing input is written to `target/fuzz-crashes/` and the test fails; each crash found
//! becomes a regression test (none so far: docs/RELIABILITY.md has the long runs' counts).

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::{Duration, Instant};

use scratchgrad::arch::{Activation, Architecture};
use scratchgrad::array::Rng;
use scratchgrad::data::idx::parse_idx;
use scratchgrad::data::preprocess::{decode_image, mnist_style};
use scratchgrad::io::{
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
            let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/fuzz-crashes");
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
    let text = std::fs::read_to_string("tests/fixtures/scalar_expressions.json").unwrap();
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
