#!/usr/bin/env python3
"""micrograd's demo loop (2-16-16-1 MLP on 100 moons points, max-margin loss with L2, 100 SGD
steps) on micrograd itself and on scratchgrad.micrograd, from the same seed, alternating A B A
B; prints each one's median seconds, their ratio, and the largest difference between the two
loss curves.

Usage (in a virtual environment with micrograd and the scratchgrad wheel installed):
    python tools/bench_micrograd_py.py [--rounds 3] [--steps 100]
"""
import argparse
import pathlib
import random
import statistics
import sys
import time

import micrograd.engine
import micrograd.nn

import scratchgrad.micrograd as ours

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent / "crates/scratchgrad-py/tests"))
from test_micrograd_demo import moons, train  # noqa: E402  (the tests' loop, not a copy)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--steps", type=int, default=100)
    a = p.parse_args()
    points = moons(100, 0.1, random.Random(7))
    times = {"micrograd": [], "scratchgrad": []}
    curves = {}
    for _ in range(a.rounds):
        for name, value, mlp in (("micrograd", micrograd.engine.Value, micrograd.nn.MLP),
                                 ("scratchgrad", ours.Value, ours.MLP)):
            start = time.perf_counter()
            curves[name] = train(value, mlp, points, a.steps)
            times[name].append(time.perf_counter() - start)
    theirs, mine = statistics.median(times["micrograd"]), statistics.median(times["scratchgrad"])
    gap = max(abs(x[0] - y[0]) for x, y in zip(curves["micrograd"], curves["scratchgrad"]))
    print(f"{a.steps} steps, {a.rounds} rounds alternating: micrograd {theirs:.2f} s, "
          f"scratchgrad {mine:.2f} s, {theirs / mine:.2f}x faster; "
          f"final loss {curves['scratchgrad'][-1][0]:.6f}, accuracy {curves['scratchgrad'][-1][1]:.2f}, "
          f"largest loss difference {gap:.1e}")


main()
