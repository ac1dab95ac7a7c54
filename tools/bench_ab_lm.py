#!/usr/bin/env python3
"""Before/after timing of two scratchgrad binaries on a language model: `train --dataset D
--arch A --steps S --eval-every S --threads T`, the two binaries alternating round by round
(A B, B A, ...), each run in its own process; the time of a run is its own `seconds` at its one evaluation
(metrics.jsonl), so writing files and samples is left out. Prints each round and the medians.

    git stash; cargo build --release; cp target/release/scratchgrad /tmp/before
    git stash pop; cargo build --release
    python3 tools/bench_ab_lm.py /tmp/before target/release/scratchgrad --rounds 4 --steps 200
        [--dataset shakespeare] [--arch gpt] [--threads 1]
"""
import argparse
import json
import pathlib
import statistics
import subprocess
import tempfile

DATA = pathlib.Path(__file__).resolve().parent.parent.parent / "shared" / "data"


def seconds(binary, a):
    with tempfile.TemporaryDirectory() as d:
        out = pathlib.Path(d) / "run"
        subprocess.run([binary, "train", "--quiet", "--dataset", a.dataset, "--data-dir", str(a.data_dir),
                        "--arch", a.arch, "--steps", str(a.steps), "--eval-every", str(a.steps),
                        "--threads", str(a.threads), "--out", str(out)], check=True, capture_output=True)
        return json.loads((out / "metrics.jsonl").read_text().splitlines()[-1])["seconds"]


def main():
    p = argparse.ArgumentParser()
    p.add_argument("before")
    p.add_argument("after")
    p.add_argument("--dataset", default="shakespeare")
    p.add_argument("--arch", default="gpt")
    p.add_argument("--steps", type=int, default=200)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--rounds", type=int, default=4)
    p.add_argument("--data-dir", type=pathlib.Path, default=DATA)
    a = p.parse_args()
    before, after = [], []
    for r in range(a.rounds):
        # A B, then B A: the second run of a pair tends to be slower on these machines (about
        # 1% in an A/A test), so each binary goes first in half of the rounds.
        if r % 2 == 0:
            before.append(seconds(a.before, a))
            after.append(seconds(a.after, a))
        else:
            after.append(seconds(a.after, a))
            before.append(seconds(a.before, a))
        print(f"round {r + 1}: before {before[-1]:.3f} s, after {after[-1]:.3f} s", flush=True)
    ratios = [y / x for x, y in zip(before, after)]
    print(f"median before {statistics.median(before):.3f} s, after {statistics.median(after):.3f} s, "
          f"median ratio after/before {statistics.median(ratios):.4f}")


main()
