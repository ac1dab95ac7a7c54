#!/usr/bin/env python3
"""Reference numbers for the bigram count model, computed as makemore's first lecture does
(a 27x27 count table N over '.'-framed names, P = (N + 1) / row sums, the mean negative log
likelihood of every pair), here with numpy on the built-in names-mini slice and, when given,
on the full names.txt.

Usage: python3 tools/bigram_reference.py [../shared/data/names.txt]
"""
import pathlib
import sys

import numpy as np

MINI = pathlib.Path(__file__).resolve().parent.parent / "crates/scratchgrad/assets/text-mini/names-mini.txt"


def report(path):
    words = [w.strip() for w in open(path).read().splitlines() if w.strip()]
    chars = sorted(set("".join(words)))
    stoi = {c: i + 1 for i, c in enumerate(chars)}
    stoi["."] = 0
    n = np.zeros((len(stoi), len(stoi)), dtype=np.int64)
    for w in words:
        t = ["."] + list(w) + ["."]
        for a, b in zip(t, t[1:]):
            n[stoi[a], stoi[b]] += 1
    p = (n + 1) / (n + 1).sum(1, keepdims=True)
    logp = 0.0
    count = 0
    for w in words:
        t = ["."] + list(w) + ["."]
        for a, b in zip(t, t[1:]):
            logp += np.log(p[stoi[a], stoi[b]])
            count += 1
    print(f"{path}: {len(words)} names, {count} pairs, N[.,a] = {n[0, stoi['a']]}, nll {-logp / count:.17g}")


report(MINI)
if len(sys.argv) > 1:
    report(sys.argv[1])
