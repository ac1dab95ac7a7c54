"""Layers with PyTorch's `torch.nn` names, built on `scratchgrad.Tensor`.

A model's `state_dict()` names its tensors as PyTorch does (`0.weight`, `1.running_mean`,
...), which is also how the command line's model files name them, so a model trained by
`scratchgrad train` loads into the same `Sequential` here:

>>> import numpy as np
>>> from scratchgrad import nn
>>> model = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2))
>>> sorted(model.state_dict())
['0.bias', '0.weight', '2.bias', '2.weight']
>>> model(np.ones((5, 4), dtype=np.float32)).shape
(5, 2)
"""

import math

import numpy as np

from .._scratchgrad import Tensor
from . import functional as F
from . import init


class Module:
    """A layer or a network: its parameters (tensors with `requires_grad=True`, found by
    attribute assignment), buffers (numpy arrays saved with it, as batch norm's running
    statistics) and child modules, in the order they were assigned."""

    def __init__(self):
        object.__setattr__(self, "_parameters", {})
        object.__setattr__(self, "_buffers", {})
        object.__setattr__(self, "_modules", {})
        object.__setattr__(self, "training", True)

    def __setattr__(self, name, value):
        if "_parameters" not in self.__dict__:
            raise AttributeError("call Module.__init__() before assigning attributes")
        for table in (self._parameters, self._buffers, self._modules):
            table.pop(name, None)
        if isinstance(value, Tensor) and value.requires_grad:
            self._parameters[name] = value
        elif isinstance(value, Module):
            self._modules[name] = value
        object.__setattr__(self, name, value)

    def register_buffer(self, name, value):
        """Keeps `value` (a numpy array) with the module and in its `state_dict`."""
        object.__setattr__(self, name, value)
        self._buffers[name] = value

    def _set_buffer(self, name, value):
        object.__setattr__(self, name, value)
        self._buffers[name] = value

    def forward(self, *args):
        raise NotImplementedError(f"{type(self).__name__} has no forward()")

    def __call__(self, *args):
        return self.forward(*args)

    def named_parameters(self, prefix=""):
        """(name, tensor) for every parameter, children's included; a parameter shared by
        several layers comes once, under its first name (as in PyTorch)."""
        seen = set()
        for name, p in self._all_parameters(prefix):
            if id(p) not in seen:
                seen.add(id(p))
                yield name, p

    def _all_parameters(self, prefix):
        for name, p in self._parameters.items():
            yield prefix + name, p
        for child_name, child in self._modules.items():
            yield from child._all_parameters(f"{prefix}{child_name}.")

    def parameters(self):
        """Every parameter once, for an optimizer."""
        return [p for _, p in self.named_parameters()]

    def children(self):
        return list(self._modules.values())

    def train(self, mode=True):
        """Training mode (batch norm uses the batch's statistics, dropout drops) or, with
        `mode=False`, evaluation mode; for this module and its children."""
        object.__setattr__(self, "training", mode)
        for child in self._modules.values():
            child.train(mode)
        return self

    def eval(self):
        """Evaluation mode: `train(False)`."""
        return self.train(False)

    def zero_grad(self):
        """Forgets every parameter's gradient."""
        for p in self.parameters():
            p.grad = None

    def state_dict(self, prefix=""):
        """Every parameter and buffer by name, as numpy arrays (copies)."""
        state = {}
        for name, p in self._parameters.items():
            state[prefix + name] = p.numpy()
        for name, b in self._buffers.items():
            state[prefix + name] = np.array(b, copy=True)
        for child_name, child in self._modules.items():
            state.update(child.state_dict(f"{prefix}{child_name}."))
        return state

    def load_state_dict(self, state, strict=True):
        """Copies values into the parameters and buffers of the same names. Each must have
        the parameter's shape; with `strict`, names missing on either side are refused
        (`KeyError`), as PyTorch refuses them. Values may be numpy arrays or tensors."""
        own = self._named_slots()
        missing = [k for k in own if k not in state]
        unexpected = [k for k in state if k not in own]
        if strict and (missing or unexpected):
            raise KeyError(f"load_state_dict: missing {missing}, unexpected {unexpected}")
        for name, (module, attr, is_param) in own.items():
            if name not in state:
                continue
            value = np.asarray(state[name])
            current = getattr(module, attr)
            shape = tuple(current.shape)
            if value.shape != shape:
                raise ValueError(f"load_state_dict: {name} has shape {value.shape}, the model's {shape}")
            if is_param:
                with _no_grad():
                    current.copy_(value.astype(current.dtype))
            else:
                module._set_buffer(attr, value.astype(np.asarray(current).dtype).copy())

    def _named_slots(self, prefix=""):
        slots = {prefix + n: (self, n, True) for n in self._parameters}
        slots.update({prefix + n: (self, n, False) for n in self._buffers})
        for child_name, child in self._modules.items():
            slots.update(child._named_slots(f"{prefix}{child_name}."))
        return slots

    def extra_repr(self):
        return ""

    def __repr__(self):
        if not self._modules:
            return f"{type(self).__name__}({self.extra_repr()})"
        lines = [f"  ({name}): {child!r}".replace("\n", "\n  ") for name, child in self._modules.items()]
        return f"{type(self).__name__}(\n" + "\n".join(lines) + "\n)"


def _no_grad():
    from .._scratchgrad import no_grad

    return no_grad()


def _positive(**sizes):
    for name, value in sizes.items():
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a whole number of at least 1, not {value!r}")


def _as_tensor(x, dtype):
    return x if isinstance(x, Tensor) else Tensor(x, dtype=dtype)


class Linear(Module):
    """y = x W^T + b, with W `(out_features, in_features)` and b drawn as PyTorch draws them
    (uniform in +-1/sqrt(in_features))."""

    def __init__(self, in_features, out_features, bias=True, dtype="float32"):
        super().__init__()
        _positive(in_features=in_features, out_features=out_features)
        self.in_features, self.out_features = in_features, out_features
        bound = 1 / math.sqrt(in_features)
        self.weight = Tensor(init.uniform((out_features, in_features), bound, dtype), requires_grad=True)
        self.bias = Tensor(init.uniform((out_features,), bound, dtype), requires_grad=True) if bias else None

    def forward(self, x):
        y = _as_tensor(x, self.weight.dtype) @ self.weight.T
        return y + self.bias if self.bias is not None else y

    def extra_repr(self):
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"


class Conv2d(Module):
    """2-D convolution of `(n, in_channels, h, w)` inputs with `kernel_size` kernels (an int,
    or (height, width)), weights drawn as PyTorch draws them (uniform in
    +-1/sqrt(in_channels * kh * kw)); `stride` and `padding` are ints, the same both ways."""

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, bias=True, dtype="float32"):
        super().__init__()
        _positive(in_channels=in_channels, out_channels=out_channels, stride=stride)
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size, self.stride, self.padding = kernel_size, stride, padding
        kh, kw = kernel_size if isinstance(kernel_size, (tuple, list)) else (kernel_size, kernel_size)
        bound = 1 / math.sqrt(in_channels * kh * kw)
        shape = (out_channels, in_channels, kh, kw)
        self.weight = Tensor(init.uniform(shape, bound, dtype), requires_grad=True)
        self.bias = Tensor(init.uniform((out_channels,), bound, dtype), requires_grad=True) if bias else None

    def forward(self, x):
        x = _as_tensor(x, self.weight.dtype)
        return F.conv2d(x, self.weight, self.bias, self.stride, self.padding)

    def extra_repr(self):
        return (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}, padding={self.padding}")


class MaxPool2d(Module):
    """The largest value of each `kernel_size` window, moved by `stride` (the kernel size
    by default)."""

    def __init__(self, kernel_size, stride=None):
        super().__init__()
        self.kernel_size, self.stride = kernel_size, stride

    def forward(self, x):
        return F.max_pool2d(x, self.kernel_size, self.stride)

    def extra_repr(self):
        return f"kernel_size={self.kernel_size}, stride={self.stride or self.kernel_size}"


class AvgPool2d(MaxPool2d):
    """The mean of each `kernel_size` window, moved by `stride` (the kernel size by
    default)."""

    def forward(self, x):
        return F.avg_pool2d(x, self.kernel_size, self.stride)


class _Activation(Module):
    def forward(self, x):
        return getattr(F, self._function)(x)


class ReLU(_Activation):
    """max(x, 0)."""

    _function = "relu"


class Sigmoid(_Activation):
    """1 / (1 + e^-x)."""

    _function = "sigmoid"


class Tanh(_Activation):
    """tanh(x)."""

    _function = "tanh"


class GELU(Module):
    """GELU in its tanh form (PyTorch's `approximate="tanh"`, the only form here)."""

    def __init__(self, approximate="tanh"):
        super().__init__()
        F.gelu(Tensor(np.zeros(1)), approximate)  # refuses another form now, not at the first call
        self.approximate = approximate

    def forward(self, x):
        return F.gelu(x, self.approximate)


class Flatten(Module):
    """Every axis after the first into one: `(n, c, h, w)` to `(n, c*h*w)`."""

    def forward(self, x):
        # the sizes written out (not -1), so an empty batch flattens too
        return x.reshape(x.shape[0], math.prod(x.shape[1:]))


class Dropout(Module):
    """While training, zeroes each value with probability `p` and scales the rest by
    1 / (1 - p); in evaluation mode passes values through."""

    def __init__(self, p=0.5):
        super().__init__()
        if not 0 <= p < 1:
            raise ValueError(f"dropout probability must be in [0, 1), not {p}")
        self.p = p

    def forward(self, x):
        return F.dropout(x, self.p, self.training)

    def extra_repr(self):
        return f"p={self.p}"


class _BatchNorm(Module):
    """Batch normalization per channel: while training, each channel is normalized with the
    batch's mean and (biased) variance, and running statistics are kept (momentum 0.1, the
    unbiased variance, as PyTorch keeps them); in evaluation mode those are used instead."""

    _axes = None

    def __init__(self, num_features, eps=1e-5, momentum=0.1, dtype="float32"):
        super().__init__()
        _positive(num_features=num_features)
        self.num_features, self.eps, self.momentum = num_features, eps, momentum
        self.weight = Tensor(np.ones(num_features, dtype), requires_grad=True)
        self.bias = Tensor(np.zeros(num_features, dtype), requires_grad=True)
        self.register_buffer("running_mean", np.zeros(num_features, dtype))
        self.register_buffer("running_var", np.ones(num_features, dtype))
        self.register_buffer("num_batches_tracked", np.array(0, np.int64))

    def _reduce_axes(self, x):
        raise NotImplementedError

    def forward(self, x):
        x = _as_tensor(x, self.weight.dtype)
        axes = self._reduce_axes(x)
        shape = [1] * x.ndim
        shape[1] = self.num_features
        if x.shape[1] != self.num_features:
            raise ValueError(f"{type(self).__name__}({self.num_features}) got {x.shape[1]} channels (shape {x.shape})")
        if self.training:
            mean = x.mean(axis=axes, keepdims=True)
            centered = x - mean
            var = (centered * centered).mean(axis=axes, keepdims=True)
            count = x.numpy().size // self.num_features
            if count < 2:
                raise ValueError(f"{type(self).__name__} needs more than one value per channel while training")
            m = self.momentum
            mean_now = mean.numpy().reshape(-1)
            var_now = var.numpy().reshape(-1) * count / (count - 1)
            self._set_buffer("running_mean", ((1 - m) * self.running_mean + m * mean_now).astype(self.running_mean.dtype))
            self._set_buffer("running_var", ((1 - m) * self.running_var + m * var_now).astype(self.running_var.dtype))
            self._set_buffer("num_batches_tracked", np.array(self.num_batches_tracked + 1, np.int64))
            normalized = centered / (var + self.eps).sqrt()
        else:
            mean = self.running_mean.reshape(shape)
            std = np.sqrt(self.running_var + self.eps).reshape(shape)
            normalized = (x - mean) / std
        return normalized * self.weight.reshape(shape) + self.bias.reshape(shape)

    def extra_repr(self):
        return f"{self.num_features}, eps={self.eps}, momentum={self.momentum}"


class BatchNorm1d(_BatchNorm):
    """Batch normalization of `(n, c)` or `(n, c, length)` inputs per channel."""

    def _reduce_axes(self, x):
        if x.ndim not in (2, 3):
            raise ValueError(f"BatchNorm1d takes (n, c) or (n, c, length), not shape {x.shape}")
        return (0,) if x.ndim == 2 else (0, 2)


class BatchNorm2d(_BatchNorm):
    """Batch normalization of `(n, c, h, w)` inputs per channel."""

    def _reduce_axes(self, x):
        if x.ndim != 4:
            raise ValueError(f"BatchNorm2d takes (n, c, h, w), not shape {x.shape}")
        return (0, 2, 3)


class LayerNorm(Module):
    """Normalizes each example over its last axis, with a learnt scale and shift."""

    def __init__(self, normalized_shape, eps=1e-5, dtype="float32"):
        super().__init__()
        if isinstance(normalized_shape, (tuple, list)) and len(normalized_shape) == 1:
            normalized_shape = normalized_shape[0]
        if not isinstance(normalized_shape, int) or normalized_shape < 1:
            raise ValueError(f"LayerNorm normalizes the last axis only: give its size as an int, not {normalized_shape!r}")
        self.normalized_shape, self.eps = normalized_shape, eps
        self.weight = Tensor(np.ones(normalized_shape, dtype), requires_grad=True)
        self.bias = Tensor(np.zeros(normalized_shape, dtype), requires_grad=True)

    def forward(self, x):
        return F.layer_norm(_as_tensor(x, self.weight.dtype), self.weight, self.bias, self.eps)

    def extra_repr(self):
        return f"{self.normalized_shape}, eps={self.eps}"


class Embedding(Module):
    """A table of `num_embeddings` rows of `embedding_dim` numbers (drawn from N(0, 1), as
    PyTorch draws them), looked up by integer index."""

    def __init__(self, num_embeddings, embedding_dim, dtype="float32"):
        super().__init__()
        _positive(num_embeddings=num_embeddings, embedding_dim=embedding_dim)
        self.num_embeddings, self.embedding_dim = num_embeddings, embedding_dim
        table = init.generator().standard_normal((num_embeddings, embedding_dim)).astype(dtype)
        self.weight = Tensor(table, requires_grad=True)

    def forward(self, indices):
        return F.embedding(indices, self.weight)

    def extra_repr(self):
        return f"{self.num_embeddings}, {self.embedding_dim}"


class CausalSelfAttention(Module):
    """Multi-head self-attention over `(batch, time, n_embd)` where no position sees a later
    one, as nanoGPT's and makemore's `CausalSelfAttention` (and named as theirs: `c_attn`
    makes queries, keys and values in one product, `c_proj` mixes the heads back)."""

    def __init__(self, n_embd, n_head, dtype="float32"):
        super().__init__()
        _positive(n_embd=n_embd, n_head=n_head)
        if n_embd % n_head:
            raise ValueError(f"{n_embd} features do not split into {n_head} heads")
        self.n_embd, self.n_head = n_embd, n_head
        self.c_attn = Linear(n_embd, 3 * n_embd, dtype=dtype)
        self.c_proj = Linear(n_embd, n_embd, dtype=dtype)

    def forward(self, x):
        x = _as_tensor(x, self.c_proj.weight.dtype)
        if x.ndim != 3 or x.shape[2] != self.n_embd:
            raise ValueError(f"CausalSelfAttention({self.n_embd}) takes (batch, time, {self.n_embd}), not {x.shape}")
        b, t, c = x.shape
        h = self.n_head
        qkv = self.c_attn(x)
        # (b, t, c) -> (b, h, t, c / h): each head's slice of the features, heads as a batch axis
        q, k, v = (qkv.narrow(2, i * c, c).reshape(b, t, h, c // h).permute(0, 2, 1, 3) for i in range(3))
        weights = (q @ k.T).causal_softmax(1 / math.sqrt(c // h))
        mixed = (weights @ v).permute(0, 2, 1, 3).reshape(b, t, c)
        return self.c_proj(mixed)

    def extra_repr(self):
        return f"n_embd={self.n_embd}, n_head={self.n_head}"


class Sequential(Module):
    """Modules applied one after another, named `0`, `1`, ... as in PyTorch."""

    def __init__(self, *modules):
        super().__init__()
        for i, module in enumerate(modules):
            if not isinstance(module, Module):
                raise TypeError(f"Sequential takes modules, not {type(module).__name__} (at {i})")
            setattr(self, str(i), module)

    def forward(self, x):
        for module in self._modules.values():
            x = module(x)
        return x

    def __getitem__(self, i):
        return list(self._modules.values())[i]

    def __len__(self):
        return len(self._modules)


class CrossEntropyLoss(Module):
    """The mean over rows of -log softmax(logits)[row, target[row]]."""

    def forward(self, logits, target):
        return F.cross_entropy(logits, target)


class MSELoss(Module):
    """The mean of (prediction - target)^2."""

    def forward(self, prediction, target):
        return F.mse_loss(prediction, target)


__all__ = [
    "AvgPool2d",
    "BatchNorm1d",
    "BatchNorm2d",
    "CausalSelfAttention",
    "Conv2d",
    "CrossEntropyLoss",
    "Dropout",
    "Embedding",
    "Flatten",
    "GELU",
    "LayerNorm",
    "Linear",
    "MSELoss",
    "MaxPool2d",
    "Module",
    "ReLU",
    "Sequential",
    "Sigmoid",
    "Tanh",
    "functional",
    "init",
]
functional = F
