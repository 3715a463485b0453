"""Fractional max pooling (Graham 2014, arXiv:1412.6071), as torch.nn.functional:
fractional_max_pool2d / fractional_max_pool3d and their *_with_indices spellings.

Each (batch, channel) plane draws one sample u in [0, 1) per spatial dim; along a dim of input
size n, output size o and kernel k the windows start at (ATen's generate_intervals)

    start_i = floor((i + u) alpha) - floor(u alpha),  alpha = (n - k) / (o - 1),  i < o - 1
    start_{o-1} = n - k

computed in the input's dtype, as ATen does, so the same samples give the same windows. The
argmax of each k-window is found on arrays (first maximum in row-major window order; a NaN wins,
the last one seen, as ATen's `val > max || isnan(val)`); the values are then read through Gather,
whose gradient adds each output's gradient at its argmax.

The samples, shape (N, C, 2) or (N, C, 3), are _random_samples when given, else uniform draws
from tinygen's generator (so they differ from torch's stream for the same seed). Sample column 0
drives the width and column 1 the height in 2-D; columns 0, 1, 2 drive depth, height, width in
3-D (ATen's order); a _random_samples with more rows than the batch is read from its first rows.

Differences from PyTorch: kernel_size must be >= 1 (PyTorch accepts 0); output_ratio may be a
single float in 2-D too (PyTorch's 2-D functional form wants a tuple); a non-3/4-D (2-D) or
non-4/5-D (3-D) input raises RuntimeError (PyTorch: IndexError without _random_samples).
"""
from __future__ import annotations

import numpy as np

from ..autograd.function import wrap
from .args import check_float, ntuple
from .conv import check_input
from .random import random_array


def _intervals(xp, u, n, o, k):
    """Window starts (..., o), int64, for samples u (...) in the input's dtype."""
    starts = xp.full(u.shape + (o,), n - k, dtype=np.int64)
    if o > 1:
        dtype = u.dtype
        alpha = dtype.type(n - k) / dtype.type(o - 1)
        i = xp.arange(o - 1, dtype=dtype)
        # truncation toward zero is floor here: every product is >= 0
        starts[..., :-1] = (((i + u[..., None]) * alpha).astype(np.int64)
                            - (u * alpha).astype(np.int64)[..., None])
    return starts


def _argmax_indices(xp, data, kernel, out, samples, sample_dims):
    """Flat (into the spatial plane) index of each window's max: (N, C, *out), int64.
    data: (N, C, *sizes); samples: (N, C, nd) in data's dtype."""
    batch, channels, sizes = data.shape[0], data.shape[1], data.shape[2:]
    nd = len(sizes)
    strides = [int(np.prod(sizes[d + 1:])) for d in range(nd)]   # row-major plane strides
    index = xp.zeros((batch, channels) + (1,) * (2 * nd), dtype=np.int64)
    for d in range(nd):
        starts = _intervals(xp, samples[..., sample_dims[d]], sizes[d], out[d], kernel[d])
        positions = starts[..., None] + xp.arange(kernel[d])       # (N, C, o_d, k_d)
        shape = [batch, channels] + [1] * (2 * nd)
        shape[2 + d], shape[2 + nd + d] = out[d], kernel[d]
        index = index + (positions * strides[d]).reshape(shape)    # (N, C, *out, *kernel)
    window = int(np.prod(kernel))
    index = index.reshape((batch, channels) + tuple(out) + (window,))
    flat = data.reshape(batch, channels, 1, -1)
    values = xp.take_along_axis(flat, index.reshape(batch, channels, -1, window), axis=3)
    values = values.reshape(index.shape)
    best = values.argmax(axis=-1)                                   # the first maximum
    nan = xp.isnan(values)
    if nan.any():
        last_nan = window - 1 - nan[..., ::-1].argmax(axis=-1)
        best = xp.where(nan.any(axis=-1), last_nan, best)
    return xp.take_along_axis(index, best[..., None], axis=-1)[..., 0]


def _output_size(op, x, nd, output_size, output_ratio):
    if output_size is None and output_ratio is None:
        raise ValueError(f"{op} requires specifying either an output_size or an output_ratio")
    if output_size is None:
        if isinstance(output_ratio, (list, tuple)) and len(output_ratio) > nd:
            raise ValueError(f"{op} requires output_ratio to either be a single Int or tuple "
                             "of Ints.")
        ratio = output_ratio if isinstance(output_ratio, (list, tuple)) else (output_ratio,) * nd
        ratio = tuple(ratio) * nd if len(ratio) == 1 else tuple(ratio)
        return tuple(int(n * r) for n, r in zip(x.shape[-nd:], ratio))
    return ntuple(output_size, nd, "output_size", op)


def _fractional_max_pool(op, nd, input, kernel_size, output_size, output_ratio, samples):
    """(values, indices) of fractional max pooling over the last nd dims."""
    dims = check_input(op, input, (nd + 1, nd + 2), f"a {nd + 1}-D (unbatched) or {nd + 2}-D "
                                                     "(batched) input")
    check_float(op, input)
    if min(input.shape[1:]) < 1:
        raise RuntimeError(f"{op}: expected an input with non-zero sizes in all non-batch "
                           f"dims, got shape {tuple(input.shape)}")
    kernel = ntuple(kernel_size, nd, "kernel_size", op, minimum=1)
    out = _output_size(op, input, nd, output_size, output_ratio)
    x = input if dims == nd + 2 else input.unsqueeze(0)
    sizes, names = x.shape[2:], ("depth", "height", "width")[3 - nd:]
    for n, o, k, name in zip(sizes, out, kernel, names):
        if o + k - 1 > n:
            raise RuntimeError(f"{op}: pool {name} {k} too large relative to input {name} {n} "
                               f"(output {name} {o}); expected output + kernel - 1 <= input")
    batch, channels = x.shape[0], x.shape[1]
    xp = x.device.xp
    if samples is None:
        u = random_array("uniform", (batch, channels, nd), x.dtype, x.device)
    else:
        shape = tuple(samples.shape)
        if len(shape) != 3 or shape[0] < batch or shape[1:] != (channels, nd):
            raise RuntimeError(f"{op}: expected _random_samples of shape (at least {batch}, "
                               f"{channels}, {nd}), got {shape}")
        u = samples._data[:batch]
    u = u.astype(x._data.dtype, copy=False)
    sample_dims = (1, 0) if nd == 2 else (0, 1, 2)
    index = _argmax_indices(xp, x._data, kernel, out, u, sample_dims)
    indices = wrap(index)
    values = x.reshape(batch, channels, -1).gather(-1, indices.reshape(batch, channels, -1))
    values = values.reshape((batch, channels) + tuple(out))
    if dims == nd + 1:
        return values.squeeze(0), indices.squeeze(0)
    return values, indices


def fractional_max_pool2d_with_indices(input, kernel_size, output_size=None, output_ratio=None,
                                       return_indices=False, _random_samples=None):
    """(values, indices) of 2-D fractional max pooling of input (N, C, H, W) or (C, H, W);
    output (N, C, oH, oW) with oH, oW from output_size or int(size * output_ratio); indices are
    flat into H * W. _random_samples: (N, C, 2) (N = 1 unbatched), else drawn."""
    return _fractional_max_pool("fractional_max_pool2d", 2, input, kernel_size, output_size,
                                output_ratio, _random_samples)


def fractional_max_pool2d(input, kernel_size, output_size=None, output_ratio=None,
                          return_indices=False, _random_samples=None):
    """2-D fractional max pooling; (values, indices) with return_indices, else values."""
    values, indices = fractional_max_pool2d_with_indices(input, kernel_size, output_size,
                                                         output_ratio, return_indices,
                                                         _random_samples)
    return (values, indices) if return_indices else values


def fractional_max_pool3d_with_indices(input, kernel_size, output_size=None, output_ratio=None,
                                       return_indices=False, _random_samples=None):
    """(values, indices) of 3-D fractional max pooling of input (N, C, D, H, W) or (C, D, H, W);
    indices are flat into D * H * W. _random_samples: (N, C, 3), else drawn."""
    return _fractional_max_pool("fractional_max_pool3d", 3, input, kernel_size, output_size,
                                output_ratio, _random_samples)


def fractional_max_pool3d(input, kernel_size, output_size=None, output_ratio=None,
                          return_indices=False, _random_samples=None):
    """3-D fractional max pooling; (values, indices) with return_indices, else values."""
    values, indices = fractional_max_pool3d_with_indices(input, kernel_size, output_size,
                                                         output_ratio, return_indices,
                                                         _random_samples)
    return (values, indices) if return_indices else values
