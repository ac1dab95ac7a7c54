#!/usr/bin/env python3
"""Where one training epoch's time goes (issues 6 and 13): matrix products, convolution
layout, pooling, batch norm, elementwise work and the graph, the loss, the optimizer, and
making batches.

Samples one epoch of `scratchgrad bench --worker ENGINE` with `perf record` (call graphs from
DWARF, every thread, so a helper thread's share of a split product counts too) and sorts each
sample by the frames on its stack:

- data:      under `Dataset::batch` (gathering a batch, bytes to floats)
- optimizer: under `Optimizer::step` / `step_arrays`
- GEMM:      in the `gemm` crate (kernels, packing) or our `matmul` (output buffers, blocks)
- layout:    a convolution's `im2col` / `col2im` and its NCHW <-> rows reshuffles
- pooling:   max- and average-pooling, forward and backward (`scatter_to`)
- batch norm: under a batch-norm layer or op
- loss:      under `cross_entropy` / the softmax cross-entropy layer (forward)
- elementwise and graph: everything else inside `train_step` (bias, activations, their
  backward, the loss's backward, building and walking the graph, allocation)

Loading the data set and the warm-up's first steps are not part of the epoch but sit in the
same process; samples outside `train_step` and `Dataset::batch` are left out.

    python3 tools/epoch_breakdown.py --scratchgrad target/release/scratchgrad --engine autograd --threads 1
    python3 tools/epoch_breakdown.py --arch cnn --frequency 99 --threads 2
"""
import argparse
import collections
import subprocess
import tempfile

CATEGORIES = ["GEMM", "layout", "pooling", "batch norm", "elementwise and graph", "loss",
              "optimizer", "data"]


def classify(frames):
    text = "\n".join(frames)
    if "Dataset::batch" in text:
        return "data"
    in_step = "train_step" in text
    is_gemm = "gemm_" in text or "array::matmul" in text
    if not in_step and not is_gemm:
        return None
    if "Optimizer" in text and ("::step" in text or "update" in text):
        return "optimizer"
    if is_gemm:
        return "GEMM"
    if "im2col" in text or "col2im" in text or "nchw" in text:
        return "layout"
    if "pool" in text or "scatter_to" in text:
        return "pooling"
    if "batchnorm" in text or "BatchNorm" in text or "batch_norm" in text:
        return "batch norm"
    if "cross_entropy" in text or "SoftmaxCrossEntropy" in text:
        return "loss"
    return "elementwise and graph"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--scratchgrad", default="target/release/scratchgrad")
    parser.add_argument("--engine", default="autograd", choices=["autograd", "manual"])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--arch", default="mlp", choices=["mlp", "cnn", "lenet5"])
    parser.add_argument("--frequency", type=int, default=499,
                        help="samples per second (99 keeps a CNN epoch's record small)")
    args = parser.parse_args()
    with tempfile.NamedTemporaryFile(suffix=".data") as data:
        subprocess.run(
            ["perf", "record", "-q", "--call-graph", "dwarf,16384", "-F", str(args.frequency),
             "-o", data.name, args.scratchgrad, "bench", "--worker", args.engine,
             "--arch", args.arch, "--threads", str(args.threads), "--eval-repeats", "0"],
            check=True, stdout=subprocess.DEVNULL)
        script = subprocess.run(["perf", "script", "-i", data.name], check=True,
                                capture_output=True, text=True).stdout
    counts = collections.Counter()
    for sample in script.split("\n\n"):
        frames = sample.strip().splitlines()[1:]
        category = classify(frames)
        if category:
            counts[category] += 1
    total = sum(counts.values())
    print(f"{args.arch}, {args.engine}, {args.threads} thread(s): {total} samples in the epoch's steps")
    for category in CATEGORIES:
        print(f"{category:<22} {100 * counts[category] / total:5.1f}%")


if __name__ == "__main__":
    main()
