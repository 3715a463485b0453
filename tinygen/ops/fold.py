"""Sliding windows of any number of spatial dims: Im2Col (F.unfold) and its adjoint Col2Im
(F.fold), and the ops built on them: conv3d, conv_transpose3d and conv_transpose1d (a 2-D
transposed convolution on a height of 1).

    cols = Im2Col(x)    x (N, C, *spatial) -> (N, C, *kernel, *out): every window, laid out
                        kernel offsets first; out_d = (n_d + 2 p_d - d_d (k_d - 1) - 1) // s_d + 1
    x    = Col2Im(cols) the adjoint: each window added back where it came from

Both are linear and each is the other's adjoint, so the pair closes under differentiation (as
Conv2d and its gradients do in conv.py). The forward loops over the prod(kernel) offsets with
strided slices (no per-element work in Python); a convolution is then a matrix product over
(C / groups * prod(kernel)), as im2col convolutions are (Chellapilla et al. 2006).
"""
from __future__ import annotations

import itertools

import numpy as np

from ..autograd.function import Function
from .args import ntuple
from .conv import check_input, check_same_dtype
from .shape import Pad


def window_output(sizes, kernel, stride, padding, dilation):
    """The number of windows along each spatial dim."""
    return tuple((n + 2 * p - d * (k - 1) - 1) // s + 1 for n, k, s, p, d in
                 zip(sizes, kernel, stride, padding, dilation))


def _offsets(kernel, stride, dilation, out):
    """(kernel offset tuple, slices into the padded input) for every kernel position."""
    for offset in itertools.product(*[range(k) for k in kernel]):
        yield offset, tuple(slice(o * d, o * d + s * (n - 1) + 1, s) for o, d, s, n in
                            zip(offset, dilation, stride, out))


class Im2Col(Function):
    """x (N, C, *spatial) -> windows (N, C, *kernel, *out); `geometry` = (kernel, stride,
    padding, dilation) tuples; padding holds `pad_value` (0, or -inf for max pooling)."""

    def forward(self, x, geometry, pad_value=0.0):
        kernel, stride, padding, dilation = geometry
        self.x_shape, self.geometry = x.shape, geometry
        out = window_output(x.shape[2:], kernel, stride, padding, dilation)
        padded = x if not any(padding) else self.xp.pad(
            x, ((0, 0), (0, 0)) + tuple((p, p) for p in padding), constant_values=pad_value)
        cols = self.xp.empty(x.shape[:2] + tuple(kernel) + out, dtype=x.dtype)
        lead = (slice(None), slice(None))
        for offset, where in _offsets(kernel, stride, dilation, out):
            cols[lead + offset + (Ellipsis,)] = padded[lead + where]
        return cols

    def backward(self, gy):
        return Col2Im.apply(gy, self.x_shape, self.geometry), None, None


class Col2Im(Function):
    """The adjoint of Im2Col: windows (N, C, *kernel, *out) summed back into (N, C, *spatial)."""

    def forward(self, cols, x_shape, geometry):
        kernel, stride, padding, dilation = geometry
        self.geometry = geometry
        nd = len(kernel)
        out = self.out = tuple(cols.shape[2 + nd:])
        padded_shape = tuple(x_shape[:2]) + tuple(n + 2 * p for n, p in zip(x_shape[2:], padding))
        acc = self.xp.zeros(padded_shape, dtype=cols.dtype)
        lead = (slice(None), slice(None))
        for offset, where in _offsets(kernel, stride, dilation, out):
            acc[lead + where] += cols[lead + offset + (Ellipsis,)]
        crop = lead + tuple(slice(p, p + n) for p, n in zip(padding, x_shape[2:]))
        return acc[crop]

    def backward(self, gg):
        g = Im2Col.apply(gg, self.geometry, 0.0)
        if tuple(g.shape[-len(self.out):]) != self.out:   # windows past the ones summed (a
            g = g[(Ellipsis,) + tuple(slice(0, o) for o in self.out)]   # transposed conv's
        return g, None, None                                             # output_padding)


def geometry(op, nd, kernel_size, stride, padding, dilation, default_stride=1):
    """(kernel, stride, padding, dilation) as nd-tuples, checked (stride None: default_stride,
    which pools pass as the kernel)."""
    kernel = ntuple(kernel_size, nd, "kernel_size", op, 1)
    if stride is None:
        stride = kernel if default_stride == "kernel" else default_stride
    return (kernel, ntuple(stride, nd, "stride", op, 1), ntuple(padding, nd, "padding", op, 0),
            ntuple(dilation, nd, "dilation", op, 1))


def windows(x, geo, pad_value=0.0, op="unfold"):
    """Im2Col with a clear error when no window fits."""
    out = window_output(x.shape[2:], *geo)
    if min(out, default=1) < 1:
        raise RuntimeError(f"{op}: no window of kernel {geo[0]} (dilation {geo[3]}, padding "
                           f"{geo[2]}) fits input of shape {tuple(x.shape)}")
    return Im2Col.apply(x, geo, pad_value)


# ---- F.unfold / F.fold ---------------------------------------------------------------------------
def unfold(input, kernel_size, dilation=1, padding=0, stride=1):
    """im2col: input (N, C, H, W) or (C, H, W) -> (N, C * kH * kW, L), one column per window
    (L = number of windows), channel-major then kernel offsets, as torch.nn.functional.unfold."""
    op = "unfold"
    nd = check_input(op, input, (3, 4), "a 3-D (unbatched) or 4-D (batched) input")
    x = input.unsqueeze(0) if nd == 3 else input
    geo = geometry(op, 2, kernel_size, stride, padding, dilation)
    cols = windows(x, geo, 0.0, op)                                   # (N, C, kH, kW, oH, oW)
    N, C = x.shape[:2]
    out = cols.reshape(N, C * geo[0][0] * geo[0][1], int(np.prod(cols.shape[4:])))   # (N = 0 too)
    return out.squeeze(0) if nd == 3 else out


def fold(input, output_size, kernel_size, dilation=1, padding=0, stride=1):
    """col2im, the adjoint of unfold: input (N, C * kH * kW, L) or (C * kH * kW, L) ->
    (N, C, *output_size), overlapping windows summed."""
    op = "fold"
    nd = check_input(op, input, (2, 3), "a 2-D (unbatched) or 3-D (batched) input")
    cols = input.unsqueeze(0) if nd == 2 else input
    geo = geometry(op, 2, kernel_size, stride, padding, dilation)
    size = ntuple(output_size, 2, "output_size", op, 1)
    out = window_output(size, *geo)
    k = geo[0][0] * geo[0][1]
    N, CK, L = cols.shape
    if CK % k or L != out[0] * out[1]:
        raise RuntimeError(f"{op}: expected input (N, C * {k}, {out[0] * out[1]}) for "
                           f"output_size {size} and kernel_size {geo[0]}, got input of shape "
                           f"{tuple(input.shape)}")
    windows_ = cols.reshape((N, CK // k) + geo[0] + out)
    y = Col2Im.apply(windows_, (N, CK // k) + size, geo)
    return y.squeeze(0) if nd == 2 else y


# ---- convolutions through windows ----------------------------------------------------------------
def _grouped_weight(weight, groups):
    """(O, C / g, *k) -> (g, O / g, C / g * prod(k))."""
    return weight.reshape(groups, weight.shape[0] // groups, -1)


def conv3d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """3-D convolution (cross-correlation): input (N, C, D, H, W) or (C, D, H, W), weight
    (O, C / groups, kD, kH, kW) -> (N, O, oD, oH, oW), as a matrix product over the windows."""
    op = "conv3d"
    nd = check_input(op, input, (4, 5), "a 4-D (unbatched) or 5-D (batched) input")
    x = input.unsqueeze(0) if nd == 4 else input
    _check_conv_weight(op, x, weight, bias, groups, 5)
    stride, dilation = ntuple(stride, 3, "stride", op, 1), ntuple(dilation, 3, "dilation", op, 1)
    if isinstance(padding, str):
        x, padding = _string_padding(op, x, padding, weight.shape[2:], stride, dilation)
    geo = (tuple(weight.shape[2:]), stride, ntuple(padding, 3, "padding", op, 0), dilation)
    cols = windows(x, geo, 0.0, op)                                  # (N, C, kD, kH, kW, *out)
    N, C = x.shape[:2]
    out = tuple(cols.shape[5:])
    cols = cols.reshape(N, groups, C // groups * int(np.prod(weight.shape[2:])),
                        int(np.prod(out)))                           # (N, g, C/g * K, L)
    y = _grouped_weight(weight, groups) @ cols                       # (N, g, O/g, L)
    y = y.reshape((N, weight.shape[0]) + out)
    if bias is not None:
        y = y + bias.reshape(1, -1, 1, 1, 1)
    return y.squeeze(0) if nd == 4 else y


def _string_padding(op, x, padding, kernel, stride, dilation):
    """'valid' (none) or 'same' (stride 1: the odd extra element at the end, as PyTorch) ->
    (x padded explicitly, padding 0)."""
    if padding == "valid":
        return x, 0
    if padding != "same":
        raise ValueError(f"{op}: invalid padding string {padding!r}; expected 'valid' or 'same'")
    if any(s != 1 for s in stride):
        raise ValueError(f"{op}: padding='same' is not supported for strided convolutions "
                         f"(stride {stride})")
    totals = [d * (k - 1) for d, k in zip(dilation, kernel)]
    pads = ((0, 0), (0, 0)) + tuple((t // 2, t - t // 2) for t in totals)
    return Pad.apply(x, pads, 0.0), 0


def conv_transpose3d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1,
                     dilation=1):
    """The adjoint of conv3d: input (N, C_in, D, H, W), weight (C_in, C_out / groups, kD, kH, kW)
    -> (N, C_out, oD, oH, oW), o = (n - 1) s - 2 p + d (k - 1) + output_padding + 1."""
    op = "conv_transpose3d"
    nd = check_input(op, input, (4, 5), "a 4-D (unbatched) or 5-D (batched) input")
    x = input.unsqueeze(0) if nd == 4 else input
    _check_conv_weight(op, x, weight, bias, groups, 5, transposed=True)
    kernel = tuple(weight.shape[2:])
    stride, padding, dilation = (ntuple(v, 3, name, op, low) for v, name, low in (
        (stride, "stride", 1), (padding, "padding", 0), (dilation, "dilation", 1)))
    extra = ntuple(output_padding, 3, "output_padding", op, 0)
    if any(e >= s and e >= d for e, s, d in zip(extra, stride, dilation)):
        raise ValueError(f"{op}: output_padding {extra} must be smaller than either stride "
                         f"{stride} or dilation {dilation}")
    size = tuple((n - 1) * s - 2 * p + d * (k - 1) + e + 1 for n, s, p, d, k, e in
                 zip(x.shape[2:], stride, padding, dilation, kernel, extra))
    if min(size) <= 0:
        raise RuntimeError(f"{op}: the output size {size} is too small (input of shape "
                           f"{tuple(input.shape)}, weight {tuple(weight.shape)}, stride {stride}, "
                           f"padding {padding})")
    N, C_in = x.shape[:2]
    c_out = weight.shape[1] * groups
    w = weight.reshape(groups, C_in // groups, -1).transpose(1, 2)  # (g, C_out/g * K, C_in/g)
    cols = w @ x.reshape(N, groups, C_in // groups, int(np.prod(x.shape[2:])))   # (N, g, ., L)
    cols = cols.reshape((N, c_out) + kernel + tuple(x.shape[2:]))
    y = Col2Im.apply(cols, (N, c_out) + size, (kernel, stride, padding, dilation))
    if bias is not None:
        y = y + bias.reshape(1, -1, 1, 1, 1)
    return y.squeeze(0) if nd == 4 else y


def _check_conv_weight(op, x, weight, bias, groups, ndim, transposed=False):
    if weight.ndim != ndim:
        raise RuntimeError(f"{op}: expected a {ndim}-D weight, got weight of shape "
                           f"{tuple(weight.shape)}")
    if not isinstance(groups, int) or groups < 1:
        raise ValueError(f"{op}: expected groups to be a positive int, got {groups!r}")
    check_same_dtype(op, input=x, weight=weight, bias=bias)
    expected = weight.shape[0] if transposed else weight.shape[1] * groups
    if x.shape[1] != expected or weight.shape[0] % groups:
        raise RuntimeError(f"{op}: expected input with {expected} channels (weight "
                           f"{tuple(weight.shape)}, groups {groups}), got input of shape "
                           f"{tuple(x.shape)}")
    out_channels = weight.shape[1] * groups if transposed else weight.shape[0]
    if bias is not None and tuple(bias.shape) != (out_channels,):
        raise RuntimeError(f"{op}: expected bias of shape ({out_channels},), got "
                           f"{tuple(bias.shape)}")
