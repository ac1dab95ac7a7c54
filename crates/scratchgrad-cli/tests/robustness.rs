//! Interruptions and reproducibility: Ctrl-C, SIGKILL at random moments (many of them while a
//! checkpoint is being written), a file-size limit that makes writes fail, and same seed, same
//! result.

mod common;

use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use scratchgrad::array::Rng;
use scratchgrad::model_files::{decode_checkpoint, decode_model};
use serde_json::Value;

use common::{file_names, temp_dir, train_args};

const BIN: &str = env!("CARGO_BIN_EXE_scratchgrad");

fn spawn(args: &[&str]) -> Child {
    Command::new(BIN)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Sends SIGINT, as Ctrl-C in a terminal does.
fn interrupt(child: &Child) {
    // SAFETY: kill(2) with a live child's pid and a valid signal number.
    let sent = unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGINT) };
    assert_eq!(sent, 0, "could not signal the child");
}

fn epochs_written(dir: &Path) -> usize {
    std::fs::read_to_string(dir.join("metrics.jsonl")).map_or(0, |t| t.lines().count())
}

fn wait_for_epochs(dir: &Path, n: usize) {
    let start = Instant::now();
    while epochs_written(dir) < n {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "training made no progress"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// `--resume` the run in `out` for one epoch more than `done`, which must succeed.
fn resume_one_more_epoch(out: &Path, done: usize) {
    let epochs = (done + 1).to_string();
    let args = [
        "train",
        "--resume",
        out.to_str().unwrap(),
        "--epochs",
        &epochs,
        "--quiet",
    ];
    let resumed = Command::new(BIN).args(args).output().unwrap();
    assert!(
        resumed.status.success(),
        "{}",
        String::from_utf8_lossy(&resumed.stderr)
    );
}

/// Both files, if present, are whole and valid.
fn assert_files_valid(dir: &Path) {
    if let Ok(bytes) = std::fs::read(dir.join("checkpoint.safetensors")) {
        decode_checkpoint(&bytes, "checkpoint")
            .unwrap_or_else(|e| panic!("corrupt checkpoint: {e}"));
    }
    if let Ok(bytes) = std::fs::read(dir.join("model.safetensors")) {
        decode_model(&bytes, "model").unwrap_or_else(|e| panic!("corrupt model: {e}"));
    }
}

#[test]
fn ctrl_c_keeps_the_last_checkpoint_and_says_how_to_resume() {
    let out = temp_dir("ctrlc");
    let child = spawn(&train_args(&out, &["--epochs", "500"]));
    wait_for_epochs(&out, 2);
    interrupt(&child);
    let done = child.wait_with_output().unwrap();
    assert_eq!(done.status.code(), Some(130));
    let err = String::from_utf8_lossy(&done.stderr);
    assert!(
        err.starts_with("error: interrupted after ")
            && err.contains("resume with: scratchgrad train --resume"),
        "{err}"
    );
    assert_files_valid(&out);
    resume_one_more_epoch(&out, epochs_written(&out));
}

#[test]
fn sigkill_during_checkpoint_writes_never_corrupts_a_checkpoint() {
    let out = temp_dir("sigkill");
    let first = Command::new(BIN)
        .args(train_args(&out, &["--epochs", "1"]))
        .output()
        .unwrap();
    assert!(first.status.success());
    let mut rng = Rng::seed(2026);
    let mut mid_write = 0;
    for round in 0..20 {
        let mut child = spawn(&[
            "train",
            "--resume",
            out.to_str().unwrap(),
            "--epochs",
            "1000",
            "--quiet",
        ]);
        // Wait until a write is under way (its temporary file exists), then SIGKILL the
        // process a random 0-3 ms later: before, during or just after the rename. (The
        // states a kill can leave are each tested deterministically in
        // tests/run_folders.rs; this is the same under real timing.)
        let start = Instant::now();
        while !std::fs::read_dir(&out)
            .unwrap()
            .any(|e| e.unwrap().file_name().to_string_lossy().ends_with(".tmp"))
        {
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "round {round}: no checkpoint write seen"
            );
            std::thread::sleep(Duration::from_micros(200));
        }
        std::thread::sleep(Duration::from_micros(rng.below(3000) as u64));
        child.kill().unwrap();
        child.wait().unwrap();
        let names = file_names(&out);
        mid_write += usize::from(names.iter().any(|n| n.ends_with(".tmp")));
        assert_files_valid(&out);
        let checkpoint = decode_checkpoint(
            &std::fs::read(out.join("checkpoint.safetensors")).unwrap(),
            "c",
        )
        .unwrap();
        assert!(checkpoint.epochs_done >= 1, "round {round}");
    }
    // How many kills landed inside a write depends on timing, so it is reported, not asserted.
    eprintln!("{mid_write} of 20 kills left a write unfinished");
    let done = epochs_written(&out);
    resume_one_more_epoch(&out, done);
    let leftovers: Vec<String> = file_names(&out)
        .into_iter()
        .filter(|n| n.ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");
}

/// Runs the binary under a file-size limit (in 512-byte blocks), with SIGXFSZ ignored so that
/// an oversized write fails with an error instead of killing the process.
fn train_with_size_limit(blocks: u64, args: &[&str]) -> Output {
    let quoted: Vec<String> = args.iter().map(|a| format!("'{a}'")).collect();
    let script = format!(
        "trap '' XFSZ; ulimit -f {blocks}; exec '{BIN}' {}",
        quoted.join(" ")
    );
    Command::new("sh").args(["-c", &script]).output().unwrap()
}

#[test]
fn a_full_disk_is_an_error_not_a_corrupted_file() {
    let out = temp_dir("full");
    // One epoch's checkpoint is about 800 kB: 400 blocks of 512 bytes cannot hold it.
    let run = train_with_size_limit(400, &train_args(&out, &["--epochs", "1"]));
    assert_eq!(
        run.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let err = String::from_utf8_lossy(&run.stderr);
    assert!(
        err.starts_with("error: cannot write ") && err.contains(".safetensors: File too large"),
        "{err}"
    );
    assert!(
        !out.join("checkpoint.safetensors").exists() && !out.join("model.safetensors").exists()
    );

    // A good run, then a resume that runs out of space: the good checkpoint survives untouched.
    let good = temp_dir("full-good");
    assert!(Command::new(BIN)
        .args(train_args(&good, &["--epochs", "1"]))
        .output()
        .unwrap()
        .status
        .success());
    let before = std::fs::read(good.join("checkpoint.safetensors")).unwrap();
    let run = train_with_size_limit(
        400,
        &[
            "train",
            "--resume",
            good.to_str().unwrap(),
            "--epochs",
            "2",
            "--quiet",
        ],
    );
    assert_eq!(run.status.code(), Some(1));
    assert_eq!(
        std::fs::read(good.join("checkpoint.safetensors")).unwrap(),
        before
    );
    let names = file_names(&good);
    assert!(names.iter().all(|n| !n.ends_with(".tmp")), "{names:?}");
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

#[test]
fn same_seed_same_result_for_every_engine_and_optimizer() {
    for engine in ["autograd", "manual"] {
        for optimizer in ["sgd", "momentum", "adam"] {
            let (a, b) = (
                temp_dir(&format!("same-a-{engine}-{optimizer}")),
                temp_dir(&format!("same-b-{engine}-{optimizer}")),
            );
            let flags = [
                "--epochs",
                "2",
                "--engine",
                engine,
                "--optimizer",
                optimizer,
                "--seed",
                "11",
            ];
            assert!(Command::new(BIN)
                .args(train_args(&a, &flags))
                .output()
                .unwrap()
                .status
                .success());
            assert!(Command::new(BIN)
                .args(train_args(&b, &flags))
                .output()
                .unwrap()
                .status
                .success());
            assert_eq!(
                metrics_without_times(&a),
                metrics_without_times(&b),
                "{engine} {optimizer}"
            );
            assert_eq!(
                std::fs::read(a.join("model.safetensors"))
                    .map(|b| decode_model(&b, "a").unwrap().weights)
                    .unwrap(),
                decode_model(&std::fs::read(b.join("model.safetensors")).unwrap(), "b")
                    .unwrap()
                    .weights,
                "{engine} {optimizer}"
            );
        }
    }
}

#[test]
fn thread_counts_and_load_never_change_a_result() {
    // How a product is cut between threads moves with the machine's load (src/array/
    // threads.rs) but never changes a sum, so 1 and 2 threads, and two 2-thread runs, agree
    // exactly.
    // The MLP, and a CNN (whose im2col and col2im split images across threads too).
    let cnn = [
        "--layers",
        "conv8k5p2,relu,maxpool2,conv8k3,relu,maxpool2,flatten,linear10",
    ];
    let runs: Vec<_> = [
        ("1", "threads-1", &[][..]),
        ("2", "threads-2a", &[][..]),
        ("2", "threads-2b", &[][..]),
        ("1", "threads-cnn-1", &cnn[..]),
        ("2", "threads-cnn-2", &cnn[..]),
    ]
    .into_iter()
    .map(|(threads, name, extra)| {
        let dir = temp_dir(name);
        let mut args = vec![
            "train",
            "--dataset",
            "mnist-mini",
            "--quiet",
            "--epochs",
            "2",
            "--threads",
            threads,
            "--out",
            dir.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        let out = Command::new(BIN).args(args).output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let model = std::fs::read(dir.join("model.safetensors")).unwrap();
        (
            metrics_without_times(&dir),
            decode_model(&model, name).unwrap().weights,
        )
    })
    .collect();
    assert!(runs[0] == runs[1], "1 thread and 2 threads differ");
    assert!(runs[1] == runs[2], "two 2-thread runs differ");
    assert!(
        runs[3] == runs[4],
        "the CNN on 1 thread and 2 threads differs"
    );
}

#[test]
fn a_width_too_narrow_to_cut_evenly_gives_the_same_bytes_on_any_thread_count_under_load() {
    // 100 hidden units: x @ W^T is 64 x 784 x 100, too short to cut into two blocks that
    // keep gemm's summation order; it was cut evenly anyway whenever the measured timings
    // said splitting paid, so results changed with the machine's load. One core is kept busy
    // here while each run trains.
    let busy = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
    let spinner = {
        let busy = std::sync::Arc::clone(&busy);
        std::thread::spawn(move || {
            let mut x = 0u64;
            while busy.load(std::sync::atomic::Ordering::Relaxed) {
                x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
            }
        })
    };
    let files: Vec<_> = ["1", "2", "2"]
        .iter()
        .enumerate()
        .map(|(i, threads)| {
            let dir = temp_dir(&format!("narrow-{i}"));
            let out = Command::new(BIN)
                .args([
                    "train",
                    "--dataset",
                    "mnist-mini",
                    "--quiet",
                    "--epochs",
                    "3",
                ])
                .args(["--hidden", "100", "--threads", threads, "--out"])
                .arg(&dir)
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            (
                std::fs::read(dir.join("model.safetensors")).unwrap(),
                std::fs::read(dir.join("checkpoint.safetensors")).unwrap(),
                metrics_without_times(&dir),
            )
        })
        .collect();
    busy.store(false, std::sync::atomic::Ordering::Relaxed);
    spinner.join().unwrap();
    assert!(files[0] == files[1], "1 thread and 2 threads differ");
    assert!(files[1] == files[2], "two 2-thread runs differ");
}
