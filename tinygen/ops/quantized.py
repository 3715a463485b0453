"""Quantised inference ops: int8 Linear and Conv2d on the int8 kernels (kernels/int8.py).

Affine quantisation (Jacob et al. 2018, "Quantization and Training of Neural Networks for
Efficient Integer-Arithmetic-Only Inference"): a real value x is stored as an int8 q with

    x ~ scale * (q - zero_point),   q = clamp(round(x / scale) + zero_point, qmin, qmax)

- weights: symmetric (zero_point 0), one scale per output channel, q in [-127, 127] with
  scale_o = max_k |w[o, k]| / 127 (`quantize_weight`);
- activations: one scale and zero point per tensor, q in [-128, 127], mapping [lo, hi] (widened
  to contain 0, so that 0 is exact) onto the 256 levels (`affine_qparams`); `lo, hi` come from
  each batch (dynamic) or from calibration (static, tinygen.quantization's observers).
  Inside [lo, hi] the round trip x -> q -> scale * (q - zero_point) errs by at most scale / 2.

Then with the int32 accumulator acc = int8_gemm(q_x, q_w) (exact integers)

    y[m, o] = s_x * s_w[o] * (acc[m, o] - z_x * sum_k q_w[o, k]) + b[o]

since sum_k (q_x - z_x) q_w = acc - z_x * sum_k q_w. The convolution is the same per window:
padding reads z_x (a real 0), so the correction z_x * sum(q_w[o]) is the same at every position.

These ops are for inference: a quantised weight is not trained (fine-tune the float model, then
quantise), so their backward raises an error naming the op.
"""
from __future__ import annotations

import math

import numpy as np

from ..autograd import function as _fn
from ..autograd.function import Function, wrap
from ..backend.device import array_module
from .args import ntuple

QMIN, QMAX = -128, 127            # activations: int8 with a zero point
WEIGHT_QMAX = 127                 # weights: symmetric in [-127, 127]

_NO_BACKWARD = ("{op} has no backward: it is an inference op on int8 weights, which are not "
                "trained. Fine-tune the float model, then quantise it (or run the quantised "
                "model under tg.no_grad()).")


# ---- quantisation parameters and the round trip ------------------------------------------------
def affine_qparams(lo, hi):
    """(scale, zero_point) mapping [min(lo, 0), max(hi, 0)] onto the int8 levels [-128, 127]:
    scale = (hi - lo) / 255 as a float32 value, zero_point = round(-128 - lo / scale). An all-zero
    range gives (1.0, 0).

    affine_qparams(0.0, 2.55) is (0.01, -128): 0 -> -128, 2.55 -> 127."""
    lo, hi = float(lo), float(hi)
    if not (math.isfinite(lo) and math.isfinite(hi)):
        raise ValueError(f"affine_qparams: the range [{lo}, {hi}] is not finite; cannot quantise "
                         "NaN or inf")
    lo, hi = min(lo, 0.0), max(hi, 0.0)
    scale = float(np.float32((hi - lo) / (QMAX - QMIN)))
    if scale == 0.0:                                # all zeros (or a range below float32's)
        return 1.0, 0
    zero_point = int(round(QMIN - lo / scale))
    return scale, min(max(zero_point, QMIN), QMAX)


def _quantize(xp, x, scale, zero_point, qmin=QMIN, qmax=QMAX):
    """int8 array of round(x / scale) + zero_point, clamped to [qmin, qmax], scale broadcast
    (the weights' per-channel form; activations go through the int8_quantize kernel, the same
    formula with one scale)."""
    q = xp.rint(x / xp.asarray(scale, dtype=x.dtype))
    if zero_point:
        q += zero_point
    return xp.clip(q, qmin, qmax, out=q).astype(xp.int8)


class QuantizePerTensor(Function):
    """q = clamp(round(x / scale) + zero_point, -128, 127), int8, x's shape (kernel
    int8_quantize). No gradient: rounding has none worth the name."""

    def forward(self, x, scale, zero_point):
        return self.kernel("int8_quantize")(x, scale, zero_point)


def quantize_per_tensor(input, scale, zero_point):
    """An int8 Tensor: clamp(round(input / scale) + zero_point, -128, 127). (PyTorch returns a
    quantized tensor; here the integers and their qparams travel separately.)"""
    _float_data("quantize_per_tensor", input)
    return QuantizePerTensor.apply(input.detach(), float(scale), int(zero_point))


def dequantize(input, scale, zero_point=0, axis=0):
    """float32 scale * (input - zero_point) of an int8 Tensor; a 1-D `scale` holds one scale per
    index of `axis` (per-channel weights), a number one for the whole tensor."""
    q = input._data
    xp = array_module(q)
    s = scale._data if isinstance(scale, _fn.Tensor) else xp.asarray(scale, dtype=xp.float32)
    if s.ndim == 1:
        s = s.reshape((-1,) + (1,) * (q.ndim - 1 - axis))
    return wrap((q.astype(xp.float32) - zero_point) * s.astype(xp.float32))


def quantize_weight(weight):
    """(q, scale): the symmetric per-output-channel int8 version of a float weight (O, ...):
    scale[o] = max |weight[o]| / 127 (1 for an all-zero channel), q = round(weight / scale)
    in [-127, 127]; zeros (pruned weights) stay exactly 0."""
    w = _float_data("quantize_weight", weight)
    xp = array_module(w)
    amax = xp.abs(w).reshape(w.shape[0], -1).max(axis=1) if w.size else xp.zeros(w.shape[0])
    scale = (amax / WEIGHT_QMAX).astype(xp.float32)
    scale[scale == 0] = 1.0
    q = _quantize(xp, w, scale.reshape((-1,) + (1,) * (w.ndim - 1)), 0, -WEIGHT_QMAX,
                  WEIGHT_QMAX)
    return wrap(q), wrap(scale)


def _float_data(op, t):
    if not isinstance(t, _fn.Tensor) or t.dtype.np.kind != "f":
        what = f"{t.dtype} tensor" if isinstance(t, _fn.Tensor) else type(t).__name__
        raise TypeError(f"{op}: expected a floating-point Tensor, got a {what}")
    return t._data


# ---- the Functions ---------------------------------------------------------------------------
def _input_qparams(xp, x, scale, zero_point):
    """The static qparams, or (dynamic, scale None) those of this batch's min and max."""
    if scale is not None:
        return scale, zero_point
    if x.size == 0:
        return 1.0, 0
    return affine_qparams(x.min(), x.max())


def _dequantize_args(xp, w_q, x_scale, x_zero_point, w_scale, dtype):
    """(offsets, scales) of int8_dequantize: z_x * sum(q_w[o]) (int64) and s_x * s_w[o]."""
    offsets = x_zero_point * w_q.reshape(w_q.shape[0], -1).sum(axis=1, dtype=xp.int64)
    return offsets, (xp.asarray(x_scale, dtype=dtype) * w_scale.astype(dtype))


class Int8Linear(Function):
    """y = x W^T + b with W int8 per output channel and x quantised per tensor on the fly.
    x (..., in) float, w_q (out, in) int8, w_scale (out,) float32, bias (out,) or None;
    x_scale, x_zero_point: static qparams, or None (dynamic: this batch's min and max).
    -> (..., out) in x's dtype. Kernel: int8_gemm."""

    def forward(self, x, w_q, w_scale, bias, x_scale, x_zero_point):
        xp = self.xp
        x2 = x.reshape(-1, x.shape[-1])                                 # (M, in)
        x_scale, x_zero_point = _input_qparams(xp, x2, x_scale, x_zero_point)
        q = self.kernel("int8_quantize")(x2, x_scale, x_zero_point)               # (M, in)
        acc = self.kernel("int8_gemm")(q, w_q)                                    # (M, out)
        offsets, scales = _dequantize_args(xp, w_q, x_scale, x_zero_point, w_scale, x.dtype)
        y = self.kernel("int8_dequantize")(acc.reshape(acc.shape + (1,)), offsets, scales, bias)
        return y.reshape(x.shape[:-1] + (w_q.shape[0],))

    def backward(self, gy):
        raise RuntimeError(_NO_BACKWARD.format(op="quantized_linear"))


class Int8Conv2d(Function):
    """PyTorch's conv2d with an int8 weight (per output channel) and the input quantised per
    tensor. x (N, C, H, W) float, w_q (O, C // groups, kH, kW) int8, w_scale (O,), bias (O,) or
    None; stride, padding, dilation pairs; x_scale, x_zero_point as in Int8Linear.
    -> (N, O, OH, OW) in x's dtype. Kernel: int8_conv2d, padding read as x_zero_point."""

    def forward(self, x, w_q, w_scale, bias, stride, padding, dilation, groups, x_scale,
                x_zero_point):
        xp = self.xp
        x_scale, x_zero_point = _input_qparams(xp, x, x_scale, x_zero_point)
        q = self.kernel("int8_quantize")(x, x_scale, x_zero_point)
        acc = self.kernel("int8_conv2d")(q, w_q, stride, padding, dilation, groups,
                                         pad_value=x_zero_point)       # (N, O, OH, OW) int32
        offsets, scales = _dequantize_args(xp, w_q, x_scale, x_zero_point, w_scale, x.dtype)
        y = self.kernel("int8_dequantize")(acc.reshape(acc.shape[0], acc.shape[1], -1), offsets,
                                           scales, bias)
        return y.reshape(acc.shape)

    def backward(self, gy):
        raise RuntimeError(_NO_BACKWARD.format(op="quantized_conv2d"))


# ---- functional ------------------------------------------------------------------------------
def _check_common(op, input, weight, weight_scale, bias, input_scale, input_zero_point):
    _float_data(op, input)
    if not isinstance(weight, _fn.Tensor) or weight.dtype.np != np.int8:
        got = weight.dtype if isinstance(weight, _fn.Tensor) else type(weight).__name__
        raise TypeError(f"{op}: expected an int8 weight (from quantize_weight), got {got}")
    out = weight.shape[0]
    if tuple(weight_scale.shape) != (out,):
        raise ValueError(f"{op}: expected weight_scale of shape ({out},) for weight "
                         f"{tuple(weight.shape)}, got {tuple(weight_scale.shape)}")
    if bias is not None and tuple(bias.shape) != (out,):
        raise ValueError(f"{op}: expected bias of shape ({out},) for weight "
                         f"{tuple(weight.shape)}, got {tuple(bias.shape)}")
    if input_scale is not None and not (float(input_scale) > 0 and
                                        QMIN <= int(input_zero_point) <= QMAX):
        raise ValueError(f"{op}: expected input_scale > 0 and input_zero_point in [{QMIN}, "
                         f"{QMAX}], got {float(input_scale)} and {int(input_zero_point)}")


def _qparams(input_scale, input_zero_point):
    if input_scale is None:
        return None, 0
    return float(input_scale), int(input_zero_point)


def quantized_linear(input, weight, weight_scale, bias=None, input_scale=None,
                     input_zero_point=0):
    """F.linear with an int8 weight: input (..., in) float, weight (out, in) int8 with
    weight_scale (out,), bias (out,) or None -> (..., out). input_scale None quantises the input
    with this batch's range (dynamic), else with (input_scale, input_zero_point) (static)."""
    op = "quantized_linear"
    _check_common(op, input, weight, weight_scale, bias, input_scale, input_zero_point)
    if weight.ndim != 2 or input.ndim < 1 or input.shape[-1] != weight.shape[1]:
        raise ValueError(f"{op}: expected input (..., {weight.shape[-1]}) for weight "
                         f"{tuple(weight.shape)}, got input of shape {tuple(input.shape)}")
    return Int8Linear.apply(input, weight, weight_scale, bias,
                            *_qparams(input_scale, input_zero_point))


def quantized_conv2d(input, weight, weight_scale, bias=None, stride=1, padding=0, dilation=1,
                     groups=1, input_scale=None, input_zero_point=0):
    """F.conv2d with an int8 weight: input (N, C, H, W) float, weight (O, C // groups, kH, kW)
    int8 with weight_scale (O,), bias (O,) or None -> (N, O, OH, OW); integer padding only.
    The input's qparams as in quantized_linear."""
    op = "quantized_conv2d"
    _check_common(op, input, weight, weight_scale, bias, input_scale, input_zero_point)
    if (input.ndim != 4 or weight.ndim != 4 or input.shape[1] != weight.shape[1] * groups
            or weight.shape[0] % groups):
        raise ValueError(f"{op}: expected input (N, {weight.shape[1] * groups}, H, W) for weight "
                         f"{tuple(weight.shape)} and groups {groups}, got input of shape "
                         f"{tuple(input.shape)}")
    stride = ntuple(stride, 2, "stride", op, 1)
    padding = ntuple(padding, 2, "padding", op, 0)
    dilation = ntuple(dilation, 2, "dilation", op, 1)
    for size, k, p, d in zip(input.shape[2:], weight.shape[2:], padding, dilation):
        if size + 2 * p < d * (k - 1) + 1:
            raise ValueError(f"{op}: the input of shape {tuple(input.shape)} (padding {padding}) "
                             f"is smaller than the kernel {tuple(weight.shape[2:])} (dilation "
                             f"{dilation})")
    return Int8Conv2d.apply(input, weight, weight_scale, bias, stride, padding, dilation, groups,
                            *_qparams(input_scale, input_zero_point))
