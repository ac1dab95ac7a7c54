"""Optimizers with PyTorch's `torch.optim` names and arguments. Each update rule is the Rust
library's (`scratchgrad::optim`, the rules the command line trains with), applied to the
parameters' `grad` in place:

>>> import numpy as np
>>> import scratchgrad as sg
>>> w = sg.Tensor(np.array([1.0, -2.0]), requires_grad=True)
>>> opt = sg.optim.SGD([w], lr=0.1)
>>> (w * w).sum().backward()
>>> opt.step()
>>> w.numpy()
array([ 0.8, -1.6])
"""

from ._scratchgrad import _UpdateRule


class Optimizer:
    """Updates a fixed list of parameters from their gradients."""

    def __init__(self, params, rule, **settings):
        unique = {}
        for p in params:
            unique.setdefault(id(p), p)  # a tensor listed twice is updated once
        self.params = list(unique.values())
        self._rule = _UpdateRule(rule, self.params, **settings)

    def step(self):
        """One update of every parameter that has a gradient."""
        self._rule.step()

    def zero_grad(self):
        """Forgets every parameter's gradient (before the next `backward()`)."""
        self._rule.zero_grad()

    @property
    def lr(self):
        """The learning rate; set it to follow a schedule."""
        return self._rule.lr

    @lr.setter
    def lr(self, value):
        self._rule.lr = value


class SGD(Optimizer):
    """p -= lr * g, with optional momentum (PyTorch's form: v = momentum * v + g), Nesterov
    momentum and L2 weight decay (g += weight_decay * p)."""

    def __init__(self, params, lr, momentum=0.0, weight_decay=0.0, nesterov=False):
        super().__init__(params, "sgd", lr=lr, momentum=momentum, nesterov=nesterov,
                         weight_decay=weight_decay, decoupled=False, betas=(0.9, 0.999))


class Adam(Optimizer):
    """Adam (Kingma and Ba) with optional L2 weight decay (g += weight_decay * p), as
    `torch.optim.Adam`."""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
        super().__init__(params, "adam", lr=lr, momentum=0.0, nesterov=False,
                         weight_decay=weight_decay, decoupled=False, betas=tuple(betas), eps=eps)


class AdamW(Optimizer):
    """Adam with decoupled weight decay (p -= lr * weight_decay * p apart from the
    gradient), as `torch.optim.AdamW`."""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01):
        super().__init__(params, "adam", lr=lr, momentum=0.0, nesterov=False,
                         weight_decay=weight_decay, decoupled=True, betas=tuple(betas), eps=eps)


__all__ = ["Adam", "AdamW", "Optimizer", "SGD"]
