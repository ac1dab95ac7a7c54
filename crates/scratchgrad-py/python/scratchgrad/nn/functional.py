"""Operations on tensors with PyTorch's `torch.nn.functional` names. The convolution, pooling,
embedding, layer norm and cross-entropy are one call each into the Rust engine (their
backward passes are the engine's); the rest are the `Tensor` methods under these names."""

from .. import _scratchgrad
from .._scratchgrad import Tensor

conv2d = _scratchgrad.conv2d
max_pool2d = _scratchgrad.max_pool2d
avg_pool2d = _scratchgrad.avg_pool2d
layer_norm = _scratchgrad.layer_norm
embedding = _scratchgrad.embedding
cross_entropy = _scratchgrad.cross_entropy


def relu(x):
    """max(x, 0) elementwise."""
    return x.relu()


def sigmoid(x):
    """1 / (1 + e^-x) elementwise."""
    return x.sigmoid()


def tanh(x):
    """tanh(x) elementwise."""
    return x.tanh()


def gelu(x, approximate="tanh"):
    """GELU in its tanh form (PyTorch's `approximate="tanh"`, the only form here)."""
    if approximate != "tanh":
        raise ValueError('gelu: only approximate="tanh" is implemented')
    return x.gelu()


def softmax(x, dim=-1):
    """e^x / sum(e^x) along `dim`."""
    return x.softmax(dim)


def log_softmax(x, dim=-1):
    """x - log(sum(e^x)) along `dim`."""
    return x.log_softmax(dim)


def mse_loss(prediction, target):
    """The mean of (prediction - target)^2."""
    return ((prediction - target) ** 2).mean()


def dropout(x, p=0.5, training=True, generator=None):
    """Zeroes each value with probability `p` and scales the rest by 1 / (1 - p) while
    training; returns `x` unchanged otherwise. The mask comes from `generator` (a numpy
    Generator), or from the one `scratchgrad.manual_seed` seeds."""
    if not 0 <= p < 1:
        raise ValueError(f"dropout probability must be in [0, 1), not {p}")
    if not training or p == 0:
        return x
    from . import init

    rng = generator if generator is not None else init.generator()
    keep = (rng.random(x.shape) >= p) / (1 - p)
    return x * Tensor(keep.astype(x.dtype))


__all__ = [
    "avg_pool2d",
    "conv2d",
    "cross_entropy",
    "dropout",
    "embedding",
    "gelu",
    "layer_norm",
    "log_softmax",
    "max_pool2d",
    "mse_loss",
    "relu",
    "sigmoid",
    "softmax",
    "tanh",
]
