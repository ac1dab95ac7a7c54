//! Every way a command can fail, found by attacking the release binary (issue 21's third
//! round), says what was wrong in one line on stderr and exits non-zero: nothing on stdout
//! pretends to be a result, and nothing is saved.

mod common;

use std::path::Path;
use std::process::{Command, Output, Stdio};

use scratchgrad::arch::Architecture;
use scratchgrad::array::Array;
use scratchgrad::model_files::{encode_model, ModelFile};

use common::{temp_dir, train_args};

fn scratchgrad(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_scratchgrad"))
        .args(args)
        .output()
        .unwrap()
}

/// Checks `run` exited with `code` and one line on stderr containing `want`.
fn one_line(run: &Output, code: i32, want: &str) {
    let err = String::from_utf8_lossy(&run.stderr);
    assert_eq!(run.status.code(), Some(code), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.starts_with("error: ") && err.contains(want),
        "wanted {want:?}, got {err}"
    );
}

/// A 784-10 model file whose weights are all zero, with `class_names`.
fn model_with_classes(path: &Path, class_names: Vec<String>) {
    let arch = Architecture::parse(&[784], "linear10").unwrap();
    let weights = arch
        .state()
        .into_iter()
        .map(|t| (t.name, Array::zeros(&t.shape)))
        .collect();
    let file = ModelFile {
        arch,
        dataset: "mnist-mini".into(),
        class_names,
        weights,
        counts: Vec::new(),
    };
    std::fs::write(path, encode_model(&file)).unwrap();
}

fn digits() -> Vec<String> {
    (0..10).map(|c| c.to_string()).collect()
}

#[test]
fn a_run_whose_batch_statistics_blow_up_fails_and_keeps_no_model() {
    // With --lr 1e6 a batch norm's running variance becomes inf in the first epoch: the run
    // used to save the model and exit 0, and eval then refused the file it had written.
    let out = temp_dir("blow-up");
    let run = scratchgrad(&train_args(
        &out,
        &[
            "--layers",
            "conv4k3,bn,relu,flatten,linear10",
            "--optimizer",
            "sgd",
            "--lr",
            "1e6",
            "--epochs",
            "1",
        ],
    ));
    one_line(
        &run,
        1,
        "became inf or NaN in epoch 1: lower the learning rate (--lr)",
    );
    assert!(!out.join("model.safetensors").exists());
}

#[test]
fn a_result_that_cannot_be_written_is_a_failure() {
    // `eval --json > /dev/full` printed nothing, said nothing and exited 0.
    let dir = temp_dir("full-stdout");
    std::fs::create_dir_all(&dir).unwrap();
    let model = dir.join("model.safetensors");
    model_with_classes(&model, digits());
    let model = model.to_str().unwrap();
    let full = || Stdio::from(std::fs::File::create("/dev/full").unwrap());
    for args in [
        vec![
            "eval",
            "--model",
            model,
            "--dataset",
            "mnist-mini",
            "--json",
        ],
        vec!["grad", "x*y", "x=2", "y=3"],
    ] {
        let run = Command::new(env!("CARGO_BIN_EXE_scratchgrad"))
            .args(&args)
            .stdout(full())
            .output()
            .unwrap();
        one_line(&run, 1, "No space left on device");
    }
}

#[test]
fn a_broken_image_or_a_bad_flag_is_one_line() {
    let dir = temp_dir("broken-inputs");
    std::fs::create_dir_all(&dir).unwrap();
    let model = dir.join("model.safetensors");
    model_with_classes(&model, digits());
    // A JPEG cut off after its first marker: the decoder's message ended in a line break.
    let jpeg = dir.join("cut.jpg");
    std::fs::write(
        &jpeg,
        b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00\xff\xdb\x00",
    )
    .unwrap();
    let run = scratchgrad(&[
        "predict",
        "--model",
        model.to_str().unwrap(),
        jpeg.to_str().unwrap(),
    ]);
    one_line(&run, 1, "cannot be read as an image");
    assert!(run.stdout.is_empty());
    // Usage errors were clap's six-line block; they are one line, exit 2, like every other.
    one_line(
        &scratchgrad(&["train", "--epochs", "abc"]),
        2,
        "invalid value 'abc' for '--epochs",
    );
    one_line(
        &scratchgrad(&["trian"]),
        2,
        "unrecognized subcommand 'trian'",
    );
    // A 60,000-character layer list was echoed whole.
    let long = "x".repeat(60_000);
    let run = scratchgrad(&["train", "--dataset", "mnist-mini", "--layers", &long]);
    one_line(&run, 1, "--layers");
    assert!(run.stderr.len() < 400, "{} bytes", run.stderr.len());
}

#[test]
fn class_names_that_would_hide_or_reorder_text_are_refused() {
    // A right-to-left override in a class name reversed everything printed after it.
    let dir = temp_dir("bidi");
    std::fs::create_dir_all(&dir).unwrap();
    let model = dir.join("model.safetensors");
    let mut names = digits();
    names[7] = "\u{202e}7".into();
    model_with_classes(&model, names);
    let run = scratchgrad(&[
        "eval",
        "--model",
        model.to_str().unwrap(),
        "--dataset",
        "mnist-mini",
    ]);
    one_line(
        &run,
        1,
        "has a class name that is not 1 to 32 printable characters",
    );
    assert!(run.stdout.is_empty());
}
