"""Interpolating resampling for F.interpolate: 'linear' (3-D input), 'bilinear' and 'bicubic'
(4-D), 'trilinear' (5-D), with align_corners either way, one spatial dim at a time (each mode is
a tensor product of its 1-D rule, so resampling dim by dim is exact).

Source coordinates follow PyTorch's kernels (area_pixel_compute_source_index):
    align_corners=True:  src = dst (in - 1) / (out - 1)
    align_corners=False: src = (dst + 1/2) s - 1/2 (clamped at 0 for linear), s = 1 / scale_factor
                         when a scale factor is given, else in / out.
A dim whose output size equals its input size is copied by the linear modes whatever the scale
factor (PyTorch's kernels do: scale_factor=1.1 on a size-4 dim leaves it as is); bicubic resamples
it with s = 1 / scale_factor as the formula says, as PyTorch's bicubic kernel does. Where
tinygen differs: when every output size equals its input size, PyTorch's bicubic backward copies
the gradient through unchanged, which is not the gradient of its forward (scale_factor=1.1 on a
4 x 4 input: torch.autograd.gradcheck fails); tinygen's gradient is the true one.
Linear: y = (1 - l) x[i0] + l x[i0 + 1], i0 = floor(src), l = src - i0 (the upper index clamped
to the last). Bicubic: Keys' convolution kernel with a = -0.75 over x[i0 - 1 .. i0 + 2], indices
clamped to the edges. Each output is a fixed weighted sum of index_select reads, so the gradients
(of any order) are scatter-adds of the same weights.
"""
from __future__ import annotations

import numpy as np

from ..autograd.function import wrap

CUBIC_A = -0.75                  # the Keys kernel's parameter PyTorch uses


def _source(in_size, out_size, scale, align_corners, cubic):
    dst = np.arange(out_size, dtype=np.float64)
    if align_corners:
        step = (in_size - 1) / (out_size - 1) if out_size > 1 else 0.0
        return dst * step
    step = 1.0 / scale if scale is not None and scale > 0 else in_size / out_size
    src = (dst + 0.5) * step - 0.5
    return src if cubic else np.maximum(src, 0.0)


def _cubic_weights(t):
    """Keys (1981) cubic convolution weights of the 4 taps at offsets -1, 0, 1, 2 for fraction t."""
    a = CUBIC_A

    def near(x):                                  # |x| <= 1
        return ((a + 2) * x - (a + 3)) * x * x + 1

    def far(x):                                   # 1 < |x| < 2
        return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a

    return [far(t + 1), near(t), near(1 - t), far(2 - t)]


def _taps(in_size, out_size, scale, align_corners, cubic):
    """[(source indices (out,), weights (out,))] whose weighted sum is each output."""
    src = _source(in_size, out_size, scale, align_corners, cubic)
    base = np.floor(src).astype(np.int64)
    t = src - base
    if cubic:
        return [(np.clip(base + k - 1, 0, in_size - 1), w)
                for k, w in enumerate(_cubic_weights(t))]
    base = np.minimum(base, in_size - 1)
    upper = np.minimum(base + 1, in_size - 1)
    return [(base, 1.0 - t), (upper, t)]


def resample_along(y, dim, out_size, scale, align_corners, cubic):
    """y with dim resampled to out_size by the linear (or cubic) rule."""
    in_size = y.shape[dim]
    xp = y.device.xp
    view = (-1,) + (1,) * (y.ndim - dim - 1)                   # weights broadcast along dim
    out = None
    for index, weight in _taps(in_size, out_size, scale, align_corners, cubic):
        term = y.index_select(dim, wrap(xp.asarray(index))) * \
            wrap(xp.asarray(weight.astype(y._data.dtype).reshape(view)))
        out = term if out is None else out + term
    return out


def interpolate_linear(input, sizes, scales, mode, align_corners):
    """input (N, C, *spatial) resampled to `sizes` with the given mode (see the module doc)."""
    expected = {"linear": 3, "bilinear": 4, "bicubic": 4, "trilinear": 5}[mode]
    if input.ndim != expected:
        raise NotImplementedError(f"interpolate: mode {mode!r} needs a {expected}-D input, got "
                                  f"input of shape {tuple(input.shape)}")
    if not input.dtype.is_floating_point:
        raise RuntimeError(f"interpolate: mode {mode!r} needs a floating-point input, got "
                           f"{input.dtype}")
    cubic = mode == "bicubic"
    y = input
    for k, (out, s) in enumerate(zip(sizes, scales)):
        if out == y.shape[2 + k] and (not cubic or align_corners or s is None or s == 1):
            # PyTorch's linear kernels copy a dim whose size does not change, whatever its scale
            # factor (forward and backward); bicubic resamples it with 1 / scale_factor.
            continue
        y = resample_along(y, 2 + k, out, s, bool(align_corners), cubic)
    return y
