"""Trigonometric and hyperbolic functions and their inverses: tan, asin, acos, atan, atan2, sinh,
cosh, asinh, acosh, atanh (with PyTorch's arc* aliases), deg2rad, rad2deg, sinc.

Each is one Function: forward on arrays, backward in Tensor ops (so it is differentiable again).
The derivatives, from any table of them:
    tan' = 1 + tan^2         asin' = 1 / sqrt(1 - x^2)     acos' = -1 / sqrt(1 - x^2)
    atan' = 1 / (1 + x^2)    sinh' = cosh,  cosh' = sinh   asinh' = 1 / sqrt(x^2 + 1)
    acosh' = 1 / sqrt(x^2 - 1)                             atanh' = 1 / (1 - x^2)
    d atan2(y, x) = (x dy - y dx) / (x^2 + y^2)
At the poles (asin at +-1, atanh at +-1, ...) the forward is quiet (inf or nan, as PyTorch) and a
zero upstream gradient stays zero (`guard`).
"""
from __future__ import annotations

import math

import numpy as np

from ..autograd.function import Function
from .binary import Where, binary, where
from .convert import as_float
from .elementwise import QUIET, Sin, guard, quiet
from .shape import unbroadcast


class Tan(Function):
    def forward(self, x):
        y = self.xp.tan(x)
        self.save_for_backward(y)            # tan' = 1 + tan^2: keep the output
        return y

    def backward(self, gy):
        (y,) = self.saved_tensors
        return gy * (1 + y * y)


class Asin(Function):
    def forward(self, x):
        self.save_for_backward(x)
        with np.errstate(**QUIET):
            return self.xp.arcsin(x)

    def backward(self, gy):
        (x,) = self.saved_tensors
        return guard(gy * (1 - x * x).rsqrt(), gy)


class Acos(Function):
    def forward(self, x):
        self.save_for_backward(x)
        with np.errstate(**QUIET):
            return self.xp.arccos(x)

    def backward(self, gy):
        (x,) = self.saved_tensors
        return guard(-gy * (1 - x * x).rsqrt(), gy)


class Atan(Function):
    def forward(self, x):
        self.save_for_backward(x)
        return self.xp.arctan(x)

    def backward(self, gy):
        (x,) = self.saved_tensors
        return gy / (1 + x * x)


class Sinh(Function):
    def forward(self, x):
        self.save_for_backward(x)
        with np.errstate(over="ignore"):
            return self.xp.sinh(x)

    def backward(self, gy):
        (x,) = self.saved_tensors
        return gy * Cosh.apply(x)


class Cosh(Function):
    def forward(self, x):
        self.save_for_backward(x)
        with np.errstate(over="ignore"):
            return self.xp.cosh(x)

    def backward(self, gy):
        (x,) = self.saved_tensors
        return gy * Sinh.apply(x)


class Asinh(Function):
    def forward(self, x):
        self.save_for_backward(x)
        return self.xp.arcsinh(x)

    def backward(self, gy):
        (x,) = self.saved_tensors
        return gy * (x * x + 1).rsqrt()


class Acosh(Function):
    def forward(self, x):
        self.save_for_backward(x)
        with np.errstate(**QUIET):
            return self.xp.arccosh(x)

    def backward(self, gy):
        (x,) = self.saved_tensors
        return guard(gy * (x * x - 1).rsqrt(), gy)


class Atanh(Function):
    def forward(self, x):
        self.save_for_backward(x)
        with np.errstate(**QUIET):
            return self.xp.arctanh(x)

    def backward(self, gy):
        (x,) = self.saved_tensors
        return guard(gy / (1 - x * x), gy)


class Atan2(Function):
    """atan2(a, b): the angle of the point (b, a); a and b broadcast (b may be a Python number)."""

    def forward(self, a, b):
        self.sa, self.sb = a.shape, getattr(b, "shape", None)
        self.save_for_backward(a, b)
        with np.errstate(**QUIET):
            return self.xp.arctan2(a, b)

    @quiet
    def backward(self, gy):
        a, b = self.saved_tensors
        denominator = a * a + b * b
        # 1 / (a^2 + b^2), and 0 where that is 0 (the origin, or an underflow), as PyTorch: the
        # gradient there is 0, not 0 * inf
        recip = Where.apply(denominator == 0, 0.0, 1 / denominator)
        i = self.inputs
        return (unbroadcast(gy * b * recip, self.sa) if i[0] is not None else None,
                unbroadcast(gy * -a * recip, self.sb) if i[1] is not None else None)


# ---- the functions (Tensor methods and tg.*) ----------------------------------------------------
def tan(input):
    return Tan.apply(as_float(input))


def asin(input):
    return Asin.apply(as_float(input))


def acos(input):
    return Acos.apply(as_float(input))


def atan(input):
    return Atan.apply(as_float(input))


def sinh(input):
    return Sinh.apply(as_float(input))


def cosh(input):
    return Cosh.apply(as_float(input))


def asinh(input):
    return Asinh.apply(as_float(input))


def acosh(input):
    return Acosh.apply(as_float(input))


def atanh(input):
    return Atanh.apply(as_float(input))


def atan2(input, other):
    """The angle of (other, input) in (-pi, pi]: input and other broadcast and promote as in a
    division (integers become the default float; int with float16 is float16)."""
    return binary(Atan2, input, other, true_div=True)


arcsin, arccos, arctan, arctan2 = asin, acos, atan, atan2
arcsinh, arccosh, arctanh = asinh, acosh, atanh


def deg2rad(input):
    return as_float(input) * (math.pi / 180)


def rad2deg(input):
    return as_float(input) * (180 / math.pi)


def sinc(input):
    """sin(pi x) / (pi x), and 1 at x = 0 (the limit): the other branch sees x = 1 there, so
    its gradient stays finite and `where` passes exactly 0 to it."""
    x = as_float(input)
    zero = x.detach() == 0
    safe = where(zero, 1.0, x) * math.pi
    return where(zero, 1.0, Sin.apply(safe) / safe)
