"""Where new layers' weights come from: one numpy random Generator for the package, which
`scratchgrad.manual_seed` resets (as `torch.manual_seed` resets PyTorch's)."""

import numpy as np

_generator = np.random.default_rng()


def manual_seed(seed):
    """Makes new layers' weights (and dropout's masks) the same on every run for `seed`."""
    global _generator
    _generator = np.random.default_rng(seed)


def generator():
    """The package's random Generator."""
    return _generator


def uniform(shape, bound, dtype):
    """Values drawn uniformly from [-bound, bound]: PyTorch's default for Linear and Conv2d
    (bound 1/sqrt(fan_in), what its kaiming_uniform_ with a=sqrt(5) comes to)."""
    return _generator.uniform(-bound, bound, shape).astype(dtype)
