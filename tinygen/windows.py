"""Window functions for spectral analysis, as torch.*_window: hann, hamming, bartlett, blackman,
kaiser.

    tg.hann_window(8)                      periodic (the default): the first 8 of a 9-point window,
                                           what a DFT of length 8 wants
    tg.hann_window(8, periodic=False)      symmetric: w[k] == w[7 - k]
    tg.kaiser_window(8, False, beta=5.0, dtype=tg.float64)

Each is computed as PyTorch computes it (in the window's dtype; Kaiser's Bessel function I0 in
float64, then cast) and made a leaf (requires_grad as asked). Lengths 0 and 1 give [] and [1.].
"""
from __future__ import annotations

import math
import numbers

import numpy as np

from . import creation as _creation
from .backend import dtypes as _dt
from .backend.device import get_xp


def _window_dtype(op, window_length, dtype):
    """The window's NumPy dtype (floating only), window_length checked as PyTorch checks it."""
    if isinstance(window_length, bool) or not isinstance(window_length, numbers.Integral):
        raise TypeError(f"{op}(): argument 'window_length' (position 1) must be int, not "
                        f"{type(window_length).__name__}")
    npd = np.dtype(_dt.to_np_dtype(dtype) or _dt.get_default_dtype().np)
    if npd.kind != "f":
        raise RuntimeError(f"{op} expects floating point dtypes, got: {_dt.from_np_dtype(npd)}")
    if window_length < 0:
        raise RuntimeError(f"{op} requires non-negative window_length, got "
                           f"window_length={window_length}")
    return npd


def _window(op, window_length, periodic, dtype, device, requires_grad, values):
    """values(n, npd) -> the n-point symmetric window as an array; periodic windows take the
    first window_length points of the (window_length + 1)-point one."""
    npd = _window_dtype(op, window_length, dtype)
    if window_length <= 1:
        array = np.ones(window_length, dtype=npd)
    else:
        n = window_length + 1 if periodic else window_length
        array = values(n, npd)[:window_length]
    xp = get_xp(device) if device is not None else np
    return _creation._leaf(xp.asarray(array), requires_grad)


def _cosine_sum(n, npd, coefficients):
    """sum_k (-1)^k a_k cos(2 pi k i / (n - 1)), i = 0..n-1, in npd arithmetic."""
    phase = np.arange(n, dtype=npd) * npd.type(2.0 * math.pi / (n - 1))
    out = np.zeros(n, dtype=npd)
    for k, a in enumerate(coefficients):
        out = out + npd.type((-1) ** k * a) * np.cos(phase * npd.type(k))
    return out


def hamming_window(window_length, periodic=True, alpha=0.54, beta=0.46, *, dtype=None,
                   layout=None, device=None, requires_grad=False):
    """alpha - beta cos(2 pi i / (N - 1)) (Hamming: alpha 0.54, beta 0.46)."""
    return _window("hamming_window", window_length, periodic, dtype, device, requires_grad,
                   lambda n, npd: _cosine_sum(n, npd, (alpha, beta)))


def hann_window(window_length, periodic=True, *, dtype=None, layout=None, device=None,
                requires_grad=False):
    """0.5 - 0.5 cos(2 pi i / (N - 1)) = sin^2(pi i / (N - 1))."""
    return _window("hann_window", window_length, periodic, dtype, device, requires_grad,
                   lambda n, npd: _cosine_sum(n, npd, (0.5, 0.5)))


def blackman_window(window_length, periodic=True, *, dtype=None, layout=None, device=None,
                    requires_grad=False):
    """0.42 - 0.5 cos(2 pi i / (N - 1)) + 0.08 cos(4 pi i / (N - 1))."""
    return _window("blackman_window", window_length, periodic, dtype, device, requires_grad,
                   lambda n, npd: _cosine_sum(n, npd, (0.42, 0.5, 0.08)))


def _bartlett(n, npd):
    """The triangle 2 i / (N - 1) rising to 1, then falling: 2 - 2 i / (N - 1)."""
    ramp = np.arange(n, dtype=npd) * npd.type(2.0 / (n - 1))
    half = (n - 1) // 2 + 1
    ramp[half:] = npd.type(2.0) - ramp[half:]
    return ramp


def bartlett_window(window_length, periodic=True, *, dtype=None, layout=None, device=None,
                    requires_grad=False):
    """The triangular window: 1 - |2 i / (N - 1) - 1|."""
    return _window("bartlett_window", window_length, periodic, dtype, device, requires_grad,
                   _bartlett)


def kaiser_window(window_length, periodic=True, beta=12.0, *, dtype=None, layout=None,
                  device=None, requires_grad=False):
    """I0(beta sqrt(1 - ((i - m) / m)^2)) / I0(beta), m = (N - 1) / 2 (Kaiser 1980); I0 is the
    modified Bessel function of order 0, computed in float64 (NumPy's i0) and cast."""
    def values(n, npd):
        middle = (n - 1) / 2.0
        ratio = (np.arange(n, dtype=np.float64) - middle) / middle
        return (np.i0(beta * np.sqrt(np.maximum(1.0 - ratio ** 2, 0.0))) / np.i0(beta)).astype(npd)

    return _window("kaiser_window", window_length, periodic, dtype, device, requires_grad, values)
