//! The playground's sessions and the training dashboard by HTTP: a session learns the moons
//! and holds the points it is given; a dashboard run trains, stops, resumes and writes the
//! same files as `train`, and its event stream replays it all; bad requests, a second run
//! and one session too many get clear JSON errors, and none stops the server.

mod common;

use std::io::{BufRead, BufReader};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use common::server::{agent, call, get, post, Server};
use common::temp_dir;

fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "timed out waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_playground_learns_the_moons_and_holds_its_points() {
    let server = Server::start(&temp_dir("serve-playground"));
    let (status, state) = post(
        &server,
        "/api/playground",
        &json!({"data": "moons", "seed": 1}),
    );
    assert_eq!(status, 200, "{state}");
    let id = state["id"].as_str().unwrap().to_string();
    // micrograd's 100 moons to train on, and as many held out to test on.
    let points = state["points"].as_array().unwrap();
    assert_eq!(points.len(), 200);
    assert_eq!(points.iter().filter(|p| p[3] == 1).count(), 100);
    assert_eq!(state["settings"]["hidden"], json!([16, 16]));
    assert_eq!(state["parameters"], 2 * 16 + 16 + 16 * 16 + 16 + 16 + 1);
    let side = state["boundary"]["side"].as_u64().unwrap() as usize;
    assert_eq!(
        state["boundary"]["values"].as_array().unwrap().len(),
        side * side
    );
    assert_eq!(state["neurons"]["values"].as_array().unwrap().len(), 32);
    // A request trains up to 50 steps, fewer when they take over its time budget (a busy
    // machine): ask until 500 are done, whatever the load.
    let mut last = state;
    while last["step"].as_u64().unwrap() < 500 {
        let left = 500 - last["step"].as_u64().unwrap();
        let (status, state) = post(
            &server,
            &format!("/api/playground/{id}/train"),
            &json!({"steps": left.min(50)}),
        );
        assert_eq!(status, 200, "{state}");
        assert!(state["step"].as_u64().unwrap() > last["step"].as_u64().unwrap());
        last = state;
    }
    assert_eq!(last["step"], 500);
    assert!(
        last["accuracy"].as_f64().unwrap() > 0.9,
        "accuracy {}",
        last["accuracy"]
    );
    assert!(
        last["test_accuracy"].as_f64().unwrap() > 0.85,
        "test accuracy {}",
        last["test_accuracy"]
    );
    // The loss shown is what training minimises: the data's loss plus the L2 penalty.
    let (loss, data, penalty) = (
        last["loss"].as_f64().unwrap(),
        last["data_loss"].as_f64().unwrap(),
        last["penalty"].as_f64().unwrap(),
    );
    assert!(penalty > 0.0 && (loss - (data + penalty)).abs() < 1e-12);
    // `since` sends only the newer points of the curves.
    let (_, state) = post(
        &server,
        &format!("/api/playground/{id}/train"),
        &json!({"steps": 2, "since": 500}),
    );
    let steps: Vec<f64> = state["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h[0].as_f64().unwrap())
        .collect();
    let done = state["step"].as_u64().unwrap();
    let want: Vec<f64> = (500..=done).map(|s| s as f64).collect();
    assert!(!steps.is_empty() && steps == want, "{steps:?}");
    assert_eq!(state["history_since"], 500.0);

    let (status, state) = post(
        &server,
        &format!("/api/playground/{id}/points"),
        &json!({"add": [0.25, 0.5, -1], "since": done}),
    );
    assert_eq!(status, 200, "{state}");
    // A change answers with the curves from the page's last step on (that entry measured
    // again), never the whole history: pages once appended it all, and drew back to step 0.
    assert_eq!(state["history_since"], done as f64);
    assert_eq!(state["history"].as_array().unwrap().len(), 1);
    let (_, state) = get(&server, &format!("/api/playground/{id}"));
    let points = state["points"].as_array().unwrap();
    assert_eq!(points.len(), 201);
    assert_eq!(points[200], json!([0.25, 0.5, -1.0, 0]));
    let (status, _) = post(
        &server,
        &format!("/api/playground/{id}/points"),
        &json!({"remove": 0}),
    );
    assert_eq!(status, 200);
    let (_, state) = get(&server, &format!("/api/playground/{id}"));
    assert_eq!(state["points"].as_array().unwrap().len(), 200);

    // A learning rate changes without a new network; the network changes only with reset.
    let (status, state) = post(
        &server,
        &format!("/api/playground/{id}/settings"),
        &json!({"lr": 0.05, "since": done}),
    );
    assert_eq!((status, state["step"].as_u64()), (200, Some(done)));
    assert_eq!(state["history_since"], done as f64);
    let (status, state) = post(
        &server,
        &format!("/api/playground/{id}/settings"),
        &json!({"hidden": [4]}),
    );
    assert_eq!(status, 400);
    assert!(state["error"].as_str().unwrap().contains("only with reset"));
    let (status, state) = post(
        &server,
        &format!("/api/playground/{id}/reset"),
        &json!({"hidden": [4], "activation": "relu"}),
    );
    assert_eq!((status, state["step"].as_u64()), (200, Some(0)));
    assert_eq!(
        state["points"].as_array().unwrap().len(),
        200,
        "clicked points stay over a reset"
    );
    assert_eq!(state["neurons"]["values"].as_array().unwrap().len(), 4);
    assert_eq!(
        state["history_since"], 0.0,
        "a reset sends the whole (new) history"
    );
    // One point's loss as an expression of the (small) network's parameters, for the graph
    // page; a network too large to draw is refused by name.
    let (status, graph) = post(
        &server,
        &format!("/api/playground/{id}/point-graph"),
        &json!({"index": 3}),
    );
    assert_eq!(status, 200, "{graph}");
    assert!(graph["expr"].as_str().unwrap().starts_with("relu(1 - "));
    assert_eq!(graph["values"].as_object().unwrap().len(), 2 + 17);
    let (status, answer) = post(&server, "/api/grad", &graph);
    assert_eq!(status, 200, "the graph page draws it: {answer}");
    post(
        &server,
        &format!("/api/playground/{id}/reset"),
        &json!({"hidden": [32, 32, 32]}),
    );
    let (status, answer) = post(
        &server,
        &format!("/api/playground/{id}/point-graph"),
        &json!({"index": 3}),
    );
    assert_eq!(status, 400, "{answer}");
    assert!(answer["error"]
        .as_str()
        .unwrap()
        .contains("parameters: a point's graph is drawn for smaller ones"));

    let (status, _) = call(
        &server,
        "DELETE",
        &format!("/api/playground/{id}"),
        &[],
        None,
    );
    assert_eq!(status, 204);
    let (status, body) = get(&server, &format!("/api/playground/{id}"));
    assert_eq!(status, 404);
    assert!(body["error"].as_str().unwrap().contains("reload the page"));
}

#[test]
fn bad_playground_requests_and_too_many_sessions_get_clear_errors() {
    let server = Server::start(&temp_dir("serve-playground-bad"));
    let cases = [
        (
            json!({"hidden": [100000]}),
            "`hidden` must list at most 6 widths, each 1 to 32",
        ),
        (json!({"hidden": [8, 8, 8, 8, 8, 8, 8]}), "at most 6 widths"),
        (json!({"hidden": "16,16"}), "`hidden` must be a list"),
        (
            json!({"data": "cifar"}),
            "unknown data set `cifar` (known: moons, circles, xor, spiral, plane, gaussians)",
        ),
        (json!({"activation": "swish"}), "unknown activation `swish`"),
        (
            json!({"points": 1e9}),
            "`points` must be a number from 2 to 500",
        ),
        (json!({"lr": -1}), "`lr` must be a number from"),
        (json!({"seed": 1.5}), "`seed` must be a whole number"),
        (
            json!({"data": "plane", "loss": "max-margin"}),
            "`plane` is a regression data set: train it with the squared loss",
        ),
        (json!({"features": []}), "`features` must list 1 to 7"),
        (json!({"features": ["z"]}), "unknown feature `z`"),
        (
            json!({"test_share": 0.95}),
            "`test_share` must be a number from 0 to 0.9",
        ),
        (json!([1, 2]), "must be a JSON object"),
    ];
    for (body, expected) in cases {
        let (status, answer) = post(&server, "/api/playground", &body);
        assert_eq!(status, 400, "{body}: {answer}");
        let message = answer["error"].as_str().unwrap();
        assert!(message.contains(expected), "{body}: {message}");
    }
    let (_, state) = post(&server, "/api/playground", &json!({}));
    let id = state["id"].as_str().unwrap();
    for (path, body, expected) in [
        ("train", json!({"steps": 0}), "`steps` must be 1 to 100"),
        ("train", json!({"steps": 1e12}), "`steps` must be 1 to 100"),
        ("points", json!({"add": [99, 0, 1]}), "inside the view"),
        ("points", json!({"add": [0, 0, 2]}), "label 1 or -1"),
        ("points", json!({"remove": 1000}), "there is no point 1000"),
        ("points", json!({}), "give `add`"),
    ] {
        let (status, answer) = post(&server, &format!("/api/playground/{id}/{path}"), &body);
        assert_eq!(status, 400, "{path} {body}: {answer}");
        assert!(
            answer["error"].as_str().unwrap().contains(expected),
            "{answer}"
        );
    }
    let (status, _) = post(&server, "/api/playground/0123/train", &json!({"steps": 1}));
    assert_eq!(status, 404);
    // 16 sessions at most: this one and 15 more, then a clear refusal.
    for _ in 0..15 {
        assert_eq!(post(&server, "/api/playground", &json!({})).0, 200);
    }
    let (status, answer) = post(&server, "/api/playground", &json!({}));
    assert_eq!(status, 429);
    assert!(answer["error"]
        .as_str()
        .unwrap()
        .contains("16 playgrounds are open: close another tab"));
    // A closed tab's beacon frees a place.
    assert_eq!(
        call(
            &server,
            "POST",
            &format!("/api/playground/{id}/close"),
            &[],
            None
        )
        .0,
        204
    );
    assert_eq!(post(&server, "/api/playground", &json!({})).0, 200);
}

/// The event stream's events, read until it closes.
fn read_events(server: &Server) -> Vec<Value> {
    let mut response = agent()
        .get(&format!("{}api/dashboard/events", server.url))
        .call()
        .unwrap();
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    let reader = BufReader::new(response.body_mut().as_reader());
    reader
        .lines()
        .map_while(Result::ok)
        .filter_map(|line| {
            line.strip_prefix("data: ")
                .map(|d| serde_json::from_str(d).unwrap())
        })
        .collect()
}

/// The folder name of the dashboard's current run, once it has one.
fn current_run(server: &Server) -> String {
    let mut name = None;
    wait_for("the run's folder", || {
        name = get(server, "/api/dashboard").1["current"]["run"]
            .as_str()
            .map(String::from);
        name.is_some()
    });
    name.unwrap()
}

fn run_status(server: &Server) -> String {
    let (_, answer) = get(server, "/api/dashboard");
    answer["current"]["status"]
        .as_str()
        .unwrap_or("none")
        .to_string()
}

#[test]
fn a_dashboard_run_trains_stops_resumes_and_leaves_trains_files() {
    let runs = temp_dir("serve-dashboard");
    let server = Server::start(&runs);
    assert_eq!(get(&server, "/api/dashboard").1, json!({"current": null}));
    let (status, answer) = get(&server, "/api/dashboard/events");
    assert_eq!(status, 404, "{answer}");

    let settings =
        json!({"dataset": "mnist-mini", "hidden": "32", "epochs": 200, "seed": 3, "lr": 0.5});
    let (status, run) = post(&server, "/api/dashboard/start", &settings);
    assert_eq!(status, 200, "{run}");
    assert_eq!(
        run["command"],
        "scratchgrad train --dataset=mnist-mini --epochs=200 --hidden=32 --lr=0.5 --seed=3 --quiet"
    );
    // One run at a time.
    let (status, answer) = post(
        &server,
        "/api/dashboard/start",
        &json!({"dataset": "mnist-mini"}),
    );
    assert_eq!(status, 409, "{answer}");
    assert!(answer["error"]
        .as_str()
        .unwrap()
        .contains("stop it (or wait for it) before starting another"));

    let name = current_run(&server);
    let folder = runs.join(&name);
    wait_for("a complete epoch", || {
        folder.join("checkpoint.safetensors").is_file()
    });
    let (status, _) = post(&server, "/api/dashboard/stop", &json!({}));
    assert_eq!(status, 200);
    wait_for("the run to stop", || run_status(&server) == "stopped");
    // The summary says why it ended, as the event stream does.
    let (_, summary) = get(&server, "/api/dashboard");
    assert!(
        summary["current"]["message"]
            .as_str()
            .unwrap()
            .contains("resume with"),
        "{summary}"
    );
    // A page that opens now gets the whole run in one snapshot: start, epochs, progress, end.
    let events = read_events(&server);
    assert_eq!(events.len(), 1);
    let snapshot = &events[0];
    assert_eq!(snapshot["type"], "snapshot");
    assert_eq!(snapshot["start"]["type"], "start");
    assert_eq!(snapshot["batch"]["type"], "batch");
    let end = &snapshot["end"];
    assert_eq!(end["status"], "stopped");
    assert!(
        end["message"].as_str().unwrap().contains("resume with"),
        "{end}"
    );
    let epochs_done = snapshot["epochs"].as_array().unwrap().len();
    assert!((1..200).contains(&epochs_done));
    let (_, listed) = get(&server, "/api/runs");
    assert_eq!(listed["runs"][0]["name"], name.as_str());
    assert_eq!(listed["runs"][0]["status"], "stopped");
    assert_eq!(listed["runs"][0]["epochs"], epochs_done);

    // Resume to two more epochs than were done: `train --resume` with a new total.
    let total = epochs_done + 2;
    let (status, run) = post(
        &server,
        "/api/dashboard/resume",
        &json!({"run": name, "epochs": total}),
    );
    assert_eq!(status, 200, "{run}");
    wait_for("the resumed run to finish", || {
        run_status(&server) == "finished"
    });
    let events = read_events(&server);
    let snapshot = &events[0];
    assert_eq!(snapshot["start"]["epochs_done"], epochs_done);
    // The resumed run's earlier epochs are in its snapshot: a page reloaded after a resume
    // once lost them from its curve.
    let epochs: Vec<u64> = snapshot["epochs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["epoch"].as_u64().unwrap())
        .collect();
    assert_eq!(epochs, (1..=total as u64).collect::<Vec<_>>());
    assert!(snapshot["end"]["message"]
        .as_str()
        .unwrap()
        .starts_with("finished: test accuracy"));
    for file in [
        "model.safetensors",
        "checkpoint.safetensors",
        "metrics.jsonl",
        "summary.json",
        "loss.svg",
        "confusion.png",
    ] {
        assert!(folder.join(file).is_file(), "{file} is missing");
    }
    let (_, opened) = get(&server, &format!("/api/runs/{name}"));
    assert_eq!(opened["status"], "finished");
    assert_eq!(opened["metrics"].as_array().unwrap().len(), total);
    assert!(opened["pictures"]
        .as_array()
        .unwrap()
        .contains(&json!("predictions.png")));
    let (status, _) = call(
        &server,
        "GET",
        &format!("/api/runs/{name}/files/loss.svg"),
        &[],
        None,
    );
    assert_eq!(status, 200);
    for picture in ["weights.png", "predictions.png", "confusion.png"] {
        let (status, _) = call(
            &server,
            "GET",
            &format!("/api/dashboard/pictures/{picture}"),
            &[],
            None,
        );
        assert_eq!(status, 200, "{picture}");
    }
    // Resuming a finished run without more epochs is `train`'s own refusal, as one line.
    let (status, _) = post(&server, "/api/dashboard/resume", &json!({"run": name}));
    assert_eq!(status, 200);
    wait_for("the refused resume", || run_status(&server) == "failed");
    let end = read_events(&server).pop().unwrap()["end"].clone();
    assert!(
        end["message"]
            .as_str()
            .unwrap()
            .contains("has already trained all"),
        "{end}"
    );
}

#[test]
fn bad_dashboard_requests_name_the_setting() {
    // The page's settings are the library's `train::Settings`, checked as the command line's
    // flags are (the same limits and words), each message naming the setting.
    let runs = temp_dir("serve-dashboard-bad");
    let server = Server::start(&runs);
    let cases = [
        (
            json!({"dataset": "cifar"}),
            "`dataset`: unknown data set `cifar`",
        ),
        (
            json!({"hidden": "99999999"}),
            "`architecture`: layer 1 `linear99999999`: a layer has 1 to 65536 outputs",
        ),
        (
            json!({"layers": "conv3k99,flatten,linear10"}),
            "`layers`: layer 1 `conv3k99`",
        ),
        (json!({"epochs": 0}), "`epochs`: must be 1 to 100000, not 0"),
        (
            json!({"lr": "--out=/etc"}),
            "`lr`: must be a number, not `--out=/etc`",
        ),
        (json!({"out": "/etc"}), "unknown setting `out`"),
        (
            json!({"dataset": ["mnist"]}),
            "must be a number or a short line of text",
        ),
        (json!("mnist"), "must be a JSON object"),
        // A blank layer list started the default MLP; the command line refuses it.
        (
            json!({"dataset": "mnist-mini", "layers": ""}),
            "`layers`: is empty",
        ),
    ];
    for (body, expected) in cases {
        let (status, answer) = post(&server, "/api/dashboard/start", &body);
        assert_eq!(status, 400, "{body}: {answer}");
        let message = answer["error"].as_str().unwrap();
        assert!(message.contains(expected), "{body}: {message}");
    }
    for (body, expected) in [
        (json!({"run": "../etc"}), "\"../etc\" is not a run's name"),
        (
            json!({"run": "nothing-here"}),
            "there is no run `nothing-here`",
        ),
        (json!({}), "`run` must name the run"),
        // Answered 200 "starting", then failed; `start` refuses the same value at once.
        (
            json!({"run": "nothing-here", "epochs": 0}),
            "`epochs` must be a whole number from 1 to 100000",
        ),
    ] {
        let (status, answer) = post(&server, "/api/dashboard/resume", &body);
        assert!(status == 400 || status == 404, "{body}: {answer}");
        assert!(
            answer["error"].as_str().unwrap().contains(expected),
            "{answer}"
        );
    }
    let (status, answer) = post(&server, "/api/dashboard/stop", &json!({}));
    assert_eq!(status, 409);
    assert_eq!(answer["error"], "no run is training");
    for path in [
        "/api/runs/..%2F..%2Fetc/files/loss.svg",
        "/api/runs/x/files/..%2Fsecret",
        "/api/dashboard/pictures/passwd",
    ] {
        let (status, answer) = get(&server, path);
        assert!(status == 400 || status == 404, "{path}: {status} {answer}");
        assert!(answer["error"].is_string());
    }
    assert_eq!(get(&server, "/api/runs").0, 200);
    assert!(
        !runs.exists() || std::fs::read_dir(&runs).unwrap().next().is_none(),
        "nothing was written"
    );
}

#[test]
fn sigterm_during_a_dashboard_run_keeps_its_last_epoch_and_ends_the_server() {
    let runs = temp_dir("serve-sigterm");
    let mut server = Server::start(&runs);
    let settings = json!({"dataset": "mnist-mini", "hidden": "32", "epochs": 5000, "lr": 0.5});
    assert_eq!(post(&server, "/api/dashboard/start", &settings).0, 200);
    let folder = runs.join(current_run(&server));
    wait_for("a complete epoch", || {
        folder.join("checkpoint.safetensors").is_file()
    });
    // A page following the run: its stream must not keep the server from closing.
    let url = format!("{}api/dashboard/events", server.url);
    let follower = std::thread::spawn(move || {
        agent()
            .get(&url)
            .call()
            .map(|mut r| r.body_mut().read_to_string().map(|t| t.len()))
    });
    std::thread::sleep(Duration::from_millis(200));
    let (status, took) = server.terminate();
    assert!(
        took < Duration::from_secs(20),
        "the server took {took:?} to stop"
    );
    assert!(
        status.code().is_some(),
        "ended by a signal, not by closing: {status:?}"
    );
    follower.join().unwrap().unwrap().unwrap();
    assert!(
        !folder.join("summary.json").exists(),
        "the run did not finish"
    );
    // The stopped run resumes from the command line, as after Ctrl-C.
    let done = std::fs::read_to_string(folder.join("metrics.jsonl"))
        .unwrap()
        .lines()
        .count();
    let resumed = std::process::Command::new(env!("CARGO_BIN_EXE_scratchgrad"))
        .args([
            "train",
            "--quiet",
            "--epochs",
            &(done + 1).to_string(),
            "--resume",
        ])
        .arg(&folder)
        .output()
        .unwrap();
    assert!(
        resumed.status.success(),
        "{}",
        String::from_utf8_lossy(&resumed.stderr)
    );
    assert!(folder.join("summary.json").is_file());
}

#[test]
fn live_event_streams_never_take_every_connection() {
    // Each page following a run holds a connection for the whole run: 8 pages took all 8
    // connections and the server answered nothing else. Streams get a quarter of them.
    let runs = temp_dir("serve-streams");
    let server = Server::start_with(&runs, &["--max-connections", "8"]);
    let settings = json!({"dataset": "mnist-mini", "hidden": "32", "epochs": 5000, "lr": 0.5});
    assert_eq!(post(&server, "/api/dashboard/start", &settings).0, 200);
    current_run(&server);
    let follow = || {
        agent()
            .get(&format!("{}api/dashboard/events", server.url))
            .call()
            .unwrap()
    };
    let first = follow();
    let second = follow();
    let (status, answer) = get(&server, "/api/dashboard/events");
    assert_eq!(status, 503, "{answer}");
    assert!(
        answer["error"]
            .as_str()
            .unwrap()
            .contains("too many pages are following the run"),
        "{answer}"
    );
    assert_eq!(
        get(&server, "/api/runs").0,
        200,
        "other requests are answered"
    );
    drop(first);
    // The freed permit comes back once the server notices the page has gone (its next
    // event fails to send).
    wait_for("a stream to be free again", || {
        follow().status().as_u16() == 200
    });
    drop(second);
    assert_eq!(post(&server, "/api/dashboard/stop", &json!({})).0, 200);
}
