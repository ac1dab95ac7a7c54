#!/usr/bin/env python3
"""Training with another process busy on one core (issue 6): is 2-thread training still no
slower than 1-thread training?

Starts `yes > /dev/null` (one core kept busy for the whole run), then alternates one-epoch
runs of scratchgrad's autograd engine (`scratchgrad bench --worker autograd`) and, when
`--python` has torch, PyTorch (`tools/bench_pytorch.py`), at 1 and 2 threads, each in its own
process, round by round. Prints the median epoch time per contender and thread count, and
the 2-thread / 1-thread ratio.

    python3 tools/bench_busy_core.py --scratchgrad target/release/scratchgrad \
        --python ~/torchvenv/bin/python --data ~/.cache/scratchgrad/mnist --rounds 5

`--arch cnn` or `--arch lenet5` times that network instead (scratchgrad only).
"""
import argparse
import json
import pathlib
import statistics
import subprocess


def epoch_seconds(command):
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])["epoch_seconds"]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--scratchgrad", default="target/release/scratchgrad")
    parser.add_argument("--python", help="a Python with torch (PyTorch is skipped without)")
    parser.add_argument("--data", default=str(pathlib.Path.home() / ".cache/scratchgrad/mnist"))
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--arch", choices=["mlp", "cnn", "lenet5"], default="mlp",
                        help="the network; PyTorch runs beside the MLP only")
    args = parser.parse_args()
    script = pathlib.Path(__file__).with_name("bench_pytorch.py")
    contenders = {
        "scratchgrad autograd": lambda t: [args.scratchgrad, "bench", "--worker", "autograd",
                                           "--arch", args.arch, "--eval-repeats", "0",
                                           "--data-dir", str(pathlib.Path(args.data).parent),
                                           "--threads", str(t)],
    }
    if args.python and args.arch == "mlp":
        contenders["PyTorch"] = lambda t: [args.python, str(script), "--data", args.data,
                                           "--threads", str(t)]
    times = {(name, t): [] for name in contenders for t in (1, 2)}
    busy = subprocess.Popen(["yes"], stdout=subprocess.DEVNULL)
    try:
        for _ in range(args.rounds):
            for name, command in contenders.items():
                for t in (1, 2):
                    times[(name, t)].append(epoch_seconds(command(t)))
    finally:
        busy.kill()
    print(f"one {args.arch} epoch with another process busy on one core, "
          f"median of {args.rounds} rounds")
    print(f"{'contender':<22} {'1 thread s':>11} {'2 threads s':>12} {'2t / 1t':>8}")
    for name in contenders:
        one, two = (statistics.median(times[(name, t)]) for t in (1, 2))
        print(f"{name:<22} {one:>11.3f} {two:>12.3f} {two / one:>7.2f}x")


if __name__ == "__main__":
    main()
