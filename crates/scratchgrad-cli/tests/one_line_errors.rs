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

#[test]
fn a_validation_split_of_no_image_is_refused() {
    // 5000 x 0.00001 rounds to no image: the run printed `val_acc 0.00%` for every epoch and
    // saved those numbers as measured.
    let out = temp_dir("no-validation");
    let run = scratchgrad(&train_args(
        &out,
        &[
            "--layers",
            "linear10",
            "--epochs",
            "1",
            "--val-split",
            "0.00001",
        ],
    ));
    one_line(
        &run,
        1,
        "holds out none of the 5000 training images: give at least 0.0002",
    );
    assert!(!out.exists());
}

#[test]
fn no_output_replaces_a_model_or_a_runs_record() {
    // `export m.safetensors --onnx m.safetensors` and `grad ... --svg checkpoint.safetensors`
    // replaced the run's files with exit 0.
    let dir = temp_dir("kept-files");
    std::fs::create_dir_all(&dir).unwrap();
    let model = dir.join("model.safetensors");
    model_with_classes(&model, digits());
    let checkpoint = dir.join("checkpoint.safetensors");
    std::fs::copy(&model, &checkpoint).unwrap();
    std::fs::write(dir.join("metrics.jsonl"), "{}\n").unwrap();
    let before = std::fs::read(&model).unwrap();
    let m = model.to_str().unwrap();
    for (args, want) in [
        (
            vec!["export", m, "--onnx", m],
            "is a safetensors file (a model or a checkpoint)",
        ),
        (
            vec!["grad", "x", "x=1", "--svg", checkpoint.to_str().unwrap()],
            "is a safetensors file",
        ),
        (
            vec![
                "grad",
                "x",
                "x=1",
                "--dot",
                dir.join("metrics.jsonl").to_str().unwrap(),
            ],
            "is a training run's record",
        ),
    ] {
        let run = scratchgrad(&args);
        one_line(&run, 1, want);
    }
    assert_eq!(std::fs::read(&model).unwrap(), before);
    assert_eq!(std::fs::read(&checkpoint).unwrap(), before);
    assert_eq!(
        std::fs::read_to_string(dir.join("metrics.jsonl")).unwrap(),
        "{}\n"
    );
}

#[test]
fn file_names_are_shown_not_obeyed_and_long_ones_are_shortened() {
    // A name holding ESC [2J cleared the screen when an error quoted it; a newline split
    // predict's one line per image in two; a 100,000-character path was echoed whole.
    let dir = temp_dir("odd-names");
    std::fs::create_dir_all(&dir).unwrap();
    let model = dir.join("model.safetensors");
    model_with_classes(&model, digits());
    let m = model.to_str().unwrap();
    let evil = dir.join("evil\u{1b}[2Jred.png");
    std::fs::write(&evil, b"not an image").unwrap();
    let run = scratchgrad(&["predict", "--model", m, evil.to_str().unwrap()]);
    one_line(&run, 1, "evil\\u{1b}[2Jred.png cannot be read as an image");
    assert!(!run.stderr.contains(&0x1b));
    let digit = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../docs/img/digit-seven.png"
    );
    let split = dir.join("a\nb.png");
    std::fs::copy(digit, &split).unwrap();
    let run = scratchgrad(&["predict", "--model", m, split.to_str().unwrap()]);
    let out = String::from_utf8_lossy(&run.stdout);
    assert_eq!(out.lines().count(), 1, "{out}");
    assert!(out.contains("a\\u{a}b.png: "), "{out}");
    let long = "q".repeat(100_000);
    let run = scratchgrad(&["eval", "--model", &long]);
    one_line(&run, 1, "cannot be read");
    assert!(run.stderr.len() < 600, "{} bytes", run.stderr.len());
    // A folder that exists but takes no file is not said to be missing.
    let run = scratchgrad(&["grad", "x", "x=1", "--dot", "/proc/self/mem"]);
    let err = String::from_utf8_lossy(&run.stderr);
    assert!(!err.contains("does not exist"), "{err}");
}
