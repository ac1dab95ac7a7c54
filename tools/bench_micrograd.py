#!/usr/bin/env python3
"""The micrograd side of `cargo bench --bench scalar` (which runs this script).

Times forward + backward with micrograd (PyPI `micrograd`) on the same two workloads as the
Rust side, and prints one JSON object {"moons": {...}, "chain": {...}}, each with the median
seconds per forward+backward over `--reps` runs and the number of nodes in the graph.

- moons: micrograd's own demo loss, a 2-16-16-1 MLP over 100 two-moons points (hinge loss +
  1e-4 L2), as in micrograd's demo notebook.
- chain: a of 300 steps of x = x * 1.0001 + 0.0001 (micrograd's recursive
  topological sort cannot go much deeper than Python's recursion limit of 1000).
"""
import argparse
import json
import math
import random
import statistics
import time

from micrograd.engine import Value
from micrograd.nn import MLP


def count_nodes(root):
    seen, stack = set(), [root]
    while stack:
        v = stack.pop()
        if id(v) in seen:
            continue
        seen.add(id(v))
        stack.extend(v._prev)
    return len(seen)


def moons(n, rng):
    data = []
    for i in range(n):
        if i < n // 2:
            t = math.pi * i / (n // 2 - 1)
            x, y, label = math.cos(t), math.sin(t), -1.0
        else:
            t = math.pi * (i - n // 2) / (n - n // 2 - 1)
            x, y, label = 1 - math.cos(t), 0.5 - math.sin(t), 1.0
        data.append(((x + rng.gauss(0, 0.1), y + rng.gauss(0, 0.1)), label))
    return data


def moons_step(model, data):
    scores = [model([Value(x), Value(y)]) for (x, y), _ in data]
    losses = [(1 + -label * s).relu() for (_, label), s in zip(data, scores)]
    loss = sum(losses) * (1.0 / len(losses)) + 1e-4 * sum(p * p for p in model.parameters())
    model.zero_grad()
    loss.backward()
    return loss


def chain_step(length):
    x = Value(1.0)
    y = x
    for _ in range(length):
        y = y * 1.0001 + 0.0001
    y.backward()
    return y


def timed(reps, fn):
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), out


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--chain", type=int, default=300)
    args = parser.parse_args()
    rng = random.Random(1337)
    random.seed(1337)
    data = moons(100, rng)
    model = MLP(2, [16, 16, 1])
    seconds, loss = timed(args.reps, lambda: moons_step(model, data))
    result = {"moons": {"seconds": seconds, "nodes": count_nodes(loss)}}
    seconds, y = timed(args.reps * 20, lambda: chain_step(args.chain))
    result["chain"] = {"seconds": seconds, "nodes": count_nodes(y)}
    print(json.dumps(result))


if __name__ == "__main__":
    main()
