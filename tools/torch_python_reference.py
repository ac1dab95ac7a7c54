#!/usr/bin/env python3
"""Writes crates/scratchgrad-py/tests/fixtures/tensor_ops_torch.json: for every operation the
Python package offers on tensors, seeded float64 inputs, PyTorch's output, and PyTorch's
gradient of sum(output * upstream) with respect to each input. test_tensor.py compares
scratchgrad's values and gradients with these (the tests themselves do not need torch).

Usage (a virtual environment with torch and numpy):
    python tools/torch_python_reference.py
"""
import json
import pathlib

import numpy as np
import torch
import torch.nn.functional as F

rng = np.random.default_rng(2026)


def normal(*shape):
    return rng.standard_normal(shape)


def positive(*shape):
    return rng.uniform(0.5, 2.0, shape)


def causal_softmax(x, scale):
    t = x.shape[-1]
    mask = torch.tril(torch.ones(t, t, dtype=torch.bool))
    return torch.softmax((x * scale).masked_fill(~mask, float("-inf")), dim=-1)


# name -> (torch function of the tensors, the inputs, integer arguments kept as they are)
CASES = {
    "relu": (torch.relu, [normal(3, 4)]),
    "tanh": (torch.tanh, [normal(3, 4)]),
    "sigmoid": (torch.sigmoid, [normal(3, 4)]),
    "gelu": (lambda x: F.gelu(x, approximate="tanh"), [normal(3, 4)]),
    "exp": (torch.exp, [normal(3, 4)]),
    "log": (torch.log, [positive(3, 4)]),
    "sqrt": (torch.sqrt, [positive(3, 4)]),
    "abs": (torch.abs, [normal(3, 4)]),
    "pow_scalar": (lambda x: x ** 2.5, [positive(3, 4)]),
    "add": (torch.add, [normal(2, 1, 3), normal(4, 1)]),
    "sub": (torch.sub, [normal(2, 3), normal(3)]),
    "mul": (torch.mul, [normal(4, 1), normal(1, 5)]),
    "div": (torch.div, [normal(2, 3), positive(2, 1)]),
    "pow": (torch.pow, [positive(2, 3), normal(3)]),
    "maximum": (torch.maximum, [normal(3, 4), normal(4)]),
    "minimum": (torch.minimum, [normal(3, 4), normal(3, 1)]),
    "matmul": (torch.matmul, [normal(2, 1, 3, 4), normal(3, 4, 2)]),
    "sum_axis1": (lambda x: x.sum(dim=1), [normal(2, 3, 4)]),
    "mean_axes02_keepdims": (lambda x: x.mean(dim=(0, 2), keepdim=True), [normal(2, 3, 4)]),
    "max_axis_last": (lambda x: x.amax(dim=-1), [normal(3, 5)]),
    "softmax": (lambda x: torch.softmax(x, dim=-1), [normal(3, 5)]),
    "log_softmax_axis0": (lambda x: torch.log_softmax(x, dim=0), [normal(3, 5)]),
    "reshape": (lambda x: x.reshape(4, -1), [normal(2, 3, 2)]),
    "permute": (lambda x: x.permute(2, 0, 1), [normal(2, 3, 4)]),
    "transpose": (lambda x: x.transpose(-1, -2), [normal(2, 3, 4)]),
    "narrow": (lambda x: x.narrow(1, 1, 2), [normal(2, 4, 3)]),
    "causal_softmax": (lambda x: causal_softmax(x, 0.5), [normal(2, 4, 4)]),
    "conv2d_s2_p1": (lambda x, w, b: F.conv2d(x, w, b, stride=2, padding=1),
                     [normal(2, 3, 7, 6), normal(4, 3, 3, 3), normal(4)]),
    "max_pool2d": (lambda x: F.max_pool2d(x, 2), [normal(2, 3, 6, 4)]),
    "avg_pool2d_s1": (lambda x: F.avg_pool2d(x, 3, stride=1), [normal(1, 2, 5, 5)]),
    "layer_norm": (lambda x, w, b: F.layer_norm(x, (5,), w, b, eps=1e-5),
                   [normal(2, 3, 5), normal(5), normal(5)]),
}
INTEGER_CASES = {
    "embedding": (lambda w, ids: F.embedding(ids, w), [normal(6, 3)], [[1, 5, 1], [0, 2, 5]]),
    "cross_entropy": (lambda z, t: F.cross_entropy(z, t), [normal(5, 4)], [3, 0, 1, 1, 2]),
}


def run(function, inputs, integers=None):
    tensors = [torch.tensor(x, dtype=torch.float64, requires_grad=True) for x in inputs]
    args = tensors + ([torch.tensor(integers)] if integers is not None else [])
    out = function(*args)
    upstream = rng.standard_normal(tuple(out.shape))
    (out * torch.tensor(upstream)).sum().backward()
    case = {
        "inputs": [x.tolist() for x in inputs],
        "shapes": [list(x.shape) for x in inputs],
        "output": out.detach().numpy().tolist(),
        "output_shape": list(out.shape),
        "upstream": upstream.tolist(),
        "gradients": [t.grad.numpy().tolist() for t in tensors],
    }
    if integers is not None:
        case["integers"] = integers
    return case


def main():
    cases = {name: run(f, inputs) for name, (f, inputs) in CASES.items()}
    cases.update({name: run(f, inputs, ints) for name, (f, inputs, ints) in INTEGER_CASES.items()})
    out = pathlib.Path(__file__).resolve().parent.parent / "crates/scratchgrad-py/tests/fixtures/tensor_ops_torch.json"
    out.write_text(json.dumps({
        "made_by": f"tools/torch_python_reference.py with torch {torch.__version__}, float64, numpy seed 2026",
        "cases": cases,
    }, indent=None, separators=(",", ":")) + "\n")
    print(f"wrote {len(cases)} cases to {out}")


main()
