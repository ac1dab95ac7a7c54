//! Every reader and writer of the command line against special files: a FIFO (which would
//! block a reader forever), a link to `/dev/zero` (endless), a link to standard output, a
//! directory. Each must be refused at once with one line, and left as it was.

mod common;

use std::os::unix::fs::{symlink, FileTypeExt};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{temp_dir, train_args};

const BIN: &str = env!("CARGO_BIN_EXE_scratchgrad");

/// Runs the binary with `args`, killing it (and failing) if it takes over 30 seconds.
fn run_bounded(args: &[&str]) -> (Option<i32>, String) {
    let mut child = Command::new(BIN)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > Duration::from_secs(30) {
            child.kill().unwrap();
            panic!("{args:?} hung");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn mkfifo(path: &Path) {
    assert!(Command::new("mkfifo").arg(path).status().unwrap().success());
}

fn clear(path: &Path) {
    let _ = std::fs::remove_file(path);
    let _ = std::fs::remove_dir(path);
}

/// What a special file is, and how to make one at a path.
type Special = (&'static str, fn(&Path));

/// FIFO, link to /dev/zero, link to stdout, directory: each made at a path in turn.
fn specials() -> [Special; 4] {
    [
        ("a FIFO", |p| {
            clear(p);
            mkfifo(p)
        }),
        ("a link to /dev/zero", |p| {
            clear(p);
            symlink("/dev/zero", p).unwrap()
        }),
        ("a link to standard output", |p| {
            clear(p);
            symlink("/proc/self/fd/1", p).unwrap()
        }),
        ("a directory", |p| {
            clear(p);
            std::fs::create_dir(p).unwrap()
        }),
    ]
}

fn still_special(path: &Path) -> bool {
    let kind = std::fs::symlink_metadata(path).unwrap().file_type();
    kind.is_fifo() || kind.is_symlink() || kind.is_dir()
}

fn refused(args: &[&str], what: &str) {
    let (code, err) = run_bounded(args);
    assert_eq!(code, Some(1), "{what}: {args:?}: {err}");
    assert!(
        err.starts_with("error: ") && err.lines().count() == 1,
        "{what}: {args:?}: {err}"
    );
}

#[test]
fn readers_refuse_special_files_without_blocking() {
    let dir = temp_dir("special-readers");
    let run = dir.join("run");
    let trained = Command::new(BIN)
        .args(train_args(&run, &["--epochs", "1"]))
        .output()
        .unwrap();
    assert!(trained.status.success());
    let model = run.join("model.safetensors");
    let image = dir.join("digit.png");
    image::GrayImage::from_pixel(28, 28, image::Luma([255]))
        .save(&image)
        .unwrap();
    let special = dir.join("special");
    for (what, make) in specials() {
        make(&special);
        let s = special.to_str().unwrap();
        refused(&["eval", "--model", s], what);
        refused(&["predict", "--model", s, image.to_str().unwrap()], what);
        refused(&["predict", "--model", model.to_str().unwrap(), s], what);
        assert!(still_special(&special), "{what}");
    }
    // Inside a run folder: the checkpoint and the metrics a resume reads.
    for name in ["checkpoint.safetensors", "metrics.jsonl"] {
        for (what, make) in specials() {
            let keep = dir.join("keep");
            std::fs::copy(run.join(name), &keep).ok();
            make(&run.join(name));
            refused(
                &["train", "--resume", run.to_str().unwrap(), "--epochs", "2"],
                what,
            );
            assert!(still_special(&run.join(name)), "{name}: {what}");
            let _ = std::fs::remove_dir(run.join(name));
            let _ = std::fs::remove_file(run.join(name));
            std::fs::copy(&keep, run.join(name)).unwrap();
        }
    }
    // A data file.
    let data = dir.join("data");
    std::fs::create_dir_all(data.join("mnist")).unwrap();
    for (what, make) in specials() {
        make(&data.join("mnist").join("t10k-images-idx3-ubyte"));
        refused(
            &[
                "eval",
                "--model",
                model.to_str().unwrap(),
                "--dataset",
                "mnist",
                "--data-dir",
                data.to_str().unwrap(),
            ],
            what,
        );
    }
}

#[test]
fn writers_refuse_to_replace_special_files() {
    let dir = temp_dir("special-writers");
    std::fs::create_dir_all(&dir).unwrap();
    let special = dir.join("special");
    for (what, make) in specials() {
        make(&special);
        let s = special.to_str().unwrap();
        refused(&["grad", "x * y", "x=1", "y=2", "--dot", s], what);
        refused(&["grad", "x * y", "x=1", "y=2", "--svg", s], what);
        assert!(still_special(&special), "{what}");
    }
    // A picture's name taken by something else in a run folder being resumed: the
    // picture is left out with a warning (pictures are a report; the run still finishes),
    // and the special file stays as it was.
    let run = dir.join("run");
    let trained = Command::new(BIN)
        .args(train_args(&run, &["--epochs", "1"]))
        .output()
        .unwrap();
    assert!(trained.status.success());
    for (what, make) in specials() {
        std::fs::remove_file(run.join("summary.json")).unwrap();
        make(&run.join("loss.svg"));
        let (code, err) = run_bounded(&["train", "--resume", run.to_str().unwrap()]);
        assert_eq!(code, Some(0), "{what}: {err}");
        assert!(
            err.starts_with("warning: loss.svg was not drawn: ") && err.lines().count() == 1,
            "{what}: {err}"
        );
        assert!(still_special(&run.join("loss.svg")), "{what}");
        assert!(run.join("summary.json").is_file(), "{what}");
    }
}
