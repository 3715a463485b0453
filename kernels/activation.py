"""GELU, SiLU and LeakyReLU, forward and backward, and the sigmoid, elementwise (any shape).

  gelu_fwd(x, approximate="none") -> y
      exact:  y = x Phi(x),  Phi(x) = (1 + erf(x / sqrt 2)) / 2
      "tanh": y = x/2 (1 + tanh(u)),  u = sqrt(2/pi) (x + 0.044715 x^3)
  gelu_bwd(x, gy, approximate="none") -> gx
      exact:  gx = gy (Phi(x) + x phi(x)),  phi the normal pdf
      "tanh": gx = gy ((1 + t)/2 + x/2 (1 - t^2) du/dx),  t = tanh(u)
  silu_fwd(x) -> y              y = x sigmoid(x)
  silu_bwd(x, gy) -> gx         gx = gy s (1 + x (1 - s)),  s = sigmoid(x)
  sigmoid_fwd(x) -> y           y = 1 / (1 + exp(-x))
  sigmoid_bwd(y, gy) -> gx      gx = gy y (1 - y), from the output y
  tanh_bwd(y, gy) -> gx         gx = gy (1 - y^2), from the output y (tanh itself is NumPy's)
  softplus_fwd(x, beta, threshold) -> y
                                y = log(1 + exp(beta x)) / beta, as max(beta x, 0) +
                                log1p(exp(-|beta x|)) (no overflow), and x itself where beta x >
                                threshold (PyTorch's definition)
  leaky_relu_fwd(x, negative_slope) -> y        y = x if x > 0 else negative_slope * x
  leaky_relu_bwd(x, gy, negative_slope) -> gx   gx = gy if x > 0 else negative_slope * gy
  relu_fwd(x) -> (y, off)       y = max(x, 0) as NumPy's maximum (NaN passes), off = x <= 0
  zero_where(g, mask) -> out    out = 0 where mask else g (exactly: an inf or NaN in g under the
                                mask becomes 0, not 0 * inf); ReLU's and clamp's backward

Backward takes the input x (not y): GELU's derivative needs x, and so does SiLU's (LeakyReLU's
could use y for a positive slope, not for any slope); the sigmoid's and tanh's take y, which their
forward keeps anyway.

Versions (CPU):
  numba_v1  the flattened array in one range per tinygen thread (_threads.over_ranges; below
            32768 elements no threads), each range a flag-free serial loop (a loop with a
            branch inside did not vectorise); float32 uses the vectorised exp and erf of
            _numba (erf: A&S 7.1.26, |error| <= 1.5e-7, as in PyTorch's vectorised CPU erf),
            float64 math.exp / math.erf (softplus: _numba's log1p too). The tanh form is computed as x * sigmoid(2u), which
            has no cancellation where 1 + tanh(u) -> 0 (float32 tolerance 1e-5 absolute: the
            reference's 1 + tanh(u) loses ~1e-7 there); LeakyReLU as max(x, 0) + slope *
            min(x, 0), branch-free (one pass instead of NumPy's mask, product and select, each
            allocating)                                                          <- default
"""
from __future__ import annotations

import functools
import math

import numpy as np

from . import _numba
from . import _threads
from ._numba import (contiguous_grad, erf, exp, is_cpu_float, jit, jit_serial, log1p,
                     numba_kernel, piece, prange)
from ._threads import kernel_over_ranges, one_pool, parallel_work
from ._xp import array_module
from .registry import reference

_SQRT_2_OVER_PI = math.sqrt(2 / math.pi)
_INV_SQRT_2 = 1 / math.sqrt(2)
_INV_SQRT_2PI = 1 / math.sqrt(2 * math.pi)


def _flat_map(kernel, arrays, out, *scalars):
    """kernel(*arrays, *scalars, out) on 1-D arrays of one length, in ranges over threads when
    they are long (tinygen_kernels._threads), else in one call here."""
    n = out.shape[0]
    ns = _NS_PER_ELEMENT.get(kernel, 1.0)
    # no ranges, no closure: small arrays pay nothing. The threshold is read first: every loop
    # here costs at most 1 ns an element, so below it there is no split to weigh (one call:
    # 1.8 against 2.9 us on 256 float32, Zen 1 EPYC)
    if n < min(_numba.PARALLEL_MIN_ELEMENTS, _threads.ONE_POOL_MIN_NS) or \
            not (one_pool() or parallel_work(n, ns)):
        kernel(*arrays, *scalars, out)
        return
    k = len(arrays)
    kernel_over_ranges(
        lambda lo, hi, *a: kernel(*(v[lo:hi] for v in a[:k]), *a[k:-1], a[-1][lo:hi]),
        (*arrays, *scalars, out), n, n, ns, parallel=_TWINS[kernel])


def _example_x(rng, which):
    shape = (12 * 64, 512) if which == "bench" else (5, 41)
    x = (rng.standard_normal(shape) * 3).astype("float32")
    if which == "test":
        x[0, :6] = [0.0, -1e-3, 1e-3, 30.0, -30.0, -100.0]     # around 0 and the saturated tails
    return x


def _example_fwd(rng, which):
    return (_example_x(rng, which),), {}


def _example_gelu_fwd(rng, which):
    return (_example_x(rng, which),), {"approximate": "tanh" if which == "test" else "none"}


def _example_bwd(rng, which):
    x = _example_x(rng, which)
    return (x, rng.standard_normal(x.shape).astype(x.dtype)), {}


def _example_leaky_fwd(rng, which):
    return (_example_x(rng, which),), {"negative_slope": 0.2}


def _example_leaky_bwd(rng, which):
    (x, gy), _ = _example_bwd(rng, which)
    return (x, gy), {"negative_slope": 0.2}


def _erf_array(x):
    """Elementwise erf: scipy's on numpy, cupyx's on cupy."""
    if array_module(x) is np:
        from scipy.special import erf as erf_fn
    else:  # pragma: no cover - GPU only
        from cupyx.scipy.special import erf as erf_fn
    return erf_fn(x)


def _check_approximate(approximate):
    if approximate not in ("none", "tanh"):
        raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")


# ---------------------------------------------------------------- references
@reference("gelu_fwd", example=_example_gelu_fwd, rtol=1e-5, atol=1e-5)
def gelu_fwd(x, approximate="none"):
    """GELU (Hendrycks & Gimpel 2016). x (...) -> y (...). gelu_fwd(array([0.])) is [0.]."""
    xp = array_module(x)
    _check_approximate(approximate)
    if approximate == "tanh":
        u = _SQRT_2_OVER_PI * (x + 0.044715 * x ** 3)
        return (0.5 * x * (1 + xp.tanh(u))).astype(x.dtype)
    return (0.5 * x * (1 + _erf_array(x * _INV_SQRT_2))).astype(x.dtype)


@reference("gelu_bwd", example=_example_bwd, rtol=1e-5, atol=1e-5)
def gelu_bwd(x, gy, approximate="none"):
    """Gradient of gelu_fwd at x times gy. x, gy (...) -> gx (...)."""
    xp = array_module(x)
    _check_approximate(approximate)
    if approximate == "tanh":
        t = xp.tanh(_SQRT_2_OVER_PI * (x + 0.044715 * x ** 3))
        du = _SQRT_2_OVER_PI * (1 + 3 * 0.044715 * x * x)
        return (gy * (0.5 * (1 + t) + 0.5 * x * (1 - t * t) * du)).astype(x.dtype)
    cdf = 0.5 * (1 + _erf_array(x * _INV_SQRT_2))
    pdf = _INV_SQRT_2PI * xp.exp(-0.5 * x * x)
    return (gy * (cdf + x * pdf)).astype(x.dtype)


def _sigmoid(x):
    xp = array_module(x)
    return 1 / (1 + xp.exp(-x))          # exp(-x) = inf for x < -88 (float32) gives 0: right


@reference("sigmoid_fwd", example=_example_fwd, rtol=1e-5, atol=1e-7)
def sigmoid_fwd(x):
    """1 / (1 + exp(-x)), stable for large |x|: exp of a non-positive number only."""
    xp = array_module(x)
    e = xp.exp(-xp.abs(x))
    return xp.where(x >= 0, 1 / (1 + e), e / (1 + e)).astype(x.dtype, copy=False)


def _example_from_output(rng, which):
    (x,), _ = _example_fwd(rng, which)
    (gy,), _ = _example_fwd(rng, which)
    return (np.tanh(x), gy), {}


@reference("sigmoid_bwd", example=_example_from_output, rtol=1e-5, atol=1e-6)
def sigmoid_bwd(y, gy):
    """Gradient of the sigmoid times gy, from its output y: gy * y * (1 - y)."""
    return (gy * (y * (1 - y))).astype(y.dtype, copy=False)


@reference("tanh_bwd", example=_example_from_output, rtol=1e-5, atol=1e-6)
def tanh_bwd(y, gy):
    """Gradient of tanh times gy, from its output y: gy * (1 - y * y). (Near y = +-1, 1 - y^2
    cancels: a kernel contracting it to one fused multiply-add rounds differently, ~1e-7
    absolute in float32.)"""
    return (gy * (1 - y * y)).astype(y.dtype, copy=False)


@reference("silu_fwd", example=_example_fwd, rtol=1e-5, atol=1e-6)
def silu_fwd(x):
    """SiLU / swish: x * sigmoid(x). x (...) -> y (...)."""
    with np.errstate(over="ignore"):
        return (x * _sigmoid(x)).astype(x.dtype)


@reference("silu_bwd", example=_example_bwd, rtol=1e-5, atol=1e-6)
def silu_bwd(x, gy):
    """Gradient of silu_fwd at x times gy: gy * s * (1 + x * (1 - s))."""
    with np.errstate(over="ignore"):
        s = _sigmoid(x)
    return (gy * s * (1 + x * (1 - s))).astype(x.dtype)


def _example_softplus(rng, which):
    return (_example_x(rng, which),), {"beta": 1.0, "threshold": 20.0}


@reference("softplus_fwd", example=_example_softplus, rtol=1e-6, atol=1e-7)
def softplus_fwd(x, beta=1.0, threshold=20.0):
    """Softplus: log(1 + exp(beta x)) / beta, x itself where beta x > threshold (math.inf: never).
    x (...) -> y (...)."""
    xp = array_module(x)
    bx = x * x.dtype.type(beta) if beta != 1 else x
    y = xp.maximum(bx, 0) + xp.log1p(xp.exp(-xp.abs(bx)))
    if beta != 1:
        y = y / x.dtype.type(beta)
    return y if threshold == math.inf else xp.where(bx > threshold, x, y)


@reference("leaky_relu_fwd", example=_example_leaky_fwd, rtol=1e-6, atol=1e-7)
def leaky_relu_fwd(x, negative_slope=0.01):
    """LeakyReLU: x where x > 0, else negative_slope * x. x (...) -> y (...)."""
    xp = array_module(x)
    return xp.where(x > 0, x, x * x.dtype.type(negative_slope))


@reference("leaky_relu_bwd", example=_example_leaky_bwd, rtol=1e-6, atol=1e-7)
def leaky_relu_bwd(x, gy, negative_slope=0.01):
    """Gradient of leaky_relu_fwd at x times gy (the slope at 0 is negative_slope, as PyTorch's)."""
    xp = array_module(x)
    return xp.where(x > 0, gy, gy * x.dtype.type(negative_slope)).astype(x.dtype, copy=False)


@reference("relu_fwd", example=_example_fwd, rtol=0, atol=0)
def relu_fwd(x):
    """ReLU and where its gradient is blocked: (max(x, 0), x <= 0), y as NumPy's maximum gives
    it (a NaN passes, -0.0 becomes 0.0), the mask a boolean array of x's shape."""
    xp = array_module(x)
    return xp.maximum(x, x.dtype.type(0)), x <= 0


def _example_zero_where(rng, which):
    g = _example_x(rng, which)
    g.reshape(-1)[:3] = [np.inf, -np.inf, np.nan]
    mask = rng.random(g.shape) < 0.5
    mask.reshape(-1)[:2] = True
    return (g, mask), {}


@reference("zero_where", example=_example_zero_where, rtol=0, atol=0)
def zero_where(g, mask):
    """g with exact zeros where the boolean array mask (g's shape) is True."""
    xp = array_module(g)
    return xp.where(mask, g.dtype.type(0), g)


# ---------------------------------------------------------------- numba_v1
# One serial loop per function and direction, with no flags inside: numba's LLVM pipeline does
# not unswitch a loop-invariant branch, and a branch in the loop stops it vectorising (5x).
@jit_serial
def _gelu_erf(x, out):
    half, one = x.dtype.type(0.5), x.dtype.type(1)
    inv_sqrt2 = x.dtype.type(_INV_SQRT_2)
    for i in range(x.shape[0]):
        v = x[i]
        out[i] = half * v * (one + erf(v * inv_sqrt2))


@jit_serial
def _gelu_erf_bwd(x, gy, out):
    half, one = x.dtype.type(0.5), x.dtype.type(1)
    inv_sqrt2, inv_sqrt_2pi = x.dtype.type(_INV_SQRT_2), x.dtype.type(_INV_SQRT_2PI)
    for i in range(x.shape[0]):
        v = x[i]
        cdf = half * (one + erf(v * inv_sqrt2))
        out[i] = gy[i] * (cdf + v * inv_sqrt_2pi * exp(-half * v * v))


# The tanh form as x * sigmoid(2u): (1 + tanh(u)) / 2 = sigmoid(2u) = s and
# 1 - tanh(u)^2 = 4 s (1 - s) with 1 - s = e s, e = exp(-2u): no cancellation in the negative tail.
# Constants typed: in numba an int literal times a float32 is a float64, which would take the loop
# to float64 and the scalar exp. exp(-2u) may overflow to inf: x / inf = -0 (PyTorch's answer).
@jit_serial
def _gelu_tanh(x, out):
    one, two = x.dtype.type(1), x.dtype.type(2)
    k0, k1 = x.dtype.type(_SQRT_2_OVER_PI), x.dtype.type(0.044715)
    for i in range(x.shape[0]):
        v = x[i]
        u = k0 * (v + k1 * v * v * v)
        out[i] = v / (one + exp(-two * u))


@jit_serial
def _gelu_tanh_bwd(x, gy, out):
    one, two = x.dtype.type(1), x.dtype.type(2)
    k0, k1, k3 = x.dtype.type(_SQRT_2_OVER_PI), x.dtype.type(0.044715), x.dtype.type(0.134145)
    for i in range(x.shape[0]):
        v = x[i]
        u = k0 * (v + k1 * v * v * v)
        e = exp(-two * u)
        s = one / (one + e)
        es = one / (one + one / e)                  # e * s: 1 where e overflows, not inf * 0
        du = k0 * (one + k3 * v * v)                # k3 = 3 * 0.044715
        out[i] = gy[i] * (s + two * v * s * es * du)


@jit_serial
def _silu(x, out):
    one = x.dtype.type(1)
    for i in range(x.shape[0]):
        v = x[i]
        out[i] = v / (one + exp(-v))


@jit_serial
def _sigmoid_numba(x, out):
    # exp(-v) overflows to inf below v = -88.7 (float32): 1 / inf = 0, the limit; no NaN
    one = x.dtype.type(1)
    for i in range(x.shape[0]):
        out[i] = one / (one + exp(-x[i]))


@jit_serial
def _silu_bwd(x, gy, out):
    one = x.dtype.type(1)
    for i in range(x.shape[0]):
        v = x[i]
        s = one / (one + exp(-v))
        out[i] = gy[i] * s * (one + v * (one - s))


@jit_serial
def _sigmoid_bwd(y, gy, out):
    one = y.dtype.type(1)
    for i in range(y.shape[0]):
        v = y[i]
        out[i] = gy[i] * (v * (one - v))


@jit_serial
def _tanh_bwd(y, gy, out):
    one = y.dtype.type(1)
    for i in range(y.shape[0]):
        v = y[i]
        out[i] = gy[i] * (one - v * v)


_FORWARD = (_gelu_erf, _gelu_tanh, _silu)                  # op 0, 2, 4
_BACKWARD = (_gelu_erf_bwd, _gelu_tanh_bwd, _silu_bwd)      # op 1, 3, 5


# The prange twins of the loops (_threads.kernel_over_ranges in one_pool()), twin(n, pieces,
# *arrays, *scalars, out): the float loops one function per arity, the loop chosen by `op`, the
# others one each; cached on disk (a generic prange loop over the kernel is compiled again in
# every process: 0.5 s a kernel, the GPT's first step 4.7 s against 0.3 before it had twins)
@jit
def _flat1_parallel(op, n, pieces, x, out):
    for p in prange(pieces):
        lo, hi = piece(n, pieces, p)
        if op == 0:
            _gelu_erf(x[lo:hi], out[lo:hi])
        elif op == 1:
            _gelu_tanh(x[lo:hi], out[lo:hi])
        elif op == 2:
            _silu(x[lo:hi], out[lo:hi])
        else:
            _sigmoid_numba(x[lo:hi], out[lo:hi])


@jit
def _flat2_parallel(op, n, pieces, x, gy, out):
    for p in prange(pieces):
        lo, hi = piece(n, pieces, p)
        if op == 0:
            _gelu_erf_bwd(x[lo:hi], gy[lo:hi], out[lo:hi])
        elif op == 1:
            _gelu_tanh_bwd(x[lo:hi], gy[lo:hi], out[lo:hi])
        elif op == 2:
            _silu_bwd(x[lo:hi], gy[lo:hi], out[lo:hi])
        elif op == 3:
            _sigmoid_bwd(x[lo:hi], gy[lo:hi], out[lo:hi])
        else:
            _tanh_bwd(x[lo:hi], gy[lo:hi], out[lo:hi])


_TWINS = {kernel: functools.partial(_flat1_parallel, op)
          for op, kernel in enumerate((*_FORWARD, _sigmoid_numba))}
_TWINS.update({kernel: functools.partial(_flat2_parallel, op)
               for op, kernel in enumerate((*_BACKWARD, _sigmoid_bwd, _tanh_bwd))})


def _run(x, gy, op):
    out = np.empty_like(x)
    flat, flat_out = x.reshape(-1), out.reshape(-1)
    if op % 2 == 0:
        _flat_map(_FORWARD[op // 2], (flat,), flat_out)
    else:
        _flat_map(_BACKWARD[op // 2], (flat, gy.reshape(-1)), flat_out)
    return out


def _flat_ok(x, gy=None):
    if x.size == 0 or not is_cpu_float(x):
        return False
    return gy is None or (gy.shape == x.shape and is_cpu_float(x, gy))


@numba_kernel("gelu_fwd", impl="numba_v1", default=True)
def gelu_fwd_numba(x, approximate="none"):
    _check_approximate(approximate)
    if not _flat_ok(x):
        return NotImplemented
    return _run(x, None, 2 if approximate == "tanh" else 0)


@numba_kernel("gelu_bwd", impl="numba_v1", default=True)
def gelu_bwd_numba(x, gy, approximate="none"):
    _check_approximate(approximate)
    gy = contiguous_grad(gy, x)
    if not _flat_ok(x, gy):
        return NotImplemented
    return _run(x, gy, 3 if approximate == "tanh" else 1)


@numba_kernel("silu_fwd", impl="numba_v1", default=True)
def silu_fwd_numba(x):
    if not _flat_ok(x):
        return NotImplemented
    return _run(x, None, 4)


@numba_kernel("sigmoid_fwd", impl="numba_v1", default=True)
def sigmoid_fwd_numba(x):
    """numba_v1: one pass with the vectorised float32 exp (the reference: five NumPy passes and
    a select; 128 x 784 float32, the VAE's logits, 2 threads: 0.8 ms as measured in its step)."""
    if not _flat_ok(x):
        return NotImplemented
    out = np.empty_like(x)
    _flat_map(_sigmoid_numba, (x.reshape(-1),), out.reshape(-1))
    return out


@numba_kernel("silu_bwd", impl="numba_v1", default=True)
def silu_bwd_numba(x, gy):
    gy = contiguous_grad(gy, x)
    if not _flat_ok(x, gy):
        return NotImplemented
    return _run(x, gy, 5)


@jit_serial
def _leaky(x, slope, out):
    zero = x.dtype.type(0)
    for i in range(x.shape[0]):
        v = x[i]
        out[i] = max(v, zero) + slope * min(v, zero)


@jit_serial
def _leaky_bwd(x, gy, slope, out):
    zero, one = x.dtype.type(0), x.dtype.type(1)
    for i in range(x.shape[0]):
        out[i] = gy[i] * (one if x[i] > zero else slope)


@jit
def _leaky_parallel(n, pieces, x, slope, out):
    for p in prange(pieces):
        lo, hi = piece(n, pieces, p)
        _leaky(x[lo:hi], slope, out[lo:hi])


@jit
def _leaky_bwd_parallel(n, pieces, x, gy, slope, out):
    for p in prange(pieces):
        lo, hi = piece(n, pieces, p)
        _leaky_bwd(x[lo:hi], gy[lo:hi], slope, out[lo:hi])


@jit_serial
def _softplus(x, beta, threshold, out):
    zero = x.dtype.type(0)
    for i in range(x.shape[0]):
        v = x[i]
        b = v * beta
        y = (max(b, zero) + log1p(exp(-abs(b)))) / beta
        out[i] = v if b > threshold else y


@jit
def _softplus_parallel(n, pieces, x, beta, threshold, out):
    for p in prange(pieces):
        lo, hi = piece(n, pieces, p)
        _softplus(x[lo:hi], beta, threshold, out[lo:hi])


@numba_kernel("softplus_fwd", impl="numba_v1", default=True)
def softplus_fwd_numba(x, beta=1.0, threshold=20.0):
    """numba_v1: one pass with the vectorised float32 exp and log1p (the reference: six NumPy
    passes)."""
    if not _flat_ok(x):
        return NotImplemented
    out = np.empty_like(x)
    _flat_map(_softplus, (x.reshape(-1),), out.reshape(-1), x.dtype.type(beta),
              x.dtype.type(threshold))
    return out


def _run_leaky(x, gy, negative_slope):
    out = np.empty_like(x)
    slope = x.dtype.type(negative_slope)
    flat, flat_out = x.reshape(-1), out.reshape(-1)
    if gy is None:
        _flat_map(_leaky, (flat,), flat_out, slope)
    else:
        _flat_map(_leaky_bwd, (flat, gy.reshape(-1)), flat_out, slope)
    return out


def _from_output(loop, y, gy):
    """gx of the loop (y, gy, out) over the flattened arrays, or NotImplemented."""
    gy = contiguous_grad(gy, y)
    if not _flat_ok(y, gy):
        return NotImplemented
    out = np.empty_like(y)
    _flat_map(loop, (y.reshape(-1), gy.reshape(-1)), out.reshape(-1))
    return out


@numba_kernel("sigmoid_bwd", impl="numba_v1", default=True)
def sigmoid_bwd_numba(y, gy):
    """numba_v1: one pass (the Tensor ops before it: three, each allocating)."""
    return _from_output(_sigmoid_bwd, y, gy)


@numba_kernel("tanh_bwd", impl="numba_v1", default=True)
def tanh_bwd_numba(y, gy):
    """numba_v1: one pass, as sigmoid_bwd."""
    return _from_output(_tanh_bwd, y, gy)


@numba_kernel("leaky_relu_fwd", impl="numba_v1", default=True)
def leaky_relu_fwd_numba(x, negative_slope=0.01):
    if not _flat_ok(x):
        return NotImplemented
    return _run_leaky(x, None, negative_slope)


@numba_kernel("leaky_relu_bwd", impl="numba_v1", default=True)
def leaky_relu_bwd_numba(x, gy, negative_slope=0.01):
    gy = contiguous_grad(gy, x)
    if not _flat_ok(x, gy):
        return NotImplemented
    return _run_leaky(x, gy, negative_slope)


@jit_serial
def _relu(x, off, out):
    zero = x.dtype.type(0)
    for i in range(x.shape[0]):
        v = x[i]
        out[i] = v if v > zero or v != v else zero
        off[i] = v <= zero


@jit
def _relu_parallel(n, pieces, x, off, out):
    for p in prange(pieces):
        lo, hi = piece(n, pieces, p)
        _relu(x[lo:hi], off[lo:hi], out[lo:hi])


@numba_kernel("relu_fwd", impl="numba_v1", default=True)
def relu_fwd_numba(x):
    """numba_v1: y and the mask in one pass (NumPy makes them in two: 0.098 ms on LeNet's
    64x6x24x24 activations, the loop 0.025)."""
    if not _flat_ok(x):
        return NotImplemented
    out, off = np.empty_like(x), np.empty(x.shape, np.bool_)
    _flat_map(_relu, (x.reshape(-1), off.reshape(-1)), out.reshape(-1))
    return out, off


@jit_serial
def _zero_where(g, mask, out):
    zero = g.dtype.type(0)
    for i in range(g.shape[0]):
        out[i] = zero if mask[i] else g[i]


@jit
def _zero_where_parallel(n, pieces, g, mask, out):
    for p in prange(pieces):
        lo, hi = piece(n, pieces, p)
        _zero_where(g[lo:hi], mask[lo:hi], out[lo:hi])


_TWINS.update({_leaky: _leaky_parallel, _leaky_bwd: _leaky_bwd_parallel, _relu: _relu_parallel,
               _zero_where: _zero_where_parallel, _softplus: _softplus_parallel})


@numba_kernel("zero_where", impl="numba_v1", default=True)
def zero_where_numba(g, mask):
    """numba_v1: one select per element (NumPy's where with a boolean mask ran at 1.4 ms for
    800 000 float32, a tenth of that as a loop). Small arrays too: on 256 float32 (a 16x16
    ReLU's gradient) NumPy's where took 6.4 us on the 2 GHz Zen 1 EPYC (1.8 on the Zen 3 VM),
    the loop's call ~1.8. A broadcast g (the gradient of a sum) is copied first: NumPy's where
    on it took 1.6 ms for 401k float32, the copy and the loop 0.1-0.2 ms."""
    g = contiguous_grad(g, g)
    if (not _flat_ok(g) or type(mask) is not np.ndarray or mask.dtype != np.bool_
            or mask.shape != g.shape or not mask.flags.c_contiguous):
        return NotImplemented
    out = np.empty_like(g)
    _flat_map(_zero_where, (g.reshape(-1), mask.reshape(-1)), out.reshape(-1))
    return out


# each loop's cost per float32 element on one thread (400k elements, the 2-core VM of the
# benchmarks): how long an array must be before splitting it over threads pays (_flat_map). The
# loops bound by memory (LeakyReLU, ReLU, zero_where) as measured on the 2-core Xeon VM, where
# they ran at 0.27-0.42 ns an element against 0.10-0.15 on the EPYC VM: there, at 0.1 ns, the
# DCGAN's LeakyReLU on 401k values stayed on one thread (106 us, split: 45)
_NS_PER_ELEMENT = {_gelu_erf: 0.55, _gelu_erf_bwd: 0.85, _gelu_tanh: 0.5, _gelu_tanh_bwd: 0.6,
                   _silu: 0.3, _silu_bwd: 0.4, _sigmoid_numba: 0.3, _leaky: 0.27,
                   _leaky_bwd: 0.42, _zero_where: 0.31, _relu: 0.32, _sigmoid_bwd: 0.42,
                   _tanh_bwd: 0.42, _softplus: 0.6}
