//! `scratchgrad serve`'s JSON API by HTTP: good requests, every class of bad request, requests
//! for another host or from another origin, and attempts to reach files outside `--runs`.
//! Each gets JSON and the right status, and none stops the server.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use serde_json::{json, Value};

use common::server::{call, post, Server};
use common::{temp_dir, train_args};

fn runs_with_a_model(name: &str) -> common::TestDir {
    let runs = temp_dir(name);
    let run = runs.join("mini");
    let out = Command::new(env!("CARGO_BIN_EXE_scratchgrad"))
        .args(train_args(&run, &["--epochs", "2"]))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    runs
}

#[test]
fn the_graph_of_the_texts_example() {
    let server = Server::start(&temp_dir("serve-empty"));
    let (status, body) = post(
        &server,
        "/api/grad",
        &json!({"expr": "(x + y) * z", "values": {"x": -2, "y": 5, "z": -4}}),
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["value"], -12.0);
    assert_eq!(body["gradients"], json!({"x": -4.0, "y": -4.0, "z": 3.0}));
    let nodes = body["nodes"].as_array().unwrap();
    assert_eq!(nodes.len(), 5);
    let output = &nodes[4];
    assert_eq!(
        (output["label"].as_str(), output["op"].as_str()),
        (Some("(x + y) * z"), Some("*"))
    );
    // d((x+y) z)/d(x+y) = z = -4 and d/dz = x + y = 3, in the order of `inputs`.
    let locals: Vec<f64> = output["local_grads"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    let inputs: Vec<&str> = output["inputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            nodes[i.as_u64().unwrap() as usize]["label"]
                .as_str()
                .unwrap()
        })
        .collect();
    assert_eq!(inputs, ["(x + y)", "z"]);
    assert_eq!(locals, [-4.0, 3.0]);
    assert_eq!(body["backward_order"], json!([4, 3]));
    assert!(body["svg"].as_str().unwrap().starts_with("<?xml"));
    assert!(output["box"]["width"].as_f64().unwrap() > 0.0);
}

/// The whole answer to a JSON POST to /api/grad written by hand: `rest` follows the headers
/// every such request has (the blank line and any body included).
fn raw_grad_post(server: &Server, rest: &str) -> String {
    let host = server.host();
    let mut stream = TcpStream::connect(&host).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    write!(
        stream,
        "POST /api/grad HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n{rest}"
    )
    .unwrap();
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    answer
}

#[test]
fn bad_requests_get_clear_json_errors_and_the_server_keeps_serving() {
    let runs = runs_with_a_model("serve-bad");
    let server = Server::start(&runs);
    let long = "x+".repeat(6000) + "x";
    let good_pixels = vec![255u8; 28 * 28];
    let cases: Vec<(&str, Value, u16, &str)> = vec![
        (
            "/api/grad",
            json!({"values": {"x": 1}}),
            400,
            "`expr` is missing",
        ),
        (
            "/api/grad",
            json!({"expr": long, "values": {"x": 1}}),
            400,
            "longer than 10000 characters",
        ),
        (
            "/api/grad",
            json!({"expr": "x + * y", "values": {"x": 1, "y": 2}}),
            400,
            "expected a number, name or `(`",
        ),
        (
            "/api/grad",
            json!({"expr": "x", "values": {"x": "one"}}),
            400,
            "is not a finite number",
        ),
        (
            "/api/grad",
            json!({"expr": "x", "values": [1]}),
            400,
            "`values` must be an object",
        ),
        (
            "/api/predict",
            json!({"model": "../../etc", "width": 28, "height": 28, "pixels": good_pixels}),
            400,
            "is not a run's name: runs are the folders directly in the runs folder",
        ),
        (
            "/api/predict",
            json!({"model": ".hidden", "width": 28, "height": 28, "pixels": good_pixels}),
            400,
            "is not a run's name: runs are the folders directly in the runs folder",
        ),
        (
            "/api/predict",
            json!({"model": "nonexistent", "width": 28, "height": 28, "pixels": good_pixels}),
            404,
            "there is no run `nonexistent`",
        ),
        (
            "/api/predict",
            json!({"model": "mini", "width": 28, "height": 28, "pixels": [1, 2, 3]}),
            400,
            "has 3 values for a 28x28 image",
        ),
        (
            "/api/predict",
            json!({"model": "mini", "width": 5000, "height": 28, "pixels": []}),
            400,
            "`width` must be 1 to 1024",
        ),
        (
            "/api/predict",
            json!({"model": "mini", "width": 2, "height": 1, "pixels": [0, 300]}),
            400,
            "whole numbers from 0 to 255",
        ),
        (
            "/api/predict",
            json!({"model": "mini", "width": 2, "height": 2, "pixels": [255, 255, 255, 255]}),
            400,
            "no ink found",
        ),
    ];
    for (path, body, want_status, want) in cases {
        let (status, answer) = post(&server, path, &body);
        let error = answer["error"].as_str().unwrap_or_default();
        assert_eq!(status, want_status, "{path} {want}: {answer}");
        assert!(error.contains(want), "{path}: {error}");
    }
    // Not JSON, not declared as JSON, too large, no such route.
    let (status, answer) = call(
        &server,
        "POST",
        "/api/grad",
        &[("Content-Type", "application/json")],
        Some("{not json"),
    );
    assert_eq!(status, 400, "{answer}");
    assert!(answer["error"]
        .as_str()
        .unwrap()
        .starts_with("the request is not the JSON expected"));
    let (status, _) = call(
        &server,
        "POST",
        "/api/grad",
        &[("Content-Type", "text/plain")],
        Some("{}"),
    );
    assert_eq!(status, 415);
    // A body declared larger than 4 MB is refused before it is sent. (Sending the 5 MB as
    // well made this test flaky: the server answers 413 as soon as it has read 4 MB and closes,
    // and the client, still writing, sometimes got a broken pipe instead of the answer.)
    let answer = raw_grad_post(&server, &format!("Content-Length: {}\r\n\r\n", 5 << 20));
    assert!(
        answer.starts_with("HTTP/1.1 413")
            && answer.contains("the request body is 5242880 bytes; the limit is 4194304"),
        "{answer}"
    );
    // A chunked body that breaks after a few bytes is a 400 saying so, not "too large".
    let answer = raw_grad_post(
        &server,
        "Transfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n",
    );
    assert!(
        answer.starts_with("HTTP/1.1 400") && answer.contains("the request body could not be read"),
        "{answer}"
    );
    // JSON nested 100,000 deep: serde_json's reason, on a line of its own size, not the path
    // to it (128 steps of `x[0]`).
    let deep = format!("{{\"x\":{}{}}}", "[".repeat(100_000), "]".repeat(100_000));
    let (status, answer) = call(
        &server,
        "POST",
        "/api/grad",
        &[("Content-Type", "application/json")],
        Some(&deep),
    );
    let message = answer["error"].as_str().unwrap();
    assert_eq!(status, 400, "{message}");
    assert!(
        message.contains("recursion limit exceeded at line 1 column") && message.len() < 300,
        "{message}"
    );
    // A name with a space after it is shown with the space.
    let (_, answer) = call(
        &server,
        "POST",
        "/api/predict",
        &[("Content-Type", "application/json")],
        Some(r#"{"model": "mini ", "width": 1, "height": 1, "pixels": [0]}"#),
    );
    let message = answer["error"].as_str().unwrap();
    assert!(
        message.starts_with("\"mini \" is not a run's name"),
        "{message}"
    );
    let (status, answer) = call(&server, "GET", "/api/nothing", &[], None);
    assert_eq!(
        (status, answer["error"].as_str()),
        (404, Some("no such page or API call"))
    );
    // Still serving.
    let (status, answer) = call(&server, "GET", "/api/models", &[], None);
    assert_eq!(status, 200);
    assert_eq!(answer["models"][0]["name"], "mini");
}

/// A method, extra request headers and the status the server must answer.
type HostCase<'a> = (&'a str, Vec<(&'a str, &'a str)>, u16);

#[test]
fn another_host_or_a_cross_site_request_is_refused() {
    let server = Server::start(&temp_dir("serve-hosts"));
    let body = json!({"expr": "x", "values": {"x": 1}}).to_string();
    let ours = format!("http://{}", server.host());
    let cases: [HostCase; 6] = [
        ("GET", vec![("Host", "evil.example:80")], 421),
        ("POST", vec![("Host", "rebound.example")], 421),
        ("POST", vec![("Origin", "http://evil.example")], 403),
        ("POST", vec![("Origin", "null")], 403),
        ("POST", vec![("Origin", ours.as_str())], 200),
        ("GET", vec![("Origin", "http://evil.example")], 200), // reading is harmless; the browser hides the answer
    ];
    for (method, mut headers, want) in cases {
        headers.push(("Content-Type", "application/json"));
        let path = if method == "GET" {
            "/api/models"
        } else {
            "/api/grad"
        };
        let (status, answer) = call(&server, method, path, &headers, Some(&body));
        assert_eq!(status, want, "{method} {headers:?}: {answer}");
        if want != 200 {
            assert!(answer["error"].is_string());
        }
    }
}

#[test]
fn a_server_on_every_address_answers_to_addresses_and_its_names_only() {
    // On 0.0.0.0, `Host: 127.0.0.1:P` and `localhost:P` got 421 (the documented remote use
    // did not work), while `0.0.0.0:P` passed, which stopped nobody.
    let server = Server::start_with(
        &temp_dir("serve-every-address"),
        &["--host", "0.0.0.0", "--allow-host", "pages.lan"],
    );
    let port = server.host().rsplit_once(':').unwrap().1.to_string();
    let at = |name: &str| format!("{name}:{port}");
    let body = json!({"expr": "x", "values": {"x": 1}}).to_string();
    for (host, want) in [
        (at("127.0.0.1"), 200),
        (at("localhost"), 200),
        (at("192.168.1.20"), 200),
        (at("[::1]"), 200),
        (at("pages.lan"), 200),
        (at("evil.example"), 421),
        (at("127.0.0.1.evil.example"), 421),
        ("127.0.0.1:1".to_string(), 421),
    ] {
        let (status, answer) = call(&server, "GET", "/api/models", &[("Host", &host)], None);
        assert_eq!(status, want, "{host}: {answer}");
        let origin = format!("http://{host}");
        let headers = [
            ("Host", host.as_str()),
            ("Origin", origin.as_str()),
            ("Content-Type", "application/json"),
        ];
        let (status, answer) = call(&server, "POST", "/api/grad", &headers, Some(&body));
        assert_eq!(status, want, "POST from {origin}: {answer}");
    }
    // A page of another of our names is another origin.
    let headers = [
        ("Host", &*at("localhost")),
        ("Origin", &*format!("http://{}", at("127.0.0.1"))),
        ("Content-Type", "application/json"),
    ];
    let (status, _) = call(&server, "POST", "/api/grad", &headers, Some(&body));
    assert_eq!(status, 403);
    let out = Command::new(env!("CARGO_BIN_EXE_scratchgrad"))
        .args(["serve", "--port", "0", "--allow-host", "evil.example:80"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr)
        .contains("--allow-host evil.example:80: give a host name"));
}

#[test]
fn nothing_outside_the_runs_folder_is_reachable() {
    let runs = runs_with_a_model("serve-traversal");
    let secret = runs.parent().unwrap().join("secret-model");
    std::fs::create_dir_all(&secret).unwrap();
    std::fs::copy(
        runs.join("mini/model.safetensors"),
        secret.join("model.safetensors"),
    )
    .unwrap();
    // A link inside runs/ to a folder outside it is not a run.
    std::os::unix::fs::symlink(&secret, runs.join("linked")).unwrap();
    let server = Server::start(&runs);
    for path in [
        "/assets/../Cargo.toml",
        "/assets/%2e%2e%2fCargo.toml",
        "/../../etc/passwd",
        "/assets/graph.js%00.html",
        "/runs/mini/model.safetensors",
    ] {
        let (status, _) = call(&server, "GET", path, &[], None);
        assert_eq!(status, 404, "{path}");
    }
    let pixels = vec![0u8; 28 * 28];
    for model in [
        "../secret-model",
        "linked",
        "mini/../../secret-model",
        "/etc",
    ] {
        let (status, answer) = post(
            &server,
            "/api/predict",
            &json!({"model": model, "width": 28, "height": 28, "pixels": pixels}),
        );
        assert!(status == 400 || status == 404, "{model}: {status} {answer}");
    }
    let (_, list) = call(&server, "GET", "/api/models", &[], None);
    let names: Vec<&str> = list["models"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["mini"]);
}

#[test]
fn links_inside_a_run_folder_are_not_followed() {
    // `ln -s /etc/passwd runs/evil/loss.svg` beside a metrics.jsonl served /etc/passwd.
    let runs = runs_with_a_model("serve-links");
    let evil = runs.join("evil");
    std::fs::create_dir_all(&evil).unwrap();
    std::fs::copy(runs.join("mini/metrics.jsonl"), evil.join("metrics.jsonl")).unwrap();
    let secret = runs.parent().unwrap().join("serve-links-secret.txt");
    std::fs::write(&secret, "root:x:0:0:the secret\n").unwrap();
    for name in [
        "loss.svg",
        "summary.json",
        "model.safetensors",
        "confusion.png",
    ] {
        std::os::unix::fs::symlink(&secret, evil.join(name)).unwrap();
    }
    let server = Server::start(&runs);
    let agent = common::server::agent();
    for file in ["loss.svg", "confusion.png"] {
        let url = format!("{}api/runs/evil/files/{file}", server.url);
        let mut response = agent.get(&url).call().unwrap();
        let body = response.body_mut().read_to_string().unwrap();
        assert_eq!(response.status().as_u16(), 404, "{file}: {body}");
        assert!(!body.contains("the secret"), "{file}: {body}");
        assert!(body.contains("is a symbolic link"), "{file}: {body}");
    }
    let (status, run) = call(&server, "GET", "/api/runs/evil", &[], None);
    assert_eq!(status, 200);
    assert_eq!(run["summary"], Value::Null, "{run}");
    assert_eq!(run["pictures"], json!([]), "{run}");
    let pixels = vec![0u8; 28 * 28];
    let (status, answer) = post(
        &server,
        "/api/predict",
        &json!({"model": "evil", "width": 28, "height": 28, "pixels": pixels}),
    );
    assert!(status == 404 || status == 422, "{status} {answer}");
    assert!(!answer.to_string().contains("the secret"), "{answer}");
}

#[test]
fn a_drawn_digit_is_predicted_as_predict_would() {
    let runs = runs_with_a_model("serve-predict");
    let server = Server::start(&runs);
    // A test digit as a drawing would be: dark ink on white, four times larger.
    let test = scratchgrad::data::Dataset::load(
        scratchgrad::data::DatasetName::MnistMini,
        scratchgrad::data::Split::Test,
        Path::new(""),
    )
    .unwrap();
    let digit = test.image(0);
    let pixels: Vec<u8> = (0..112 * 112)
        .map(|i| 255 - digit[(i / 112 / 4) * 28 + (i % 112) / 4])
        .collect();
    let (status, answer) = post(
        &server,
        "/api/predict",
        &json!({"model": "mini", "width": 112, "height": 112, "pixels": pixels}),
    );
    assert_eq!(status, 200, "{answer}");
    let p: Vec<f64> = answer["probabilities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    assert_eq!(p.len(), 10);
    assert!((p.iter().sum::<f64>() - 1.0).abs() < 1e-4);
    assert_eq!(answer["input"].as_array().unwrap().len(), 784);
    assert_eq!(
        answer["layers"][0]["shape"],
        json!([256]),
        "the MLP's hidden layer"
    );
    // The same image through `scratchgrad predict` gives the same class.
    let file = runs.join("digit.png");
    image::GrayImage::from_raw(112, 112, pixels)
        .unwrap()
        .save(&file)
        .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_scratchgrad"))
        .args(["predict", "--json", "--model"])
        .arg(runs.join("mini/model.safetensors"))
        .arg(&file)
        .output()
        .unwrap();
    let predicted: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        predicted["predictions"][0]["top"][0]["class"],
        answer["prediction"]["class"]
    );
}

#[test]
fn a_slow_or_broken_client_does_not_hold_the_server() {
    let server = Server::start(&temp_dir("serve-slow"));
    // Half a request, never finished, and a connection that sends garbage.
    let mut idle = TcpStream::connect(server.host()).unwrap();
    idle.write_all(b"POST /api/grad HTTP/1.1\r\nHost: ")
        .unwrap();
    let mut garbage = TcpStream::connect(server.host()).unwrap();
    garbage
        .write_all(b"\x00\x01\x02 not http at all\r\n\r\n")
        .unwrap();
    let mut reply = Vec::new();
    garbage
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let _ = garbage.read_to_end(&mut reply);
    let (status, _) = call(&server, "GET", "/api/models", &[], None);
    assert_eq!(status, 200, "others are still served");
    drop(idle);
}

#[test]
fn stalled_clients_are_dropped_and_never_starve_the_others() {
    // Sockets that sent half a request, dripped a byte at a time or stayed silent were kept
    // forever: with the descriptor limit at 256, 300 of them made every request time out.
    // Now each waits at most --timeout for its request's head, and at most
    // --max-connections are open at once (the others wait in the kernel's queue).
    let server = Server::start_with(
        &temp_dir("serve-stalled"),
        &["--max-connections", "4", "--timeout", "1"],
    );
    let host = server.host();
    let mut stalled = Vec::new();
    for i in 0..12 {
        let mut socket = TcpStream::connect(&host).unwrap();
        match i % 3 {
            0 => socket
                .write_all(b"GET /api/models HTTP/1.1\r\nHost: ")
                .unwrap(),
            1 => {} // silent
            _ => {
                // Drips a header line a byte at a time, for longer than the timeout.
                let mut dripper = socket.try_clone().unwrap();
                std::thread::spawn(move || {
                    for byte in b"GET /api/models HTTP/1.1\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaa" {
                        if dripper.write_all(&[*byte]).is_err() {
                            return;
                        }
                        std::thread::sleep(Duration::from_millis(200));
                    }
                });
            }
        }
        stalled.push(socket);
    }
    // A normal request waits its turn and is answered.
    let (status, _) = call(&server, "GET", "/api/models", &[], None);
    assert_eq!(status, 200, "others are still served");
    // Every stalled socket is closed by the server, not kept.
    for (i, mut socket) in stalled.into_iter().enumerate() {
        socket
            .set_read_timeout(Some(Duration::from_secs(60)))
            .unwrap();
        let mut rest = Vec::new();
        match socket.read_to_end(&mut rest) {
            Ok(_) => {}
            Err(e) => assert!(
                matches!(
                    e.kind(),
                    std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::BrokenPipe
                ),
                "socket {i}: {e}"
            ),
        }
    }
    // A body that drips is cut off with a 408 after three times the timeout.
    let mut slow = TcpStream::connect(&host).unwrap();
    slow.write_all(format!("POST /api/grad HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{{").as_bytes()).unwrap();
    let dripper = slow.try_clone().unwrap();
    std::thread::spawn(move || {
        let mut dripper = dripper;
        for _ in 0..60 {
            if dripper.write_all(b" ").is_err() {
                return;
            }
            std::thread::sleep(Duration::from_millis(500));
        }
    });
    slow.set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    let mut answer = String::new();
    let _ = slow.read_to_string(&mut answer);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(
        answer.contains("did not arrive within 3 seconds"),
        "{answer}"
    );
}

#[test]
fn a_runs_folder_that_is_not_a_folder_is_refused_at_start() {
    // Once: `serve --runs /dev/zero` started and listed nothing, and a dashboard run failed later.
    let file = temp_dir("serve-runs-file");
    std::fs::create_dir_all(&file).unwrap();
    let file = file.join("a-file");
    std::fs::write(&file, b"not a folder").unwrap();
    for runs in [Path::new("/dev/null"), file.as_path()] {
        let out = Command::new(env!("CARGO_BIN_EXE_scratchgrad"))
            .args(["serve", "--port", "0", "--runs"])
            .arg(runs)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{err}");
        assert!(
            err.starts_with("error: --runs ")
                && err.contains("not a folder")
                && err.lines().count() == 1,
            "{err}"
        );
        assert!(out.stdout.is_empty());
    }
}

/// Sends `request` (a whole HTTP/1.1 request) on a new connection and returns the answer's
/// status line, headers and body as text.
fn raw(server: &Server, request: &str) -> String {
    let mut stream = TcpStream::connect(server.host()).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    stream.write_all(request.as_bytes()).unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    answer
}

#[test]
fn a_graph_too_large_for_the_full_layout_is_placed_by_the_plain_one() {
    // x used 200 times along a chain: the full layout's cost grows with the layers each of
    // x's edges skips; such graphs are placed by the plain layered layout, without an SVG.
    let server = Server::start(&temp_dir("serve-big-graph"));
    let (status, answer) = post(
        &server,
        "/api/grad",
        &json!({"expr": vec!["x"; 200].join("+"), "values": {"x": 1}}),
    );
    assert_eq!(status, 200, "{}", answer["error"]);
    assert_eq!(answer["svg"], Value::Null);
    assert_eq!(answer["gradients"]["x"], json!(200.0));
    let nodes = answer["nodes"].as_array().unwrap();
    assert_eq!(nodes.len(), 200);
    assert!(nodes
        .iter()
        .all(|n| n["box"]["width"].as_f64().unwrap() > 0.0));
}

#[test]
fn every_error_is_json_with_one_message() {
    // A wrong method got a 405 with an empty body, a path that is not UTF-8 plain text.
    let runs = temp_dir("serve-json-errors");
    let server = Server::start(&runs);
    let host = server.host();
    for (request, status) in [
        (format!("PUT /api/grad HTTP/1.1\r\nHost: {host}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"), "405"),
        (format!("DELETE / HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"), "405"),
        (format!("GET /api/runs/%ff/files/loss.svg HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"), "400"),
        (format!("GET /api/runs/%ff HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"), "400"),
    ] {
        let answer = raw(&server, &request);
        let (head, body) = answer.split_once("\r\n\r\n").unwrap();
        assert!(head.starts_with(&format!("HTTP/1.1 {status}")), "{request}: {head}");
        assert!(head.to_ascii_lowercase().contains("content-type: application/json"), "{head}");
        let json: Value = serde_json::from_str(body).unwrap_or_else(|_| panic!("{request}: {body}"));
        assert!(json["error"].as_str().is_some_and(|e| !e.is_empty()), "{body}");
    }
}

#[test]
fn the_text_page_reads_a_gpt_on_names_one_character_at_a_time() {
    let runs = temp_dir("serve-text");
    let trained = Command::new(env!("CARGO_BIN_EXE_scratchgrad"))
        .args([
            "train",
            "--quiet",
            "--dataset",
            "names-mini",
            "--arch",
            "gpt",
            "--steps",
            "60",
            "--embedding",
            "16",
            "--blocks",
            "2",
            "--heads",
            "2",
            "--out",
        ])
        .arg(runs.join("names-gpt"))
        .output()
        .unwrap();
    assert!(trained.status.success());
    let image = Command::new(env!("CARGO_BIN_EXE_scratchgrad"))
        .args(train_args(&runs.join("digits"), &["--epochs", "1"]))
        .output()
        .unwrap();
    assert!(image.status.success());
    let server = Server::start(&runs);
    // Each page lists its own kind of model.
    let (_, listed) = call(&server, "GET", "/api/text/models", &[], None);
    let names: Vec<&str> = listed["models"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["names-gpt"]);
    let (_, listed) = call(&server, "GET", "/api/models", &[], None);
    assert_eq!(listed["models"].as_array().unwrap().len(), 1);
    assert_eq!(listed["models"][0]["name"], "digits");
    let (status, answer) = post(
        &server,
        "/api/text/next",
        &json!({"model": "names-gpt", "text": "em"}),
    );
    assert_eq!(status, 200, "{answer}");
    // The boundary, then the 26 letters, each with a probability; together they make 1.
    let p: Vec<f64> = answer["probabilities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    assert_eq!(p.len(), 27);
    assert_eq!(answer["chars"][0], ".");
    assert!((p.iter().sum::<f64>() - 1.0).abs() < 1e-9);
    // A GPT of names reads the boundary, then the name so far.
    assert_eq!(answer["window"], json!([".", "e", "m"]));
    // Two blocks of two heads, each 3x3: every row a softmax over the positions up to it.
    let attention = answer["attention"].as_array().unwrap();
    assert_eq!(attention.len(), 2);
    for block in attention {
        for head in block.as_array().unwrap() {
            for (i, row) in head.as_array().unwrap().iter().enumerate() {
                let row: Vec<f64> = row
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|v| v.as_f64().unwrap())
                    .collect();
                assert!((row.iter().sum::<f64>() - 1.0).abs() < 1e-5, "{row:?}");
                assert!(row[i + 1..].iter().all(|&w| w == 0.0), "{row:?}");
            }
        }
    }
    // Bad requests: one JSON error each, and the server goes on.
    for (body, status, want) in [
        (
            json!({"model": "names-gpt", "text": "Zoë"}),
            400,
            "never saw",
        ),
        (
            json!({"model": "names-gpt", "text": "a.b"}),
            400,
            "where a name ends",
        ),
        (
            json!({"model": "names-gpt", "text": "a".repeat(10_001)}),
            400,
            "longer than",
        ),
        (
            json!({"model": "digits", "text": "a"}),
            422,
            "image classifier",
        ),
        (
            json!({"model": "../etc", "text": "a"}),
            400,
            "is not a run's name",
        ),
        (json!({"model": "nothing", "text": "a"}), 404, "no run"),
        (json!({"model": "names-gpt"}), 400, "`text`"),
    ] {
        let (got, answer) = post(&server, "/api/text/next", &body);
        assert_eq!(got, status, "{answer}");
        assert!(answer["error"].as_str().unwrap().contains(want), "{answer}");
    }
    let (status, page) = call(&server, "GET", "/api/text/models", &[], None);
    assert_eq!((status, page["models"].as_array().unwrap().len()), (200, 1));
}
