"""GELU and SiLU, forward and backward, on the GPU (numba.cuda), against kernels/activation.py.

  gelu_fwd(x, approximate="none"|"tanh") -> y        gelu_bwd(x, gy, approximate) -> gx
  silu_fwd(x) -> y                                   silu_bwd(x, gy) -> gx

Versions (device="cuda"):
  numba_cuda_v1  one grid-stride elementwise kernel per function and direction (no flags inside
                 the loop), a few waves of 256-thread blocks; the tanh form computed as
                 x * sigmoid(2u) like the CPU kernel (no cancellation in the negative tail); float64
                 arithmetic on both dtypes (memory-bound: 8 or 12 bytes per element)  <- default
  (next, for issue 9: float32 arithmetic with the fast intrinsics, and the activation fused into
  the GEMM epilogue that produces its input)
"""
from __future__ import annotations

import functools
import math
from types import SimpleNamespace

from . import activation as _ref
from ._xp import array_module
from .cuda_common import flat_launch, float_inputs, numba_cuda, usable
from .registry import kernel

cuda = None      # numba.cuda once _kernels() runs (a module global: see cuda_common)

_SQRT_2_OVER_PI = math.sqrt(2 / math.pi)
_INV_SQRT_2 = 1 / math.sqrt(2)
_INV_SQRT_2PI = 1 / math.sqrt(2 * math.pi)


@functools.cache
def _kernels():
    global cuda
    cuda = numba_cuda()

    @cuda.jit(device=True)
    def capped(z):
        """min(z, 700): exp stays finite in float64 (and sigmoid(-700) is 0 anyway). Written out:
        numba's CUDA target mistypes the builtin min."""
        return z if z < 700.0 else 700.0

    @cuda.jit
    def gelu_erf(x, y):
        for i in range(cuda.grid(1), x.size, cuda.gridsize(1)):
            v = float(x[i])               # float64 arithmetic on either dtype
            y[i] = 0.5 * v * (1.0 + math.erf(v * _INV_SQRT_2))

    @cuda.jit
    def gelu_erf_bwd(x, gy, gx):
        for i in range(cuda.grid(1), x.size, cuda.gridsize(1)):
            v = float(x[i])               # float64 arithmetic on either dtype
            cdf = 0.5 * (1.0 + math.erf(v * _INV_SQRT_2))
            gx[i] = gy[i] * (cdf + v * _INV_SQRT_2PI * math.exp(-0.5 * v * v))

    # (1 + tanh(u)) / 2 = sigmoid(2u) = s, and 1 - tanh(u)^2 = 4 s (1 - s) = 4 s e s, e = exp(-2u)
    @cuda.jit
    def gelu_tanh(x, y):
        for i in range(cuda.grid(1), x.size, cuda.gridsize(1)):
            v = float(x[i])               # float64 arithmetic on either dtype
            u = _SQRT_2_OVER_PI * (v + 0.044715 * v * v * v)
            y[i] = v / (1.0 + math.exp(capped(-2.0 * u)))

    @cuda.jit
    def gelu_tanh_bwd(x, gy, gx):
        for i in range(cuda.grid(1), x.size, cuda.gridsize(1)):
            v = float(x[i])               # float64 arithmetic on either dtype
            u = _SQRT_2_OVER_PI * (v + 0.044715 * v * v * v)
            e = math.exp(capped(-2.0 * u))
            s = 1.0 / (1.0 + e)
            du = _SQRT_2_OVER_PI * (1.0 + 3 * 0.044715 * v * v)
            gx[i] = gy[i] * (s + 2.0 * v * s * (e * s) * du)

    @cuda.jit
    def silu(x, y):
        for i in range(cuda.grid(1), x.size, cuda.gridsize(1)):
            v = float(x[i])               # float64 arithmetic on either dtype
            y[i] = v / (1.0 + math.exp(capped(-v)))

    @cuda.jit
    def silu_bwd(x, gy, gx):
        for i in range(cuda.grid(1), x.size, cuda.gridsize(1)):
            v = float(x[i])               # float64 arithmetic on either dtype
            s = 1.0 / (1.0 + math.exp(capped(-v)))
            gx[i] = gy[i] * s * (1.0 + v * (1.0 - s))

    return SimpleNamespace(gelu_erf=gelu_erf, gelu_erf_bwd=gelu_erf_bwd, gelu_tanh=gelu_tanh,
                           gelu_tanh_bwd=gelu_tanh_bwd, silu=silu, silu_bwd=silu_bwd)


def _flat(xp, a):
    return xp.ascontiguousarray(a).reshape(-1)


def _unary(name, x):
    if x.size == 0 or not usable(x) or not float_inputs(x):
        return NotImplemented
    xp = array_module(x)
    x1 = _flat(xp, x)
    y = xp.empty_like(x1)
    getattr(_kernels(), name)[flat_launch(x1.size)](x1, y)
    return y.reshape(x.shape)


def _binary(name, x, gy):
    if x.size == 0 or gy.shape != x.shape or not usable(x, gy) or not float_inputs(x, gy):
        return NotImplemented
    xp = array_module(x)
    x1, gy1 = _flat(xp, x), _flat(xp, gy)
    gx = xp.empty_like(x1)
    getattr(_kernels(), name)[flat_launch(x1.size)](x1, gy1, gx)
    return gx.reshape(x.shape)


@kernel("gelu_fwd", device="cuda", impl="numba_cuda_v1", default=True)
def gelu_fwd_cuda(x, approximate="none"):
    _ref._check_approximate(approximate)
    return _unary("gelu_tanh" if approximate == "tanh" else "gelu_erf", x)


@kernel("gelu_bwd", device="cuda", impl="numba_cuda_v1", default=True)
def gelu_bwd_cuda(x, gy, approximate="none"):
    _ref._check_approximate(approximate)
    return _binary("gelu_tanh_bwd" if approximate == "tanh" else "gelu_erf_bwd", x, gy)


@kernel("silu_fwd", device="cuda", impl="numba_cuda_v1", default=True)
def silu_fwd_cuda(x):
    return _unary("silu", x)


@kernel("silu_bwd", device="cuda", impl="numba_cuda_v1", default=True)
def silu_bwd_cuda(x, gy):
    return _binary("silu_bwd", x, gy)
