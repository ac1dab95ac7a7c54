//! `scratchgrad bench --scaling`: how much faster an epoch runs on N threads than on one,
//! beside how much work N cores of this machine can do at once right now.
//!
//! Two cores of a shared machine are not always two cores: two independent one-thread jobs
//! side by side have run anywhere from 1.2x to about 2x the throughput of one. So each round also
//! runs N one-thread epochs at once and takes the machine's capacity as
//! N x (time alone) / (time side by side); the N-thread speedup is judged as a share of it.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::{Child, ChildStdout, Stdio};
use std::thread::JoinHandle;

use super::{median, worker_json, BenchArgs};
use crate::output::{errln, outln};
use crate::Failure;

/// What a worker prints once it has loaded the data and warmed up.
const READY: &str = "ready";

/// In a worker: says it is ready, then waits for the line that starts its timed epoch, so
/// that epochs meant to run side by side start together.
pub(super) fn wait_for_start() -> Result<(), Failure> {
    outln!("{READY}");
    let mut line = String::new();
    match std::io::stdin().read_line(&mut line) {
        Ok(0) => Err(Failure::new(
            "the start signal never came (the bench that started this worker has stopped)",
        )),
        Ok(_) => Ok(()),
        Err(e) => Err(Failure::new(format!("cannot read the start signal: {e}"))),
    }
}

/// A started worker, waiting at its start line. Dropped before it finished (another worker
/// failed), it is killed, so no worker outlives the bench.
struct Worker {
    child: Child,
    stdout: BufReader<ChildStdout>,
    /// Its standard error, read as it comes (a full pipe would stop the worker).
    stderr: Option<JoinHandle<Vec<u8>>>,
}

impl Drop for Worker {
    fn drop(&mut self) {
        // Nothing to do for a worker already waited for: `kill` and `wait` see its status.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Worker {
    /// Starts the autograd worker on `threads` threads and waits until it is ready.
    fn start(args: &BenchArgs, me: &Path, threads: usize) -> Result<Worker, Failure> {
        let mut command = args.worker_command(me, "autograd", threads, 0);
        command
            .arg("--start-signal")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = command
            .spawn()
            .map_err(|e| Failure::new(format!("cannot run the autograd worker: {e}")))?;
        let mut stdout = BufReader::new(child.stdout.take().expect("stdout is piped"));
        let mut errors = child.stderr.take().expect("stderr is piped");
        let stderr = std::thread::spawn(move || {
            let mut all = Vec::new();
            let _ = errors.read_to_end(&mut all);
            all
        });
        let mut line = String::new();
        let _ = stdout.read_line(&mut line);
        let worker = Worker {
            child,
            stdout,
            stderr: Some(stderr),
        };
        if line.trim() != READY {
            // It stopped before its epoch: its own error says why.
            return Err(worker
                .finish()
                .err()
                .unwrap_or_else(|| Failure::new("the autograd worker did not start its epoch")));
        }
        Ok(worker)
    }

    /// Sends the start line.
    fn go(&mut self) -> Result<(), Failure> {
        let stdin = self.child.stdin.as_mut().expect("stdin is piped");
        stdin
            .write_all(b"go\n")
            .and_then(|()| stdin.flush())
            .map_err(|e| Failure::new(format!("cannot start the autograd worker: {e}")))
    }

    /// Waits for the worker to end; its epoch's seconds.
    fn finish(mut self) -> Result<f64, Failure> {
        // A worker still at its start line now reads the end of its input and stops.
        drop(self.child.stdin.take());
        let mut rest = Vec::new();
        let _ = self.stdout.read_to_end(&mut rest);
        let status = self
            .child
            .wait()
            .map_err(|e| Failure::new(format!("cannot wait for the autograd worker: {e}")))?;
        let stderr = self.stderr.take().map(|h| h.join().unwrap_or_default());
        let stderr = stderr.unwrap_or_default();
        if !status.success() && String::from_utf8_lossy(&stderr).trim().is_empty() {
            return Err(Failure::new(format!(
                "the autograd worker stopped ({status}) without saying why"
            )));
        }
        let json = worker_json("autograd", &rest, &stderr)?;
        json["epoch_seconds"]
            .as_f64()
            .ok_or_else(|| Failure::new("the autograd worker printed no epoch time"))
    }
}

/// Epochs of `workers` started together, each on `threads` threads; each one's seconds.
fn together(
    args: &BenchArgs,
    me: &Path,
    workers: usize,
    threads: usize,
) -> Result<Vec<f64>, Failure> {
    let mut started = Vec::new();
    for _ in 0..workers {
        started.push(Worker::start(args, me, threads)?);
    }
    for i in 0..started.len() {
        if let Err(cannot) = started[i].go() {
            // It stopped before its start: its own error says why (the others are killed
            // as they are dropped).
            return Err(started.swap_remove(i).finish().err().unwrap_or(cannot));
        }
    }
    started.into_iter().map(Worker::finish).collect()
}

/// One round's measurements, in seconds per epoch.
struct Round {
    alone: f64,
    threaded: f64,
    side_by_side: Vec<f64>,
}

impl Round {
    /// The mean epoch of the one-thread runs side by side.
    fn side_by_side_mean(&self) -> f64 {
        self.side_by_side.iter().sum::<f64>() / self.side_by_side.len() as f64
    }

    /// The N-thread epoch's speedup over the one-thread epoch.
    fn speedup(&self) -> f64 {
        self.alone / self.threaded
    }

    /// N x (time alone) / (mean time of the N side by side).
    fn capacity(&self) -> f64 {
        self.side_by_side.len() as f64 * self.alone / self.side_by_side_mean()
    }
}

/// Runs `scratchgrad bench --scaling` with `threads` threads.
pub(super) fn run(args: &BenchArgs, me: &Path, threads: usize) -> Result<(), Failure> {
    // An interrupt reaches the workers too: say so rather than that a worker failed.
    let measure = |workers: usize, threads: usize| {
        let times = together(args, me, workers, threads);
        super::stop_if_interrupted()?;
        times
    };
    let mut rounds = Vec::new();
    for round in 0..args.rounds {
        rounds.push(Round {
            alone: measure(1, 1)?[0],
            threaded: measure(1, threads)?[0],
            side_by_side: measure(threads, 1)?,
        });
        if !args.json {
            errln!("round {}/{} done", round + 1, args.rounds);
        }
    }
    let of = |f: fn(&Round) -> f64| median(&rounds.iter().map(f).collect::<Vec<_>>());
    let alone = of(|r| r.alone);
    let threaded = of(|r| r.threaded);
    let side_by_side = of(Round::side_by_side_mean);
    // Each round's own ratios, then their medians: a load that changes between rounds
    // cancels within one. (So they need not equal the ratios of the median times.)
    let (speedup, capacity) = (of(Round::speedup), of(Round::capacity));
    let share = of(|r| r.speedup() / r.capacity());
    if args.json {
        outln!(
            "{}",
            serde_json::json!({
                "arch": args.arch().to_json(), "batch_size": args.batch_size, "threads": threads,
                "rounds": args.rounds, "one_thread_seconds": alone, "threads_seconds": threaded,
                "side_by_side_seconds": side_by_side, "speedup": speedup, "capacity": capacity,
                "share_of_capacity": share,
                "rounds_seconds": rounds.iter().map(|r| serde_json::json!({
                    "one_thread": r.alone, "threads": r.threaded, "side_by_side": r.side_by_side,
                })).collect::<Vec<_>>(),
            })
        );
        return crate::output::results_delivered();
    }
    outln!(
        "one MNIST epoch of {} with the autograd engine, batch {}, medians of {} rounds (each \
         ratio is the median of the rounds' own)",
        args.arch().describe(),
        args.batch_size,
        args.rounds
    );
    let rows = [
        ("1 thread".to_string(), alone, String::new()),
        (
            format!("{threads} threads"),
            threaded,
            format!("speedup  {speedup:.2}x"),
        ),
        (
            format!("{threads} one-thread epochs at once, each"),
            side_by_side,
            format!("capacity {capacity:.2}x"),
        ),
    ];
    for (what, seconds, ratio) in rows {
        let line = format!("  {what:<36} {seconds:>7.3} s   {ratio}");
        outln!("{}", line.trim_end());
    }
    outln!(
        "the {threads}-thread speedup is {:.0}% of what {threads} cores did side by side in the same rounds",
        share * 100.0
    );
    crate::output::results_delivered()
}

#[cfg(test)]
mod tests {
    use super::Round;

    #[test]
    fn capacity_and_speedup_follow_the_issues_definitions() {
        // Issue 25's example: two one-thread epochs side by side at 1.97x the throughput of
        // one, and a 2-thread epoch 1.22x faster than a 1-thread one: 62% of the capacity.
        let round = Round {
            alone: 1.0,
            threaded: 1.0 / 1.22,
            side_by_side: vec![2.0 / 1.97, 2.0 / 1.97],
        };
        assert!((round.capacity() - 1.97).abs() < 1e-12);
        assert!((round.speedup() - 1.22).abs() < 1e-12);
        assert_eq!((100.0 * round.speedup() / round.capacity()).round(), 62.0);
        // Two jobs that share one core's worth of work: no capacity beyond one core.
        let shared = Round {
            alone: 1.0,
            threaded: 1.0,
            side_by_side: vec![2.0, 2.0],
        };
        assert_eq!(shared.capacity(), 1.0);
    }
}
