#!/usr/bin/env python3
"""Time per training step of the names MLP (Bengio et al., makemore's lectures), the names
WaveNet (makemore part 5), the names GPT (makemore.py's transformer) or the Shakespeare GPT
(nanoGPT's CPU configuration), scratchgrad against the same model in PyTorch, on this machine
in the same run, alternating A B A B.

Usage: ~/torchvenv/bin/python tools/bench_lm.py [--model mlp|wavenet|gpt-names|gpt|makemore] [--threads N] [--rounds R] [--steps S] [--makemore PATH]

WaveNet: `train --dataset names --arch wavenet` (context 8, embedding 24, 3 levels of 128, SGD,
batch 32) against the lecture's model in PyTorch: nn.Embedding, FlattenConsecutive(2) as a
view, Linear without bias, batch norm over (batch, time) (nn.BatchNorm1d on the rows, which is
faster than the lecture's hand-written layer), tanh, a linear head.

GPT on names: `train --dataset names --arch gpt --dropout 0` (context 16, embedding 64, 4
heads, 4 blocks, AdamW weight decay 0.01, batch 32, clipping; no dropout, as makemore.py has
none) against makemore.py's Transformer (the blocks below, at its sizes; F.gelu's tanh form in
place of makemore's slower hand-written NewGELU) fed makemore's way: each name a window of 16,
padded, ignored targets (-1).

makemore: the same names GPT of ours against makemore.py itself (its file, unchanged, given
by --makemore; it needs tensorboard installed), run with its defaults and `--num-workers 0`
under OMP_NUM_THREADS=N; its time per step is the median of the step times it prints (its
data loader's batch, forward, backward and AdamW; not its evaluations and samples). Ours
leaves its evaluation out the same way: the time of a run of 2S steps less that of a run of S
steps.

GPT: `train --dataset shakespeare --arch gpt` (context 64, embedding 128, 4 heads, 4 blocks,
AdamW, batch 12, clipping) timed to its last evaluation (metrics.jsonl's `seconds`, which
leaves out writing samples), against the same GPT in PyTorch (makemore's / nanoGPT's blocks
with biases, untied head, the same optimizer, warm-up, clipping and one evaluation of 200
windows per split), its attention computed as nanoGPT computes it:
F.scaled_dot_product_attention with is_causal=True, one fused kernel (6% faster per step on
1 thread than the masked softmax written out, measured 2026-12-05; until then this script
wrote it out, so the ratios it printed before were about 6% too kind to scratchgrad).

scratchgrad: `scratchgrad train --dataset names --arch mlp --steps S --eval-every S` (its
default sizes: context 4, embedding 24, hidden 300 with batch norm, SGD, batch 32); the time
is the run's own `seconds` at its last evaluation in metrics.jsonl (that evaluation, of at
most 25,000 examples per split, is included). PyTorch: the same layers (nn.Embedding,
Linear without bias, BatchNorm1d, tanh, Linear), the same batch and SGD, float32, timed over
the same number of steps on names.txt's examples built the lectures' way, plus the same two
evaluations. Prints the median seconds per step of each and their ratio.
"""
import argparse
import os
import re
import sys
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


def names_data():
    words = [w.strip() for w in open(DATA / "names.txt").read().splitlines() if w.strip()]
    chars = sorted(set("".join(words)))
    stoi = {c: i + 1 for i, c in enumerate(chars)}
    stoi["."] = 0
    g = torch.Generator().manual_seed(0)
    perm = torch.randperm(len(words), generator=g).tolist()
    train = [words[i] for i in perm[:-1000]]
    test = [words[i] for i in perm[-1000:]]
    return train, test, stoi, g


def torch_run(steps, threads):
    torch.set_num_threads(threads)
    train, test, stoi, g = names_data()
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
    """makemore's block, which writes attention out (masked scores, softmax, @ v); with
    `fused`, nanoGPT's, which calls F.scaled_dot_product_attention(is_causal=True) (its "flash"
    path on torch >= 2.0; torch runs it as one fused CPU kernel)."""

    def __init__(self, e, heads, fused=False):
        super().__init__()
        self.ln_1, self.ln_2 = nn.LayerNorm(e), nn.LayerNorm(e)
        self.c_attn, self.c_proj = nn.Linear(e, 3 * e), nn.Linear(e, e)
        self.c_fc, self.mlp_proj = nn.Linear(e, 4 * e), nn.Linear(4 * e, e)
        self.heads, self.fused = heads, fused

    def forward(self, x):
        b, t, c = x.shape
        q, k, v = self.c_attn(self.ln_1(x)).split(c, dim=2)
        q, k, v = (z.view(b, t, self.heads, c // self.heads).transpose(1, 2) for z in (q, k, v))
        if self.fused:
            y = F.scaled_dot_product_attention(q, k, v, attn_mask=None, dropout_p=0.0, is_causal=True)
        else:
            att = ((q @ k.transpose(-2, -1)) / (c // self.heads) ** 0.5).masked_fill(
                torch.tril(torch.ones(t, t)) == 0, float("-inf")).softmax(-1)
            y = att @ v
        x = x + self.c_proj(y.transpose(1, 2).contiguous().view(b, t, c))
        return x + self.mlp_proj(F.gelu(self.c_fc(self.ln_2(x)), approximate="tanh"))


class Gpt(nn.Module):
    def __init__(self, v, t=64, e=128, heads=4, blocks=4, fused=False):
        super().__init__()
        self.wte, self.wpe = nn.Embedding(v, e), nn.Embedding(t, e)
        self.h = nn.ModuleList([Block(e, heads, fused) for _ in range(blocks)])
        self.ln_f, self.lm_head = nn.LayerNorm(e), nn.Linear(e, v, bias=False)

    def forward(self, idx):
        x = self.wte(idx) + self.wpe(torch.arange(idx.shape[1]))
        for block in self.h:
            x = block(x)
        return self.lm_head(self.ln_f(x))


class FlattenConsecutive(nn.Module):
    def forward(self, x):
        b, t, c = x.shape
        x = x.view(b, t // 2, 2 * c)
        return x.squeeze(1) if x.shape[1] == 1 else x


class RowBatchNorm(nn.BatchNorm1d):
    """Batch norm over (batch, time) of [B, T, C], as the lecture's layer normalizes."""

    def forward(self, x):
        return super().forward(x.reshape(-1, x.shape[-1])).view(x.shape)


def torch_wavenet(steps, threads):
    torch.set_num_threads(threads)
    train, test, stoi, g = names_data()
    xtr, ytr = examples(train, 8, stoi)
    xte, yte = examples(test, 8, stoi)
    v, h = len(stoi), 128
    layers = [nn.Embedding(v, 24)]
    for fan_in in (48, 2 * h, 2 * h):
        layers += [FlattenConsecutive(), nn.Linear(fan_in, h, bias=False), RowBatchNorm(h), nn.Tanh()]
    model = nn.Sequential(*layers, nn.Linear(h, v))
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


def torch_gpt_names(steps, threads):
    torch.set_num_threads(threads)
    train, test, stoi, g = names_data()

    def padded(words):
        x = torch.zeros(len(words), 16, dtype=torch.long)
        y = torch.full((len(words), 16), -1, dtype=torch.long)
        for i, w in enumerate(words):
            ids = [stoi[c] for c in w][:15]
            x[i, 1:1 + len(ids)] = torch.tensor(ids, dtype=torch.long)
            y[i, :len(ids)] = torch.tensor(ids, dtype=torch.long)
            y[i, len(ids)] = 0
        return x, y

    xtr, ytr = padded(train)
    xte, yte = padded(test)
    model = Gpt(len(stoi), t=16, e=64)
    decay = [p for p in model.parameters() if p.dim() >= 2]
    rest = [p for p in model.parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.01}, {"params": rest, "weight_decay": 0.0}],
                            lr=5e-4, betas=(0.9, 0.99))
    start = time.perf_counter()
    for step in range(steps):
        ix = torch.randint(0, xtr.shape[0], (32,), generator=g)
        loss = F.cross_entropy(model(xtr[ix]).view(-1, len(stoi)), ytr[ix].view(-1), ignore_index=-1)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
    with torch.no_grad():
        for x, y in ((xtr[:2000], ytr[:2000]), (xte, yte)):
            for cx, cy in zip(x.split(256), y.split(256)):
                F.cross_entropy(model(cx).view(-1, len(stoi)), cy.view(-1), ignore_index=-1)
    return time.perf_counter() - start


def torch_gpt(steps, threads):
    torch.set_num_threads(threads)
    text = open(DATA / "tinyshakespeare.txt").read()
    chars = sorted(set(text))
    data = torch.tensor([chars.index(c) for c in text[:200_000]])
    test = torch.tensor([chars.index(c) for c in text[-20_000:]])
    model = Gpt(len(chars), fused=True)
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


def makemore_script(steps, threads, script):
    """makemore.py itself (a copy fetched from github.com/karpathy/makemore, unchanged, given
    by --makemore as `script`), on names.txt with its defaults: the seconds of its training
    steps as it prints them ("step time", every tenth step: the batch from its data loader,
    forward, backward, AdamW), their median times the steps. Its evaluations and samples are left out,
    as it leaves them out."""
    with tempfile.TemporaryDirectory() as d:
        env = dict(os.environ, OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
        out = subprocess.run([sys.executable, str(script), "-i", str(DATA / "names.txt"), "-o", d,
                              "--max-steps", str(steps), "--num-workers", "0"],
                             env=env, check=True, capture_output=True, text=True).stdout
    times = [float(m) for m in re.findall(r"step time ([0-9.]+)ms", out)]
    return statistics.median(times[len(times) // 10:]) / 1000 * steps


def ours(dataset, arch, steps, threads, flags=()):
    """Our run's seconds to its last evaluation (metrics.jsonl's `seconds`, which leaves out
    writing samples and files), with `flags` added to its command line."""
    with tempfile.TemporaryDirectory() as d:
        out = pathlib.Path(d) / "run"
        subprocess.run([str(BIN), "train", "--quiet", "--dataset", dataset, "--data-dir", str(DATA),
                        "--arch", arch, "--steps", str(steps), "--eval-every", str(steps),
                        "--threads", str(threads), "--out", str(out), *flags], check=True, capture_output=True)
        last = (out / "metrics.jsonl").read_text().splitlines()[-1]
        return json.loads(last)["seconds"]


# Our side's dataset, architecture and extra flags, and the PyTorch side. The names GPT's
# default dropout (0.1) is turned off: makemore.py has none, and the comparison is of the same
# configuration.
MODELS = {
    "mlp": (("names", "mlp", ()), torch_run),
    "wavenet": (("names", "wavenet", ()), torch_wavenet),
    "gpt-names": (("names", "gpt", ("--dropout", "0")), torch_gpt_names),
    "gpt": (("shakespeare", "gpt", ()), torch_gpt),
    "makemore": (("names", "gpt", ("--dropout", "0")), makemore_script),
}


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--model", choices=list(MODELS), default="mlp")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--steps", type=int, default=5000)
    p.add_argument("--makemore", type=pathlib.Path, help="makemore.py, for --model makemore")
    a = p.parse_args()
    if a.model == "makemore" and a.makemore is None:
        p.error("--model makemore needs --makemore PATH (makemore.py from github.com/karpathy/makemore)")
    mine, theirs, ratios = [], [], []
    for _ in range(a.rounds):
        (dataset, arch, flags), theirs_run = MODELS[a.model]
        if a.model == "makemore":
            # makemore.py's step times leave its evaluations out: ours leaves them out too, as
            # the difference between a run of twice the steps and a run of the steps (each
            # evaluates once, at its end).
            s = ours(dataset, arch, 2 * a.steps, a.threads, flags) - ours(dataset, arch, a.steps, a.threads, flags)
            t = theirs_run(a.steps, a.threads, a.makemore)
        else:
            s = ours(dataset, arch, a.steps, a.threads, flags)
            t = theirs_run(a.steps, a.threads)
        mine.append(s / a.steps)
        theirs.append(t / a.steps)
        ratios.append(s / t)
    print(f"{a.model}: torch {torch.__version__}, {a.threads} thread(s), {a.steps} steps, {a.rounds} rounds alternating")
    print(f"scratchgrad {1e6 * statistics.median(mine):.1f} us/step, PyTorch {1e6 * statistics.median(theirs):.1f} us/step, "
          f"median ratio {statistics.median(ratios):.3f}")


main()
