#!/usr/bin/env python3
"""Time per training step of the names MLP (Bengio et al., makemore's lectures) or the
Shakespeare GPT (nanoGPT's CPU configuration), scratchgrad against the same model in
PyTorch, on this machine in the same run, alternating A B A B.

Usage: ~/torchvenv/bin/python tools/bench_lm.py [--model mlp|gpt] [--threads N] [--rounds R] [--steps S]

GPT: `train --dataset shakespeare --arch gpt` (context 64, embedding 128, 4 heads, 4 blocks,
AdamW, batch 12, clipping) timed to its last evaluation (metrics.jsonl's `seconds`, which
leaves out writing samples), against the same GPT in PyTorch (makemore's / nanoGPT's blocks
with biases, untied head, the same optimizer, warm-up, clipping and one evaluation of 200
windows per split).

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


class Block(nn.Module):
    def __init__(self, e, heads):
        super().__init__()
        self.ln_1, self.ln_2 = nn.LayerNorm(e), nn.LayerNorm(e)
        self.c_attn, self.c_proj = nn.Linear(e, 3 * e), nn.Linear(e, e)
        self.c_fc, self.mlp_proj = nn.Linear(e, 4 * e), nn.Linear(4 * e, e)
        self.heads = heads

    def forward(self, x):
        b, t, c = x.shape
        q, k, v = self.c_attn(self.ln_1(x)).split(c, dim=2)
        q, k, v = (z.view(b, t, self.heads, c // self.heads).transpose(1, 2) for z in (q, k, v))
        att = ((q @ k.transpose(-2, -1)) / (c // self.heads) ** 0.5).masked_fill(
            torch.tril(torch.ones(t, t)) == 0, float("-inf")).softmax(-1)
        x = x + self.c_proj((att @ v).transpose(1, 2).contiguous().view(b, t, c))
        return x + self.mlp_proj(F.gelu(self.c_fc(self.ln_2(x)), approximate="tanh"))


class Gpt(nn.Module):
    def __init__(self, v, t=64, e=128, heads=4, blocks=4):
        super().__init__()
        self.wte, self.wpe = nn.Embedding(v, e), nn.Embedding(t, e)
        self.h = nn.ModuleList([Block(e, heads) for _ in range(blocks)])
        self.ln_f, self.lm_head = nn.LayerNorm(e), nn.Linear(e, v, bias=False)

    def forward(self, idx):
        x = self.wte(idx) + self.wpe(torch.arange(idx.shape[1]))
        for block in self.h:
            x = block(x)
        return self.lm_head(self.ln_f(x))


def torch_gpt(steps, threads):
    torch.set_num_threads(threads)
    text = open(DATA / "tinyshakespeare.txt").read()
    chars = sorted(set(text))
    data = torch.tensor([chars.index(c) for c in text[:200_000]])
    test = torch.tensor([chars.index(c) for c in text[-20_000:]])
    model = Gpt(len(chars))
    decay = [p for p in model.parameters() if p.dim() >= 2]
    rest = [p for p in model.parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1}, {"params": rest, "weight_decay": 0.0}],
                            lr=1e-3, betas=(0.9, 0.99))
    g = torch.Generator().manual_seed(0)
    start = time.perf_counter()
    for step in range(steps):
        ix = torch.randint(0, len(data) - 65, (12,), generator=g)
        x = torch.stack([data[i:i + 64] for i in ix])
        y = torch.stack([data[i + 1:i + 65] for i in ix])
        loss = F.cross_entropy(model(x).view(-1, len(chars)), y.view(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
    with torch.no_grad():
        for source in (data, test):
            windows = torch.stack([source[i:i + 64] for i in range(0, 64 * 200, 64)])
            for chunk in windows.split(64):
                model(chunk)
    return time.perf_counter() - start


def ours_gpt(steps, threads):
    with tempfile.TemporaryDirectory() as d:
        out = pathlib.Path(d) / "run"
        subprocess.run([str(BIN), "train", "--quiet", "--dataset", "shakespeare", "--data-dir", str(DATA),
                        "--arch", "gpt", "--steps", str(steps), "--eval-every", str(steps),
                        "--threads", str(threads), "--out", str(out)], check=True, capture_output=True)
        last = (out / "metrics.jsonl").read_text().splitlines()[-1]
        return json.loads(last)["seconds"]


def ours(steps, threads):
    with tempfile.TemporaryDirectory() as d:
        out = pathlib.Path(d) / "run"
        subprocess.run([str(BIN), "train", "--quiet", "--dataset", "names", "--data-dir", str(DATA),
                        "--arch", "mlp", "--steps", str(steps), "--eval-every", str(steps),
                        "--threads", str(threads), "--out", str(out)], check=True, capture_output=True)
        return json.loads((out / "summary.json").read_text())["seconds"]


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--model", choices=["mlp", "gpt"], default="mlp")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--steps", type=int, default=5000)
    a = p.parse_args()
    mine, theirs, ratios = [], [], []
    for _ in range(a.rounds):
        if a.model == "gpt":
            s, t = ours_gpt(a.steps, a.threads), torch_gpt(a.steps, a.threads)
        else:
            s, t = ours(a.steps, a.threads), torch_run(a.steps, a.threads)
        mine.append(s / a.steps)
        theirs.append(t / a.steps)
        ratios.append(s / t)
    print(f"{a.model}: torch {torch.__version__}, {a.threads} thread(s), {a.steps} steps, {a.rounds} rounds alternating")
    print(f"scratchgrad {1e6 * statistics.median(mine):.1f} us/step, PyTorch {1e6 * statistics.median(theirs):.1f} us/step, "
          f"median ratio {statistics.median(ratios):.3f}")


main()
