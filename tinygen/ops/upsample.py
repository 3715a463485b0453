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

antialias=True (bilinear, bicubic and lanczos, 4-D; PIL's resampling, as PyTorch's
_compute_indices_min_size_weights_aa): output i of a dim averages the inputs around its centre
c = s (i + 1/2), s the scale as above ((in - 1) / (out - 1) with align_corners), through the
filter stretched by max(s, 1): the triangle 1 - |x| (bilinear), Keys' cubic with a = -0.5
(bicubic) or sinc(x) sinc(x / 3) (lanczos, which needs antialias), over inputs j with
|j + 1/2 - c| < support max(s, 1) times 1, 2 or 3, the weights
normalised to sum to 1. Downsampling then reads every input (no aliasing); upsampling is the
plain rule with the edges renormalised. Each dim is one product with its (out, in) weights; a
dim whose size does not change is copied, whatever the scale factor (as PyTorch).
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


def _aa_filter(x, mode):
    """PIL's filters: the triangle (bilinear), Keys' cubic with a = -0.5 (bicubic), and
    sinc(x) sinc(x / 3) on [-3, 3) (lanczos)."""
    if mode == "lanczos":
        return np.where((x >= -3) & (x < 3), np.sinc(x) * np.sinc(x / 3), 0.0)
    x = np.abs(x)
    if mode == "bilinear":
        return np.maximum(1.0 - x, 0.0)
    a = -0.5
    return np.where(x < 1, ((a + 2) * x - (a + 3)) * x * x + 1,
                    np.where(x < 2, ((a * x - 5 * a) * x + 8 * a) * x - 4 * a, 0.0))


_AA_SUPPORT = {"bilinear": 1.0, "bicubic": 2.0, "lanczos": 3.0}


def _aa_weights(in_size, out_size, scale, align_corners, mode):
    """The (out, in) weights of antialiased resampling along one dim (see the module doc)."""
    if align_corners:
        s = (in_size - 1) / (out_size - 1) if out_size > 1 else 0.0
    else:
        s = 1.0 / scale if scale is not None and scale > 0 else in_size / out_size
    stretch = max(s, 1.0)
    support = _AA_SUPPORT[mode] * stretch
    weights = np.zeros((out_size, in_size))
    for i in range(out_size):
        center = s * (i + 0.5)
        lo = max(int(center - support + 0.5), 0)
        hi = min(int(center + support + 0.5), in_size)
        w = _aa_filter((np.arange(lo, hi) - center + 0.5) / stretch, mode)
        total = w.sum()
        weights[i, lo:hi] = w / total if total != 0 else w
    return weights


def resample_aa(y, dim, out_size, scale, align_corners, mode):
    """y with dim resampled to out_size with antialiasing: one product with the weights."""
    w = _aa_weights(y.shape[dim], out_size, scale, bool(align_corners), mode)
    w = wrap(y.device.xp.asarray(w.T.astype(y._data.dtype)))            # (in, out)
    return (y.movedim(dim, -1) @ w).movedim(-1, dim)


def interpolate_aa(input, sizes, scales, mode, align_corners):
    """interpolate(..., antialias=True): bilinear, bicubic or lanczos on a 4-D input."""
    if mode not in _AA_SUPPORT or input.ndim != 4:
        raise ValueError(f"interpolate: anti-alias option is restricted to bilinear, bicubic, "
                         f"and lanczos modes and requires a 4-D tensor as input, got mode "
                         f"{mode!r} and input of shape {tuple(input.shape)}")
    if mode == "lanczos" and align_corners:
        raise ValueError("interpolate: Lanczos mode does not support align_corners=True")
    if not input.dtype.is_floating_point:
        raise RuntimeError(f"interpolate: antialias needs a floating-point input, got "
                           f"{input.dtype}")
    y = input
    for k, (out, s) in enumerate(zip(sizes, scales)):
        if out != y.shape[2 + k]:       # a dim that keeps its size is copied, as PyTorch's
            y = resample_aa(y, 2 + k, out, s, align_corners, mode)
    return y


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
