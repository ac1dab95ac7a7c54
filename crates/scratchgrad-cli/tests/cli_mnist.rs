//! `train`, `eval` and `predict` end to end on the built-in `mnist-mini`: every output file
//! exists and parses, resuming is bit-identical, and bad input is refused cleanly.

mod common;

use std::path::Path;
use std::process::{Command, Output};

use scratchgrad::data::{Dataset, DatasetName, Split};
use scratchgrad::model_files::{decode_checkpoint, decode_model, ModelFile};
use serde_json::Value;

use common::{temp_dir, train_args};

fn scratchgrad(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_scratchgrad"))
        .args(args)
        .output()
        .expect("the binary runs")
}

fn train(out: &Path, extra: &[&str]) -> Output {
    scratchgrad(&train_args(out, extra))
}

fn model(dir: &Path) -> ModelFile {
    decode_model(
        &std::fs::read(dir.join("model.safetensors")).unwrap(),
        "model",
    )
    .unwrap()
}

fn metrics(dir: &Path) -> Vec<Value> {
    std::fs::read_to_string(dir.join("metrics.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn training_leaves_every_file_and_they_parse() {
    let out = temp_dir("files");
    let run = train(&out, &["--epochs", "3"]);
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert_eq!(
        stdout
            .lines()
            .filter(|l| l.trim_start().starts_with(char::is_numeric))
            .count(),
        3,
        "one line per epoch:\n{stdout}"
    );

    let m = model(&out);
    assert_eq!(m.arch.describe(), "784-256-10 sigmoid");
    let names: Vec<&str> = m.weights.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["0.weight", "0.bias", "2.weight", "2.bias"]);
    assert_eq!(m.weights[0].1.shape(), &[256, 784]);
    let lines = metrics(&out);
    assert_eq!(lines.len(), 3);
    for (i, line) in lines.iter().enumerate() {
        let keys: Vec<&String> = line.as_object().unwrap().keys().collect();
        assert_eq!(
            keys,
            [
                "epoch",
                "seconds",
                "test_accuracy",
                "test_loss",
                "train_accuracy",
                "train_loss"
            ]
        );
        assert_eq!(line["epoch"], i + 1);
    }
    let summary: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["final"]["test_accuracy"], lines[2]["test_accuracy"]);
    assert_eq!(summary["config"]["seed"], 0);
    assert_eq!(summary["test"]["accuracy"], lines[2]["test_accuracy"]);
    assert!(
        summary["wall_seconds"].as_f64().unwrap() > 0.0
            && summary["versions"]["scratchgrad"].is_string()
    );
    for svg in ["loss.svg", "accuracy.svg"] {
        let text = std::fs::read_to_string(out.join(svg)).unwrap();
        assert!(
            text.contains("<svg") && text.contains("</svg>") && text.contains("polyline"),
            "{svg}"
        );
    }
    // Each picture decodes and has the size its layout gives: the confusion matrix 10 cells
    // of 56 pixels after a 90-pixel margin (and 20 after); the digit grids 10 tiles of
    // 28 x 4 + 24 pixels, two rows of 28 x 4 + 34 under a 20-pixel key.
    for (png, width, height) in [
        ("confusion.png", 90 + 10 * 56 + 20, 60 + 10 * 56 + 40),
        (
            "predictions.png",
            10 * (28 * 4 + 24),
            20 + 2 * (28 * 4 + 34),
        ),
        ("mistakes.png", 10 * (28 * 4 + 24), 20 + 2 * (28 * 4 + 34)),
    ] {
        let img = image::open(out.join(png)).unwrap_or_else(|e| panic!("{png}: {e}"));
        assert_eq!((img.width(), img.height()), (width, height), "{png}");
    }
    assert!(out.join("checkpoint.safetensors").exists());
}

#[test]
fn eval_reports_what_training_measured() {
    let out = temp_dir("eval");
    assert!(train(&out, &["--epochs", "2"]).status.success());
    let model = out.join("model.safetensors");
    let eval = scratchgrad(&["eval", "--model", model.to_str().unwrap(), "--json"]);
    assert!(
        eval.status.success(),
        "{}",
        String::from_utf8_lossy(&eval.stderr)
    );
    let json: Value = serde_json::from_slice(&eval.stdout).unwrap();
    let last = &metrics(&out)[1];
    assert_eq!(json["dataset"], "mnist-mini");
    assert!(
        (json["accuracy"].as_f64().unwrap() - last["test_accuracy"].as_f64().unwrap()).abs()
            < 1e-12
    );
    assert!((json["loss"].as_f64().unwrap() - last["test_loss"].as_f64().unwrap()).abs() < 1e-6);
    let confusion = json["confusion"].as_array().unwrap();
    let total: u64 = confusion
        .iter()
        .flat_map(|r| r.as_array().unwrap())
        .map(|c| c.as_u64().unwrap())
        .sum();
    assert_eq!(total, 1000);
    assert_eq!(json["per_class_accuracy"].as_array().unwrap().len(), 10);
}

#[test]
fn predict_reads_large_dark_on_white_images() {
    let out = temp_dir("predict");
    assert!(train(&out, &["--epochs", "5"]).status.success());
    let test = Dataset::load(DatasetName::MnistMini, Split::Test, Path::new("")).unwrap();
    let mut paths = Vec::new();
    for i in 0..10 {
        // The test digit, dark ink on white paper, 8x larger, off-centre; half as JPEG.
        let digit = test.image(i);
        let page = image::GrayImage::from_fn(320, 260, |x, y| {
            let (dx, dy) = (x as i64 - 60, y as i64 - 20);
            let inside = (0..224).contains(&dx) && (0..224).contains(&dy);
            image::Luma([if inside {
                255 - digit[(dy / 8 * 28 + dx / 8) as usize]
            } else {
                255
            }])
        });
        let path = out.join(format!(
            "digit{i}.{}",
            if i % 2 == 0 { "png" } else { "jpg" }
        ));
        page.save(&path).unwrap();
        paths.push(path);
    }
    let model = out.join("model.safetensors");
    let mut args = vec!["predict", "--model", model.to_str().unwrap(), "--json"];
    args.extend(paths.iter().map(|p| p.to_str().unwrap()));
    let run = scratchgrad(&args);
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let json: Value = serde_json::from_slice(&run.stdout).unwrap();
    let predictions = json["predictions"].as_array().unwrap();
    let right = predictions
        .iter()
        .enumerate()
        .filter(|(i, p)| p["top"][0]["class"] == test.labels[*i] as u64)
        .count();
    assert!(right >= 8, "only {right} of 10 recognised: {json}");
    let top = predictions[0]["top"].as_array().unwrap();
    assert_eq!(top.len(), 3);
    let p: Vec<f64> = top
        .iter()
        .map(|t| t["probability"].as_f64().unwrap())
        .collect();
    assert!(p[0] >= p[1] && p[1] >= p[2] && p[0] <= 1.0);

    let text = scratchgrad(&[
        "predict",
        "--model",
        model.to_str().unwrap(),
        paths[0].to_str().unwrap(),
    ]);
    let line = String::from_utf8_lossy(&text.stdout);
    assert!(
        line.starts_with(&format!("{}: {} (", paths[0].display(), test.labels[0])),
        "{line}"
    );
}

#[test]
fn resuming_gives_bit_identical_weights() {
    // A small CNN with batch norm (running statistics to carry over) and dropout (masks
    // drawn from the seed, epoch and batch) in both engines, besides the MLP.
    let cnn = "conv4k3,bn,relu,maxpool2,flatten,dropout0.25,linear10";
    for (engine, optimizer, layers) in [
        ("autograd", "sgd", None),
        ("manual", "adam", None),
        ("autograd", "momentum", None),
        ("autograd", "adam", Some(cnn)),
        ("manual", "adam", Some(cnn)),
    ] {
        let name = format!("{engine}-{optimizer}-{}", layers.map_or("mlp", |_| "cnn"));
        let whole = temp_dir(&format!("whole-{name}"));
        let split = temp_dir(&format!("split-{name}"));
        let mut settings = vec!["--engine", engine, "--optimizer", optimizer, "--seed", "7"];
        if let Some(layers) = layers {
            settings.extend(["--layers", layers]);
        }
        let with_epochs = |epochs: &'static str| {
            let mut flags = vec!["--epochs", epochs];
            flags.extend(settings.iter().copied());
            flags
        };
        assert!(train(&whole, &with_epochs("3")).status.success());
        assert!(train(&split, &with_epochs("1")).status.success());
        let resumed = scratchgrad(&[
            "train",
            "--resume",
            split.to_str().unwrap(),
            "--epochs",
            "3",
            "--quiet",
        ]);
        assert!(
            resumed.status.success(),
            "{}",
            String::from_utf8_lossy(&resumed.stderr)
        );
        assert_eq!(
            model(&whole).weights,
            model(&split).weights,
            "{name}: weights differ"
        );
        let strip = |v: Vec<Value>| {
            v.into_iter()
                .map(|mut m| {
                    m.as_object_mut().unwrap().remove("seconds");
                    m
                })
                .collect::<Vec<_>>()
        };
        assert_eq!(
            strip(metrics(&whole)),
            strip(metrics(&split)),
            "{name}: metrics differ"
        );
    }
}

#[test]
fn a_previous_run_is_never_overwritten() {
    let out = temp_dir("keep");
    assert!(train(&out, &["--epochs", "1"]).status.success());
    let before = std::fs::read(out.join("model.safetensors")).unwrap();
    let again = train(&out, &["--epochs", "1", "--seed", "3"]);
    assert_eq!(again.status.code(), Some(1));
    let err = String::from_utf8_lossy(&again.stderr);
    assert!(
        err.starts_with("error: ")
            && err.contains("already holds a run")
            && err.lines().count() == 1,
        "{err}"
    );
    assert_eq!(
        std::fs::read(out.join("model.safetensors")).unwrap(),
        before
    );
}

#[test]
fn pictures_of_any_shape_never_fail_a_run() {
    // A 1x1 convolution with padding 35 makes 98x98 maps, larger than a picture's cell; the
    // feature-map picture panicked on them (exit 101, no summary.json), and so did every
    // --resume of the run.
    let out = temp_dir("odd-pictures");
    let run = train(
        &out,
        &[
            "--layers",
            "conv1k1p35,maxpool64,flatten,linear10",
            "--epochs",
            "1",
        ],
    );
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    for file in ["summary.json", "filters.png", "feature-maps.png"] {
        assert!(out.join(file).is_file(), "{file}");
    }
    let maps = image::open(out.join("feature-maps.png")).unwrap();
    assert!(maps.width() < 2000 && maps.height() < 1000);
}

#[test]
fn a_diverging_run_stops_with_a_hint() {
    let out = temp_dir("nan");
    // Momentum at a rate of a million on whole-set batches: the weights overflow f32 in a few
    // epochs (at epoch 5 with seed 0).
    let flags = [
        "--epochs",
        "30",
        "--lr",
        "1e6",
        "--activation",
        "relu",
        "--optimizer",
        "momentum",
        "--batch-size",
        "5000",
    ];
    let run = train(&out, &flags);
    assert_eq!(run.status.code(), Some(1));
    let err = String::from_utf8_lossy(&run.stderr);
    assert!(
        err.contains("loss became")
            && err.contains("lower the learning rate")
            && err.contains("is kept"),
        "{err}"
    );
    let saved = decode_checkpoint(
        &std::fs::read(out.join("checkpoint.safetensors")).unwrap(),
        "c",
    )
    .expect("the last good checkpoint loads");
    assert_eq!(
        metrics(&out).len(),
        saved.epochs_done,
        "every kept epoch has its metrics"
    );
}

#[test]
fn bad_input_is_one_clear_line() {
    let dir = temp_dir("bad");
    std::fs::create_dir_all(&dir).unwrap();
    let junk = dir.join("junk.safetensors");
    std::fs::write(&junk, b"not a model at all").unwrap();
    let (junk, empty) = (junk.to_str().unwrap(), dir.to_str().unwrap());
    let out = dir.join("never-made");
    let out = out.to_str().unwrap();
    let hidden_65 = vec!["1"; 65].join(",");
    let train = |extra: &[&'static str]| -> Vec<String> {
        let mut args = vec!["train", "--dataset", "mnist-mini", "--out", out];
        args.extend(extra);
        args.into_iter().map(String::from).collect()
    };
    let owned = |args: &[&str]| -> Vec<String> { args.iter().map(|a| a.to_string()).collect() };
    let cases: Vec<(Vec<String>, &str)> = vec![
        (
            owned(&["eval", "--model", "/nonexistent/model.safetensors"]),
            "/nonexistent/model.safetensors cannot be read (No such file",
        ),
        (
            owned(&["eval", "--model", junk]),
            "is not a valid safetensors file",
        ),
        (
            owned(&["predict", "--model", junk, "x.png"]),
            "is not a valid safetensors file",
        ),
        (owned(&["train", "--resume", empty]), "cannot resume: "),
        (
            train(&["--hidden", "0"]),
            "--hidden: layer 1 `linear0`: a layer has 1 to 65536 outputs",
        ),
        (
            train(&["--hidden", "100000000000"]),
            "--hidden: layer 1 `linear100000000000`: a layer has 1 to 65536 outputs",
        ),
        (
            train(&["--hidden", "1,1048577"]),
            "--hidden: layer 3 `linear1048577`: a layer has 1 to 65536 outputs",
        ),
        (
            {
                let mut a = train(&[]);
                a.extend(["--hidden".to_string(), hidden_65.clone()]);
                a
            },
            "--hidden: 131 layers: a network has 1 to 128",
        ),
        (
            train(&["--layers", "linear128,relu,lineer10"]),
            "--layers: layer 3 `lineer10` is not a layer (known: linearN",
        ),
        (
            train(&["--layers", "linear128,relu,linear3"]),
            "--layers: ends with 3 outputs but mnist-mini has 10 classes",
        ),
        (
            train(&["--lr", "1e300"]),
            "--lr: must be between 1e-10 and 1e6, not 1e300",
        ),
        (
            train(&["--lr", "1e-320"]),
            "--lr: must be between 1e-10 and 1e6, not 1e-320",
        ),
        (
            train(&["--lr", "-1"]),
            "--lr: must be between 1e-10 and 1e6, not -1",
        ),
        (
            train(&["--lr", "nan"]),
            "--lr: must be between 1e-10 and 1e6, not NaN",
        ),
        (
            train(&["--arch", "lenet5", "--activation", "relu"]),
            "--activation: the hidden widths and activation shape the MLP; lenet5 has its own",
        ),
        (
            train(&["--threads", "10000"]),
            "--threads: must be 1 to 256, not 10000",
        ),
        (
            train(&["--threads", "18446744073709551615"]),
            "--threads: must be 1 to 256, not 18446744073709551615",
        ),
        (
            train(&["--batch-size", "0"]),
            "--batch-size: must be 1 to 65536, not 0",
        ),
        (
            train(&["--epochs", "0"]),
            "--epochs: must be 1 to 100000, not 0",
        ),
        (
            train(&["--val-split", "0.95"]),
            "--val-split: must be a fraction from 0 to 0.9, not 0.95",
        ),
        (
            owned(&["bench", "--scaling", "--threads", "1"]),
            "--scaling: compares 1 thread with more, so it needs --threads 2 or more",
        ),
        (
            owned(&["bench", "--scaling", "--threads", "256"]),
            "--scaling: --threads 256 is more than this machine's cores (",
        ),
        (
            owned(&["bench", "--hidden", "100000000"]),
            "--hidden: layer 1 `linear100000000`: a layer has 1 to 65536 outputs",
        ),
    ];
    for (args, want) in cases {
        let run = scratchgrad(&args.iter().map(String::as_str).collect::<Vec<_>>());
        let err = String::from_utf8_lossy(&run.stderr);
        assert_eq!(run.status.code(), Some(1), "{args:?}: {err}");
        assert!(
            err.starts_with("error: ") && err.contains(want) && err.lines().count() == 1,
            "{args:?}: {err}"
        );
        assert!(run.stdout.is_empty(), "{args:?}");
    }
    assert!(!Path::new(out).exists(), "no refused run made its folder");
}
