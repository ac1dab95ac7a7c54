//! The text data sets from the command line: the built-in slices, a folder that already
//! holds the files (`--dir ../shared/data`, as the development machines and CI have them),
//! and files that are not the ones published.

mod common;

use std::path::PathBuf;
use std::process::{Command, Output};

fn scratchgrad(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_scratchgrad"))
        .args(args)
        .output()
        .unwrap()
}

/// `../shared/data` beside the checkout, where the machines keep copies of the text files
/// (the tests that need it are ignored where it is missing: see build.rs).
fn shared_data() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data")
}

#[test]
fn built_in_slices_need_nothing_fetched() {
    for corpus in ["names-mini", "shakespeare-mini"] {
        let run = scratchgrad(&["data", "fetch", corpus]);
        assert!(run.status.success());
        let out = String::from_utf8_lossy(&run.stdout);
        assert_eq!(
            out,
            format!("{corpus} is built into scratchgrad: nothing to fetch\n")
        );
    }
}

#[test]
fn a_file_that_is_not_the_published_one_is_refused_and_left_alone() {
    let dir = common::temp_dir("text-wrong-file");
    std::fs::create_dir_all(&dir).unwrap();
    // A list of names, but not makemore's: its SHA-256 differs.
    std::fs::write(dir.join("names.txt"), "emma\nolivia\nava\n").unwrap();
    let run = scratchgrad(&["data", "fetch", "names", "--dir", dir.to_str().unwrap()]);
    assert_eq!(run.status.code(), Some(1));
    let err = String::from_utf8_lossy(&run.stderr);
    // One line, which lists every source tried and says what to do with the file.
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.starts_with("error: names file names.txt: could not be fetched"),
        "{err}"
    );
    assert!(
        err.contains("is not the expected 0a30b5557f192f32"),
        "{err}"
    );
    assert!(
        err.contains("names.txt is not the published names.txt: replace it with the original"),
        "{err}"
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("names.txt")).unwrap(),
        "emma\nolivia\nava\n"
    );
    // An empty file is named as empty, by `train` as by `data fetch`.
    std::fs::write(dir.join("names.txt"), "").unwrap();
    let out = dir.join("run");
    let run = scratchgrad(&[
        "train",
        "--dataset",
        "names",
        "--data-dir",
        dir.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(run.status.code(), Some(1));
    let err = String::from_utf8_lossy(&run.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("names.txt (empty, where names.txt is expected)"),
        "{err}"
    );
    assert!(!out.exists());
}

#[test]
#[cfg_attr(
    no_shared_data,
    ignore = "needs ../shared/data/names.txt beside the checkout"
)]
fn a_folder_holding_the_files_is_used_as_it_is() {
    let shared = shared_data();
    let sums = [
        ("names", "names.txt", 228_145),
        ("shakespeare", "tinyshakespeare.txt", 1_115_394),
    ];
    // `--data-dir`, as `train` spells it, is the same option as `--dir`.
    for ((corpus, file, chars), flag) in sums.into_iter().zip(["--dir", "--data-dir"]) {
        let run = scratchgrad(&["data", "fetch", corpus, flag, shared.to_str().unwrap()]);
        assert!(
            run.status.success(),
            "{}",
            String::from_utf8_lossy(&run.stderr)
        );
        let out = String::from_utf8_lossy(&run.stdout);
        assert!(
            out.starts_with(&format!("{corpus}: {file} present and verified in ")),
            "{out}"
        );
        assert!(out.ends_with(&format!("({chars} characters)\n")), "{out}");
    }
}

#[test]
#[cfg_attr(
    no_shared_data,
    ignore = "needs ../shared/data/names.txt beside the checkout"
)]
fn a_file_already_present_is_read_and_never_written_again() {
    use std::os::unix::fs::MetadataExt;
    let dir = common::temp_dir("text-present");
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("names.txt");
    std::fs::copy(shared_data().join("names.txt"), &file).unwrap();
    let before = std::fs::metadata(&file).unwrap();
    // It once rewrote the file (a new inode) on every run: a read-only folder failed, and a
    // shared one was rewritten under its other users.
    let run = scratchgrad(&["data", "fetch", "names", "--dir", dir.to_str().unwrap()]);
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let after = std::fs::metadata(&file).unwrap();
    assert_eq!(
        (before.ino(), before.mtime_nsec()),
        (after.ino(), after.mtime_nsec())
    );
}
