"""Random arrays from tinygen's seeded generators (backend/random.py), on any device, and
multinomial sampling. The creation functions (tg.rand, tg.randn...) and dropout draw here."""
from __future__ import annotations

import numpy as np

from ..autograd.function import wrap
from ..backend import dtypes as _dt
from ..backend.device import Device, get_xp, to_device
from ..backend.random import generator


def random_array(kind, shape, dtype=None, device=None, low=0, high=None):
    """An array of `shape` on `device` drawn from that device's generator:
    kind 'uniform' ([0, 1)), 'normal' (N(0, 1)), 'integers' ([low, high)), 'permutation'
    (of range(high)). dtype: None for the default float (int64 for integers)."""
    dev = Device(device) if device is not None else Device("cpu")
    gen = generator(dev)
    if kind == "uniform":
        arr = gen.random(shape, dtype=np.float64)
    elif kind == "normal":
        arr = gen.standard_normal(shape)
    elif kind == "integers":
        arr = gen.integers(low, high, size=shape)
    elif kind == "permutation":
        arr = gen.permutation(high)
    else:
        raise ValueError(f"random_array: unknown kind {kind!r}")
    default = np.int64 if kind in ("integers", "permutation") else _dt.get_default_dtype().np
    npd = _dt.to_np_dtype(dtype) or np.dtype(default)
    return get_xp(dev).asarray(arr.astype(npd, copy=False))


def multinomial(input, num_samples, replacement=False):
    """Sample indices from rows of (unnormalised) probabilities; no gradient. The draws come from
    the CPU generator (the sampled indices are moved to input's device)."""
    probs = input.detach().double().cpu().numpy()
    squeeze = probs.ndim == 1
    probs = probs.reshape(-1, probs.shape[-1])
    if (probs < 0).any() or not np.isfinite(probs).all():
        raise RuntimeError("multinomial: probability tensor contains inf, nan or an element < 0")
    sums = probs.sum(axis=1, keepdims=True)
    if (sums <= 0).any():
        raise RuntimeError("multinomial: every row must have a positive sum")
    if not replacement and num_samples > probs.shape[1]:
        raise RuntimeError(f"multinomial: cannot sample {num_samples} > {probs.shape[1]} "
                           "categories without replacement")
    gen = generator("cpu")
    out = np.stack([gen.choice(probs.shape[1], size=num_samples, replace=replacement, p=p / p.sum())
                    for p in probs]).astype(np.int64)
    return wrap(to_device(out[0] if squeeze else out, input.device))


def bernoulli(input, p=None, generator=None):
    """0/1 draws with probabilities input (or the number p), with input's shape and dtype; no
    gradient."""
    probs = input._data if p is None else p
    if p is None and ((input._data < 0).any() or (input._data > 1).any()):
        raise RuntimeError("bernoulli: expected all probabilities in [0, 1]")
    draws = _draw(input.device, "random", input.shape) < probs            # U[0, 1) < p
    return wrap(draws.astype(input._data.dtype))


def poisson(input, generator=None):
    """Poisson draws with rates input (same shape and dtype); no gradient."""
    rates = input.detach().cpu().numpy()
    if (rates < 0).any():
        raise RuntimeError("poisson: expected non-negative rates")
    return wrap(_draw(input.device, "poisson", rates).astype(input._data.dtype))


def _draw(device, kind, *args):
    """generator(device).<kind>(*args) (a NumPy Generator method: 'random', 'poisson', ...) as
    an array on `device` (drawn on the CPU for the methods CuPy's generators lack)."""
    gen = generator(device)
    if not hasattr(gen, kind):
        gen = generator("cpu")
    return get_xp(Device(device)).asarray(getattr(gen, kind)(*args))
