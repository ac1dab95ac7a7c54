//! Language models from the command line, on the built-in slices: training writes a run
//! folder, `sample` writes names and continuations (the same seed, the same text), `eval`
//! gives the held-out loss the run reported, and bad input gets one line and a failure.

mod common;

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

fn scratchgrad(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_scratchgrad"))
        .args(args)
        .output()
        .unwrap()
}

fn stdout(run: &Output) -> String {
    String::from_utf8_lossy(&run.stdout).into_owned()
}

/// Exit code 1 and one line on stderr, holding `want`.
fn refused(run: &Output, want: &str) {
    let err = String::from_utf8_lossy(&run.stderr);
    assert_eq!(run.status.code(), Some(1), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.starts_with("error: ") && err.contains(want), "{err}");
}

fn train(out: &Path, extra: &[&str]) -> Output {
    let mut args = vec!["train", "--quiet", "--out", out.to_str().unwrap()];
    args.extend_from_slice(extra);
    let run = scratchgrad(&args);
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    run
}

fn summary(out: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap()
}

#[test]
fn a_bigram_on_names_trains_samples_and_evaluates_as_it_reported() {
    let dir = common::temp_dir("lm-bigram");
    let out = dir.join("run");
    let run = train(
        &out,
        &[
            "--dataset",
            "names-mini",
            "--arch",
            "bigram",
            "--steps",
            "400",
            "--seed",
            "1",
        ],
    );
    let text = stdout(&run);
    assert!(
        text.contains("samples:") && text.contains("729 parameters"),
        "{text}"
    );
    let mut names = common::file_names(&out);
    names.sort();
    assert_eq!(
        names,
        [
            "checkpoint.safetensors",
            "loss.svg",
            "metrics.jsonl",
            "model.safetensors",
            "summary.json"
        ]
    );
    let s = summary(&out);
    let test_loss = s["test_loss"].as_f64().unwrap();
    // The count table's loss on names-mini is 2.459 (tools/bigram_reference.py); a uniform
    // guess over 27 characters is ln 27 = 3.296.
    assert!((2.3..2.7).contains(&test_loss), "{s}");
    let lines = std::fs::read_to_string(out.join("metrics.jsonl")).unwrap();
    assert_eq!(
        lines.lines().count(),
        20,
        "an evaluation every 20th of the steps"
    );
    // eval reads every held-out example, as the run's last evaluation did (names-mini's
    // held-out part is smaller than an evaluation's limit).
    let model = out.join("model.safetensors");
    let eval = scratchgrad(&["eval", "--model", model.to_str().unwrap(), "--json"]);
    assert!(eval.status.success());
    let e: Value = serde_json::from_str(&stdout(&eval)).unwrap();
    assert!(
        (e["test_loss"].as_f64().unwrap() - test_loss).abs() < 1e-6,
        "{e} {s}"
    );
    // The run folder names the same model, as for `sample`.
    let by_folder = scratchgrad(&["eval", "--model", out.to_str().unwrap(), "--json"]);
    let f: Value = serde_json::from_str(&stdout(&by_folder)).unwrap();
    assert_eq!(f["test_loss"], e["test_loss"]);
    // The same seed, the same names; another seed, others.
    let folder = out.to_str().unwrap();
    let a = stdout(&scratchgrad(&["sample", folder, "--n", "8", "--seed", "3"]));
    let b = stdout(&scratchgrad(&["sample", folder, "--n", "8", "--seed", "3"]));
    let c = stdout(&scratchgrad(&["sample", folder, "--n", "8", "--seed", "4"]));
    assert_eq!(a, b);
    assert_ne!(a, c);
    assert_eq!(a.lines().count(), 8);
    assert!(
        a.lines()
            .all(|n| n.chars().all(|ch| ch.is_ascii_lowercase())),
        "{a}"
    );
    let prompted = stdout(&scratchgrad(&[
        "sample", folder, "--n", "3", "--prompt", "em",
    ]));
    assert!(prompted.lines().all(|n| n.starts_with("em")), "{prompted}");
    // A finished run's folder keeps only its files, and is not trained over.
    let again = scratchgrad(&[
        "train",
        "--quiet",
        "--dataset",
        "names-mini",
        "--arch",
        "bigram",
        "--out",
        folder,
    ]);
    refused(
        &again,
        "already holds a run: choose another --out, or continue it",
    );
    refused(
        &scratchgrad(&["train", "--resume", folder]),
        "has already trained all 400 of its steps",
    );
}

#[test]
fn thread_counts_give_the_same_model_bytes() {
    let dir = common::temp_dir("lm-threads");
    let mlp = ["--arch", "mlp", "--steps", "150", "--hidden", "64"];
    // A GPT's batch is cut into parts that two threads take side by side, with dropout.
    let gpt = [
        "--arch",
        "gpt",
        "--steps",
        "20",
        "--embedding",
        "32",
        "--blocks",
        "2",
        "--dropout",
        "0.1",
    ];
    for (name, flags) in [("mlp", &mlp[..]), ("gpt", &gpt[..])] {
        let flags = [&["--dataset", "names-mini"], flags].concat();
        let one = dir.join(format!("{name}-one"));
        let two = dir.join(format!("{name}-two"));
        train(&one, &[&flags[..], &["--threads", "1"]].concat());
        train(&two, &[&flags[..], &["--threads", "2"]].concat());
        let read = |p: &Path| std::fs::read(p.join("model.safetensors")).unwrap();
        assert_eq!(read(&one), read(&two), "{name}");
    }
}

#[test]
fn shakespeare_continues_a_prompt() {
    let dir = common::temp_dir("lm-shakespeare");
    let out = dir.join("run");
    train(
        &out,
        &[
            "--dataset",
            "shakespeare-mini",
            "--arch",
            "mlp",
            "--context",
            "8",
            "--steps",
            "300",
        ],
    );
    let run = scratchgrad(&[
        "sample",
        out.to_str().unwrap(),
        "--n",
        "1",
        "--prompt",
        "ROMEO:",
        "--length",
        "60",
    ]);
    let text = stdout(&run);
    assert!(text.starts_with("ROMEO:"), "{text}");
    assert_eq!(text.trim_end_matches('\n').chars().count(), 66, "{text}");
}

#[test]
fn a_small_gpt_trains_on_shakespeare_and_writes() {
    let dir = common::temp_dir("lm-gpt");
    let out = dir.join("run");
    let flags = [
        "--dataset",
        "shakespeare-mini",
        "--arch",
        "gpt",
        "--steps",
        "120",
        "--lr",
        "0.003",
        "--context",
        "16",
    ];
    let run = train(
        &out,
        &[
            &flags[..],
            &["--embedding", "32", "--blocks", "1", "--heads", "2"],
        ]
        .concat(),
    );
    let text = stdout(&run);
    assert!(
        text.contains("gpt (context 16, embedding 32, 2 heads, 1 blocks)"),
        "{text}"
    );
    let s = summary(&out);
    // 120 steps leave it far from good, but well below a uniform guess over the characters.
    let uniform = (s["vocabulary"].as_str().unwrap().chars().count() as f64).ln();
    assert!(s["test_loss"].as_f64().unwrap() < uniform - 0.5, "{s}");
    let written = stdout(&scratchgrad(&[
        "sample",
        out.to_str().unwrap(),
        "--n",
        "1",
        "--prompt",
        "KING",
        "--length",
        "40",
    ]));
    assert!(
        written.starts_with("KING") && written.trim_end_matches('\n').chars().count() == 44,
        "{written}"
    );
}

#[test]
fn a_wavenet_and_a_gpt_learn_names_and_end_them() {
    let dir = common::temp_dir("lm-tree");
    for (arch, extra) in [
        ("wavenet", &["--steps", "600"][..]),
        (
            "gpt",
            &[
                "--steps",
                "150",
                "--lr",
                "0.003",
                "--embedding",
                "32",
                "--blocks",
                "1",
            ][..],
        ),
    ] {
        let out = dir.join(arch);
        let flags = ["--dataset", "names-mini", "--arch", arch, "--seed", "3"];
        let run = train(&out, &[&flags[..], extra].concat());
        let s = summary(&out);
        let text = stdout(&run);
        // Well below a uniform guess over the 27 characters (ln 27 = 3.30) and below what a
        // model that learnt only the letters' frequencies gets (about 2.9 nats on names).
        let test_loss = s["test_loss"].as_f64().unwrap();
        assert!(test_loss < 2.7, "{arch}: {test_loss}\n{text}");
        // `eval` rebuilds the held-out split and gets the loss the run reported.
        let evaluated = stdout(&scratchgrad(&[
            "eval",
            "--model",
            out.join("model.safetensors").to_str().unwrap(),
        ]));
        assert!(
            evaluated.contains(&format!("{test_loss:.4}")),
            "{arch}: {evaluated} against {test_loss}"
        );
        // Every sample is one name: letters only, ended by the model.
        let names = stdout(&scratchgrad(&["sample", out.to_str().unwrap(), "--n", "8"]));
        assert_eq!(names.lines().count(), 8, "{names}");
        assert!(
            names
                .lines()
                .all(|n| n.len() < 40 && n.chars().all(|c| c.is_ascii_lowercase())),
            "{arch}: {names}"
        );
    }
    let wavenet = summary(&dir.join("wavenet"));
    assert_eq!(wavenet["parameters"], 76_579, "makemore part 5's count");
}

#[test]
fn a_stopped_run_resumes_to_the_same_bytes_as_one_that_never_stopped() {
    let dir = common::temp_dir("lm-resume");
    let flags = [
        "--dataset",
        "names-mini",
        "--arch",
        "gpt",
        "--steps",
        "400",
        "--eval-every",
        "20",
        "--embedding",
        "32",
        "--blocks",
        "2",
        "--seed",
        "5",
    ];
    let straight = dir.join("straight");
    train(&straight, &flags);
    // The same run stopped with Ctrl-C once its first checkpoint is written, then resumed.
    let stopped = dir.join("stopped");
    let out = stopped.to_str().unwrap();
    // A data folder given to the run is not kept with it: the hint to resume repeats it.
    let data = dir.join("data");
    let data = data.to_str().unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_scratchgrad"))
        .args(
            [
                &["train", "--quiet", "--out", out, "--data-dir", data][..],
                &flags,
            ]
            .concat(),
        )
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let started = std::time::Instant::now();
    while !stopped.join("checkpoint.safetensors").exists() {
        assert!(started.elapsed().as_secs() < 60, "no checkpoint written");
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    // SAFETY: kill(2) with a live child's pid and a valid signal number.
    assert_eq!(
        unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGINT) },
        0
    );
    let done = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&done.stderr);
    assert_eq!(done.status.code(), Some(130), "{err}");
    assert!(
        err.contains(&format!(
            "resume with: scratchgrad train --resume {out} --data-dir {data}"
        )),
        "{err}"
    );
    assert!(!stopped.join("summary.json").exists());
    // Settings cannot change on the way, and an image network's flags mean nothing here.
    refused(
        &scratchgrad(&["train", "--resume", out, "--lr", "0.1"]),
        "--lr: a resumed language-model run keeps its settings",
    );
    refused(
        &scratchgrad(&["train", "--resume", out, "--epochs", "3"]),
        "--epochs: a resumed language-model run keeps its settings",
    );
    // A checkpoint is not a model to sample from, and says so.
    refused(
        &scratchgrad(&["sample", &format!("{out}/checkpoint.safetensors")]),
        "is a language model's training checkpoint: give its run's folder",
    );
    // A history lost on the way is only a shorter curve.
    std::fs::remove_file(stopped.join("metrics.jsonl")).unwrap();
    let resumed = scratchgrad(&["train", "--resume", out, "--quiet"]);
    assert!(
        resumed.status.success(),
        "{}",
        String::from_utf8_lossy(&resumed.stderr)
    );
    assert!(
        stdout(&resumed).starts_with("resuming gpt"),
        "{}",
        stdout(&resumed)
    );
    let model = |d: &Path| std::fs::read(d.join("model.safetensors")).unwrap();
    assert!(
        model(&straight) == model(&stopped),
        "the resumed model differs"
    );
    assert_eq!(
        summary(&straight)["test_loss"],
        summary(&stopped)["test_loss"]
    );
    refused(
        &scratchgrad(&["train", "--resume", out]),
        "has already trained all 400 of its steps",
    );
}

/// `sample`'s output is all it makes: once its reader has gone (`sample ... | head -c 4`), it
/// stops drawing and exits, where it used to go on writing all the text asked for into the
/// void: here 100,000 passages of 100,000 characters, which it could not finish in days.
#[test]
fn sampling_stops_when_its_reader_goes() {
    use std::io::Read;
    use std::process::Stdio;
    use std::time::{Duration, Instant};
    let dir = common::temp_dir("lm-reader-goes");
    let out = dir.join("run");
    train(
        &out,
        &[
            "--dataset",
            "shakespeare-mini",
            "--arch",
            "bigram",
            "--steps",
            "20",
        ],
    );
    let mut child = Command::new(env!("CARGO_BIN_EXE_scratchgrad"))
        .args(["sample", out.to_str().unwrap()])
        .args(["--n", "100000", "--length", "100000"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = [0u8; 4];
    child.stdout.take().unwrap().read_exact(&mut first).unwrap();
    // The pipe's reading end is closed now: the next write fails and ends the drawing. The
    // limit only stops a process that never ends (it ends within milliseconds).
    let began = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if began.elapsed() > Duration::from_secs(300) {
            child.kill().unwrap();
            panic!("sample went on drawing for 5 minutes after its reader had gone");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut err = String::new();
    child.stderr.unwrap().read_to_string(&mut err).unwrap();
    assert!(status.success(), "{err}");
    assert!(err.is_empty(), "{err}");
}

#[test]
fn bad_language_model_input_is_one_line() {
    let dir = common::temp_dir("lm-bad");
    let out = dir.join("run");
    train(
        &out,
        &[
            "--dataset",
            "names-mini",
            "--arch",
            "bigram",
            "--steps",
            "20",
        ],
    );
    let folder = out.to_str().unwrap();
    refused(
        &scratchgrad(&["sample", folder, "--temperature", "0"]),
        "--temperature: must be a number above 0",
    );
    refused(
        &scratchgrad(&["sample", folder, "--temperature", "nan"]),
        "--temperature",
    );
    // "-inf" reads as a value, not as an option named -i.
    refused(
        &scratchgrad(&["sample", folder, "--temperature", "-inf"]),
        "--temperature: must be a number above 0",
    );
    refused(
        &scratchgrad(&["sample", folder, "--top-k", "0"]),
        "--top-k: must keep at least 1",
    );
    refused(
        &scratchgrad(&["sample", folder, "--prompt", "Zoë"]),
        "which the model never saw",
    );
    refused(
        &scratchgrad(&["sample", folder, "--prompt", "a.b"]),
        "marks where a line ends",
    );
    refused(
        &scratchgrad(&["sample", folder, "--n", "0"]),
        "--n: must be 1 to",
    );
    // The image commands refuse a language model in one line, and write nothing.
    let model = out.join("model.safetensors");
    let model = model.to_str().unwrap();
    let onnx = dir.join("lm.onnx");
    refused(
        &scratchgrad(&["export", model, "--onnx", onnx.to_str().unwrap()]),
        "is a language model, not an image classifier",
    );
    assert!(!onnx.exists());
    refused(
        &scratchgrad(&["predict", "--model", model, "/dev/null"]),
        "is a language model, not an image classifier",
    );
    refused(
        &scratchgrad(&["eval", "--model", model, "--dataset", "names-mini"]),
        "is a language model: it is evaluated on the held-out part of the text it learnt",
    );
    let image_run = dir.join("image-run");
    let trained = scratchgrad(&common::train_args(
        &image_run,
        &["--layers", "linear10", "--epochs", "1"],
    ));
    assert!(trained.status.success());
    let image_model = image_run.join("model.safetensors");
    refused(
        &scratchgrad(&[
            "eval",
            "--model",
            image_model.to_str().unwrap(),
            "--dataset",
            "names",
        ]),
        "is an image classifier: it cannot be evaluated on names, a text",
    );
    refused(
        &scratchgrad(&["sample", image_run.to_str().unwrap()]),
        "is an image classifier, not a language model",
    );
    let not_a_model = dir.join("empty.safetensors");
    std::fs::write(&not_a_model, b"").unwrap();
    refused(
        &scratchgrad(&["sample", not_a_model.to_str().unwrap()]),
        "too short for a safetensors file",
    );
    let missing = dir.join("nothing-here");
    refused(
        &scratchgrad(&["sample", missing.to_str().unwrap()]),
        "nothing-here",
    );
    let text_flags = ["train", "--quiet", "--dataset", "names-mini", "--out"];
    let other = dir.join("other");
    let other = other.to_str().unwrap();
    let with = |extra: &[&str]| scratchgrad(&[&text_flags[..], &[other], extra].concat());
    refused(
        &with(&["--epochs", "3"]),
        "a language model trains for --steps",
    );
    refused(
        &with(&["--arch", "transformer"]),
        "unknown language model `transformer`",
    );
    refused(
        &with(&["--arch", "bigram", "--context", "3"]),
        "--context does not apply to a bigram",
    );
    refused(&with(&["--steps", "0"]), "--steps: must be 1 to");
    refused(&with(&["--hidden", "10,10"]), "one hidden layer");
    refused(&with(&["--optimizer", "momentum"]), "sgd or adam");
    // on text, --layers writes a language model, whose layers must end in one position
    refused(
        &with(&["--layers", "linear10"]),
        "--layers: the layers leave",
    );
    refused(&with(&["--context", "1000"]), "`context` must be 1 to 256");
    refused(
        &with(&["--arch", "wavenet", "--context", "6"]),
        "it must be 2, 4, 8, 16",
    );
    refused(
        &with(&["--arch", "mlp", "--heads", "2"]),
        "--heads is for --arch gpt",
    );
    refused(
        &with(&["--arch", "wavenet", "--dropout", "0.1"]),
        "--dropout is for --arch gpt",
    );
    refused(
        &with(&["--arch", "gpt", "--dropout", "0.95"]),
        "--dropout: must be from 0 to 0.9, not 0.95",
    );
    refused(
        &with(&["--arch", "gpt", "--dropout", "nan"]),
        "--dropout: must be from 0 to 0.9",
    );
    let gpt = |extra: &[&str]| {
        let flags = [
            "train",
            "--quiet",
            "--dataset",
            "shakespeare-mini",
            "--arch",
            "gpt",
            "--out",
            other,
        ];
        scratchgrad(&[&flags[..], extra].concat())
    };
    refused(
        &gpt(&["--embedding", "30", "--heads", "4"]),
        "must split evenly into the 4 heads",
    );
    refused(
        &gpt(&["--hidden", "64"]),
        "--hidden does not apply to a gpt",
    );
    // A batch whose step needs more memory than any machine here has is refused before
    // anything is allocated (it once aborted asking for gigabytes), and leaves no folder.
    refused(&gpt(&["--batch-size", "65536"]), "lower --batch-size");
    let image = dir.join("image");
    refused(
        &scratchgrad(&[
            "train",
            "--quiet",
            "--dataset",
            "mnist-mini",
            "--steps",
            "5",
            "--out",
            image.to_str().unwrap(),
        ]),
        "--steps is for language models",
    );
    // Nothing was left by the refused runs.
    assert!(!Path::new(other).exists());
    assert!(!image.exists());
}

#[test]
fn a_layer_list_trains_a_language_model() {
    let dir = common::temp_dir("lm-layers");
    let out = dir.join("run");
    let flags = [
        "--dataset",
        "names-mini",
        "--context",
        "3",
        "--embedding",
        "10",
        "--layers",
        "flatten,linear200,bn,tanh",
        "--steps",
        "600",
        "--seed",
        "3",
    ];
    let run = train(&out, &flags);
    let s = summary(&out);
    // The lectures' MLP (12,097 parameters) with a bias in its hidden layer (200 more).
    assert_eq!(s["parameters"], 12_297);
    let test_loss = s["test_loss"].as_f64().unwrap();
    assert!(test_loss < 2.7, "{test_loss}\n{}", stdout(&run));
    let evaluated = stdout(&scratchgrad(&[
        "eval",
        "--model",
        out.join("model.safetensors").to_str().unwrap(),
    ]));
    assert!(
        evaluated.contains(&format!("{test_loss:.4}")),
        "{evaluated}"
    );
    let names = stdout(&scratchgrad(&["sample", out.to_str().unwrap(), "--n", "5"]));
    assert_eq!(names.lines().count(), 5, "{names}");
    for (layers, want) in [
        ("flatten,linear", "`linear` is not a language model's layer"),
        (
            "flatten3,linear10",
            "flatten3 joins 3 neighbouring positions",
        ),
        ("linear10,tanh", "end the joining with flatten"),
        ("flatten,,linear10", "an item of the list is empty"),
        ("flatten,linear0", "a layer's size is 1 to 4096"),
        (
            "flatten,linear99999999999999999999",
            "a layer's size is 1 to 4096",
        ),
    ] {
        let run = scratchgrad(&[
            "train",
            "--dataset",
            "names-mini",
            "--layers",
            layers,
            "--out",
            dir.join("refused").to_str().unwrap(),
        ]);
        refused(&run, want);
        assert!(!dir.join("refused").exists(), "{layers}");
    }
}
