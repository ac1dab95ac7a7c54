"""scratchgrad: backpropagation from first principles, on a Rust engine.

>>> from scratchgrad import Value
>>> x, y, z = Value(-2.0), Value(5.0), Value(-4.0)
>>> f = (x + y) * z
>>> f.backward()
>>> f.data, x.grad, y.grad, z.grad
(-12.0, -4.0, -4.0, 3.0)

In a notebook, a cell that ends in a `Value` shows its graph with every value's data and
gradient (`Value._repr_svg_`); `draw_dot(v)` gives the same SVG as a string.
`scratchgrad.micrograd` has micrograd's `Neuron`, `Layer` and `MLP` on this `Value`.

`Tensor` is the n-dimensional autograd tensor, with numpy arrays in and out and `no_grad()`;
`scratchgrad.nn` and `scratchgrad.optim` have PyTorch's layers and optimizers by PyTorch's
names; `train`, `load_model` and `load_dataset` are the command line's jobs as functions.
"""

from ._scratchgrad import (
    Model,
    Tensor,
    Value,
    __version__,
    draw_dot,
    is_grad_enabled,
    load_dataset,
    load_model,
    no_grad,
)
from typing import TYPE_CHECKING

from .training import train

if TYPE_CHECKING:  # editors and type checkers see them; at run time they load when first used
    from . import nn, optim
    from .nn.init import manual_seed


def __getattr__(name):
    # `nn` (and `manual_seed` with it) imports numpy, which takes longer than everything
    # else here: it is loaded when first used, so `import scratchgrad` stays quick.
    if name in ("nn", "optim"):
        import importlib

        return importlib.import_module(f".{name}", __name__)
    if name == "manual_seed":
        from .nn.init import manual_seed

        return manual_seed
    raise AttributeError(f"module 'scratchgrad' has no attribute {name!r}")

__all__ = [
    "Model",
    "Tensor",
    "Value",
    "draw_dot",
    "is_grad_enabled",
    "load_dataset",
    "load_model",
    "manual_seed",
    "nn",
    "no_grad",
    "optim",
    "train",
    "__version__",
]


def _rebuild_tensor(values, options):
    """Makes a tensor again from what `Tensor.__reduce__` kept (for pickle and `copy`)."""
    return Tensor(values, **options)
