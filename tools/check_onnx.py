#!/usr/bin/env python3
"""Check a model exported by `scratchgrad export` in ONNX Runtime, on the whole test set.

Usage (needs onnx and onnxruntime from PyPI, and the scratchgrad binary built):

    ~/torchvenv/bin/pip install onnx onnxruntime numpy
    cargo build --release
    ~/torchvenv/bin/python tools/check_onnx.py runs/mnist-.../model.safetensors

Exports the model with `scratchgrad export`, checks the file with
onnx.checker.check_model(full_check=True), runs it in ONNX Runtime on every test image
(prepared as scratchgrad prepares them: bytes / 255, in the input's shape), and compares with
`scratchgrad eval --json --per-image`: every predicted class must be equal and every
probability within 1e-5. Exits 0 only then.
"""
import gzip
import json
import os
import pathlib
import subprocess
import sys
import tempfile

import numpy as np
import onnx
import onnxruntime

ROOT = pathlib.Path(__file__).resolve().parent.parent
BINARY = ROOT / "target" / "release" / "scratchgrad"


def read_idx(path):
    data = path.read_bytes()
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    rank = data[3]
    dims = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(rank)]
    return np.frombuffer(data[4 + 4 * rank:], dtype=np.uint8).reshape(dims)


def test_images(dataset):
    if dataset == "mnist-mini":
        folder = ROOT / "assets" / "mnist-mini"
    else:
        base = os.environ.get("SCRATCHGRAD_DATA") or os.path.join(os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "scratchgrad")
        folder = pathlib.Path(base) / ("fashion-mnist" if dataset == "fashion-mnist" else "mnist")
    name = "t10k-images-idx3-ubyte"
    return read_idx(folder / name if (folder / name).exists() else folder / (name + ".gz"))


def main():
    model_path = pathlib.Path(sys.argv[1])
    with tempfile.TemporaryDirectory() as tmp:
        onnx_path = pathlib.Path(tmp) / "model.onnx"
        subprocess.run([str(BINARY), "export", str(model_path), "--onnx", str(onnx_path)], check=True)
        model = onnx.load(str(onnx_path))
        onnx.checker.check_model(model, full_check=True)
        meta = {p.key: p.value for p in model.metadata_props}
        print(f"onnx.checker: ok (opset {model.opset_import[0].version}, IR {model.ir_version}, {len(model.graph.node)} nodes, {len(model.graph.initializer)} initializers)")
        session = onnxruntime.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
        shape = json.loads(meta["architecture"])["input"]
        images = test_images(meta["dataset"])
        x = (images.astype(np.float32) / 255.0).reshape(len(images), *shape)
        probabilities = np.concatenate([session.run(None, {"input": x[i:i + 1000]})[0] for i in range(0, len(x), 1000)])
    ours = json.loads(subprocess.run([str(BINARY), "eval", "--model", str(model_path), "--json", "--per-image"], check=True, capture_output=True, text=True).stdout)
    our_probabilities = np.array(ours["probabilities"], dtype=np.float64)
    same = int((probabilities.argmax(axis=1) == np.array(ours["predictions"])).sum())
    worst = float(np.abs(probabilities - our_probabilities).max())
    print(f"ONNX Runtime {onnxruntime.__version__} on {len(x)} test images: {same} of {len(x)} predictions equal to scratchgrad eval's; largest probability difference {worst:.2e}")
    sys.exit(0 if same == len(x) and worst <= 1e-5 else 1)


if __name__ == "__main__":
    main()
