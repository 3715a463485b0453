"""2-D max and average pooling (PyTorch's max_pool2d / avg_pool2d), NumPy/CuPy references.

  maxpool2d_fwd   (y, idx): the max of each window and its flat index into x.reshape(N, C, H*W)
  maxpool2d_bwd   gx: gy added at idx (windows may overlap, so indices repeat)
                  reference: a float64 bincount; numba_v1: a direct scatter-add
  avgpool2d_fwd   y: the window sums over a zero-padded x, divided as PyTorch divides
  avgpool2d_bwd   gx: gy / divisor spread back over each window (col2im)

Versions (CPU): numba_v1 of all four, planes (n, c) in ranges over tinygen's threads
(_threads.over_ranges), one window at a time over its part inside the input (no padded copy)
                                                                              <- default (CPU)
(avgpool2d_fwd's numba_v1 hands windows that tile the input to the reference, which wins there)

Shapes: x (N, C, H, W), y and idx (N, C, OH, OW), OH from `pool_output_size`. Every integer
parameter arrives as a normalised pair (h, w); the op layer above validates user input.

All four loop over the kH * kW positions of the window, each a strided slice of the padded input
of shape (N, C, OH, OW): a handful of passes over the data, no (kH*kW)-times-larger copy.
"""
from __future__ import annotations

import numpy as np

from ._numba import contiguous_grad, is_cpu_float, jit_serial, numba_kernel
from ._threads import over_ranges
from ._xp import array_module
from .registry import reference


def pool_output_size(size, kernel, stride, padding, dilation=1, ceil_mode=False):
    """Output length of a pooling along one axis (plain ints), as PyTorch's pooling_output_shape.

    With ceil_mode the last, partial window is kept only if it starts inside the input or the left
    padding: a window starting in the right padding would see nothing but padding."""
    span = size + 2 * padding - dilation * (kernel - 1) - 1
    if not ceil_mode:
        return span // stride + 1
    out = -(-span // stride) + 1                     # ceil division
    if (out - 1) * stride >= size + padding:
        out -= 1
    return out


def _output_hw(x_shape, kernel, stride, padding, dilation, ceil_mode):
    H, W = x_shape[-2:]
    return tuple(pool_output_size(n, k, s, p, d, ceil_mode)
                 for n, k, s, p, d in zip((H, W), kernel, stride, padding, dilation))


def _padded_hw(x_shape, kernel, stride, padding, dilation, out_hw):
    """(rows, cols) of the padded input: `padding` before the input, and after it as many as the
    windows reach (with ceil_mode the last window may hang past the right padding)."""
    return tuple(max(p + n, (o - 1) * s + d * (k - 1) + 1) for n, k, s, p, d, o
                 in zip(x_shape[-2:], kernel, stride, padding, dilation, out_hw))


def _padded(x, value, kernel, stride, padding, dilation, out_hw):
    """x (N, C, H, W) padded with `value` out to `_padded_hw`; x itself when no window leaves it."""
    xp = array_module(x)
    N, C, H, W = x.shape
    hw = _padded_hw(x.shape, kernel, stride, padding, dilation, out_hw)
    if hw == (H, W) and tuple(padding) == (0, 0):
        return x
    xpad = xp.full((N, C, *hw), value, dtype=x.dtype)
    xpad[:, :, padding[0]:padding[0] + H, padding[1]:padding[1] + W] = x
    return xpad


def _window_slices(kernel, stride, dilation, out_hw):
    """For each window position (i, j), row-major: the slices of the padded input that hold
    element (i, j) of every window, a (N, C, OH, OW) view."""
    (kh, kw), (sh, sw), (dh, dw), (oh, ow) = kernel, stride, dilation, out_hw
    for i in range(kh):
        for j in range(kw):
            yield i, j, (slice(None), slice(None),
                         slice(i * dh, i * dh + (oh - 1) * sh + 1, sh),
                         slice(j * dw, j * dw + (ow - 1) * sw + 1, sw))


def _first_inside(xp, starts, dilation):
    """Index of each window's first element inside the input: start stepped by the dilation past
    the left padding (PyTorch's `while (ih0 < 0) ih0 += dilationH`)."""
    steps = xp.maximum((-starts + dilation - 1) // dilation, 0)     # ceil(-start / dilation)
    return starts + steps * dilation


def _pool_example(which):
    if which == "bench":         # after a MNIST-CNN layer: 64 images, 32 channels, 28x28
        return (64, 32, 28, 28), (2, 2), (2, 2), (0, 0)
    return (2, 3, 9, 8), (3, 2), (2, 2), (1, 1)


def _example_max_fwd(rng, which):
    shape, kernel, stride, padding = _pool_example(which)
    x = rng.standard_normal(shape).astype("float32")
    dilation = (1, 1) if which == "bench" else (1, 2)
    return (x, kernel, stride, padding, dilation, which == "test"), {}


def _example_max_bwd(rng, which):
    (x, kernel, stride, padding, dilation, ceil_mode), _ = _example_max_fwd(rng, which)
    y, idx = maxpool2d_fwd(x, kernel, stride, padding, dilation, ceil_mode)
    gy = rng.standard_normal(y.shape).astype("float32")
    return (gy, idx, x.shape), {}


def _example_avg_fwd(rng, which):
    shape, kernel, stride, padding = _pool_example(which)
    x = rng.standard_normal(shape).astype("float32")
    return (x, kernel, stride, padding, which == "test", which == "bench", None), {}


def _example_avg_bwd(rng, which):
    (x, kernel, stride, padding, *options), _ = _example_avg_fwd(rng, which)
    out_hw = _output_hw(x.shape, kernel, stride, padding, (1, 1), options[0])
    gy = rng.standard_normal((*x.shape[:2], *out_hw)).astype("float32")
    return (gy, x.shape, kernel, stride, padding, *options), {}


@reference("maxpool2d_fwd", example=_example_max_fwd, rtol=0, atol=0)
def maxpool2d_fwd(x, kernel, stride, padding, dilation, ceil_mode):
    """PyTorch's max_pool2d with return_indices. x (N, C, H, W) -> (y, idx), both (N, C, OH, OW);
    idx (int64) indexes x.reshape(N, C, H * W) along its last axis.

    Padding counts as -inf. Within a window the first maximum in row-major order wins, and a NaN
    wins over any number (the last NaN, as PyTorch's CPU kernel: `val > max || isnan(val)`). A
    window with nothing above -inf points at its first element inside the input.

    A window can hold no input element at all (dilation jumping from the left padding past the
    input, e.g. H = 1, kernel 2, padding 1, dilation 2): its y is -inf and its idx -1, the
    sentinel PyTorch's backward skips. (PyTorch's CPU forward returns an index outside the window
    there, one that can alias another input element and receive its gradient.)"""
    xp = array_module(x)
    N, C, H, W = x.shape
    out_hw = _output_hw(x.shape, kernel, stride, padding, dilation, ceil_mode)
    (kh, kw), (oh, ow), (sh, sw), (ph, pw), (dh, dw) = kernel, out_hw, stride, padding, dilation
    xpad = _padded(x, -float("inf"), kernel, stride, padding, dilation, out_hw)
    row0 = xp.arange(oh, dtype=xp.int64) * sh - ph            # window starts, input coordinates
    col0 = xp.arange(ow, dtype=xp.int64) * sw - pw
    first_row, first_col = _first_inside(xp, row0, dh), _first_inside(xp, col0, dw)
    empty = (first_row >= H)[:, None] | (first_col >= W)[None, :]                # (OH, OW)
    # Track the winner's position p = i * kW + j in its window (a small int), not its index:
    # the index is one lookup at the end. It starts at the first element inside the input.
    first = ((first_row - row0) // dh)[:, None] * kw + ((first_col - col0) // dw)[None, :]
    winner = xp.empty((N, C, oh, ow), dtype=xp.int8 if kh * kw <= 127 else xp.int32)
    winner[...] = xp.where(empty, 0, first)
    y = xp.full((N, C, oh, ow), -float("inf"), dtype=x.dtype)
    take = xp.empty((N, C, oh, ow), dtype=bool)
    windows = list(_window_slices(kernel, stride, dilation, out_hw))
    for p, (i, j, window) in enumerate(windows):
        v = xpad[window]                                          # (N, C, OH, OW)
        xp.greater(v, y, out=take)                # strictly: the first of equal maxima stays
        xp.copyto(winner, p, where=take)
        xp.maximum(y, v, out=y)                   # NaN propagates into y...
    if xp.isnan(y).any():                         # ...and the window's last NaN is the winner
        for p, (i, j, window) in enumerate(windows):
            xp.copyto(winner, p, where=xp.isnan(xpad[window]))
    offsets = xp.asarray([i * dh * W + j * dw for i, j, _ in windows], dtype=xp.int64)
    idx = xp.take(offsets, winner)                              # (N, C, OH, OW)
    idx += row0[:, None] * W + col0[None, :]
    if empty.any():
        xp.copyto(idx, -1, where=empty)
    return y, idx


@reference("maxpool2d_bwd", example=_example_max_bwd, rtol=1e-6, atol=1e-6)
def maxpool2d_bwd(gy, idx, x_shape):
    """Gradient of max_pool2d: gy and idx (N, C, OH, OW) -> gx of shape x_shape = (N, C, H, W),
    gx.reshape(N, C, H * W)[n, c, idx[n, c, o]] += gy[n, c, o], skipping idx -1 (a window with
    no input). Indices repeat when windows overlap, so this is a scatter-add: a bincount,
    summed in float64."""
    xp = array_module(gy)
    N, C, H, W = x_shape
    assert idx.shape == gy.shape and gy.shape[:2] == (N, C), (gy.shape, idx.shape, x_shape)
    L = gy.shape[2] * gy.shape[3]
    idx = idx.reshape(N * C, L)
    inside = idx >= 0
    plane = xp.arange(N * C, dtype=xp.int64)[:, None] * (H * W)                # (N*C, 1)
    flat = (xp.where(inside, idx, 0) + plane).ravel()
    weights = xp.where(inside, gy.reshape(N * C, L), 0).ravel()
    gx = xp.bincount(flat, weights=weights, minlength=N * C * H * W)
    assert gx.size == N * C * H * W, "max-pool index outside the input"
    return gx.astype(gy.dtype).reshape(x_shape)


@jit_serial
def _maxpool_bwd_planes(gy, idx, gx, lo, hi):
    # one (n, c) plane per iteration: its windows only write into its own row of gx
    for p in range(lo, hi):
        for o in range(gy.shape[1]):
            i = idx[p, o]
            if i >= 0:
                gx[p, i] += gy[p, o]


@numba_kernel("maxpool2d_bwd", impl="numba_v1", default=True)
def maxpool2d_bwd_numba(gy, idx, x_shape):
    """numba_v1: a direct scatter-add, planes in parallel (the reference's float64 bincount
    allocates index and weight arrays of the whole batch)."""
    if not is_cpu_float(gy) or idx.dtype != np.int64 or idx.shape != gy.shape:
        return NotImplemented
    N, C, H, W = x_shape
    gx = np.zeros((N * C, H * W), dtype=gy.dtype)
    gy2, idx2 = gy.reshape(N * C, -1), np.ascontiguousarray(idx).reshape(N * C, -1)
    # ~0.25 ns an input element on one thread (LeNet's 64x6x24x24: 51 us; split over two
    # threads, as at the default 1 ns, 281 us: waking the second costs more; 2-core Xeon)
    over_ranges(lambda lo, hi: _maxpool_bwd_planes(gy2, idx2, gx, lo, hi), N * C, gx.size,
                ns_per_element=0.25)
    return gx.reshape(x_shape)


def _avg_divisor(xp, x_shape, kernel, stride, padding, out_hw, count_include_pad,
                 divisor_override, dtype):
    """What each window's sum is divided by, (OH, OW), as PyTorch's CPU kernel computes it: the
    window clipped to the padded input (count_include_pad) or to the input (otherwise); part of a
    ceil_mode window past the right padding is never counted. An empty window divides by 1: its
    sum is 0, and PyTorch returns 0."""
    if divisor_override is not None:
        return xp.asarray(divisor_override, dtype=dtype)
    counts = []
    for size, k, s, p, o in zip(x_shape[-2:], kernel, stride, padding, out_hw):
        start = xp.arange(o, dtype=xp.int64) * s - p
        end = xp.minimum(start + k, size + p)
        if count_include_pad:
            counts.append(end - start)
        else:
            counts.append(xp.minimum(end, size) - xp.maximum(start, 0))
    divisor = counts[0][:, None] * counts[1][None, :]
    return xp.maximum(divisor, 1).astype(dtype)


@reference("avgpool2d_fwd", example=_example_avg_fwd, rtol=1e-6, atol=1e-6)
def avgpool2d_fwd(x, kernel, stride, padding, ceil_mode, count_include_pad, divisor_override):
    """PyTorch's avg_pool2d. x (N, C, H, W) -> y (N, C, OH, OW): window sums over x zero-padded,
    divided by divisor_override if given, else by the window's size (see `_avg_divisor`)."""
    xp = array_module(x)
    N, C = x.shape[:2]
    dilation = (1, 1)
    out_hw = _output_hw(x.shape, kernel, stride, padding, dilation, ceil_mode)
    xpad = _padded(x, 0, kernel, stride, padding, dilation, out_hw)
    total = xp.zeros((N, C, *out_hw), dtype=x.dtype)
    for i, j, window in _window_slices(kernel, stride, dilation, out_hw):
        total += xpad[window]
    return total / _avg_divisor(xp, x.shape, kernel, stride, padding, out_hw, count_include_pad,
                                divisor_override, x.dtype)


@reference("avgpool2d_bwd", example=_example_avg_bwd, rtol=1e-6, atol=1e-6)
def avgpool2d_bwd(gy, x_shape, kernel, stride, padding, ceil_mode, count_include_pad,
                  divisor_override):
    """Gradient of avg_pool2d: gy (N, C, OH, OW) -> gx of shape x_shape = (N, C, H, W); each
    input gets gy / divisor from every window it lies in."""
    xp = array_module(gy)
    N, C, H, W = x_shape
    dilation = (1, 1)
    out_hw = _output_hw(x_shape, kernel, stride, padding, dilation, ceil_mode)
    assert gy.shape == (N, C, *out_hw), (gy.shape, x_shape, out_hw)
    share = gy / _avg_divisor(xp, x_shape, kernel, stride, padding, out_hw, count_include_pad,
                              divisor_override, gy.dtype)
    padded_hw = _padded_hw(x_shape, kernel, stride, padding, dilation, out_hw)
    gpad = xp.zeros((N, C, *padded_hw), dtype=gy.dtype)
    for i, j, window in _window_slices(kernel, stride, dilation, out_hw):
        gpad[window] += share
    if padded_hw == (H, W) and tuple(padding) == (0, 0):
        return gpad
    return xp.ascontiguousarray(gpad[:, :, padding[0]:padding[0] + H, padding[1]:padding[1] + W])


# ---------------------------------------------------------------- numba_v1 forward kernels
@jit_serial
def _maxpool_planes(x, H, W, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow, y, idx, lo, hi):
    # x (N*C, H*W); y, idx (N*C, OH*OW). The reference's rules, one window at a time: the first
    # strict maximum wins, a NaN beats everything (the last NaN), an empty window gives -inf, -1.
    for p in range(lo, hi):
        plane = x[p]
        for a in range(oh):
            h0 = a * sh - ph
            for b in range(ow):
                w0 = b * sw - pw
                best = -np.inf
                where = -1
                nan_at = -1
                for i in range(kh):
                    h = h0 + i * dh
                    if h < 0 or h >= H:
                        continue
                    for j in range(kw):
                        v = w0 + j * dw
                        if v < 0 or v >= W:
                            continue
                        value = plane[h * W + v]
                        if where < 0:                   # the first element inside the input
                            where = h * W + v
                        if value > best:
                            best = value
                            where = h * W + v
                        if value != value:
                            nan_at = h * W + v
                o = a * ow + b
                if nan_at >= 0:
                    y[p, o] = plane[nan_at]
                    idx[p, o] = nan_at
                else:
                    y[p, o] = best
                    idx[p, o] = where


@jit_serial
def _maxpool_2x2_planes(x, W, oh, ow, y, idx, lo, hi):
    # _maxpool_planes for 2x2 windows with stride 2 that all lie inside the input: the four
    # values and the rules written out with selects, no branches (4x faster on LeNet's pools)
    for p in range(lo, hi):
        plane, yp, ip = x[p], y[p], idx[p]
        for a in range(oh):
            for b in range(ow):
                q = 2 * a * W + 2 * b
                v0, v1, v2, v3 = plane[q], plane[q + 1], plane[q + W], plane[q + W + 1]
                best, where = v0, q
                up = v1 > best
                best, where = (v1 if up else best), (q + 1 if up else where)
                up = v2 > best
                best, where = (v2 if up else best), (q + W if up else where)
                up = v3 > best
                best, where = (v3 if up else best), (q + W + 1 if up else where)
                nan_at = (q + W + 1 if v3 != v3 else q + W if v2 != v2 else q + 1 if v1 != v1
                          else q if v0 != v0 else -1)
                yp[a * ow + b] = plane[nan_at] if nan_at >= 0 else best
                ip[a * ow + b] = nan_at if nan_at >= 0 else where


@jit_serial
def _avgpool_planes(x, H, W, kh, kw, sh, sw, ph, pw, divisor, y, lo, hi):
    # x (N*C, H*W); y (N*C, OH, OW); divisor (OH, OW): window sums over the input part of each
    # window (zero padding adds nothing), divided
    oh, ow = divisor.shape
    for p in range(lo, hi):
        plane = x[p]
        for a in range(oh):
            h0 = a * sh - ph
            for b in range(ow):
                w0 = b * sw - pw
                total = x.dtype.type(0)
                for h in range(max(h0, 0), min(h0 + kh, H)):
                    for v in range(max(w0, 0), min(w0 + kw, W)):
                        total += plane[h * W + v]
                y[p, a, b] = total / divisor[a, b]


@jit_serial
def _avgpool_bwd_planes(gy, H, W, kh, kw, sh, sw, ph, pw, divisor, gx, lo, hi):
    # gy (N*C, OH, OW); gx (N*C, H*W), zeroed: each window's share added back over its input part
    oh, ow = divisor.shape
    for p in range(lo, hi):
        plane = gx[p]
        for a in range(oh):
            h0 = a * sh - ph
            for b in range(ow):
                w0 = b * sw - pw
                share = gy[p, a, b] / divisor[a, b]
                for h in range(max(h0, 0), min(h0 + kh, H)):
                    for v in range(max(w0, 0), min(w0 + kw, W)):
                        plane[h * W + v] += share


@numba_kernel("maxpool2d_fwd", impl="numba_v1", default=True)
def maxpool2d_fwd_numba(x, kernel, stride, padding, dilation, ceil_mode):
    """numba_v1: one pass per window, planes in parallel (the reference makes kH * kW passes over
    the batch, with a comparison, a masked copy and a maximum in each); 2x2 windows with stride
    2 inside the input without branches (LeNet's first pool, 64x6x24x24, one thread: 0.16
    against 0.62 ms)."""
    if x.ndim != 4 or x.size == 0 or not is_cpu_float(x):
        return NotImplemented
    N, C, H, W = x.shape
    oh, ow = _output_hw(x.shape, kernel, stride, padding, dilation, ceil_mode)
    y = np.empty((N, C, oh, ow), x.dtype)
    idx = np.empty((N, C, oh, ow), np.int64)
    x2, y2, idx2 = x.reshape(N * C, H * W), y.reshape(N * C, -1), idx.reshape(N * C, -1)
    if (tuple(kernel) == tuple(stride) == (2, 2) and tuple(padding) == (0, 0)
            and tuple(dilation) == (1, 1) and (oh, ow) == (H // 2, W // 2)):
        over_ranges(lambda lo, hi: _maxpool_2x2_planes(x2, W, oh, ow, y2, idx2, lo, hi), N * C,
                    x.size, ns_per_element=0.75)
        return y, idx
    over_ranges(lambda lo, hi: _maxpool_planes(x2, H, W, *kernel, *stride, *padding, *dilation,
                                               oh, ow, y2, idx2, lo, hi), N * C, x.size,
                ns_per_element=3.0)                 # 2x2 windows: ~2.9 ns an input element
    return y, idx


def _divisor_table(x_shape, kernel, stride, padding, out_hw, count_include_pad, divisor_override,
                   dtype):
    divisor = _avg_divisor(np, x_shape, kernel, stride, padding, out_hw, count_include_pad,
                           divisor_override, dtype)
    return np.ascontiguousarray(np.broadcast_to(divisor, out_hw), dtype=dtype)


@numba_kernel("avgpool2d_fwd", impl="numba_v1", default=True)
def avgpool2d_fwd_numba(x, kernel, stride, padding, ceil_mode, count_include_pad,
                        divisor_override):
    """numba_v1: one pass per window over its input part, planes in parallel. Windows that tile
    the input (kernel = stride, no padding) are left to the reference: its kH * kW vectorised
    passes won there (64x32x28x28, 2x2: 1.1 ms against 2.2 ms; 3x3 stride 1 padding 1: 6.4
    against 6.0 ms, 3x3 stride 2: 2.8 against 3.1 ms)."""
    if x.ndim != 4 or x.size == 0 or not is_cpu_float(x):
        return NotImplemented
    if tuple(kernel) == tuple(stride) and tuple(padding) == (0, 0):
        return NotImplemented
    N, C, H, W = x.shape
    out_hw = _output_hw(x.shape, kernel, stride, padding, (1, 1), ceil_mode)
    divisor = _divisor_table(x.shape, kernel, stride, padding, out_hw, count_include_pad,
                             divisor_override, x.dtype)
    y = np.empty((N, C, *out_hw), x.dtype)
    x2, y2 = x.reshape(N * C, H * W), y.reshape(N * C, *out_hw)
    over_ranges(lambda lo, hi: _avgpool_planes(x2, H, W, *kernel, *stride, *padding, divisor, y2,
                                               lo, hi), N * C, x.size)
    return y


@numba_kernel("avgpool2d_bwd", impl="numba_v1", default=True)
def avgpool2d_bwd_numba(gy, x_shape, kernel, stride, padding, ceil_mode, count_include_pad,
                        divisor_override):
    """numba_v1: each window's share added back over its input part, planes in parallel."""
    gy = contiguous_grad(gy, gy)
    if gy.ndim != 4 or gy.size == 0 or not is_cpu_float(gy):
        return NotImplemented
    N, C, H, W = x_shape
    out_hw = _output_hw(x_shape, kernel, stride, padding, (1, 1), ceil_mode)
    if gy.shape != (N, C, *out_hw):
        return NotImplemented
    divisor = _divisor_table(x_shape, kernel, stride, padding, out_hw, count_include_pad,
                             divisor_override, gy.dtype)
    gx = np.zeros((N * C, H * W), gy.dtype)
    gy2 = gy.reshape(N * C, *out_hw)
    over_ranges(lambda lo, hi: _avgpool_bwd_planes(gy2, H, W, *kernel, *stride, *padding, divisor,
                                                   gx, lo, hi), N * C, gx.size)
    return gx.reshape(x_shape)
