#!/usr/bin/env python3
"""The Python package's speed targets, side by side in one run (alternating A B A B, medians):

- a Tensor matmul of 1000x784 by 784x256 float32 from numpy inputs, numpy's result out,
  against numpy's own `a @ b` on the same arrays;
- one MNIST epoch through `scratchgrad.train` against the command line's
  `scratchgrad train` (each run's own epoch time from its metrics.jsonl, same settings);
- `import scratchgrad` in a fresh interpreter, less the interpreter's own start.

Usage (in a virtual environment with numpy and the scratchgrad wheel installed; MNIST in
the default data folder, `scratchgrad data fetch mnist`):
    python tools/bench_python.py --cli target/release/scratchgrad [--rounds 5] [--threads 2]
"""
import argparse
import json
import pathlib
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

import scratchgrad as sg


def best_of(f, repeats):
    """The fastest of `repeats` calls of f, in seconds (the least disturbed by the machine)."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        f()
        times.append(time.perf_counter() - start)
    return min(times)


def matmul(rounds):
    rng = np.random.default_rng(0)
    a = rng.standard_normal((1000, 784), dtype=np.float32)
    b = rng.standard_normal((784, 256), dtype=np.float32)
    ours = (sg.Tensor(a) @ sg.Tensor(b)).numpy()
    np.testing.assert_allclose(ours, a @ b, rtol=1e-3, atol=1e-3)
    times = {"numpy": [], "scratchgrad": []}
    for _ in range(rounds):
        times["numpy"].append(best_of(lambda: a @ b, 20))
        times["scratchgrad"].append(best_of(lambda: (sg.Tensor(a) @ sg.Tensor(b)).numpy(), 20))
    n, s = statistics.median(times["numpy"]), statistics.median(times["scratchgrad"])
    print(f"matmul 1000x784 @ 784x256 float32: numpy {n * 1e3:.2f} ms, "
          f"scratchgrad.Tensor {s * 1e3:.2f} ms (numpy in and out), ratio {s / n:.2f}")


def epoch_seconds(folder):
    lines = (pathlib.Path(folder) / "metrics.jsonl").read_text().splitlines()
    return json.loads(lines[-1])["seconds"]


def epoch(cli, rounds, threads):
    times = {"cli": [], "python": []}
    with tempfile.TemporaryDirectory() as work:
        for r in range(rounds):
            out = f"{work}/cli-{r}"
            subprocess.run([cli, "train", "--dataset", "mnist", "--epochs", "1", "--threads",
                            str(threads), "--out", out, "--quiet"], check=True)
            times["cli"].append(epoch_seconds(out))
            out = f"{work}/python-{r}"
            sg.train("mnist", epochs=1, threads=threads, out=out, progress=False)
            times["python"].append(epoch_seconds(out))
    c, p = statistics.median(times["cli"]), statistics.median(times["python"])
    print(f"MNIST epoch (784-256-10 sigmoid, {threads} threads): command line {c:.3f} s, "
          f"scratchgrad.train {p:.3f} s, ratio {p / c:.3f}")


def import_time(rounds):
    def run(code):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True)
        return time.perf_counter() - start

    bare, package = [], []
    for _ in range(rounds):
        bare.append(run("pass"))
        package.append(run("import scratchgrad"))
    print(f"import scratchgrad: {(statistics.median(package) - statistics.median(bare)) * 1e3:.1f} ms "
          f"beyond the interpreter's start ({statistics.median(bare) * 1e3:.1f} ms)")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--cli", required=True, help="the scratchgrad binary")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--threads", type=int, default=2)
    a = p.parse_args()
    matmul(a.rounds)
    import_time(a.rounds * 2)
    epoch(a.cli, a.rounds, a.threads)


main()
