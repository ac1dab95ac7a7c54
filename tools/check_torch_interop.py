#!/usr/bin/env python3
"""Check that a scratchgrad model.safetensors is a PyTorch model too.

Usage (needs torch and safetensors from PyPI, and the scratchgrad binary built):

    ~/torchvenv/bin/pip install torch safetensors
    cargo build --release
    ~/torchvenv/bin/python tools/check_torch_interop.py runs/mnist-.../model.safetensors

Loads the file with safetensors.torch, builds the equivalent torch.nn.Sequential from the
file's own metadata, load_state_dict(strict=True), and compares PyTorch's predictions on the
whole test set with what `scratchgrad eval --json` reports (accuracy and confusion matrix,
which fix every prediction's class counts). The test images are read from the data directory
that `scratchgrad data fetch` fills (or from mnist-mini's files in crates/scratchgrad/assets/).
"""
import gzip
import json
import os
import pathlib
import subprocess
import sys

import torch
from safetensors import safe_open
from safetensors.torch import load_file

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
from scratchgrad_torch import build  # noqa: E402


def read_idx(path):
    data = path.read_bytes()
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    rank = data[3]
    dims = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(rank)]
    return torch.frombuffer(bytearray(data[4 + 4 * rank:]), dtype=torch.uint8).reshape(dims)


def test_set(dataset):
    if dataset == "mnist-mini":
        folder = ROOT / "crates" / "scratchgrad" / "assets" / "mnist-mini"
    else:
        base = os.environ.get("SCRATCHGRAD_DATA") or os.path.join(os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "scratchgrad")
        folder = pathlib.Path(base) / ("fashion-mnist" if dataset == "fashion-mnist" else "mnist")
    pick = lambda name: folder / name if (folder / name).exists() else folder / (name + ".gz")
    return read_idx(pick("t10k-images-idx3-ubyte")), read_idx(pick("t10k-labels-idx1-ubyte"))


def main():
    path = pathlib.Path(sys.argv[1])
    with safe_open(str(path), framework="pt") as f:
        meta = f.metadata()
    model, input_shape = build(json.loads(meta["architecture"]))
    model.load_state_dict(load_file(str(path)), strict=True)
    model.eval()
    print(f"loaded {path} into {model} with strict=True")

    images, labels = test_set(meta["dataset"])
    x = images.reshape(len(images), *input_shape).float() / 255.0
    with torch.no_grad():
        predictions = model(x).argmax(dim=1)
    confusion = torch.zeros(10, 10, dtype=torch.long)
    for t, p in zip(labels.tolist(), predictions.tolist()):
        confusion[t, p] += 1
    torch_accuracy = (predictions == labels).float().mean().item()

    binary = ROOT / "target" / "release" / "scratchgrad"
    ours = json.loads(subprocess.run([str(binary), "eval", "--model", str(path), "--json"], check=True, capture_output=True, text=True).stdout)
    print(f"PyTorch accuracy {torch_accuracy:.4f}, scratchgrad eval {ours['accuracy']:.4f}")
    same = confusion.tolist() == ours["confusion"]
    print("confusion matrices identical" if same else "confusion matrices DIFFER")
    sys.exit(0 if same and abs(torch_accuracy - ours["accuracy"]) < 1e-9 else 1)


if __name__ == "__main__":
    main()
