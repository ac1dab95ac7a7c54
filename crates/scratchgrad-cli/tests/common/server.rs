//! A `scratchgrad serve` process for the API tests, and plain HTTP calls to it.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::Value;

/// A running server, stopped when dropped.
pub struct Server {
    child: Child,
    /// `http://127.0.0.1:PORT/`.
    pub url: String,
}

impl Server {
    /// `serve --port 0 --runs RUNS`, once it has printed its address.
    pub fn start(runs: &Path) -> Server {
        Server::start_with(runs, &[])
    }

    /// `serve --port 0 --runs RUNS ARGS`, once it has printed its address.
    pub fn start_with(runs: &Path, args: &[&str]) -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_scratchgrad"))
            .args(["serve", "--port", "0", "--runs"])
            .arg(runs)
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let url = line
            .split_whitespace()
            .find(|w| w.starts_with("http://"))
            .expect("the URL is printed")
            .to_string();
        Server { child, url }
    }

    /// Sends SIGTERM and waits for the process to end: its exit status and how long it took.
    pub fn terminate(&mut self) -> (std::process::ExitStatus, Duration) {
        let started = std::time::Instant::now();
        // SAFETY: kill only sends a signal to our own child process.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        let status = self.child.wait().unwrap();
        (status, started.elapsed())
    }

    /// `127.0.0.1:PORT`.
    pub fn host(&self) -> String {
        self.url
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .to_string()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An HTTP client that reads error statuses as answers.
pub fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .into()
}

/// Status and JSON body of a request with `headers`.
pub fn call(
    server: &Server,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&str>,
) -> (u16, Value) {
    let url = format!("{}{}", server.url, path.trim_start_matches('/'));
    let agent = agent();
    let response = match (method, body) {
        ("GET", _) => {
            let mut request = agent.get(&url);
            for (k, v) in headers {
                request = request.header(*k, *v);
            }
            request.call()
        }
        ("DELETE", _) => {
            let mut request = agent.delete(&url);
            for (k, v) in headers {
                request = request.header(*k, *v);
            }
            request.call()
        }
        (_, body) => {
            let mut request = agent.post(&url);
            for (k, v) in headers {
                request = request.header(*k, *v);
            }
            request.send(body.unwrap_or(""))
        }
    };
    let mut response = response.unwrap();
    let status = response.status().as_u16();
    let text = response.body_mut().read_to_string().unwrap_or_default();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// A JSON POST.
pub fn post(server: &Server, path: &str, body: &Value) -> (u16, Value) {
    call(
        server,
        "POST",
        path,
        &[("Content-Type", "application/json")],
        Some(&body.to_string()),
    )
}

/// A GET.
pub fn get(server: &Server, path: &str) -> (u16, Value) {
    call(server, "GET", path, &[], None)
}
