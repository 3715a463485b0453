"""Pooling and resampling: max_pool2d, avg_pool2d, adaptive_avg_pool2d, interpolate (nearest and
area here; the interpolating modes in upsample.py).

max_pool2d (MaxPool2d) asks the kernel for each window's maximum and its index; its backward is
a scatter-add to those indices (MaxPoolScatter) whose adjoint is the gather of the same indices
(MaxPoolGather), whose adjoint is the scatter again: twice differentiable with no more work.
avg_pool2d is linear, so its backward (AvgPool2dBackward, the transposed pooling) has the forward as its own backward.
adaptive_avg_pool2d is separable: out = A_h @ x @ A_w^T with averaging matrices, differentiable
through matmul. interpolate(mode='nearest') of images by whole-number factors is one kernel
(UpsampleNearest, kernels/upsample.py; its gradient the block sums); other sizes resample one
spatial dim at a time: a broadcast for whole-number factors, an index_select otherwise.

Kernels (kernels/pool.py) are reached through the kernel table (`Function.kernel`); their output
size rule, `pool_output_size`, is a plain function of ints that the ops share with the kernels.
"""
from __future__ import annotations

import numbers

import numpy as np
from tinygen_kernels.pool import pool_output_size

from ..autograd.function import Function, wrap
from .args import ntuple
from .conv import check_input
from .upsample import interpolate_aa, interpolate_linear


class MaxPool2d(Function):
    """Max pooling x (N, C, H, W) -> (values (N, C, OH, OW), idx (N, C, OH, OW) int64, the flat
    index of each maximum in its H * W plane): the maxpool2d_fwd kernel. idx has no gradient."""

    n_differentiable = 1

    def forward(self, x, params):
        self.x_shape = x.shape
        values, self.idx = self.kernel("maxpool2d_fwd")(x, *params)
        return values, self.idx

    def backward(self, gy, _gidx):
        return MaxPoolScatter.apply(gy, self.idx, self.x_shape), None


class MaxPoolGather(Function):
    """y[n, c, o] = x.reshape(N, C, H * W)[n, c, idx[n, c, o]]
    for x (N, C, H, W) and idx (N, C, OH, OW): the adjoint of MaxPoolScatter."""

    def forward(self, x, idx):
        self.idx, self.x_shape = idx, x.shape
        N, C = x.shape[:2]
        flat = x.reshape(N, C, -1)                                           # (N, C, H*W)
        return self.xp.take_along_axis(flat, idx.reshape(N, C, -1), axis=2).reshape(idx.shape)

    def backward(self, gy):
        return MaxPoolScatter.apply(gy, self.idx, self.x_shape), None


class MaxPoolScatter(Function):
    """The adjoint of MaxPoolGather: zeros(x_shape) with gy added at idx (indices may repeat)."""

    def forward(self, gy, idx, x_shape):
        self.idx = idx
        return self.kernel("maxpool2d_bwd")(gy, idx, tuple(x_shape))

    def backward(self, gg):
        return MaxPoolGather.apply(gg, self.idx), None, None


class AvgPool2d(Function):
    """Average pooling x (N, C, H, W) -> (N, C, OH, OW); `params` as avgpool2d_fwd takes them."""

    def forward(self, x, params):
        self.x_shape, self.params = x.shape, params
        return self.kernel("avgpool2d_fwd")(x, *params)

    def backward(self, gy):
        return AvgPool2dBackward.apply(gy, self.x_shape, self.params), None


class AvgPool2dBackward(Function):
    """The transpose of AvgPool2d (linear, so its own backward is the forward pooling)."""

    def forward(self, gy, x_shape, params):
        self.params = params
        return self.kernel("avgpool2d_bwd")(gy, tuple(x_shape), *params)

    def backward(self, gg):
        return AvgPool2d.apply(gg, self.params), None, None


# ---- functional --------------------------------------------------------------------------------
def _pool_args(op, x, kernel_size, stride, padding, dilation, ceil_mode):
    nd = check_input(op, x, (3, 4), "a 3-D (unbatched) or 4-D (batched) input")
    return (nd,) + _window(op, 2, x.shape, kernel_size, stride, padding, dilation, ceil_mode)


def _window(op, n, shape, kernel_size, stride, padding, dilation, ceil_mode):
    """(kernel, stride, padding, dilation) of a pooling over the last n dims of shape, each an
    n-tuple, checked in op's name (the 1-D ops check theirs before running the 2-D one)."""
    kernel = ntuple(kernel_size, n, "kernel_size", op, 1)
    stride = kernel if stride is None or stride == () or stride == [] else \
        ntuple(stride, n, "stride", op, 1)
    padding = ntuple(padding, n, "padding", op, 0)
    dilation = ntuple(dilation, n, "dilation", op, 1)
    for p, k, d in zip(padding, kernel, dilation):
        if p > ((k - 1) * d + 1) // 2:
            raise ValueError(f"{op}: padding should be at most half of the effective kernel size, "
                             f"got padding {padding}, kernel_size {kernel}, dilation {dilation}")
    out = tuple(pool_output_size(m, k, s, p, d, ceil_mode)
                for m, k, s, p, d in zip(shape[-n:], kernel, stride, padding, dilation))
    if min(out) < 1:
        raise RuntimeError(f"{op}: the output size {out} is too small (input of shape "
                           f"{tuple(shape)}, kernel_size {kernel}, stride {stride}, padding "
                           f"{padding}, dilation {dilation})")
    return kernel, stride, padding, dilation


def max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False):
    """2-D max pooling, as torch.nn.functional.max_pool2d. input (N, C, H, W) or (C, H, W).

    -> (N, C, OH, OW), and with return_indices the int64 flat indices into each H * W plane.
    Padding counts as -inf; the gradient goes to the first maximum of each window.
    """
    op = "max_pool2d"
    nd, kernel, stride, padding, dilation = _pool_args(op, input, kernel_size, stride, padding,
                                                       dilation, ceil_mode)
    x = input.unsqueeze(0) if nd == 3 else input
    y, idx = MaxPool2d.apply(x, (kernel, stride, padding, dilation, bool(ceil_mode)))
    if nd == 3:
        y, idx = y.squeeze(0), idx.squeeze(0)
    return (y, idx) if return_indices else y


def check_divisor(op, divisor_override):
    """divisor_override: None or a non-zero int (TypeError for another type, RuntimeError for 0,
    as PyTorch)."""
    if divisor_override is None:
        return
    if not isinstance(divisor_override, int) or isinstance(divisor_override, bool):
        raise TypeError(f"{op}: divisor_override must be an int, got {divisor_override!r}")
    if divisor_override == 0:
        raise RuntimeError(f"{op}: divisor_override must not be zero")


def avg_pool2d(input, kernel_size, stride=None, padding=0, ceil_mode=False,
               count_include_pad=True, divisor_override=None):
    """2-D average pooling, as torch.nn.functional.avg_pool2d. input (N, C, H, W) or (C, H, W).

    Each window's sum over the zero-padded input is divided by divisor_override if given, else
    by the window's size counting the padding (count_include_pad) or not.
    """
    op = "avg_pool2d"
    nd, kernel, stride, padding, _ = _pool_args(op, input, kernel_size, stride, padding, 1,
                                                ceil_mode)
    for p, k in zip(padding, kernel):
        if p > k // 2:
            raise ValueError(f"{op}: padding should be at most half of the kernel size, got "
                             f"padding {padding} and kernel_size {kernel}")
    check_divisor(op, divisor_override)
    if not input.dtype.is_floating_point:
        raise RuntimeError(f"{op}: expected a floating-point input, got {input.dtype}")
    x = input.unsqueeze(0) if nd == 3 else input
    params = (kernel, stride, padding, bool(ceil_mode), bool(count_include_pad), divisor_override)
    y = AvgPool2d.apply(x, params)
    return y.squeeze(0) if nd == 3 else y


def _averaging_matrix(in_size, out_size, like):
    """A (out, in) with row i averaging input [floor(i * in / out), ceil((i + 1) * in / out))."""
    rows = np.zeros((out_size, in_size), dtype=like._data.dtype)
    for i in range(out_size):
        start = (i * in_size) // out_size
        end = -(-((i + 1) * in_size) // out_size)
        rows[i, start:end] = 1.0 / (end - start)
    xp = like.device.xp
    return wrap(xp.asarray(rows))


def adaptive_avg_pool2d(input, output_size):
    """Adaptive average pooling to output_size (int, or (OH, OW) with None for 'keep'), as torch.

    input (N, C, H, W) or (C, H, W) -> (N, C, OH, OW), computed as A_h @ x @ A_w^T. Where
    tinygen differs: an inf or NaN in a row makes every window of that row NaN (the products add
    0 * inf), where PyTorch's windows that do not hold it stay finite; the products are 5-30x
    faster than averaging each window apart (measured on 64x32x28x28, 2026-12-07).
    """
    op = "adaptive_avg_pool2d"
    check_input(op, input, (3, 4), "a 3-D (unbatched) or 4-D (batched) input")
    if not input.dtype.is_floating_point:
        raise RuntimeError(f"{op}: expected a floating-point input, got {input.dtype}")
    H, W = input.shape[-2:]
    if isinstance(output_size, (list, tuple)):
        if len(output_size) != 2:
            raise ValueError(f"{op}: output_size must be an int or 2 values, got {output_size!r}")
        oh, ow = output_size
    else:
        oh = ow = output_size
    oh = H if oh is None else oh
    ow = W if ow is None else ow
    if oh < 1 or ow < 1 or H < 1 or W < 1:
        raise RuntimeError(f"{op}: expected a non-empty input and output_size >= 1, got input "
                           f"of shape {tuple(input.shape)} and output_size {output_size!r}")
    if (oh, ow) == (1, 1):
        return input.mean(dim=(-2, -1), keepdim=True)
    y = input
    if oh != H:
        y = _averaging_matrix(H, oh, input) @ y                          # (..., OH, W)
    if ow != W:
        y = y @ _averaging_matrix(W, ow, input).t()                      # (..., OH, OW)
    return y


def _pool1d_input(op, x):
    nd = check_input(op, x, (2, 3), "a 2-D (unbatched) or 3-D (batched) input (N, C, L)")
    return x.unsqueeze(-2), nd                                        # (N, C, 1, L)


def max_pool1d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False):
    """1-D max pooling over input (N, C, L) or (C, L): max_pool2d on a height of 1."""
    x, _ = _pool1d_input("max_pool1d", input)
    (k,), (s,), (p,), (d,) = _window("max_pool1d", 1, input.shape, kernel_size, stride, padding,
                                     dilation, ceil_mode)
    out = max_pool2d(x, (1, k), (1, s), (0, p), (1, d), ceil_mode, return_indices)
    if return_indices:
        return out[0].squeeze(-2), out[1].squeeze(-2)
    return out.squeeze(-2)


def avg_pool1d(input, kernel_size, stride=None, padding=0, ceil_mode=False,
               count_include_pad=True):
    """1-D average pooling over input (N, C, L) or (C, L): avg_pool2d on a height of 1."""
    x, _ = _pool1d_input("avg_pool1d", input)
    (k,), (s,), (p,), _ = _window("avg_pool1d", 1, input.shape, kernel_size, stride, padding, 1,
                                  ceil_mode)
    return avg_pool2d(x, (1, k), (1, s), (0, p), ceil_mode, count_include_pad).squeeze(-2)


def adaptive_avg_pool1d(input, output_size):
    """Adaptive average pooling of input (N, C, L) or (C, L) to output_size: x @ A^T."""
    x, _ = _pool1d_input("adaptive_avg_pool1d", input)
    size = output_size[0] if isinstance(output_size, (list, tuple)) else output_size
    return adaptive_avg_pool2d(x, (1, size)).squeeze(-2)


def _nearest_index(in_size, out_size, scale, exact, shortcut=False):
    """PyTorch's nearest source index (a NumPy int64 array), in float32 as its kernels compute it:
    min(floor(dst * s), in - 1) with s = 1 / scale_factor if given, else in / out
    ('nearest-exact': floor((dst + 0.5) * s)).

    shortcut: PyTorch's 4-D 'nearest' forward (upsample_nearest2d) picks the source by index
    alone when out == in (dst) or out == 2 in (dst >> 1), whatever the scale factor: with
    scale_factor=2.1 a size-3 dim maps to [0, 0, 1, 1, 2, 2], not [0, 0, 0, 1, 1, 2]. Its 3-D
    and 5-D forwards and 'nearest-exact' have no such shortcut (with scale_factor=1.25 a size-2
    input maps to [0, 0]); the sizes alone (no scale factor) give the same indices either way."""
    if shortcut and out_size == in_size:
        return np.arange(out_size, dtype=np.int64)
    if shortcut and out_size == 2 * in_size:
        return np.arange(out_size, dtype=np.int64) >> 1
    s = np.float32(1.0 / scale) if scale is not None and scale > 0 else \
        np.float32(in_size) / np.float32(out_size)
    dst = np.arange(out_size, dtype=np.float32)
    if exact:
        dst = dst + np.float32(0.5)
    return np.minimum(np.floor(dst * s).astype(np.int64), in_size - 1)


def _whole_factor(src, n):
    """k when the source indices src are dst // k (a whole-number upsampling), else None."""
    out = len(src)
    if out % n == 0 and np.array_equal(src, np.arange(out) // (out // n)):
        return out // n
    return None


def _resample(y, dim, src):
    """y with dim resampled at the source indices src. Identity and whole-number upsampling
    (src = dst // k) are views and broadcasts, whose gradients are sums, not scatter-adds."""
    k = _whole_factor(src, y.shape[dim])
    if k is not None:
        if k == 1:
            return y
        shape = tuple(y.shape)
        wide = y.unsqueeze(dim + 1).expand(shape[:dim + 1] + (k,) + shape[dim + 1:])
        return wide.reshape(shape[:dim] + (k * shape[dim],) + shape[dim + 1:])  # each row k times
    idx = wrap(y.device.xp.asarray(src))
    return y.index_select(dim, idx)


def interpolate(input, size=None, scale_factor=None, mode="nearest", align_corners=None,
                recompute_scale_factor=None, antialias=False):
    """Resize the spatial dims of input (N, C, L), (N, C, H, W) or (N, C, D, H, W), as torch.

    Modes: 'nearest' (source index floor(dst * in / out), or floor(dst / scale_factor) when
    scale_factor is given; on a 4-D input, as PyTorch, index dst where a dim keeps its size and
    dst // 2 where it doubles, see _nearest_index), 'nearest-exact', 'linear' / 'bilinear' /
    'trilinear' / 'bicubic' (align_corners True or False, upsample.py), 'area' (adaptive
    average pooling) and, with antialias=True, bilinear, bicubic and 'lanczos' on 4-D inputs
    (PIL's resampling, upsample.py). Give exactly one of size and scale_factor.

    Gradients are the exact gradients of the forward. Where tinygen differs from PyTorch: for
    3-D and 5-D 'nearest' with a scale factor and a dim whose size stays or doubles, PyTorch's
    backward takes the 4-D shortcut its own forward does not take (so its gradient is not the
    gradient of its output); tinygen's forward matches PyTorch's and its backward is the true one.
    """
    op = "interpolate"
    nd = check_input(op, input, (3, 4, 5), "a 3-D, 4-D or 5-D input (N, C, *spatial)")
    interpolating = mode in ("linear", "bilinear", "trilinear", "bicubic", "lanczos")
    if not interpolating and mode not in ("nearest", "nearest-exact", "area"):
        raise NotImplementedError(f"{op}: mode {mode!r} is not implemented; tinygen has "
                                  "'nearest', 'nearest-exact', 'linear', 'bilinear', "
                                  "'trilinear', 'bicubic', 'lanczos' and 'area'")
    if mode == "lanczos" and not antialias:
        raise ValueError(f"{op}: Lanczos mode requires antialias=True")
    if align_corners is not None and not interpolating:
        raise ValueError(f"{op}: align_corners option can only be set with the interpolating "
                         f"modes: linear | bilinear | bicubic | trilinear (got mode {mode!r})")
    sizes, scales = _output_sizes(op, input, nd - 2, size, scale_factor, recompute_scale_factor)
    _check_sizes(op, input, sizes, mode)
    if antialias:
        return interpolate_aa(input, sizes, scales, mode, align_corners)
    if interpolating:
        return interpolate_linear(input, sizes, scales, mode, align_corners)
    if mode == "area":
        return _area(input, sizes)
    shortcut = nd == 4 and mode == "nearest"           # PyTorch's upsample_nearest2d, see above
    sources = [_nearest_index(n, out, s, mode == "nearest-exact", shortcut)
               for n, out, s in zip(input.shape[2:], sizes, scales)]
    factors = [_whole_factor(src, n) for src, n in zip(sources, input.shape[2:])]
    if nd == 4 and None not in factors and factors != [1, 1]:
        return UpsampleNearest.apply(input, *factors)
    y = input
    for k, src in enumerate(sources):
        y = _resample(y, 2 + k, src)
    return y


class UpsampleNearest(Function):
    """x (N, C, H, W) -> (N, C, H * sh, W * sw), each pixel an sh x sw block: the
    upsample_nearest_fwd kernel. Its backward, the block sums, is UpsampleNearestGrad."""

    def forward(self, x, sh, sw):
        self.factors = (sh, sw)
        return self.kernel("upsample_nearest_fwd")(x, sh, sw)

    def backward(self, gy):
        return UpsampleNearestGrad.apply(gy, *self.factors), None, None


class UpsampleNearestGrad(Function):
    """gy (N, C, H * sh, W * sw) -> (N, C, H, W), the sum of each block (upsample_nearest_bwd);
    linear, with the upsampling as its adjoint: differentiable to any order."""

    def forward(self, gy, sh, sw):
        self.factors = (sh, sw)
        return self.kernel("upsample_nearest_bwd")(gy, sh, sw)

    def backward(self, ggx):
        return UpsampleNearest.apply(ggx, *self.factors), None, None


def _output_sizes(op, input, spatial, size, scale_factor, recompute_scale_factor):
    """(output sizes, the scale factors the kernels use: None where sizes decide)."""
    if (size is None) == (scale_factor is None):
        raise ValueError(f"{op}: only one of size or scale_factor should be defined (got size="
                         f"{size!r}, scale_factor={scale_factor!r})")
    if size is not None:
        sizes = tuple(size) if isinstance(size, (list, tuple)) else (size,) * spatial
        if len(sizes) != spatial:
            raise ValueError(f"{op}: input of shape {tuple(input.shape)} has {spatial} spatial "
                             f"dims but size has {len(sizes)}: {size!r}")
        if not all(isinstance(n, numbers.Integral) and not isinstance(n, bool) for n in sizes):
            raise TypeError(f"{op}: expected size to be an int or a tuple of {spatial} ints, got "
                            f"size={size!r} (types {[type(n).__name__ for n in sizes]})")
        if recompute_scale_factor:
            raise ValueError(f"{op}: recompute_scale_factor is not meaningful with an explicit "
                             f"size (got size={size!r}, recompute_scale_factor=True)")
        sizes = tuple(int(n) for n in sizes)
        scales = (None,) * spatial
    else:
        scales = tuple(scale_factor) if isinstance(scale_factor, (list, tuple)) else \
            (scale_factor,) * spatial
        if len(scales) != spatial:
            raise ValueError(f"{op}: input of shape {tuple(input.shape)} has {spatial} spatial "
                             f"dims but scale_factor has {len(scales)}: {scale_factor!r}")
        sizes = tuple(int(np.floor(float(n * s))) for n, s in zip(input.shape[2:], scales))
        if recompute_scale_factor:
            scales = (None,) * spatial
    return sizes, scales


def _check_sizes(op, input, sizes, mode):
    """PyTorch's rule: every spatial dim of input and output > 0; 'area' (adaptive average
    pooling) takes an empty output (>= 0) but not an empty input."""
    spatial = tuple(input.shape[2:])
    if mode == "area":
        if min(spatial) < 1 or min(sizes) < 0:
            raise RuntimeError(f"{op}: mode 'area' expects an input with non-zero spatial sizes "
                               f"and output sizes >= 0, but got input of shape "
                               f"{tuple(input.shape)} and output size {sizes}")
        return
    if min(spatial) < 1 or min(sizes) < 1:
        names = "DHW"[-len(spatial):]
        given = ", ".join(f"{a}: {n}" for a, n in zip(names, spatial))
        wanted = ", ".join(f"{a}: {n}" for a, n in zip(names, sizes))
        raise RuntimeError(f"{op}: Input and output sizes should be greater than 0, but got "
                           f"input ({given}) output ({wanted}) (input of shape "
                           f"{tuple(input.shape)}, mode {mode!r})")


def _area(input, sizes):
    """'area' interpolation: adaptive average pooling to the output sizes, dim by dim."""
    y = input
    for k, (n, out) in enumerate(zip(input.shape[2:], sizes)):
        if n != out:
            y = (y.movedim(2 + k, -1) @ _averaging_matrix(n, out, input).t()).movedim(-1, 2 + k)
    return y
