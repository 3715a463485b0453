"""More pooling, as torch.nn.functional: max_pool3d, avg_pool3d, adaptive_avg_pool3d,
adaptive_max_pool1d/2d/3d, the *_with_indices spellings, max_unpool1d/2d/3d and lp_pool1d/2d/3d.

The 3-D pools read every window with Im2Col (fold.py) and reduce it: max over the window (the
gradient goes to the first maximum, as PyTorch's kernels pick it, through Gather), or a sum
divided by PyTorch's divisor (the window clipped to the padded input, or to the input itself
without count_include_pad). Adaptive max pooling takes each output cell's region
[floor(i n / o), ceil((i + 1) n / o)) (one max per cell, or a max_pool2d when the sizes divide).
max_unpool writes each value back at its index (a scatter, whose src gradient is a gather).
lp_pool is PyTorch's composition: (sign(a) relu(|a|) prod(kernel))^(1 / p), a = avg_pool(x^p).
"""
from __future__ import annotations

import itertools

import numpy as np

from ..autograd.function import wrap
from .args import check_float, ntuple
from .binary import where
from .conv import check_input
from .fold import Im2Col, geometry
from .index import values_indices
from .pool import (_averaging_matrix, avg_pool1d, avg_pool2d, check_divisor, max_pool1d,
                   max_pool2d)
from .scatter import scatter
from .shape import Pad, stack


def _batched(op, input, nd):
    """(input with a batch dim, whether it came with one)."""
    d = check_input(op, input, (nd + 1, nd + 2), f"a {nd + 1}-D (unbatched) or {nd + 2}-D "
                                                   "(batched) input")
    return (input.unsqueeze(0), False) if d == nd + 1 else (input, True)


def _ceil_extra(sizes, geo, ceil_mode):
    """Windows per dim and the extra right padding ceil_mode needs (PyTorch's rule: the last
    window must start inside the input or the left padding)."""
    kernel, stride, padding, dilation = geo
    out, extra = [], []
    for n, k, s, p, d in zip(sizes, kernel, stride, padding, dilation):
        span = n + 2 * p - d * (k - 1) - 1
        o = (-(-span // s) if ceil_mode else span // s) + 1
        if ceil_mode and (o - 1) * s >= n + p:
            o -= 1
        out.append(o)
        extra.append(max((o - 1) * s + d * (k - 1) + 1 - (n + 2 * p), 0))
    return tuple(out), tuple(extra)


def _pool_windows(x, geo, extra, fill):
    """x padded (geometry padding both sides, `extra` on the right) with fill, as windows moved
    last and flattened: (N, C, *out, prod(kernel))."""
    kernel, stride, padding, dilation = geo
    pads = ((0, 0), (0, 0)) + tuple((p, p + e) for p, e in zip(padding, extra))
    padded = Pad.apply(x, pads, fill) if any(sum(p) for p in pads) else x
    cols = Im2Col.apply(padded, (kernel, stride, (0,) * len(kernel), dilation), 0.0)
    nd = len(kernel)
    order = (0, 1) + tuple(range(2 + nd, 2 + 2 * nd)) + tuple(range(2, 2 + nd))
    return cols.permute(order).reshape(tuple(cols.shape[:2]) + tuple(cols.shape[2 + nd:])
                                       + (int(np.prod(kernel)),))


def max_pool3d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False):
    """3-D max pooling of input (N, C, D, H, W) or (C, D, H, W); indices are flat into D*H*W."""
    op = "max_pool3d"
    x, batched = _batched(op, input, 3)
    check_float(op, x)
    geo = geometry(op, 3, kernel_size, stride, padding, dilation, default_stride="kernel")
    for p, k in zip(geo[2], geo[0]):
        if p > k // 2:
            raise ValueError(f"{op}: padding should be at most half of the kernel size, got "
                             f"padding {geo[2]} and kernel_size {geo[0]}")
    out, extra = _ceil_extra(x.shape[2:], geo, ceil_mode)
    if min(out) < 1:
        raise RuntimeError(f"{op}: the output size {out} is too small (input of shape "
                           f"{tuple(input.shape)}, kernel_size {geo[0]})")
    values, local = _window_max(_pool_windows(x, geo, extra, float("-inf")))
    if not return_indices:
        return values if batched else values.squeeze(0)
    positions = np.arange(int(np.prod(x.shape[2:])), dtype=np.float64).reshape(
        (1, 1) + tuple(x.shape[2:]))
    pos = _pool_windows(wrap(x.device.xp.asarray(positions)), geo, extra, -1.0)
    idx = pos.expand(tuple(x.shape[:2]) + tuple(pos.shape[2:])).gather(
        -1, local.unsqueeze(-1)).squeeze(-1).long()
    return (values, idx) if batched else (values.squeeze(0), idx.squeeze(0))


def _window_max(w):
    """(values, index) of the max over the last dim of windows w, with PyTorch's pooling rule
    for NaN: its kernels keep a window's last NaN (val > max || isnan(val)), Tensor.max the
    first. Ties of numbers keep the first, in both."""
    values, local = w.max(dim=-1)
    isnan = w.detach().isnan()
    if bool(isnan.any()):
        ranks = wrap(w.device.xp.arange(w.shape[-1], dtype=np.int64))
        last = where(isnan, ranks, -1).amax(dim=-1)
        local = where(last >= 0, last, local)
    return values, local


def avg_pool3d(input, kernel_size, stride=None, padding=0, ceil_mode=False,
               count_include_pad=True, divisor_override=None):
    """3-D average pooling of input (N, C, D, H, W) or (C, D, H, W), with PyTorch's divisor."""
    op = "avg_pool3d"
    x, batched = _batched(op, input, 3)
    check_float(op, x)
    check_divisor(op, divisor_override)
    geo = geometry(op, 3, kernel_size, stride, padding, 1, default_stride="kernel")
    for p, k in zip(geo[2], geo[0]):
        if p > k // 2:
            raise ValueError(f"{op}: pad should be at most half of the kernel size, got padding "
                             f"{geo[2]} and kernel_size {geo[0]}")
    out, extra = _ceil_extra(x.shape[2:], geo, ceil_mode)
    sums = _pool_windows(x, geo, extra, 0.0).sum(dim=-1)
    if divisor_override:
        y = sums / divisor_override
    else:
        y = sums / _divisor(x, geo, extra, count_include_pad)
    return y if batched else y.squeeze(0)


def _divisor(x, geo, extra, count_include_pad):
    """Per window, the number of elements PyTorch divides by: inside input + padding (or the
    input alone without count_include_pad), never the ceil_mode overhang."""
    sizes, padding = x.shape[2:], geo[2]
    if count_include_pad:
        mask = np.zeros(tuple(n + 2 * p + e for n, p, e in zip(sizes, padding, extra)))
        mask[tuple(slice(0, n + 2 * p) for n, p in zip(sizes, padding))] = 1.0
        inner = (geo[0], geo[1], (0,) * len(sizes), geo[3])
        extra_ = (0,) * len(sizes)
    else:
        mask = np.ones(tuple(sizes))
        inner, extra_ = geo, extra
    counts = _pool_windows(wrap(x.device.xp.asarray(mask[None, None].astype(x._data.dtype))),
                           inner, extra_, 0.0).sum(dim=-1)
    return counts


def adaptive_avg_pool3d(input, output_size):
    """Adaptive average pooling of input (N, C, D, H, W) or (C, D, H, W): separable averaging
    matrices along each spatial dim (as adaptive_avg_pool2d)."""
    op = "adaptive_avg_pool3d"
    x, batched = _batched(op, input, 3)
    check_float(op, x)
    sizes = _adaptive_sizes(op, x, output_size, 3)
    y = x
    for k, (n, o) in enumerate(zip(x.shape[2:], sizes)):
        if n != o:
            y = (y.movedim(2 + k, -1) @ _averaging_matrix(n, o, x).t()).movedim(-1, 2 + k)
    return y if batched else y.squeeze(0)


def _adaptive_sizes(op, x, output_size, nd):
    sizes = tuple(output_size) if isinstance(output_size, (list, tuple)) else (output_size,) * nd
    if len(sizes) != nd:
        raise ValueError(f"{op}: output_size must be an int or {nd} values, got {output_size!r}")
    sizes = tuple(n if o is None else o for n, o in zip(x.shape[2:], sizes))
    if min(sizes) < 1 or min(x.shape[2:]) < 1:
        raise RuntimeError(f"{op}: expected a non-empty input and output_size >= 1, got input of "
                           f"shape {tuple(x.shape)} and output_size {output_size!r}")
    return sizes


def _adaptive_max(op, input, output_size, return_indices, nd):
    x, batched = _batched(op, input, nd)
    check_float(op, x)
    sizes = _adaptive_sizes(op, x, output_size, nd)
    spatial = tuple(x.shape[2:])
    if nd == 2 and all(n % o == 0 for n, o in zip(spatial, sizes)):    # regular windows
        kernel = tuple(n // o for n, o in zip(spatial, sizes))
        out = max_pool2d(x, kernel, kernel, return_indices=True)
    else:
        out = _adaptive_max_cells(x, spatial, sizes)
    values, idx = out
    if not batched:
        values, idx = values.squeeze(0), idx.squeeze(0)
    return values_indices(values, idx) if return_indices else values


def _adaptive_max_cells(x, spatial, sizes):
    """One max per output cell over its region; indices flat into the spatial dims."""
    N, C = x.shape[:2]
    values, indices = [], []
    strides = np.cumprod((1,) + spatial[::-1])[:-1][::-1]             # row-major flat index
    for cell in itertools.product(*[range(o) for o in sizes]):
        bounds = [((i * n) // o, -(-((i + 1) * n) // o)) for i, n, o in zip(cell, spatial, sizes)]
        region = x[(slice(None), slice(None)) + tuple(slice(a, b) for a, b in bounds)]
        value, local = _window_max(region.reshape(N, C, int(np.prod(region.shape[2:]))))
        coords = np.unravel_index(local.cpu().numpy(), [b - a for a, b in bounds])
        flat = sum((c + a) * s for c, (a, _), s in zip(coords, bounds, strides))
        values.append(value)
        indices.append(flat)
    shape = (N, C) + tuple(sizes)
    idx = np.stack(indices, axis=-1).reshape(shape).astype(np.int64)
    return stack(values, -1).reshape(shape), wrap(x.device.xp.asarray(idx))


def adaptive_max_pool1d(input, output_size, return_indices=False):
    """Adaptive max pooling of input (N, C, L) or (C, L)."""
    size = output_size[0] if isinstance(output_size, (list, tuple)) else output_size
    return _adaptive_max("adaptive_max_pool1d", input, (size,), return_indices, 1)


def adaptive_max_pool2d(input, output_size, return_indices=False):
    """Adaptive max pooling of input (N, C, H, W) or (C, H, W); indices flat into H * W."""
    return _adaptive_max("adaptive_max_pool2d", input, output_size, return_indices, 2)


def adaptive_max_pool3d(input, output_size, return_indices=False):
    return _adaptive_max("adaptive_max_pool3d", input, output_size, return_indices, 3)


def adaptive_max_pool1d_with_indices(input, output_size, return_indices=True):
    return adaptive_max_pool1d(input, output_size, True)


def adaptive_max_pool2d_with_indices(input, output_size, return_indices=True):
    return adaptive_max_pool2d(input, output_size, True)


def adaptive_max_pool3d_with_indices(input, output_size, return_indices=True):
    return adaptive_max_pool3d(input, output_size, True)


def max_pool1d_with_indices(input, kernel_size, stride=None, padding=0, dilation=1,
                            ceil_mode=False, return_indices=True):
    return max_pool1d(input, kernel_size, stride, padding, dilation, ceil_mode, True)


def max_pool2d_with_indices(input, kernel_size, stride=None, padding=0, dilation=1,
                            ceil_mode=False, return_indices=True):
    return max_pool2d(input, kernel_size, stride, padding, dilation, ceil_mode, True)


def max_pool3d_with_indices(input, kernel_size, stride=None, padding=0, dilation=1,
                            ceil_mode=False, return_indices=True):
    return max_pool3d(input, kernel_size, stride, padding, dilation, ceil_mode, True)


# ---- unpooling ---------------------------------------------------------------------------------
def _max_unpool(op, input, indices, kernel_size, stride, padding, output_size, nd):
    x, batched = _batched(op, input, nd)
    idx = indices if batched else indices.unsqueeze(0)
    kernel = ntuple(kernel_size, nd, "kernel_size", op, 1)
    stride = kernel if stride is None else ntuple(stride, nd, "stride", op, 1)
    padding = ntuple(padding, nd, "padding", op, 0)
    if output_size is None:
        size = tuple((n - 1) * s - 2 * p + k for n, s, p, k in
                     zip(x.shape[2:], stride, padding, kernel))
    else:
        size = tuple(output_size)[-nd:]
    if tuple(idx.shape) != tuple(x.shape):
        raise RuntimeError(f"{op}: expected indices of the input's shape {tuple(x.shape)}, got "
                           f"{tuple(indices.shape)}")
    N, C = x.shape[:2]
    total = int(np.prod(size))
    if idx.numel() and (int(idx.max().item()) >= total or int(idx.min().item()) < 0):
        raise RuntimeError(f"{op}: found an invalid max index (output size {size})")
    zeros = wrap(x.device.xp.zeros((N, C, total), dtype=x._data.dtype))
    L = int(np.prod(x.shape[2:]))
    y = scatter(zeros, 2, idx.reshape(N, C, L), x.reshape(N, C, L)).reshape((N, C) + size)
    return y if batched else y.squeeze(0)


def max_unpool1d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    """The partial inverse of max_pool1d: each value written at its index, zeros elsewhere."""
    return _max_unpool("max_unpool1d", input, indices, kernel_size, stride, padding,
                       output_size, 1)


def max_unpool2d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    """The partial inverse of max_pool2d: input (N, C, H, W) with its flat H * W indices ->
    (N, C, *output_size), default (H - 1) s - 2 p + k."""
    return _max_unpool("max_unpool2d", input, indices, kernel_size, stride, padding,
                       output_size, 2)


def max_unpool3d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    return _max_unpool("max_unpool3d", input, indices, kernel_size, stride, padding,
                       output_size, 3)


# ---- power-average pooling ---------------------------------------------------------------------
def _lp(out, norm_type, window):
    # sign as a constant: its gradient is 0, and Sign's backward (gy * 0) turned the inf
    # flowing in from relu(|out|) = inf into NaN for the window's finite elements
    return (out.detach().sign() * out.abs().relu() * window) ** (1.0 / norm_type)


def lp_pool1d(input, norm_type, kernel_size, stride=None, ceil_mode=False):
    """(sum over each window of x^p)^(1 / p) of input (N, C, L) or (C, L)."""
    k = ntuple(kernel_size, 1, "kernel_size", "lp_pool1d", 1)[0]
    out = avg_pool1d(input ** norm_type, k, stride, 0, ceil_mode)
    return _lp(out, norm_type, k)


def lp_pool2d(input, norm_type, kernel_size, stride=None, ceil_mode=False):
    """(sum over each window of x^p)^(1 / p) of input (N, C, H, W) or (C, H, W)."""
    kh, kw = ntuple(kernel_size, 2, "kernel_size", "lp_pool2d", 1)
    out = avg_pool2d(input ** norm_type, (kh, kw), stride, 0, ceil_mode)
    return _lp(out, norm_type, kh * kw)


def lp_pool3d(input, norm_type, kernel_size, stride=None, ceil_mode=False):
    kd, kh, kw = ntuple(kernel_size, 3, "kernel_size", "lp_pool3d", 1)
    out = avg_pool3d(input ** norm_type, (kd, kh, kw), stride, 0, ceil_mode)
    return _lp(out, norm_type, kd * kh * kw)
