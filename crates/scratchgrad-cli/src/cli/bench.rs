//! `scratchgrad bench`: epoch time of a network (the texts' MLP by default, or `--arch cnn`,
//! `lenet5`) through each engine, against the matrix products alone and against PyTorch, each
//! contender in its own process, rounds alternating between them; or, with `--scaling`, how
//! the epoch scales with threads beside what the machine's cores can do at once ([`scaling`]).

mod scaling;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use clap::Args;
use scratchgrad::arch::{Activation, Architecture, LayerSpec};
use scratchgrad::array::{num_threads, set_num_threads, Array, Rng};
use scratchgrad::data::datasets::epoch_order;
use scratchgrad::data::{Dataset, DatasetName, Split};
use scratchgrad::train::{evaluate, Engine, Model, OptimizerKind, Preset, Schedule, TrainConfig};

use super::{data, interrupt};
use crate::output::{errln, outln};
use crate::Failure;

/// Time one MNIST epoch per engine, beside the GEMM-only bound and PyTorch
///
/// The MLP trains with SGD (lr 0.1), the CNNs with Adam (lr 0.001), as in PyTorch's column.
#[derive(Args)]
pub struct BenchArgs {
    /// The network: mlp (the texts', --hidden wide), cnn or lenet5
    #[arg(long, default_value = "mlp")]
    arch: Preset,
    /// Hidden layer width of the MLP
    #[arg(long, allow_negative_numbers = true, default_value_t = 256)]
    hidden: usize,
    /// Examples per step
    #[arg(long, allow_negative_numbers = true, default_value_t = 64)]
    batch_size: usize,
    /// Threads for every contender [default: all cores]
    #[arg(long, allow_negative_numbers = true)]
    threads: Option<usize>,
    /// Rounds; each runs every contender once, in its own process
    #[arg(long, allow_negative_numbers = true, default_value_t = 5)]
    rounds: usize,
    /// Python with torch for the PyTorch column (skipped if `import torch` fails)
    #[arg(long, default_value = "python3")]
    python: String,
    /// Print one JSON object instead of a table
    #[arg(long)]
    json: bool,
    /// Instead of the contenders: the autograd engine's epoch on 1 thread and on --threads,
    /// beside --threads one-thread epochs run at once (how much parallel work this machine's
    /// cores can do right now, to judge the speedup against)
    #[arg(long)]
    scaling: bool,
    /// Where data sets are kept [default: $SCRATCHGRAD_DATA, else ~/.cache/scratchgrad]
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// Run one contender (autograd, manual or gemm) here and print its epoch time as JSON
    #[arg(long, hide = true)]
    worker: Option<String>,
    /// How many times a worker times evaluating the test set after its epoch (0: none)
    #[arg(long, allow_negative_numbers = true, hide = true, default_value_t = 5)]
    eval_repeats: usize,
    /// A worker prints `ready` after its warm-up and starts its epoch on a line from stdin
    #[arg(long, hide = true)]
    start_signal: bool,
}

const WARM_UP_STEPS: usize = 50;

/// An error once Ctrl-C or SIGTERM has arrived: loading the data set installs the handler that
/// turns the first one into a request, so a bench checks it between steps and between runs.
fn stop_if_interrupted() -> Result<(), Failure> {
    if interrupt::requested() {
        return Err(Failure::new("interrupted: no timings were printed").with_exit_code(130));
    }
    Ok(())
}

/// What one worker measured: an epoch of training, and (for our engines) evaluating the
/// 10,000 test images.
struct WorkerTimes {
    epoch: f64,
    eval: Option<f64>,
}

/// One epoch of `contender` in this process after a short warm-up, then the median of
/// `--eval-repeats` evaluations of `test`; seconds.
fn run_worker(
    contender: &str,
    args: &BenchArgs,
    train: &Dataset,
    test: &Dataset,
) -> Result<WorkerTimes, Failure> {
    let arch = args.arch();
    let order = epoch_order(train.len(), 0, 0);
    let batches: Vec<&[usize]> = order.chunks(args.batch_size).collect();
    if contender == "gemm" {
        // The step's matrix products and nothing else: the floor for any trainer.
        let products = products_of_a_step(&arch, args.batch_size);
        for _ in 0..WARM_UP_STEPS {
            stop_if_interrupted()?;
            products.iter().for_each(|p| p());
        }
        let t = Instant::now();
        for _ in 0..batches.len() {
            stop_if_interrupted()?;
            products.iter().for_each(|p| p());
        }
        return Ok(WorkerTimes {
            epoch: t.elapsed().as_secs_f64(),
            eval: None,
        });
    }
    let engine: Engine = contender.parse().map_err(Failure::new)?;
    let mut model = Model::fresh(&arch, engine, 0);
    let mut optimizer = args.optimizer().build(args.lr());
    for chunk in batches.iter().take(WARM_UP_STEPS) {
        stop_if_interrupted()?;
        let (x, y) = train.batch(chunk);
        model.train_step(x, &y, optimizer.as_mut(), 0);
    }
    if args.start_signal {
        scaling::wait_for_start()?;
    }
    let t = Instant::now();
    for (b, chunk) in batches.iter().enumerate() {
        stop_if_interrupted()?;
        let (x, y) = train.batch(chunk);
        model.train_step(x, &y, optimizer.as_mut(), b as u64);
    }
    let epoch = t.elapsed().as_secs_f64();
    let evals: Vec<f64> = (0..args.eval_repeats)
        .map(|_| {
            let t = Instant::now();
            let _ = std::hint::black_box(evaluate(&mut model, &arch, test, 10));
            t.elapsed().as_secs_f64()
        })
        .collect();
    Ok(WorkerTimes {
        epoch,
        eval: (!evals.is_empty()).then(|| median(&evals)),
    })
}

/// The matrix products of one training step of `arch` on batches of `batch`, on random
/// operands of the right shapes, in the orientations the engines use: for each linear or
/// convolution layer the forward product and the weight gradient's, and the input gradient's
/// for every layer but the first.
fn products_of_a_step(arch: &Architecture, batch: usize) -> Vec<Box<dyn Fn()>> {
    let mut rng = Rng::seed(0);
    let mut random = |shape: &[usize]| Array::<f32>::rand_uniform(shape, -0.1, 0.1, &mut rng);
    let shapes = arch.shapes().expect("a validated architecture");
    let mut input = arch.input.clone();
    let mut products: Vec<Box<dyn Fn()>> = Vec::new();
    let mut first = true;
    for (layer, output) in arch.layers.iter().zip(&shapes) {
        match layer {
            LayerSpec::Linear { outputs } => {
                let (x, w, g) = (
                    random(&[batch, input[0]]),
                    random(&[*outputs, input[0]]),
                    random(&[batch, *outputs]),
                );
                let needs_dx = !first;
                products.push(Box::new(move || {
                    std::hint::black_box(x.matmul_t(false, &w, true)); // x W^T
                    std::hint::black_box(g.matmul_t(true, &x, false)); // dW = g^T x
                    if needs_dx {
                        std::hint::black_box(g.matmul(&w)); // dx = g W
                    }
                }));
                first = false;
            }
            LayerSpec::Conv2d { outputs, window } => {
                let patch = input[0] * window.kh * window.kw;
                let positions = batch * output[1] * output[2];
                let cols = random(&[patch, positions]);
                let (w, g_rows, g_channels) = (
                    random(&[*outputs, patch]),
                    random(&[positions, *outputs]),
                    random(&[*outputs, positions]),
                );
                let needs_dx = !first;
                products.push(Box::new(move || {
                    std::hint::black_box(cols.matmul_t(true, &w, true)); // Y^T = X^T W^T
                    std::hint::black_box(cols.matmul(&g_rows)); // dW^T = X G^T
                    if needs_dx {
                        std::hint::black_box(w.matmul_t(true, &g_channels, false));
                        // dX = W^T G
                    }
                }));
                first = false;
            }
            _ => {}
        }
        input = output.clone();
    }
    products
}

/// A worker's JSON line (the last line it printed), or its error as one line.
fn worker_json(
    contender: &str,
    stdout: &[u8],
    stderr: &[u8],
) -> Result<serde_json::Value, Failure> {
    let stdout = String::from_utf8_lossy(stdout);
    let last = stdout.lines().last().unwrap_or("");
    serde_json::from_str(last).map_err(|_| {
        let stderr = String::from_utf8_lossy(stderr);
        let why = stderr
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty() && !l.contains("RUST_BACKTRACE"))
            .unwrap_or("it printed nothing");
        Failure::new(format!("the {contender} contender failed: {why}"))
    })
}

fn median(v: &[f64]) -> f64 {
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

impl BenchArgs {
    /// The network: the texts' MLP with `--hidden` units, or the named CNN.
    fn arch(&self) -> Architecture {
        match self.arch {
            Preset::Mlp => Architecture::mlp(784, &[self.hidden], 10, Activation::Sigmoid),
            preset => preset.arch(DatasetName::Mnist, None, None),
        }
    }

    /// SGD for the MLP (as the first benchmarks), Adam for the CNNs (as the PyTorch
    /// reference).
    fn optimizer(&self) -> OptimizerKind {
        match self.arch {
            Preset::Mlp => OptimizerKind::Sgd,
            _ => OptimizerKind::Adam,
        }
    }

    /// This program run as the worker that times `contender` on `threads` threads, then
    /// `eval_repeats` evaluations.
    fn worker_command(
        &self,
        me: &Path,
        contender: &str,
        threads: usize,
        eval_repeats: usize,
    ) -> Command {
        let mut c = Command::new(me);
        c.args([
            "bench",
            "--worker",
            contender,
            "--arch",
            &self.arch.to_string(),
        ]);
        c.args(["--eval-repeats", &eval_repeats.to_string()]);
        c.args(["--hidden", &self.hidden.to_string()]);
        c.args(["--batch-size", &self.batch_size.to_string()]);
        c.args(["--threads", &threads.to_string()]);
        if let Some(dir) = &self.data_dir {
            c.arg("--data-dir").arg(dir);
        }
        c
    }

    fn lr(&self) -> f64 {
        match self.optimizer() {
            OptimizerKind::Adam => 0.001,
            _ => 0.1,
        }
    }

    /// The same limits as `train` for the network and the batch, checked by the same code.
    fn check(&self) -> Result<(), Failure> {
        let config = TrainConfig {
            dataset: DatasetName::Mnist,
            arch: self.arch(),
            engine: Engine::Autograd,
            epochs: 1,
            batch_size: self.batch_size,
            lr: 0.1,
            optimizer: self.optimizer(),
            schedule: Schedule::Constant,
            seed: 0,
            val_split: 0.0,
        };
        config.validate().map_err(|e| {
            let flag = if e.setting == "batch_size" {
                "--batch-size"
            } else {
                "--hidden"
            };
            Failure::new(format!("{flag}: {}", e.message))
        })?;
        if !(1..=1000).contains(&self.rounds) {
            return Err(Failure::new(format!(
                "--rounds: must be 1 to 1000, not {}",
                self.rounds
            )));
        }
        Ok(())
    }
}

/// Runs `scratchgrad bench`.
pub fn run(args: BenchArgs) -> Result<(), Failure> {
    let threads = args.threads.unwrap_or_else(num_threads);
    if !(1..=256).contains(&threads) {
        return Err(Failure::new(format!(
            "--threads: must be 1 to 256, not {threads}"
        )));
    }
    args.check()?;
    if args.scaling && threads < 2 {
        return Err(Failure::new(
            "--scaling: compares 1 thread with more, so it needs --threads 2 or more",
        ));
    }
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    if args.scaling && threads > cores {
        return Err(Failure::new(format!(
            "--scaling: --threads {threads} is more than this machine's cores ({cores}); \
             one-thread runs side by side beyond them measure waiting, not capacity"
        )));
    }
    set_num_threads(threads);
    if let Some(contender) = &args.worker {
        let dir = data::folder(DatasetName::Mnist, args.data_dir.as_deref())?;
        let load = |split| {
            Dataset::load(DatasetName::Mnist, split, &dir).map_err(|e| Failure::new(e.to_string()))
        };
        let times = run_worker(contender, &args, &load(Split::Train)?, &load(Split::Test)?)?;
        outln!(
            "{}",
            serde_json::json!({ "epoch_seconds": times.epoch, "eval_seconds": times.eval })
        );
        return Ok(());
    }
    let mnist = data::folder(DatasetName::Mnist, args.data_dir.as_deref())?;
    data::ensure(
        DatasetName::Mnist,
        &[Split::Train, Split::Test],
        &mnist,
        args.json,
    )?;
    let me = std::env::current_exe()
        .map_err(|e| Failure::new(format!("cannot find this program's path: {e}")))?;
    if args.scaling {
        return scaling::run(&args, &me, threads);
    }
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tools/bench_pytorch.py");
    let torch = Command::new(&args.python)
        .args(["-c", "import torch"])
        .output()
        .is_ok_and(|o| o.status.success())
        && script.exists();
    let mut contenders = vec!["autograd", "manual", "gemm"];
    if torch {
        contenders.push("pytorch");
    }
    let arch_json = args.arch().to_json().to_string();
    let (hidden, batch, threads_s) = (
        args.hidden.to_string(),
        args.batch_size.to_string(),
        threads.to_string(),
    );
    let mut times: Vec<Vec<f64>> = vec![Vec::new(); contenders.len()];
    let mut evals: Vec<Vec<f64>> = vec![Vec::new(); contenders.len()];
    for round in 0..args.rounds {
        for (i, contender) in contenders.iter().enumerate() {
            let mut command = if *contender == "pytorch" {
                let mut c = Command::new(&args.python);
                c.arg(&script).arg("--data").arg(&mnist);
                c.args([
                    "--arch",
                    &arch_json,
                    "--optimizer",
                    &args.optimizer().to_string(),
                ]);
                c.args([
                    "--hidden",
                    &hidden,
                    "--batch-size",
                    &batch,
                    "--threads",
                    &threads_s,
                ]);
                c
            } else {
                args.worker_command(&me, contender, threads, args.eval_repeats)
            };
            let out = command
                .output()
                .map_err(|e| Failure::new(format!("cannot run the {contender} contender: {e}")))?;
            stop_if_interrupted()?;
            let json = worker_json(contender, &out.stdout, &out.stderr)?;
            times[i].push(json["epoch_seconds"].as_f64().unwrap_or(f64::NAN));
            if let Some(eval) = json["eval_seconds"].as_f64() {
                evals[i].push(eval);
            }
        }
        if !args.json {
            errln!("round {}/{} done", round + 1, args.rounds);
        }
    }
    let medians: Vec<f64> = times.iter().map(|t| median(t)).collect();
    let eval_medians: Vec<Option<f64>> = evals
        .iter()
        .map(|e| (!e.is_empty()).then(|| median(e)))
        .collect();
    let torch_median = torch.then(|| medians[contenders.len() - 1]);
    if args.json {
        let rows: Vec<_> = (0..contenders.len())
            .map(|i| {
                serde_json::json!({
                    "contender": contenders[i],
                    "median_seconds": medians[i],
                    "seconds": times[i],
                    "eval_median_seconds": eval_medians[i],
                })
            })
            .collect();
        outln!(
            "{}",
            serde_json::json!({"arch": args.arch().to_json(), "hidden": args.hidden, "batch_size": args.batch_size, "threads": threads, "rounds": args.rounds, "results": rows})
        );
        return crate::output::results_delivered();
    }
    outln!(
        "one MNIST epoch (60,000 images) of {} ({}), batch {}, {} thread(s), median of {} rounds",
        args.arch().describe(),
        args.optimizer(),
        args.batch_size,
        threads,
        args.rounds
    );
    outln!(
        "{:<10} {:>10} {:>19} {:>10} {:>10}",
        "contender",
        "median s",
        "min - max s",
        "vs gemm",
        "vs torch"
    );
    for ((c, t), m) in contenders.iter().zip(&times).zip(&medians) {
        let (lo, hi) = t.iter().fold((f64::INFINITY, 0.0f64), |(lo, hi), &v| {
            (lo.min(v), hi.max(v))
        });
        let vs_torch = torch_median.map_or("-".to_string(), |p| format!("{:.2}x", m / p));
        outln!(
            "{c:<10} {m:>10.3} {:>19} {:>9.2}x {vs_torch:>10}",
            format!("{lo:.3} - {hi:.3}"),
            m / medians[2]
        );
    }
    outln!(
        "evaluating the 10,000 test images (median of {} per round, then of rounds)",
        args.eval_repeats
    );
    for (c, eval) in contenders.iter().zip(&eval_medians) {
        if let Some(eval) = eval {
            outln!("{c:<10} {:>10.1} ms", eval * 1000.0);
        }
    }
    if !torch {
        outln!(
            "(PyTorch skipped: `{} -c \"import torch\"` failed; pass --python)",
            args.python
        );
    }
    crate::output::results_delivered()
}
