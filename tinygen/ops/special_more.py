"""More special functions of torch.special: erfcx, log_ndtr, gammainc / gammaincc (torch.igamma /
igammac) and the Hurwitz zeta, with the dtype rules and edge values of PyTorch 2.13, values from
scipy.special on the CPU and cupyx.scipy.special on a GPU. Also the helpers the Bessel and
polynomial files share: `scipy_special`, `float_input`, `float_pair`.

Derivatives, as PyTorch's (tools/autograd/derivatives.yaml), each written with Tensor ops so it
is differentiable again:
    erfcx'(x)        = 2 x erfcx(x) - 2 / sqrt(pi)
    log_ndtr'(x)     = exp(-x^2 / 2 - log_ndtr(x)) / sqrt(2 pi)
    d/dx P(a, x)     = exp((a - 1) log x - x - lgamma(a)),   Q = 1 - P: the negative
    d/dq zeta(x, q)  = -x zeta(x + 1, q)
The derivatives in a (gammainc's) and in x (zeta's first argument) have no closed form: asking
for them raises NotImplementedError with PyTorch's words.

Where tinygen differs: that error comes whenever the first argument requires grad, also from an
autograd.grad asking only for the second argument's gradient (PyTorch computes that one; detach
the first argument); float16 / bfloat16 are refused where PyTorch's CPU kernels refuse them, on
every device; values are SciPy's (PyTorch's float64 series for gammainc with a in (20, 200)
differ from them by ~1e-10 relative).
"""
from __future__ import annotations

import math

import numpy as np

from ..autograd import function as _fn
from ..autograd.function import Function
from ..backend import dtypes as _dt
from ..backend.device import array_module
from .arrange import broadcast_shapes
from .convert import scalar_like, to, type_name
from .elementwise import Exp, log
from .promotion import _promote_tensors, operands
from .shape import unbroadcast
from .special import Lgamma


# ---- helpers shared by special_more, bessel and polynomials ------------------------------------
def scipy_special(op, name, *arrays):
    """scipy.special.<name>(*arrays) (cupyx.scipy.special's for CuPy arrays) in the dtype of the
    first array; float16 and bfloat16 are computed in float32. op names the tinygen function in
    errors (a function cupyx lacks runs on the CPU only)."""
    x = arrays[0]
    if type(x).__module__.startswith("cupy"):
        import cupyx.scipy.special as sp  # lazy: CuPy is optional
        if not hasattr(sp, name):
            raise NotImplementedError(f"special.{op}: cupyx.scipy.special has no {name!r}, so "
                                      f"{op} runs on the CPU only (move the tensor with .cpu())")
    else:
        import scipy.special as sp  # lazy: scipy.special costs start-up time
    dtype = x.dtype
    if dtype.itemsize < 4:
        arrays = tuple(a.astype(np.float32) for a in arrays)
    with np.errstate(all="ignore"):
        out = getattr(sp, name)(*arrays)
    return array_module(x).asarray(out).astype(dtype, copy=False)


def _refuse_half(op, dtype):
    """NotImplementedError where PyTorch's CPU kernel has no float16 / bfloat16 version."""
    if dtype.itemsize < 4:
        raise NotImplementedError(f'"{op}_cpu" not implemented for \'{type_name(dtype)}\' '
                                  f"(special.{op} takes float32 and float64 tensors)")


def float_input(op, input, half=True):
    """input, a Tensor, with integer and bool dtypes cast to the default float dtype (PyTorch's
    rule for the unary special functions); half=False refuses float16 / bfloat16 as PyTorch."""
    if not isinstance(input, _fn.Tensor):
        raise TypeError(f"special.{op}: expected a Tensor as input, got {type(input).__name__}")
    if input._data.dtype.kind not in "fV":
        input = to(input, _dt.get_default_dtype())
    if not half:
        _refuse_half(op, input._data.dtype)
    return input


def float_pair(op, a, b, numbers=True, integers=True, half=True):
    """a and b as two Tensors of one floating dtype, promoted as PyTorch promotes the operands of
    a binary op (a 0-d tensor or a number does not widen a tensor of its own category). One of
    them may be a Python number where numbers=True (it becomes a 0-d constant); integer and bool
    results become the default float dtype where integers=True, else NotImplementedError (as
    igamma's kernel); half=False refuses float16 / bfloat16."""
    a_t, b_t = isinstance(a, _fn.Tensor), isinstance(b, _fn.Tensor)
    if not (a_t and b_t) and (not numbers or not (a_t or b_t)):
        what = "both arguments" if not numbers else "at least one argument"
        raise TypeError(f"special.{op}: expected {what} to be a Tensor, got "
                        f"{type(a).__name__} and {type(b).__name__}")
    if a_t and b_t:
        a, b = _promote_tensors(op, a, b, integers)
    elif a_t:
        a, b = _number_operand(op, a, b, integers)
    else:
        b, a = _number_operand(op, b, a, integers)
    if a._data.dtype.kind not in "fV":
        raise NotImplementedError(f'"{op}_cpu" not implemented for '
                                  f"'{type_name(a._data.dtype)}' (special.{op} takes floating "
                                  "tensors; cast integer ones with .float())")
    if not half:
        _refuse_half(op, a._data.dtype)
    shape_a, shape_b = tuple(a._data.shape), tuple(b._data.shape)
    try:
        broadcast_shapes(shape_a, shape_b)
    except RuntimeError:
        raise RuntimeError(f"special.{op}: the shapes {shape_a} and {shape_b} do not "
                           "broadcast together") from None
    return a, b


def _number_operand(op, t, number, integers):
    """Tensor t and a Python number, promoted (`operands`), the number made a 0-d constant."""
    if isinstance(number, np.generic):
        number = number.item()
    if not isinstance(number, (bool, int, float)):
        raise TypeError(f"special.{op}: expected a Tensor or a real number, got "
                        f"{type(number).__name__}")
    t, number = operands(op, t, number, integers)
    return t, scalar_like(number, t)


# ---- the Functions ------------------------------------------------------------------------------
class Erfcx(Function):
    """The scaled complementary error function exp(x^2) erfc(x)."""

    def forward(self, x):
        y = scipy_special("erfcx", "erfcx", x)
        self.save_for_backward(x, y)
        return y

    def backward(self, gy):
        x, y = self.saved_tensors
        return gy * (2 * x * y - 2 / math.sqrt(math.pi))


class LogNdtr(Function):
    """log of the standard normal CDF, accurate far in the left tail."""

    def forward(self, x):
        y = scipy_special("log_ndtr", "log_ndtr", x)
        self.save_for_backward(x, y)
        return y

    def backward(self, gy):
        x, y = self.saved_tensors
        return gy * Exp.apply(-(y + x * x * 0.5)) * (1 / math.sqrt(2 * math.pi))


class Igamma(Function):
    """The regularised lower (upper=False) or upper incomplete gamma function P(a, x), Q(a, x).
    Edge values as PyTorch's calc_igamma: a < 0 or x < 0 NaN; a = 0: P = 1 for x > 0, else NaN;
    x = 0: P = 0; a = inf: P = 0 (NaN for x = inf); x = inf: P = 1; in that order, before NaN
    propagates (P(nan, 0) = 0, P(inf, nan) = 0)."""

    def forward(self, a, x, upper):
        self.upper, self.sx = upper, x.shape
        self.save_for_backward(a, x)
        xp = self.xp
        out = scipy_special(self.op, "gammaincc" if upper else "gammainc", a, x)
        low, high = (1.0, 0.0) if upper else (0.0, 1.0)      # the values at x = 0 and x = inf
        with np.errstate(invalid="ignore"):
            out = xp.where(xp.isinf(x), high, out)
            out = xp.where(xp.isinf(a), xp.where(xp.isinf(x), np.nan, low), out)
            out = xp.where(x == 0, low, out)
            out = xp.where(a == 0, xp.where(x > 0, high, np.nan), out)
            out = xp.where((x < 0) | (a < 0), np.nan, out)
        return out.astype(a.dtype, copy=False)

    @property
    def op(self):
        return "igammac" if self.upper else "igamma"

    def backward(self, gy):
        if self.needs_input_grad[0]:
            raise NotImplementedError(f"the derivative for '{self.op}: input' is not "
                                      "implemented.")
        a, x = self.saved_tensors
        density = Exp.apply((a - 1) * log(x) - x - Lgamma.apply(a))   # x^(a-1) e^-x / Gamma(a)
        gx = gy * density
        return None, unbroadcast(-gx if self.upper else gx, self.sx), None


class Zeta(Function):
    """The Hurwitz zeta function sum_k (k + q)^-x. Edge values as PyTorch's (Cephes'): x = 1 inf,
    x < 1 NaN; q <= 0: inf at the integers, NaN for a non-integer x; q = inf NaN."""

    def forward(self, x, q):
        self.sq = q.shape
        self.save_for_backward(x, q)
        out = scipy_special("zeta", "zeta", x, q)
        with np.errstate(invalid="ignore"):
            out = self.xp.where((q == np.inf) & (x > 1), np.nan, out)
        return out.astype(x.dtype, copy=False)

    def backward(self, gy):
        if self.needs_input_grad[0]:
            raise NotImplementedError("the derivative for 'zeta' is not implemented.")
        x, q = self.saved_tensors
        return None, unbroadcast(gy * -x * Zeta.apply(x + 1, q), self.sq)


# ---- the functions (tg.special.*, tg.igamma / tg.igammac) ---------------------------------------
def erfcx(input):
    """exp(x^2) erfc(x), without the overflow of the product for large x."""
    return Erfcx.apply(float_input("erfcx", input, half=False))


def log_ndtr(input):
    """log(ndtr(x)), accurate where ndtr(x) underflows (x << 0)."""
    return LogNdtr.apply(float_input("log_ndtr", input, half=False))


def gammainc(input, other):
    """The regularised lower incomplete gamma function P(input, other) (= torch.igamma): both
    Tensors of a floating dtype (an integer result raises NotImplementedError, as PyTorch),
    broadcast together. Differentiable in `other` only (NotImplementedError for `input`)."""
    a, x = float_pair("gammainc", input, other, numbers=False, integers=False)
    return Igamma.apply(a, x, False)


def gammaincc(input, other):
    """The regularised upper incomplete gamma function Q(input, other) = 1 - P (= torch.igammac);
    as gammainc."""
    a, x = float_pair("gammaincc", input, other, numbers=False, integers=False)
    return Igamma.apply(a, x, True)


def zeta(input, other):
    """The Hurwitz zeta function zeta(x, q) = sum_{k >= 0} (k + q)^-x; either argument may be a
    number, integers become the default float dtype. Differentiable in q (other) only."""
    x, q = float_pair("zeta", input, other, half=False)
    return Zeta.apply(x, q)


igamma, igammac = gammainc, gammaincc
