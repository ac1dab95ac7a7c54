#!/usr/bin/env python3
"""Before/after timing of two scratchgrad binaries (issue 6): one-epoch runs of
`scratchgrad bench --worker ENGINE` at 1 and 2 threads, the two binaries alternating round by
round, each run in its own process; optionally with `yes > /dev/null` keeping one core busy.
Prints per binary the median epoch at 1 and 2 threads, their ratio, and every 2-thread run.

    git stash; cargo build --release; cp target/release/scratchgrad /tmp/before
    git stash pop; cargo build --release
    python3 tools/bench_ab.py /tmp/before target/release/scratchgrad --rounds 9 [--busy] [--arch cnn]
        [--batch-size 1024]
"""
import argparse
import json
import statistics
import subprocess


def epoch_seconds(binary, engine, threads, arch, batch_size):
    command = [binary, "bench", "--worker", engine, "--arch", arch, "--threads", str(threads),
               "--batch-size", str(batch_size), "--eval-repeats", "0"]
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])["epoch_seconds"]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("before")
    parser.add_argument("after")
    parser.add_argument("--engine", default="autograd", choices=["autograd", "manual", "gemm"])
    parser.add_argument("--arch", default="mlp", choices=["mlp", "cnn", "lenet5"])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--busy", action="store_true", help="keep one core busy with `yes`")
    args = parser.parse_args()
    binaries = {"before": args.before, "after": args.after}
    times = {(name, t): [] for name in binaries for t in (1, 2)}
    busy = subprocess.Popen(["yes"], stdout=subprocess.DEVNULL) if args.busy else None
    try:
        for _ in range(args.rounds):
            for name, binary in binaries.items():
                for t in (1, 2):
                    times[(name, t)].append(
                        epoch_seconds(binary, args.engine, t, args.arch, args.batch_size))
    finally:
        if busy:
            busy.kill()
            busy.wait()
    state = "one core busy" if args.busy else "idle"
    print(f"one epoch of {args.arch}, {args.engine}, batch {args.batch_size}, {state}, "
          f"median of {args.rounds} rounds")
    for name in binaries:
        one, two = (statistics.median(times[(name, t)]) for t in (1, 2))
        runs = ", ".join(f"{x:.3f}" for x in times[(name, 2)])
        print(f"{name:<7} 1 thread {one:.3f} s, 2 threads {two:.3f} s, 2t/1t {two / one:.2f}x"
              f" (2-thread runs: {runs})")


if __name__ == "__main__":
    main()
