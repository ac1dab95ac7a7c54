#!/usr/bin/env python3
"""Time per training step of the names MLP (Bengio et al., makemore's lectures), scratchgrad
against the same model in PyTorch, on this machine in the same run, alternating A B A B.

Usage: ~/torchvenv/bin/python tools/bench_lm.py [--threads N] [--rounds R] [--steps S]

scratchgrad: `scratchgrad train --dataset names --arch mlp --steps S --eval-every S` (its
default sizes: context 4, embedding 24, hidden 300 with batch norm, SGD, batch 32); the time
is the run's own `seconds` in summary.json minus nothing (one evaluation at the end, of at
most 25,000 examples per split, is included). PyTorch: the same layers (nn.Embedding,
Linear without bias, BatchNorm1d, tanh, Linear), the same batch and SGD, float32, timed over
the same number of steps on names.txt's examples built the lectures' way, plus the same two
evaluations. Prints the median seconds per step of each and their ratio.
"""
import argparse
import json
import pathlib
import statistics
import subprocess
import tempfile
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

ROOT = pathlib.Path(__file__).resolve().parent.parent
BIN = ROOT / "target" / "release" / "scratchgrad"
DATA = ROOT.parent / "shared" / "data"


def examples(words, context, stoi):
    xs, ys = [], []
    for w in words:
        window = [0] * context
        for ch in w + ".":
            xs.append(window)
            ys.append(stoi[ch])
            window = window[1:] + [stoi[ch]]
    return torch.tensor(xs), torch.tensor(ys)


def torch_run(steps, threads):
    torch.set_num_threads(threads)
    words = [w.strip() for w in open(DATA / "names.txt").read().splitlines() if w.strip()]
    chars = sorted(set("".join(words)))
    stoi = {c: i + 1 for i, c in enumerate(chars)}
    stoi["."] = 0
    g = torch.Generator().manual_seed(0)
    perm = torch.randperm(len(words), generator=g).tolist()
    train = [words[i] for i in perm[:-1000]]
    test = [words[i] for i in perm[-1000:]]
    xtr, ytr = examples(train, 4, stoi)
    xte, yte = examples(test, 4, stoi)
    v = len(stoi)
    model = nn.Sequential(nn.Embedding(v, 24), nn.Flatten(), nn.Linear(96, 300, bias=False),
                          nn.BatchNorm1d(300), nn.Tanh(), nn.Linear(300, v))
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    start = time.perf_counter()
    for step in range(steps):
        ix = torch.randint(0, xtr.shape[0], (32,), generator=g)
        loss = F.cross_entropy(model(xtr[ix]), ytr[ix])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
    model.eval()
    with torch.no_grad():
        F.cross_entropy(model(xtr[:25000]), ytr[:25000])
        F.cross_entropy(model(xte), yte)
    return time.perf_counter() - start


def ours(steps, threads):
    with tempfile.TemporaryDirectory() as d:
        out = pathlib.Path(d) / "run"
        subprocess.run([str(BIN), "train", "--quiet", "--dataset", "names", "--data-dir", str(DATA),
                        "--arch", "mlp", "--steps", str(steps), "--eval-every", str(steps),
                        "--threads", str(threads), "--out", str(out)], check=True, capture_output=True)
        return json.loads((out / "summary.json").read_text())["seconds"]


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--steps", type=int, default=5000)
    a = p.parse_args()
    mine, theirs, ratios = [], [], []
    for _ in range(a.rounds):
        s = ours(a.steps, a.threads)
        t = torch_run(a.steps, a.threads)
        mine.append(s / a.steps)
        theirs.append(t / a.steps)
        ratios.append(s / t)
    print(f"torch {torch.__version__}, {a.threads} thread(s), {a.steps} steps, {a.rounds} rounds alternating")
    print(f"scratchgrad {1e6 * statistics.median(mine):.1f} us/step, PyTorch {1e6 * statistics.median(theirs):.1f} us/step, "
          f"median ratio {statistics.median(ratios):.3f}")


main()
