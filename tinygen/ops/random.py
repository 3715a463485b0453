"""Random arrays from tinygen's seeded generators (backend/random.py), on any device, and
multinomial, bernoulli and poisson sampling, and reparameterised Gamma draws (StandardGamma, for
the Gamma, Beta and Dirichlet distributions). The creation functions (tg.rand, tg.randn...) and
dropout draw here."""
from __future__ import annotations

import numpy as np

from ..autograd.capture import tracer
from ..autograd.function import CAPTURE, Function, wrap
from ..backend import dtypes as _dt
from ..backend.device import Device, device_of, get_xp, to_device
from ..backend.random import generator


def random_array(kind, shape, dtype=None, device=None, low=0, high=None):
    """An array of `shape` on `device` drawn from that device's generator (see _draw_array); a
    step being captured (tg.compile) records the draw, so its replays draw the same stream."""
    arr = _draw_array(kind, shape, dtype, device, low, high)
    if CAPTURE[0] is not None:
        tr = tracer()
        if tr is not None:
            tr.source(_draw_array, (kind, shape, dtype, device, low, high), {}, arr)
    return arr


def _draw_array(kind, shape, dtype=None, device=None, low=0, high=None):
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


class KeepMask(Function):
    """Dropout's keep mask from uniform draws u: (u >= p) in dtype, times `scale` when given. No
    gradient (a constant of the graph). An op, not array code in dropout, so a captured step
    (tg.compile) replays it on each step's own draws."""

    def forward(self, u, p, dtype, scale=None):
        keep = (u >= p).astype(dtype)
        return keep if scale is None else keep * dtype.type(scale)


def keep_mask(x, p, shape, scale=None):
    """A Tensor of `shape`, 1 (or `scale`) with probability 1 - p, 0 otherwise, in x's dtype."""
    u = random_array("uniform", shape, x.dtype, x.device)
    return KeepMask.apply(u, p, x._data.dtype, scale)


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
    xp = get_xp(Device(input.device))                  # (0-d: `<` gives a NumPy scalar)
    return wrap(xp.asarray(draws).astype(input._data.dtype))


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


# ---- reparameterised Gamma draws ---------------------------------------------------------------
class StandardGamma(Function):
    """Gamma(alpha, 1) draws with the implicit reparameterisation gradient (Figurnov et al. 2018):
    for x = F^{-1}(u; alpha) with u fixed, dx/dalpha = -(dF/dalpha) / (dF/dx), F the regularised
    lower incomplete gamma P(alpha, x) and dF/dx its density. Backward: StandardGammaGrad."""

    def forward(self, alpha):
        draws = _draw(device_of(alpha), "standard_gamma", _to_numpy(alpha).astype(np.float64))
        x = draws.astype(alpha.dtype, copy=False)
        self.save_for_backward(alpha, x)
        return x

    def backward(self, gy):
        alpha, x = self.saved_tensors
        return gy * StandardGammaGrad.apply(alpha, x)


class StandardGammaGrad(Function):
    """dx/dalpha of a standard Gamma draw x (see StandardGamma). dF/dalpha has no closed form:
    it is a central difference of scipy's gammainc in alpha (step 1e-5 alpha, relative error
    ~1e-9 in float64). No derivative of its own (as in PyTorch: Gamma, Beta and Dirichlet
    rsample are differentiable once)."""

    def forward(self, alpha, x):
        from scipy import special  # lazy: scipy.special costs start-up time
        a, v = _to_numpy(alpha).astype(np.float64), _to_numpy(x).astype(np.float64)
        h = 1e-5 * np.maximum(a, 1e-3)
        with np.errstate(all="ignore"):
            dF_da = (special.gammainc(a + h, v) - special.gammainc(a - h, v)) / (2 * h)
            log_pdf = (a - 1) * np.log(v) - v - special.gammaln(a)
            grad = -dF_da / np.exp(log_pdf)
        grad = np.where(np.isfinite(grad), grad, 0.0)
        return get_xp(device_of(alpha)).asarray(grad.astype(alpha.dtype))

    def backward(self, gg):
        raise NotImplementedError("the second derivative of a Gamma / Beta / Dirichlet rsample "
                                  "(StandardGammaGrad) is not implemented, as in PyTorch")


def _to_numpy(a):
    return a.get() if hasattr(a, "get") else np.asarray(a)


def standard_gamma(concentration):
    """Gamma(concentration, 1) draws, differentiable in concentration (once)."""
    return StandardGamma.apply(concentration)
