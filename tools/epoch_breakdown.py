#!/usr/bin/env python3
"""Where one training epoch's time goes (issue 6): matrix products, elementwise work and the
graph, the loss, the optimizer, and making batches.

Samples one epoch of `scratchgrad bench --worker ENGINE` with `perf record` (call graphs from
DWARF, every thread, so a helper thread's share of a split product counts too) and sorts each
sample by the frames on its stack:

- data:      under `Dataset::batch` (gathering a batch, bytes to floats)
- optimizer: under `Optimizer::step` / `step_arrays`
- GEMM:      in the `gemm` crate (kernels, packing) or our `matmul` (output buffers, blocks)
- loss:      under `cross_entropy` / the softmax cross-entropy layer (forward)
- elementwise and graph: everything else inside `train_step` (bias, activations, their
  backward, the loss's backward, building and walking the graph, allocation)

Loading the data set and the warm-up's first steps are not part of the epoch but sit in the
same process; samples outside `train_step` and `Dataset::batch` are left out.

    python3 tools/epoch_breakdown.py --scratchgrad target/release/scratchgrad --engine autograd --threads 1
"""
import argparse
import collections
import subprocess
import tempfile

CATEGORIES = ["GEMM", "elementwise and graph", "loss", "optimizer", "data"]


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
    if "cross_entropy" in text or "SoftmaxCrossEntropy" in text:
        return "loss"
    return "elementwise and graph"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--scratchgrad", default="target/release/scratchgrad")
    parser.add_argument("--engine", default="autograd", choices=["autograd", "manual"])
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    with tempfile.NamedTemporaryFile(suffix=".data") as data:
        subprocess.run(
            ["perf", "record", "-q", "--call-graph", "dwarf,16384", "-F", "499", "-o", data.name,
             args.scratchgrad, "bench", "--worker", args.engine, "--threads", str(args.threads),
             "--eval-repeats", "0"],
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
    print(f"{args.engine}, {args.threads} thread(s): {total} samples in the epoch's steps")
    for category in CATEGORIES:
        print(f"{category:<22} {100 * counts[category] / total:5.1f}%")


if __name__ == "__main__":
    main()
