//! Model files crafted within every size limit of the loaders, as an attacker (or a broken
//! tool) could write them: each is refused in one line by `eval`, `predict` and the server's
//! `/api/predict`, with a non-zero exit or a 4xx answer, and the server keeps serving.

mod common;

use std::path::Path;
use std::process::Command;

use scratchgrad::arch::{Architecture, LayerSpec};
use scratchgrad::array::Array;
use scratchgrad::model_files::{encode_model, ModelFile};
use serde_json::json;

use common::server::{get, post, Server};
use common::temp_dir;

/// A model file for `layers` on `input` whose every weight is `fill`, written without the
/// checks `Architecture::parse` makes (as a hand-made file would be).
fn forged(input: &[usize], layers: &str, fill: f32) -> Vec<u8> {
    let arch = Architecture {
        input: input.to_vec(),
        layers: layers
            .split(',')
            .map(|t| t.parse::<LayerSpec>().unwrap())
            .collect(),
    };
    let weights = arch
        .state()
        .into_iter()
        .filter(|t| t.kind != scratchgrad::arch::StateKind::Count)
        .map(|t| (t.name, Array::full(&t.shape, fill)))
        .collect();
    let counts = arch.count_names().into_iter().map(|n| (n, 0)).collect();
    let classes = arch.classes();
    encode_model(&ModelFile {
        arch,
        dataset: "mnist-mini".into(),
        class_names: (0..classes).map(|c| c.to_string()).collect(),
        weights,
        counts,
    })
}

/// `scratchgrad ARGS`: exit code, stdout, stderr.
fn scratchgrad(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_scratchgrad"))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Runs `eval` and `predict` on `model` and checks each fails with one line containing `want`.
fn refused_by_the_commands(model: &Path, want: &str) {
    let model = model.to_str().unwrap();
    let digit = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../docs/img/digit-seven.png"
    );
    for args in [
        vec!["eval", "--model", model, "--dataset", "mnist-mini"],
        vec!["predict", "--model", model, digit],
    ] {
        let (code, _, stderr) = scratchgrad(&args);
        assert_eq!(code, 1, "{args:?}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{args:?}: {stderr}");
        assert!(stderr.contains(want), "{args:?}: {stderr}");
    }
}

/// Asks a server for a prediction by `run` and checks the answer is a 422 containing `want`,
/// and that the server still answers afterwards.
fn refused_by_the_server(server: &Server, run: &str, want: &str) {
    let pixels: Vec<u8> = (0..28 * 28)
        .map(|i| if i % 28 == 14 { 0 } else { 255 })
        .collect();
    let (status, answer) = post(
        server,
        "/api/predict",
        &json!({"model": run, "width": 28, "height": 28, "pixels": pixels}),
    );
    assert_eq!(status, 422, "{answer}");
    assert!(answer["error"].as_str().unwrap().contains(want), "{answer}");
    let (status, _) = get(server, "/api/models");
    assert_eq!(status, 200, "the server still answers");
}

#[test]
fn a_model_that_needs_more_memory_than_any_machine_has_is_refused_before_allocating() {
    // 4.3 million parameters (17 MB, within every file limit), but 145 GB of im2col columns
    // for a single image in its second layer: this aborted eval, predict and the server.
    let runs = temp_dir("memory-bomb");
    std::fs::create_dir_all(runs.join("bomb")).unwrap();
    let model = runs.join("bomb/model.safetensors");
    std::fs::write(
        &model,
        forged(&[1, 28, 28], "conv1024k1,conv1k64p64,flatten,linear10", 0.0),
    )
    .unwrap();
    let want = "layer 2 `conv1k64p64` needs 145 GB for one example";
    refused_by_the_commands(&model, want);
    let server = Server::start(&runs);
    refused_by_the_server(&server, "bomb", want);
}

#[test]
fn weights_that_overflow_give_an_error_not_nan() {
    // Finite weights (3e38) whose products overflow: predict printed `0 (NaN%)` and eval
    // `loss NaN`, both with exit 0.
    let runs = temp_dir("overflow");
    std::fs::create_dir_all(runs.join("huge")).unwrap();
    let model = runs.join("huge/model.safetensors");
    std::fs::write(&model, forged(&[784], "linear10", 3e38)).unwrap();
    let want = "gives outputs that are not finite numbers (inf or NaN)";
    refused_by_the_commands(&model, want);
    let server = Server::start(&runs);
    refused_by_the_server(&server, "huge", want);
}

#[test]
fn loading_a_large_model_does_not_stop_the_server_answering() {
    // A 97M-parameter model was loaded on the server's one async thread: every other request,
    // live event streams included, waited 1.5 s per load. Loading is now a blocking job: other
    // requests are answered while it runs.
    let runs = temp_dir("large-model");
    std::fs::create_dir_all(runs.join("large")).unwrap();
    std::fs::write(
        runs.join("large/model.safetensors"),
        forged(&[784], "linear25000,relu,linear10", 0.0),
    )
    .unwrap();
    let server = Server::start(&runs);
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let predicting = {
        let (done, url) = (std::sync::Arc::clone(&done), server.url.clone());
        std::thread::spawn(move || {
            let pixels: Vec<u8> = (0..28 * 28).map(|i| (i % 255) as u8).collect();
            let body = json!({"model": "large", "width": 28, "height": 28, "pixels": pixels});
            let answer = common::server::agent()
                .post(&format!("{url}api/predict"))
                .header("Content-Type", "application/json")
                .send(body.to_string())
                .unwrap()
                .status()
                .as_u16();
            done.store(true, std::sync::atomic::Ordering::SeqCst);
            answer
        })
    };
    let mut answered_meanwhile = 0;
    while !done.load(std::sync::atomic::Ordering::SeqCst) {
        let (status, _) = get(&server, "/api/runs");
        if !done.load(std::sync::atomic::Ordering::SeqCst) {
            assert_eq!(status, 200);
            answered_meanwhile += 1;
        }
    }
    assert_eq!(predicting.join().unwrap(), 200);
    assert!(
        answered_meanwhile >= 3,
        "{answered_meanwhile} answers during the load"
    );
}

#[test]
fn a_negative_running_variance_is_refused() {
    // Batch norm divides by sqrt(running_var + eps): a negative variance gave NaN outputs
    // that were printed as a prediction.
    let runs = temp_dir("negative-variance");
    std::fs::create_dir_all(runs.join("bn")).unwrap();
    let model = runs.join("bn/model.safetensors");
    let mut file = scratchgrad::model_files::decode_model(
        &forged(&[1, 28, 28], "conv2k3,bn,relu,flatten,linear10", 0.1),
        "forged",
    )
    .unwrap();
    let (_, variance) = file
        .weights
        .iter_mut()
        .find(|(name, _)| name == "1.running_var")
        .unwrap();
    variance.data_mut()[1] = -1.0;
    std::fs::write(&model, encode_model(&file)).unwrap();
    let want = "has `1.running_var` below zero";
    refused_by_the_commands(&model, want);
    let server = Server::start(&runs);
    refused_by_the_server(&server, "bn", want);
}

#[test]
fn a_model_with_other_names_is_not_served() {
    // A hard link in a run folder can name any file the folder's writer could read; the
    // server reads only files with one name.
    let runs = temp_dir("hard-link");
    std::fs::create_dir_all(runs.join("real")).unwrap();
    std::fs::create_dir_all(runs.join("linked")).unwrap();
    std::fs::write(
        runs.join("real/model.safetensors"),
        forged(&[784], "linear10", 0.0),
    )
    .unwrap();
    std::fs::hard_link(
        runs.join("real/model.safetensors"),
        runs.join("linked/model.safetensors"),
    )
    .unwrap();
    let server = Server::start(&runs);
    let pixels: Vec<u8> = (0..28 * 28)
        .map(|i| if i % 28 == 14 { 0 } else { 255 })
        .collect();
    let (status, answer) = post(
        &server,
        "/api/predict",
        &json!({"model": "linked", "width": 28, "height": 28, "pixels": pixels}),
    );
    assert!((400..500).contains(&status), "{status} {answer}");
    assert!(
        answer["error"].as_str().unwrap().contains("hard link"),
        "{answer}"
    );
}

#[test]
fn a_model_for_other_shapes_of_784_inputs_is_refused() {
    // [4, 14, 14] has 784 inputs: eval, predict, export and the server read each digit as
    // four little pictures and answered.
    let runs = temp_dir("other-shapes");
    std::fs::create_dir_all(runs.join("quad")).unwrap();
    let model = runs.join("quad/model.safetensors");
    std::fs::write(
        &model,
        forged(&[4, 14, 14], "conv4k3,flatten,linear10", 0.01),
    )
    .unwrap();
    refused_by_the_commands(&model, "taking 4x14x14 inputs");
    let onnx = runs.join("quad.onnx");
    let (code, _, stderr) = scratchgrad(&[
        "export",
        model.to_str().unwrap(),
        "--onnx",
        onnx.to_str().unwrap(),
    ]);
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains("takes 4x14x14 inputs, not 28x28 images"),
        "{stderr}"
    );
    assert!(!onnx.exists());
    let server = Server::start(&runs);
    refused_by_the_server(&server, "quad", "does not take 28x28 images");
}

#[test]
fn a_model_replaced_under_the_same_time_is_loaded_again() {
    // The server kept models by file time alone: a copy that kept the time (cp -p, rsync
    // -t) was never read, and the old model kept answering.
    let runs = temp_dir("replaced-model");
    std::fs::create_dir_all(runs.join("flip")).unwrap();
    let model = runs.join("flip/model.safetensors");
    std::fs::write(&model, forged(&[784], "linear10", 0.0)).unwrap();
    let time = std::fs::metadata(&model).unwrap().modified().unwrap();
    let server = Server::start(&runs);
    let ask = || {
        let pixels: Vec<u8> = (0..28 * 28).map(|i| (i % 200) as u8).collect();
        let (status, answer) = post(
            &server,
            "/api/predict",
            &json!({"model": "flip", "width": 28, "height": 28, "pixels": pixels}),
        );
        assert_eq!(status, 200, "{answer}");
        // What the network makes of the image: nothing for 784-10, a hidden layer after.
        answer["layers"].as_array().unwrap().len()
    };
    let before = ask();
    std::fs::remove_file(&model).unwrap();
    std::fs::write(&model, forged(&[784], "linear16,relu,linear10", 0.05)).unwrap();
    std::fs::File::options()
        .write(true)
        .open(&model)
        .unwrap()
        .set_modified(time)
        .unwrap();
    assert_eq!(before, 0);
    assert_eq!(ask(), 1, "the new file answers");
}
