#!/usr/bin/env python3
"""The PyTorch side of `scratchgrad bench`: one epoch of a network, data preloaded.

Usage: python3 tools/bench_pytorch.py --data DIR --hidden 256 --batch-size 64 --threads 2
       python3 tools/bench_pytorch.py --data DIR --arch '{"input": [1, 28, 28], "layers": "..."}' --optimizer adam

Reads MNIST's raw IDX files from DIR (as `scratchgrad data fetch` leaves them), builds the
texts' torch.nn.Sequential(Linear(784, H), Sigmoid(), Linear(H, 10)) or the network an
architecture (scratchgrad's JSON form) describes, and times one epoch of mini-batch SGD (lr
0.1) or Adam (lr 0.001) with cross-entropy and a fresh permutation, after a 50-step warm-up.
Then times evaluating the test set. Prints one JSON object: {"epoch_seconds": ..., "steps":
..., "eval_seconds": ...}.
"""
import argparse
import json
import os
import pathlib
import sys
import time


def read_idx(path):
    data = path.read_bytes()
    rank = data[3]
    dims = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(rank)]
    return data[4 + 4 * rank:], dims


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", required=True)
    parser.add_argument("--hidden", type=int, default=256)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--arch", help="an architecture as scratchgrad's JSON form")
    parser.add_argument("--optimizer", choices=["sgd", "adam"], default="sgd")
    args = parser.parse_args()
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(args.threads)
    import torch

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    folder = pathlib.Path(args.data)
    pixels, dims = read_idx(folder / "train-images-idx3-ubyte")
    labels, _ = read_idx(folder / "train-labels-idx1-ubyte")
    if args.arch:
        sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
        from scratchgrad_torch import build

        model, input_shape = build(json.loads(args.arch))
    else:
        model = torch.nn.Sequential(torch.nn.Linear(784, args.hidden), torch.nn.Sigmoid(), torch.nn.Linear(args.hidden, 10))
        input_shape = [784]
    x_all = torch.frombuffer(bytearray(pixels), dtype=torch.uint8).reshape(dims[0], *input_shape).float() / 255.0
    y_all = torch.frombuffer(bytearray(labels), dtype=torch.uint8).long()
    if args.optimizer == "adam":
        opt = torch.optim.Adam(model.parameters(), lr=0.001)
    else:
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
    loss_fn = torch.nn.CrossEntropyLoss()

    def steps(order):
        for start in range(0, len(order), args.batch_size):
            idx = order[start:start + args.batch_size]
            opt.zero_grad()
            loss_fn(model(x_all[idx]), y_all[idx]).backward()
            opt.step()

    steps(torch.randperm(len(y_all))[: 50 * args.batch_size])
    order = torch.randperm(len(y_all))
    t = time.perf_counter()
    steps(order)
    seconds = time.perf_counter() - t
    test_pixels, test_dims = read_idx(folder / "t10k-images-idx3-ubyte")
    test_labels, _ = read_idx(folder / "t10k-labels-idx1-ubyte")
    x_test = torch.frombuffer(bytearray(test_pixels), dtype=torch.uint8).reshape(test_dims[0], *input_shape)
    model.eval()
    y_test = torch.frombuffer(bytearray(test_labels), dtype=torch.uint8).long()
    evals = []
    with torch.no_grad():
        for _ in range(5):
            t = time.perf_counter()
            # As scratchgrad's eval: bytes to floats, batches of 1,000, loss and predictions.
            for start in range(0, len(y_test), 1000):
                logits = model(x_test[start:start + 1000].float() / 255.0)
                loss_fn(logits, y_test[start:start + 1000])
                logits.argmax(1)
            evals.append(time.perf_counter() - t)
    print(json.dumps({
        "epoch_seconds": seconds,
        "steps": (len(order) + args.batch_size - 1) // args.batch_size,
        "eval_seconds": sorted(evals)[len(evals) // 2],
    }))


if __name__ == "__main__":
    main()
