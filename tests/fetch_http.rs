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
            .map(|p| format!("http://127.0.0.1:{port}/{p}/"))
            .collect(),
        connect_timeout: Duration::from_secs(2),
        npm: false,
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
        mirrors: vec!["http://127.0.0.1:9/".into()],
        ..sources(port, &[])
    };
    let report = fetch_files(
        "test",
        &[("labels-idx1-ubyte", &sha)],
        &dir,
        &offline,
        "",
        &mut |_| {},
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
