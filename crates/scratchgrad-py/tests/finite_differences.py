"""Central finite differences in numpy float64: the reference gradients the tests compare
the engine's with (shared by test_tensor.py and test_nn.py)."""

import numpy as np


def numeric_gradient(f, x, eps=1e-6):
    """d f() / d x by central differences, where `f` reads `x` (changed in place, one element
    at a time, and put back)."""
    grad = np.zeros_like(x)
    flat, out = x.reshape(-1), grad.reshape(-1)
    for i in range(flat.size):
        keep = flat[i]
        flat[i] = keep + eps
        up = f()
        flat[i] = keep - eps
        down = f()
        flat[i] = keep
        out[i] = (up - down) / (2 * eps)
    return grad
