//! A run's folder under attack: someone else's files in it, two processes at once, a kill at
//! every commit point, a checkpoint edited by hand, flags that contradict the run being
//! resumed, and a reader that closes standard output early.

mod common;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use scratchgrad::model_files::{decode_checkpoint, encode_checkpoint};
use serde_json::Value;

use common::{file_names, temp_dir, train_args};

const BIN: &str = env!("CARGO_BIN_EXE_scratchgrad");

fn scratchgrad(args: &[&str]) -> Output {
    Command::new(BIN).args(args).output().unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn train(out: &Path, extra: &[&str]) -> Output {
    let run = scratchgrad(&train_args(out, extra));
    assert!(run.status.success(), "{}", stderr(&run));
    run
}

fn resume(dir: &Path, extra: &[&str]) -> Output {
    let mut args = vec!["train", "--resume", dir.to_str().unwrap(), "--quiet"];
    args.extend(extra);
    scratchgrad(&args)
}

fn fails_with(run: &Output, want: &str) {
    let err = stderr(run);
    assert_eq!(run.status.code(), Some(1), "{err}");
    assert!(
        err.starts_with("error: ") && err.contains(want) && err.lines().count() == 1,
        "wanted {want:?}, got: {err}"
    );
}

fn metrics_without_times(dir: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(dir.join("metrics.jsonl")).unwrap();
    text.lines()
        .map(|l| {
            let mut v: Value = serde_json::from_str(l).unwrap();
            v.as_object_mut().unwrap().remove("seconds");
            v
        })
        .collect()
}

fn weights(dir: &Path) -> Vec<u8> {
    std::fs::read(dir.join("model.safetensors")).unwrap()
}

#[test]
fn a_folder_holding_someone_elses_files_is_refused_untouched() {
    // Once: `.session.tmp` deleted and `loss.svg` or `summary.json` silently overwritten.
    let dir = temp_dir("foreign-files");
    std::fs::create_dir_all(&dir).unwrap();
    for name in [".session.tmp", "loss.svg", "summary.json"] {
        std::fs::write(dir.join(name), b"the user's").unwrap();
    }
    let run = scratchgrad(&train_args(&dir, &["--epochs", "1"]));
    fails_with(&run, "is not empty and holds no run");
    for name in [".session.tmp", "loss.svg", "summary.json"] {
        assert_eq!(
            std::fs::read(dir.join(name)).unwrap(),
            b"the user's",
            "{name}"
        );
    }
    assert_eq!(file_names(&dir).len(), 3);
}

#[test]
fn two_processes_never_share_a_folder() {
    // Once: both reported success and one's results were silently gone.
    let dir = temp_dir("two-at-once");
    let mut first = Command::new(BIN)
        .args(train_args(&dir, &["--epochs", "500"]))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while !dir.join("metrics.jsonl").exists() {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "the first run made no progress"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    let pid = first.id();
    let second = scratchgrad(&train_args(&dir, &["--epochs", "1"]));
    fails_with(
        &second,
        &format!("is in use by another training run (process {pid})"),
    );
    let resumed = resume(&dir, &["--epochs", "600"]);
    fails_with(
        &resumed,
        &format!("is in use by another training run (process {pid})"),
    );
    first.kill().unwrap();
    first.wait().unwrap();
    // The lock goes with the process, whatever killed it.
    let after = scratchgrad::train::RunDir::create(&dir);
    assert!(
        !matches!(after, Err(scratchgrad::train::RunDirError::InUse { .. })),
        "{after:?}"
    );
}

/// The files of `from` named in `names`, copied into a fresh folder `to`.
fn state(from: &Path, to: &Path, names: &[&str]) {
    std::fs::create_dir_all(to).unwrap();
    for name in names {
        if *name == ".scratchgrad.lock" {
            // What a killed process leaves: its id, and no lock (a finished run has no lock
            // file to copy).
            std::fs::write(to.join(name), b"4242").unwrap();
        } else {
            std::fs::copy(from.join(name), to.join(name)).unwrap();
        }
    }
    // A write that was under way when the process died.
    std::fs::write(to.join(".scratchgrad-k1ll3d.tmp"), b"half a file").unwrap();
}

#[test]
fn every_state_a_kill_can_leave_is_restartable_or_resumable() {
    // Once: SIGKILL right after epoch 1's model.safetensors was renamed left a folder that
    // could be neither restarted nor resumed. The states below are every one the commit
    // order (metrics, model, checkpoint; then pictures, summary) can leave; each must end
    // as the uninterrupted run does.
    let flags = [
        "--epochs",
        "2",
        "--schedule",
        "constant",
        "--optimizer",
        "momentum",
        "--seed",
        "5",
    ];
    let whole = temp_dir("kill-whole");
    train(&whole, &flags);
    let mut one_flags = flags.to_vec();
    one_flags[1] = "1";
    let one = temp_dir("kill-one");
    train(&one, &one_flags);
    let lock = ".scratchgrad.lock";

    // Killed in epoch 1, before its checkpoint: start again with the same flags.
    for (i, names) in [
        vec![lock, "metrics.jsonl"],
        vec![lock, "metrics.jsonl", "model.safetensors"],
    ]
    .into_iter()
    .enumerate()
    {
        let dir = temp_dir(&format!("kill-first-{i}"));
        state(&one, &dir, &names);
        fails_with(&resume(&dir, &[]), "never completed an epoch, so there is nothing to resume: start it again with scratchgrad train --out");
        train(&dir, &flags);
        assert_eq!(
            metrics_without_times(&dir),
            metrics_without_times(&whole),
            "state {i}"
        );
        assert_eq!(weights(&dir), weights(&whole), "state {i}");
    }

    // Killed in epoch 2, before its checkpoint: resume from epoch 1's.
    for (i, epoch_two) in [
        vec!["metrics.jsonl"],
        vec!["metrics.jsonl", "model.safetensors"],
    ]
    .into_iter()
    .enumerate()
    {
        let dir = temp_dir(&format!("kill-second-{i}"));
        state(
            &one,
            &dir,
            &[
                lock,
                "checkpoint.safetensors",
                "model.safetensors",
                "metrics.jsonl",
            ],
        );
        for name in epoch_two {
            std::fs::copy(whole.join(name), dir.join(name)).unwrap();
        }
        let run = resume(&dir, &["--epochs", "2"]);
        assert!(run.status.success(), "{}", stderr(&run));
        assert_eq!(
            metrics_without_times(&dir),
            metrics_without_times(&whole),
            "state {i}"
        );
        assert_eq!(weights(&dir), weights(&whole), "state {i}");
        assert!(!file_names(&dir).iter().any(|n| n.ends_with(".tmp")));
    }

    // Killed in epoch 2 while appending its metrics line (each epoch appends one line, so a
    // kill or a full disk can tear the last): the torn line is dropped on resume.
    let whole_lines = std::fs::read_to_string(whole.join("metrics.jsonl")).unwrap();
    let second = whole_lines.lines().nth(1).unwrap();
    for cut in [1, second.len() / 2, second.len()] {
        let dir = temp_dir(&format!("kill-torn-{cut}"));
        state(
            &one,
            &dir,
            &[
                lock,
                "checkpoint.safetensors",
                "model.safetensors",
                "metrics.jsonl",
            ],
        );
        let mut torn = std::fs::read(dir.join("metrics.jsonl")).unwrap();
        torn.extend_from_slice(&second.as_bytes()[..cut]);
        std::fs::write(dir.join("metrics.jsonl"), torn).unwrap();
        let run = resume(&dir, &["--epochs", "2"]);
        assert!(run.status.success(), "{}", stderr(&run));
        assert_eq!(
            metrics_without_times(&dir),
            metrics_without_times(&whole),
            "torn at {cut}"
        );
        assert_eq!(weights(&dir), weights(&whole), "torn at {cut}");
    }

    // Killed after the last checkpoint, before or during the pictures: resuming finishes them.
    let dir = temp_dir("kill-reports");
    state(
        &whole,
        &dir,
        &[
            lock,
            "checkpoint.safetensors",
            "model.safetensors",
            "metrics.jsonl",
            "loss.svg",
        ],
    );
    let run = resume(&dir, &[]);
    assert!(run.status.success(), "{}", stderr(&run));
    for name in [
        "summary.json",
        "accuracy.svg",
        "confusion.png",
        "mistakes.png",
    ] {
        assert!(dir.join(name).exists(), "{name}");
    }
    fails_with(
        &resume(&dir, &[]),
        "has already trained all 2 of its epochs: pass a larger --epochs",
    );
}

/// Rewrites the checkpoint in `dir` after `edit`.
fn edit_checkpoint(dir: &Path, edit: impl Fn(&mut scratchgrad::model_files::Checkpoint)) {
    let path = dir.join("checkpoint.safetensors");
    let mut checkpoint = decode_checkpoint(&std::fs::read(&path).unwrap(), "c").unwrap();
    edit(&mut checkpoint);
    std::fs::write(&path, encode_checkpoint(&checkpoint)).unwrap();
}

#[test]
fn a_checkpoint_edited_by_hand_is_checked_like_a_model_and_like_flags() {
    // Once: batch_size 0 and classes 3 panicked, an optimizer slot of 2^64-1 panicked, one of
    // 10^11 aborted allocating 4.8 TB, hidden [128] against 256-wide weights overwrote the
    // good model with one eval refused, and wrong-shaped optimizer buffers froze parameters.
    let good = temp_dir("edited-good");
    train(&good, &["--epochs", "1", "--optimizer", "momentum"]);
    type Edit = Box<dyn Fn(&mut scratchgrad::model_files::Checkpoint)>;
    let config = |key: &'static str, value: Value| -> Edit {
        Box::new(move |c| c.config[key] = value.clone())
    };
    let buffer_name = |name: &'static str| -> Edit {
        Box::new(move |c| c.optimizer.buffers[0].0 = name.to_string())
    };
    let cases: Vec<(Edit, &str)> = vec![
        (config("batch_size", 0.into()), "has a config whose `batch_size`: must be 1 to 65536, not 0"),
        (config("lr", (-1.0).into()), "has a config whose `lr`: must be between 1e-10 and 1e6, not -1"),
        (config("architecture", serde_json::json!({"input": [784], "layers": "linear256,sigmoid,linear3"})), "has a config whose `architecture`: ends with 3 outputs but mnist-mini has 10 classes"),
        (config("architecture", serde_json::json!({"input": [784], "layers": "linear128,sigmoid,linear10"})), "has a config for a 784-128-10 sigmoid network but weights of a 784-256-10 sigmoid one"),
        (config("architecture", serde_json::json!({"input": [5], "layers": "linear256,sigmoid,linear10"})), "takes 5 inputs but mnist-mini images have 28x28 = 784 pixels"),
        (config("epochs", 0.into()), "`epochs`: must be 1 to 100000, not 0"),
        (buffer_name("velocity.18446744073709551615"), "has optimizer state `velocity.18446744073709551615` for parameter 18446744073709551615, but the network has 4"),
        (buffer_name("velocity.100000000000"), "for parameter 100000000000, but the network has 4"),
        (buffer_name("m.0"), "has optimizer state `m.0` that this optimizer does not keep"),
        (Box::new(|c| c.optimizer.buffers[0].1 = scratchgrad::array::Array::zeros(&[3])), "has optimizer state `velocity.0` of shape [3] for a parameter of shape [256, 784]"),
        (Box::new(|c| { c.optimizer.buffers.pop(); }), "has optimizer state `velocity` for 3 of 4 parameters"),
        (Box::new(|c| c.epochs_done = 1_000_000), "says 1000000 epochs are done of the 1 its config asks for"),
        // Issue 21: fields trusted until then. A config naming another data set resumed on
        // it; a step count of 2^64-1 wrapped to 0.
        (config("dataset", "mnist".into()), "has a config for mnist but a model trained on `mnist-mini`"),
        (Box::new(|c| c.optimizer.steps = u64::MAX), "says the optimizer took 18446744073709551615 steps, but 1 epoch(s) of 79 batches make 79"),
        (Box::new(|c| c.optimizer.steps = 15), "says the optimizer took 15 steps, but 1 epoch(s) of 79 batches make 79"),
        (Box::new(|c| c.model.class_names[3] = "three".into()), "has class names that are not mnist-mini's"),
    ];
    let adam = temp_dir("edited-adam");
    train(&adam, &["--epochs", "1", "--optimizer", "adam"]);
    let adam_cases: Vec<(Edit, &str)> = vec![
        // A negative second moment made every update NaN, and the run blamed the rate.
        (
            Box::new(|c| {
                let (_, v) = c
                    .optimizer
                    .buffers
                    .iter_mut()
                    .find(|(n, _)| n == "v.2")
                    .unwrap();
                v.data_mut()[5] = -1.0;
            }),
            "has Adam second moments below zero (`v.2`)",
        ),
        (
            Box::new(|c| c.optimizer.buffers.clear()),
            "has Adam state whose moments and step count do not fit together",
        ),
    ];
    let model_before = weights(&good);
    let adam_before = weights(&adam);
    let all = cases
        .into_iter()
        .map(|(e, w)| (&good, &model_before, e, w))
        .chain(
            adam_cases
                .into_iter()
                .map(|(e, w)| (&adam, &adam_before, e, w)),
        );
    for (i, (good, model_before, edit, want)) in all.enumerate() {
        let dir = temp_dir(&format!("edited-{i}"));
        std::fs::create_dir_all(&dir).unwrap();
        for name in file_names(good) {
            std::fs::copy(good.join(&name), dir.join(&name)).unwrap();
        }
        edit_checkpoint(&dir, edit);
        // Not quiet: a run refused before training shows no heading (the step count was
        // once checked after it).
        let run = scratchgrad(&["train", "--resume", dir.to_str().unwrap(), "--epochs", "2"]);
        fails_with(&run, want);
        assert!(
            run.stdout.is_empty(),
            "case {i}: {}",
            String::from_utf8_lossy(&run.stdout)
        );
        assert!(
            stderr(&run).starts_with("error: cannot resume: "),
            "{}",
            stderr(&run)
        );
        assert_eq!(
            &weights(&dir),
            model_before,
            "case {i}: the good model is untouched"
        );
    }
}

#[test]
fn flags_that_contradict_the_resumed_run_are_refused() {
    // Once: `--resume DIR --hidden 0 --lr nan --batch-size 0 ...` exited 0 with the old
    // settings, silently.
    let dir = temp_dir("contradictions");
    train(&dir, &["--epochs", "1"]);
    let cases: [(&[&str], &str); 7] = [
        (
            &["--epochs", "2", "--hidden", "0"],
            "--hidden [0] does not match the run in",
        ),
        (
            &["--epochs", "2", "--lr", "nan"],
            "--lr NaN does not match the run in",
        ),
        (
            &["--epochs", "2", "--lr", "0.5"],
            "--lr 0.5 does not match the run in",
        ),
        (
            &["--epochs", "2", "--batch-size", "0"],
            "--batch-size 0 does not match",
        ),
        (
            &["--epochs", "2", "--optimizer", "adam"],
            "--optimizer adam does not match",
        ),
        (
            &["--epochs", "2", "--dataset", "fashion-mnist"],
            "--dataset fashion-mnist does not match",
        ),
        (&["--epochs", "0"], "--epochs: must be 1 to 100000, not 0"),
    ];
    for (flags, want) in cases {
        fails_with(&resume(&dir, flags), want);
    }
    // Flags that agree with the run, and the ones that may change, are fine.
    let run = resume(
        &dir,
        &[
            "--epochs",
            "2",
            "--lr",
            "1",
            "--hidden",
            "256",
            "--threads",
            "1",
        ],
    );
    assert!(run.status.success(), "{}", stderr(&run));
    assert_eq!(metrics_without_times(&dir).len(), 2);
}

#[test]
fn default_folders_of_runs_started_together_differ() {
    // Once: two runs started in the same second shared `runs/<dataset>-<time>`.
    let cwd = temp_dir("default-folders");
    std::fs::create_dir_all(&cwd).unwrap();
    let args = [
        "train",
        "--dataset",
        "mnist-mini",
        "--epochs",
        "1",
        "--quiet",
        "--threads",
        "1",
    ];
    let children: Vec<_> = (0..2)
        .map(|_| {
            Command::new(BIN)
                .args(args)
                .current_dir(&cwd)
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for child in children {
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let folders = file_names(&cwd.join("runs"));
    assert_eq!(folders.len(), 2, "{folders:?}");
    for folder in folders {
        assert!(cwd.join("runs").join(folder).join("summary.json").exists());
    }
}

#[test]
fn a_run_that_fails_before_its_first_epoch_leaves_no_folder() {
    // Once: `--lr 1e300` left an empty folder behind.
    let parent = temp_dir("no-folder");
    std::fs::create_dir_all(&parent).unwrap();
    let out = parent.join("run");
    let run = scratchgrad(&[
        "train",
        "--dataset",
        "mnist",
        "--data-dir",
        "/dev/null/nowhere",
        "--out",
        out.to_str().unwrap(),
        "--quiet",
    ]);
    assert_eq!(run.status.code(), Some(1), "{}", stderr(&run));
    assert!(!out.exists(), "{}", stderr(&run));
}

#[test]
fn a_validation_split_scores_held_out_training_images_and_the_test_set_once() {
    let dir = temp_dir("val-split");
    let run = train(&dir, &["--epochs", "2", "--val-split", "0.1"]);
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(
        stdout.contains("10% held out to validate") && stdout.contains("val_loss   val_acc"),
        "{stdout}"
    );
    for line in metrics_without_times(&dir) {
        assert!(
            line["val_loss"].is_number() && line.get("test_loss").is_none(),
            "{line}"
        );
    }
    let summary: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("summary.json")).unwrap()).unwrap();
    assert!(
        summary["test"]["accuracy"].as_f64().unwrap() > 0.5,
        "{summary}"
    );
    assert_eq!(summary["config"]["val_split"], 0.1);
    // A resumed run keeps scoring the same split.
    let run = resume(&dir, &["--epochs", "3"]);
    assert!(run.status.success(), "{}", stderr(&run));
    assert!(metrics_without_times(&dir)[2]["val_loss"].is_number());
}

#[test]
fn a_reader_that_stops_early_does_not_stop_the_run() {
    // Once: `train ... | head -1` panicked with "failed printing to stdout: Broken pipe"
    // (exit 101) and left no summary or pictures.
    let dir = temp_dir("closed-stdout");
    let mut child = Command::new(BIN)
        .args(train_args(&dir, &["--epochs", "2"]))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap(); // the reader is dropped here: standard output is closed
    assert!(first.starts_with("training "), "{first}");
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(dir.join("summary.json").exists() && dir.join("mistakes.png").exists());
    // Short commands finish quietly too.
    let model = dir.join("model.safetensors");
    let mut eval = Command::new(BIN)
        .args(["eval", "--model", model.to_str().unwrap()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(eval.stdout.take());
    let out = eval.wait_with_output().unwrap();
    assert!(
        out.status.success() && out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn each_epoch_appends_its_metrics_instead_of_rewriting_them() {
    // Rewriting metrics.jsonl whole every epoch (a new file renamed over the old, with three
    // fsyncs) slowed a 100,000-epoch run from 30 to 8 epochs/s. An append keeps the file, so
    // its inode stays the same from the first epoch to the last.
    use scratchgrad::arch::{Activation, Architecture};
    use scratchgrad::data::{Dataset, DatasetName, Split};
    use scratchgrad::train::{
        train, Engine, EpochReport, Observer, OptimizerKind, RunDir, Schedule, TrainConfig,
    };
    use std::os::unix::fs::MetadataExt;

    struct Inodes(std::path::PathBuf, Vec<u64>);
    impl Observer for Inodes {
        fn on_epoch(&mut self, _: &EpochReport<'_>) {
            let meta = std::fs::metadata(self.0.join("metrics.jsonl")).unwrap();
            self.1.push(meta.ino());
        }
    }
    let data = |split| Dataset::load(DatasetName::MnistMini, split, Path::new("")).unwrap();
    let (train_set, test_set) = (data(Split::Train), data(Split::Test));
    let config = TrainConfig {
        dataset: DatasetName::MnistMini,
        arch: Architecture::mlp(784, &[8], 10, Activation::Relu),
        engine: Engine::Autograd,
        epochs: 4,
        batch_size: 1000,
        lr: 0.1,
        optimizer: OptimizerKind::Sgd,
        schedule: Schedule::Constant,
        seed: 0,
        val_split: 0.0,
    };
    let out = temp_dir("append");
    let dir = RunDir::create(&out).unwrap();
    let mut inodes = Inodes(out.to_path_buf(), Vec::new());
    train(&config, &train_set, &test_set, &dir, None, &mut inodes).unwrap();
    assert_eq!(inodes.1.len(), 4);
    assert!(inodes.1.iter().all(|&i| i == inodes.1[0]), "{:?}", inodes.1);
    assert_eq!(metrics_without_times(&out).len(), 4);
}
