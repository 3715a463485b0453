"""More pointwise math, as torch.*: exp2, logaddexp(2), hypot, fmod, frac, trunc/fix, sgn,
heaviside, copysign, nan_to_num, signbit, xlogy, logit, float_power, fmax/fmin, addcmul,
addcdiv, and PyTorch's alias names (multiply, subtract, divide, true_divide, absolute, positive,
greater, less_equal...). Integer predicates and bit ops (gcd, lcm, bitwise_not, isposinf...)
have no gradient.

Most are compositions of Tensor ops, so their derivatives of every order come from those ops;
fmod and trunc are Functions of their own. Numerically stable forms:
    logaddexp(a, b) = m + log(exp(a - m) + exp(b - m)),  m = max(a, b) (a constant)
    xlogy(x, y)     = x log(y), and 0 where x = 0 (even for y = 0 or nan... as PyTorch)
"""
from __future__ import annotations

import math

import numpy as np

from ..autograd.function import Function, wrap_constant
from ..backend import dtypes as _dt
from ..backend.device import array_module
from .binary import (Remainder, binary, bitwise_left_shift, bitwise_right_shift, check_division,
                     compare, div, ge, gt, le, lt, mul, ne, pow, rpow, sub, where, zero_gradient)
from .convert import as_float, scalar_like, to, type_name
from .elementwise import (Sign, abs, clamp, isfinite, log, predicate, quiet, refuse_bool, sign)
from .promotion import _promote_tensors, operands
from .shape import unbroadcast


class Trunc(Sign):
    """Round toward zero (piecewise constant: derivative 0)."""

    def forward(self, x):
        return self.xp.trunc(x)


class Fmod(Remainder):
    """a - trunc(a / b) * b (C's remainder: the sign of a), as torch.fmod; integers by zero
    raise."""

    def forward(self, a, b):
        self.sa, self.sb = getattr(a, "shape", None), getattr(b, "shape", None)
        self.save_for_backward(a, b)
        check_division("fmod", a, b)
        with np.errstate(divide="ignore", invalid="ignore"):
            return self.xp.fmod(a, b)

    def backward(self, gy):
        a, b = self.saved_tensors
        i = self.inputs
        gb = None
        if i[1] is not None:
            gb = unbroadcast(-gy * Trunc.apply(a / b).detach(), self.sb)
        return (unbroadcast(gy, self.sa) if i[0] is not None else None), gb


# ---- rounding, signs ---------------------------------------------------------------------------
def trunc(input):
    return Trunc.apply(refuse_bool("trunc", input))


fix = trunc


def frac(input):
    """input - trunc(input): the fractional part with input's sign (gradient 1); floating
    tensors only, as PyTorch."""
    if input._data.dtype.kind not in "fV":
        raise NotImplementedError(f"frac: not implemented for '{type_name(input._data.dtype)}'"
                                  f" (a {input.dtype} tensor; frac takes floating tensors)")
    return input - trunc(input).detach()


def sgn(input):
    """sign(input) for real tensors (PyTorch's sgn extends it to complex numbers)."""
    return sign(input)


def signbit(input):
    """True where the sign bit is set (-0.0 included); no gradient."""
    return predicate("signbit", input)


def copysign(input, other):
    """|input| with the sign of other (floats; other a tensor or a number). The gradient in input
    is sign(input) * sign(result); other gets none."""
    if hasattr(other, "_data"):     # promoted as a binary op (integers: the default float)
        x, other = _promote_tensors("copysign", input, other, True)
        negative = signbit(other)
    else:
        x = as_float(input)
        negative = wrap_constant(array_module(x._data).asarray(math.copysign(1.0, other) < 0))
    out = where(negative, -abs(x), abs(x))
    # other: a zero gradient, as PyTorch (not None)
    return zero_gradient(out, other) if hasattr(other, "_data") and other._requires_grad \
        else out


def heaviside(input, values):
    """0 where input < 0, values where input == 0, 1 where input > 0 (no gradient)."""
    return compare("heaviside", input, values)


def nan_to_num(input, nan=0.0, posinf=None, neginf=None):
    """NaN, +inf and -inf replaced by nan, posinf (default: the dtype's largest value) and
    neginf (its lowest); the gradient passes where input is finite and is 0 elsewhere."""
    if input._data.dtype.kind != "f":
        return input
    info = np.finfo(input._data.dtype)
    posinf = float(info.max) if posinf is None else posinf
    neginf = float(info.min) if neginf is None else neginf
    # ops both (compare: no gradient), so a captured step computes them again on every replay
    return where(isfinite(input), input, compare(_nan_to_num_fill, input, (nan, posinf, neginf)))


def _nan_to_num_fill(data, values):
    """What each non-finite value of data becomes: values = (nan, posinf, neginf)."""
    nan, posinf, neginf = values
    xp = array_module(data)
    return xp.where(xp.isnan(data), nan, xp.where(data > 0, posinf, neginf)).astype(data.dtype)


# ---- exponentials and logs ---------------------------------------------------------------------
def exp2(input):
    return rpow(as_float(input), 2.0)


def _max_const(a, b):
    """max(a, b) as a constant, 0 where it is not finite (so that inf - inf never appears): an
    op (compare: no gradient), so a captured step computes it again on every replay."""
    return compare(_finite_maximum, a, b)


def _finite_maximum(a, b):
    xp = array_module(a)
    m = xp.maximum(a, b)
    return xp.where(xp.isfinite(m), m, 0).astype(a.dtype)


def logaddexp(input, other):
    """log(exp(input) + exp(other)) without overflow: shifted by the (constant) max."""
    a = as_float(input)
    b = other if not hasattr(other, "_data") else as_float(other)
    if hasattr(b, "_data") and b._data.dtype != a._data.dtype:
        dt = _dt.promote_types(a._data.dtype, b._data.dtype)
        a, b = to(a, dt), to(b, dt)
    m = _max_const(a, b)
    return ((a - m).exp() + (b - m).exp()).log() + m


def logaddexp2(input, other):
    """log2(2^input + 2^other)."""
    ln2 = math.log(2)
    return logaddexp(as_float(input) * ln2, other * ln2) * (1 / ln2)


def xlogy(input, other):
    """input * log(other), exactly 0 where input == 0 (the log branch sees other = 1 there, so
    its gradient stays finite); either argument may be a number."""
    if not hasattr(input, "_data"):
        input = scalar_like(input, as_float(other))
    if hasattr(other, "_data"):     # promoted first, as a binary op (0-d rule; ints: float)
        x, y = _promote_tensors("xlogy", input, other, True)
    else:
        x = as_float(input)
        y = scalar_like(other, x)
    zero = x.detach() == 0
    return where(zero, 0.0, x * log(where(zero, 1.0, y)))


class Logit(Function):
    """log(z / (1 - z)), z = x limited to [eps, 1 - eps] (PyTorch's x < eps ? eps : x > 1 -
    eps ? 1 - eps : x); PyTorch's backward gy / (x (1 - x)): NaN where x is outside [0, 1]
    (eps None), 0 where it is outside [eps, 1 - eps]."""

    def forward(self, x, eps):
        self.eps = eps
        self.save_for_backward(x)
        xp = self.xp
        if eps is not None:
            lo, hi = x.dtype.type(eps), x.dtype.type(1 - eps)
            x = xp.where(x < lo, lo, xp.where(x > hi, hi, x))
        with np.errstate(divide="ignore", invalid="ignore"):
            return xp.log(x / (1 - x))

    @quiet
    def backward(self, gy):
        (x,) = self.saved_tensors
        g = gy / (x * (1 - x)).abs()          # (>= 0 inside [0, 1]: +0 at x = -0.0)
        if self.eps is None:
            return where((x < 0).logical_or(x > 1), math.nan, g), None
        return where((x < self.eps).logical_or(x > 1 - self.eps), 0.0, g), None


def logit(input, eps=None):
    """log(p / (1 - p)), p = input limited to [eps, 1 - eps] when eps is given (Logit)."""
    return Logit.apply(as_float(input), eps)


class Hypot(Function):
    """sqrt(a^2 + b^2) by the array module's hypot (no overflow of the squares); PyTorch's
    gradients a / y and b / y (NaN at the origin, as PyTorch)."""

    def forward(self, a, b):
        self.sa, self.sb = a.shape, b.shape
        y = self.xp.hypot(a, b)
        self.save_for_backward(a, b, y)
        return y

    @quiet
    def backward(self, gy):
        a, b, y = self.saved_tensors
        i = self.inputs
        return (unbroadcast(gy * a / y, self.sa) if i[0] is not None else None,
                unbroadcast(gy * b / y, self.sb) if i[1] is not None else None)


def hypot(input, other):
    """sqrt(input^2 + other^2), after PyTorch's type promotion (the squares in the result's
    dtype), floating operands only (PyTorch refuses integers)."""
    a, b = operands("hypot", input, other)
    if b is NotImplemented:
        raise TypeError(f"hypot: unsupported operand {other!r}")
    if a._data.dtype.kind not in "fV":
        raise NotImplementedError(f"hypot: not implemented for '{type_name(a._data.dtype)}' "
                                  "(floating tensors only, as PyTorch)")
    return Hypot.apply(a, b if hasattr(b, "_data") else scalar_like(b, a))


def float_power(input, exponent):
    """input ** exponent in float64."""
    x = to(input, _dt.float64)
    e = to(exponent, _dt.float64) if hasattr(exponent, "_data") else exponent
    return pow(x, e)


def fmod(input, other):
    """input - trunc(input / other) * other: the remainder with input's sign (either may be a
    number); an integer division by zero raises, as PyTorch."""
    if not hasattr(input, "_data"):
        return binary(Fmod, other, input, reverse=True)
    return binary(Fmod, input, other)


def ldexp(input, other):
    """input * 2 ** other."""
    return as_float(input) * rpow(as_float(other), 2.0) if hasattr(other, "_data") else \
        as_float(input) * 2.0 ** other


# ---- nan-ignoring extremes, fused products -----------------------------------------------------
def fmax(input, other):
    """maximum that ignores NaN: the other value where one is NaN. As PyTorch, input where
    input >= other or other is NaN, else other: a tie's gradient all goes to input (maximum
    splits it)."""
    take = (input.detach() >= other.detach()) | other.detach().isnan()
    return where(take, input, other)


def fmin(input, other):
    """minimum that ignores NaN (input where input <= other or other is NaN, as fmax)."""
    take = (input.detach() <= other.detach()) | other.detach().isnan()
    return where(take, input, other)


def addcmul(input, tensor1, tensor2, value=1):
    """input + value * tensor1 * tensor2 (all broadcast). With integer (or bool) tensors a float
    value is cast to the integer result's dtype, as PyTorch (value=0.5 is 0)."""
    if isinstance(value, float) and all(t._data.dtype.kind in "biu"
                                        for t in (input, tensor1, tensor2)):
        value = int(value)
    if all(t._data.dtype.kind == "b" for t in (input, tensor1, tensor2)):
        refuse_bool("addcmul", input)
    prod = tensor1 * tensor2
    return input + (prod * value if value != 1 else prod)


def addcdiv(input, tensor1, tensor2, value=1):
    """input + value * tensor1 / tensor2 (all broadcast)."""
    if tensor1._data.dtype.kind in "biu" and tensor2._data.dtype.kind in "biu":
        raise RuntimeError("addcdiv: integer division of tensors is not supported; use "
                           "addcdiv with floating tensor1 or tensor2")
    quot = tensor1 / tensor2
    return input + (quot * value if value != 1 else quot)


# ---- integer math and predicates (no gradient) -------------------------------------------------
def gcd(input, other):
    return compare("gcd", input, other)


def lcm(input, other):
    return compare("lcm", input, other)


def bitwise_not(input):
    return compare(_invert, input, None)


def _invert(a, _):
    return ~a


def isposinf(input):
    return predicate("isposinf", input)


def isneginf(input):
    return predicate("isneginf", input)


def isreal(input):
    """True everywhere: tinygen's tensors are real."""
    return predicate("isreal", input)


def positive(input):
    return input


def nextafter(input, other):
    """The next floating-point value after input toward other (no gradient)."""
    return compare("nextafter", input, other)


def renorm(input, p, dim, maxnorm):
    """Each slice along dim whose p-norm (over the other dims) exceeds maxnorm, scaled down to
    norm maxnorm (by maxnorm / (norm + 1e-7), as PyTorch)."""
    d = dim % input.ndim
    others = tuple(k for k in range(input.ndim) if k != d)
    norms = input.norm(p, dim=others, keepdim=True)
    scale = where(norms > maxnorm, maxnorm / (norms + 1e-7), 1.0)
    return input * scale


def conj(input):
    """The complex conjugate: input itself for tinygen's real tensors (as resolve_conj,
    resolve_neg and real)."""
    return input


resolve_conj = resolve_neg = real = conj


def is_conj(input):
    return False


is_neg = is_conj


# PyTorch's alias names
multiply, subtract, divide, true_divide = mul, sub, div, div
greater, greater_equal, less, less_equal, not_equal = gt, ge, lt, le, ne
absolute = abs


def where_method(input, condition, other):
    """Tensor.where(condition, other): input where condition, else other."""
    return where(condition, input, other)
