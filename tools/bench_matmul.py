#!/usr/bin/env python3
"""The PyTorch and numpy side of `cargo bench --bench matmul` (which runs this script).

Times float32 matrix products at the texts' MLP shapes and prints one JSON object:
{"torch": {shape: seconds}, "numpy": {shape: seconds}}, each the median of `--reps` runs.
Shapes are given as "m,k,n,ta,tb" (ta/tb = 1 when that operand is read transposed).
"""
import argparse
import json
import os
import statistics
import time


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--reps", type=int, default=50)
    parser.add_argument("shapes", nargs="+")
    args = parser.parse_args()
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[var] = str(args.threads)
    import numpy as np
    import torch

    torch.set_num_threads(args.threads)
    result = {"torch": {}, "numpy": {}}
    for spec in args.shapes:
        m, k, n, ta, tb = (int(v) for v in spec.split(","))
        a = np.random.rand(k, m).astype(np.float32).T if ta else np.random.rand(m, k).astype(np.float32)
        b = np.random.rand(n, k).astype(np.float32).T if tb else np.random.rand(k, n).astype(np.float32)
        ta_, tb_ = torch.from_numpy(a.T.copy()).T if ta else torch.from_numpy(a), torch.from_numpy(b.T.copy()).T if tb else torch.from_numpy(b)
        for name, fn in (("torch", lambda: ta_ @ tb_), ("numpy", lambda: a @ b)):
            for _ in range(5):
                fn()
            times = []
            for _ in range(args.reps):
                t = time.perf_counter()
                fn()
                times.append(time.perf_counter() - t)
            result[name][spec] = statistics.median(times)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
