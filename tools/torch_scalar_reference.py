#!/usr/bin/env python3
"""Generate PyTorch reference values for the scalar engine and the `grad` command.

Usage (needs PyTorch; the tests never do):

    ~/torchvenv/bin/python tools/torch_scalar_reference.py

Writes crates/scratchgrad/tests/fixtures/scalar_expressions.json: random expressions in Python syntax (every
operator and function of `scratchgrad grad` appears), values for their names, and PyTorch's
float64 value and gradients. Python's own parser decides what each string means, so the
fixture also checks that scratchgrad's parser follows Python's precedence.
"""
import json
import math
import pathlib
import random

import torch

OUT = pathlib.Path(__file__).resolve().parent.parent / "crates" / "scratchgrad" / "tests" / "fixtures" / "scalar_expressions.json"
NAMES = ["x", "y", "z", "w", "rate_2"]
FUNCTIONS = ["exp", "log", "sqrt", "tanh", "sigmoid", "relu", "sin", "cos", "abs"]
BINARY = ["+", "-", "*", "/", "**"]
TORCH = {
    "exp": torch.exp, "log": torch.log, "sqrt": torch.sqrt, "tanh": torch.tanh,
    "sigmoid": torch.sigmoid, "relu": torch.relu, "sin": torch.sin, "cos": torch.cos, "abs": torch.abs,
}

# Hand-picked shapes that pin down Python's precedence and associativity.
FIXED = [
    "(x + y) * z",
    "-x**2 + y",
    "2**y**0.5 * x",
    "x ** -1 - y / z / w",
    "-(x - y) ** 2 / rate_2",
    "x * -y + +z",
    "exp(-x) * sigmoid(y) - tanh(z)",
    "log(abs(x) + 1) * sqrt(y ** 2 + 1)",
    "relu(x - y) + relu(y - x) * cos(z) - sin(w)",
    "abs(x) ** abs(y)",
    "x ** y",
    "1e-3 * x + .5 / y - 2. * z",
]


def random_expr(rng, depth):
    if depth == 0 or rng.random() < 0.2:
        if rng.random() < 0.7:
            return rng.choice(NAMES)
        return repr(round(rng.uniform(0.1, 3.0), rng.choice([0, 1, 2])))
    kind = rng.random()
    if kind < 0.3:
        f = rng.choice(FUNCTIONS)
        inner = random_expr(rng, depth - 1)
        if f in ("log", "sqrt"):
            inner = f"abs({inner}) + 0.5"  # keep the argument positive
        return f"{f}({inner})"
    if kind < 0.4:
        return f"-{random_expr(rng, depth - 1)}"
    op = rng.choice(BINARY)
    a, b = random_expr(rng, depth - 1), random_expr(rng, depth - 1)
    if op == "**":
        a = f"(abs({a}) + 0.5)"  # a positive base keeps real powers real
        b = f"({b})" if rng.random() < 0.5 else repr(rng.choice([2, 3, 0.5, -1]))
    wrap = lambda s: f"({s})" if rng.random() < 0.5 else s
    return f"{wrap(a)} {op} {wrap(b)}"


def evaluate(expr, values):
    leaves = {n: torch.tensor(v, dtype=torch.float64, requires_grad=True) for n, v in values.items()}
    # Functions also accept plain numbers (a call on a constant sub-expression).
    functions = {n: (lambda f: lambda v: f(torch.as_tensor(v, dtype=torch.float64)))(f) for n, f in TORCH.items()}
    out = eval(expr, {"__builtins__": {}}, {**functions, **leaves})
    out.backward()
    grads = {n: (t.grad.item() if t.grad is not None else 0.0) for n, t in leaves.items()}
    return out.item(), grads


def main():
    rng = random.Random(20261123)
    sources = FIXED + [random_expr(rng, rng.choice([2, 3, 4])) for _ in range(200)]
    cases = []
    for expr in sources:
        names = [n for n in NAMES if n in compile(expr, "<expr>", "eval").co_names]
        if not names:
            continue
        values = {n: round(rng.uniform(-2.0, 2.0), 3) for n in names}
        try:
            value, grads = evaluate(expr, values)
        except (ZeroDivisionError, RuntimeError, OverflowError):
            continue
        numbers = [value, *grads.values()]
        if not all(math.isfinite(v) and abs(v) < 1e6 for v in numbers):
            continue
        cases.append({"expr": expr, "values": values, "value": value, "gradients": grads})
        if len(cases) >= 60:
            break
    # Powers at a base of 0 and with an exponent of 0: PyTorch takes the limits (0) where the
    # textbook formulas give 0 * inf.
    for expr, values in [
        ("x ** y", {"x": 0.0, "y": 2.0}),
        ("x ** y", {"x": 0.0, "y": 0.0}),
        ("x ** 0 + y", {"x": 0.0, "y": 1.5}),
        ("x ** 3 * y", {"x": 0.0, "y": -1.25}),
        ("y * x ** 0", {"x": 2.5, "y": 0.75}),
    ]:
        value, grads = evaluate(expr, values)
        cases.append({"expr": expr, "values": values, "value": value, "gradients": grads})
    used = " ".join(c["expr"] for c in cases)
    missing = [f for f in FUNCTIONS + BINARY if f not in used]
    assert not missing, f"operators never used: {missing}"
    doc = {
        "generated_by": "tools/torch_scalar_reference.py",
        "torch_version": torch.__version__,
        "dtype": "float64",
        "cases": cases,
    }
    OUT.write_text(json.dumps(doc, indent=1) + "\n")
    print(f"wrote {len(cases)} expressions to {OUT}")


if __name__ == "__main__":
    main()
