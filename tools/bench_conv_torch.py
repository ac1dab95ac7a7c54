"""PyTorch's time per pass of each convolution of `cnn` and `lenet5` (batch 64, float32), for
`cargo bench --bench conv -- --python PATH`: the same layers in the same order as the Rust
bench, each pass as autograd runs it (`F.conv2d`; `aten.convolution_backward` asking for the
input's gradient only, then for the weight's only). Prints one JSON object.

Run by hand: python3 tools/bench_conv_torch.py --threads 2 --repeats 10
"""

import argparse
import json
import time

import torch
import torch.nn.functional as F

LAYERS = [  # name, input channels, output channels, side, padding (5x5 kernels)
    ("cnn conv1 1->16 28x28 p2", 1, 16, 28, 2),
    ("cnn conv2 16->32 14x14 p2", 16, 32, 14, 2),
    ("lenet5 conv1 1->6 28x28 p2", 1, 6, 28, 2),
    ("lenet5 conv2 6->16 14x14 p0", 6, 16, 14, 0),
]
BATCH, KERNEL = 64, 5


def per_call_ms(f, repeats):
    f()
    start = time.perf_counter()
    for _ in range(repeats):
        f()
    return (time.perf_counter() - start) * 1e3 / repeats


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=10)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    out = []
    for name, c, o, side, padding in LAYERS:
        x = torch.rand(BATCH, c, side, side) * 2 - 1
        w = (torch.rand(o, c, KERNEL, KERNEL) * 2 - 1) * 0.2
        b = (torch.rand(o) * 2 - 1) * 0.1
        y = F.conv2d(x, w, b, padding=padding)
        g = torch.ones_like(y)

        def backward(mask):
            return torch.ops.aten.convolution_backward(
                g, x, w, [o], [1, 1], [padding, padding], [1, 1], False, [0, 0], 1, mask
            )

        with torch.no_grad():
            out.append(
                {
                    "name": name,
                    "forward": per_call_ms(lambda: F.conv2d(x, w, b, padding=padding), args.repeats),
                    "input grad": per_call_ms(lambda: backward([True, False, False]), args.repeats),
                    "weight grad": per_call_ms(lambda: backward([False, True, False]), args.repeats),
                }
            )
    print(json.dumps({"torch": torch.__version__, "threads": args.threads, "layers": out}))


if __name__ == "__main__":
    main()
