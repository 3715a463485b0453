"""Elementwise ops: forward on arrays, backward in Tensor ops (so it is differentiable again).

Broadcasting's adjoint is a sum: `unbroadcast(g, shape)` (ops/shape.py) reduces a gradient back
to an input's shape, in one place.

Gradients through the untaken branch of `where` stay finite: where an op's local derivative is
infinite (log, sqrt, division at 0) and the incoming gradient is exactly 0, the gradient is 0, not
NaN (0 * inf := 0). PyTorch returns NaN there; the issue asks for 0.
"""
from __future__ import annotations

import math

from ..autograd.function import Function
from ..autograd import function as _fn
from .shape import unbroadcast


def _shape(a):
    return a.shape if hasattr(a, "shape") else None


def _T(arr):
    return _fn.Tensor._make(arr, None, 0, False)


class ZeroWhere(Function):
    """g with zeros where the boolean array `mask` is True (0 * inf := 0 in backward rules)."""

    def forward(self, g, mask):
        self.mask = mask
        return self.kernel("zero_where")(g, mask)

    def backward(self, gg):
        return ZeroWhere.apply(gg, self.mask), None


def guard(g, gy):
    """g, but exactly 0 wherever the upstream gradient gy is exactly 0."""
    return ZeroWhere.apply(g, gy._data == 0)


# ---- binary ------------------------------------------------------------------------------------
class Add(Function):
    def forward(self, a, b):
        self.sa, self.sb = _shape(a), _shape(b)
        return a + b

    def backward(self, gy):
        i = self.inputs
        return (unbroadcast(gy, self.sa) if i[0] is not None else None,
                unbroadcast(gy, self.sb) if i[1] is not None else None)


class Sub(Function):
    def forward(self, a, b):
        self.sa, self.sb = _shape(a), _shape(b)
        return a - b

    def backward(self, gy):
        i = self.inputs
        return (unbroadcast(gy, self.sa) if i[0] is not None else None,
                unbroadcast(-gy, self.sb) if i[1] is not None else None)


class Mul(Function):
    def forward(self, a, b):
        self.sa, self.sb = _shape(a), _shape(b)
        self.save_for_backward(a, b)       # Python scalars are kept as they are
        return a * b

    def backward(self, gy):
        a, b = self.saved_tensors
        i = self.inputs
        return (unbroadcast(gy * b, self.sa) if i[0] is not None else None,
                unbroadcast(gy * a, self.sb) if i[1] is not None else None)


class Div(Function):
    def forward(self, a, b):
        self.sa, self.sb = _shape(a), _shape(b)
        self.save_for_backward(a, b)
        return a / b

    def backward(self, gy):
        a, b = self.saved_tensors
        i = self.inputs
        ga = gb = None
        if i[0] is not None:
            ga = unbroadcast(guard(gy / b, gy), self.sa)
        if i[1] is not None:
            gb = unbroadcast(guard(-gy * a / (b * b), gy), self.sb)
        return ga, gb


class Pow(Function):
    """a ** b for tensor a and tensor-or-scalar b (and scalar a via RPow)."""

    def forward(self, a, b):
        self.sa, self.sb = _shape(a), _shape(b)
        out = a ** b
        self.save_for_backward(a, b, out)
        return out

    def backward(self, gy):
        a, b, out = self.saved_tensors
        i = self.inputs
        ga = gb = None
        if self.sb is None:
            if i[0] is not None:
                if b == 0:
                    ga = gy * 0
                elif b == 1:
                    ga = gy
                elif b == 2:
                    ga = gy * (a * 2)
                elif b > 1:
                    ga = gy * (a ** (b - 1) * b)   # finite everywhere: no guard needed
                else:
                    ga = guard(gy * b * a ** (b - 1), gy)
            return ga, None
        if i[0] is not None:
            ga = unbroadcast(guard(gy * b * a ** (b - 1), gy), self.sa)
        if i[1] is not None:
            # d/db a^b = a^b log a; 0 where a == 0 (the limit for b > 0, as PyTorch does)
            loga = where_(a._data != 0, a.log(), 0.0)
            gb = unbroadcast(guard(gy * out * loga, gy), self.sb)
        return ga, gb


class RPow(Function):
    """scalar ** tensor."""

    def forward(self, b, base):
        self.base = base
        out = self.xp.asarray(base, dtype=b.dtype) ** b
        self.save_for_backward(out)
        return out

    def backward(self, gy):
        (out,) = self.saved_tensors
        return gy * out * math.log(self.base) if self.base > 0 else gy * 0, None


class Maximum(Function):
    """Ties split the gradient in half between the two inputs, as PyTorch does."""

    def forward(self, a, b):
        self.sa, self.sb = _shape(a), _shape(b)
        xp = self.xp
        w = (a > b).astype(a.dtype) + (a == b).astype(a.dtype) * a.dtype.type(0.5)
        self.wa = w
        return xp.maximum(a, b)

    def backward(self, gy):
        wa = _T(self.wa)
        i = self.inputs
        return (unbroadcast(gy * wa, self.sa) if i[0] is not None else None,
                unbroadcast(gy * (1 - wa), self.sb) if i[1] is not None else None)


class Minimum(Maximum):
    def forward(self, a, b):
        self.sa, self.sb = _shape(a), _shape(b)
        self.wa = (a < b).astype(a.dtype) + (a == b).astype(a.dtype) * a.dtype.type(0.5)
        return self.xp.minimum(a, b)


class Remainder(Function):
    """a % b with Python's sign convention (= torch.remainder)."""

    def forward(self, a, b):
        self.sa, self.sb = _shape(a), _shape(b)
        self.save_for_backward(a, b)
        return self.xp.remainder(a, b)

    def backward(self, gy):
        a, b = self.saved_tensors
        i = self.inputs
        gb = None
        if i[1] is not None:
            gb = unbroadcast(-gy * (a / b).floor().detach(), self.sb)
        return (unbroadcast(gy, self.sa) if i[0] is not None else None), gb


# ---- unary -------------------------------------------------------------------------------------
class Neg(Function):
    def forward(self, x):
        return -x

    def backward(self, gy):
        return -gy


class Exp(Function):
    def forward(self, x):
        y = self.xp.exp(x)
        self.save_for_backward(y)          # d/dx exp(x) = exp(x): keep the output
        return y

    def backward(self, gy):
        (y,) = self.saved_tensors
        return gy * y


class Expm1(Function):
    def forward(self, x):
        y = self.xp.expm1(x)
        self.save_for_backward(y)
        return y

    def backward(self, gy):
        (y,) = self.saved_tensors
        return gy * (y + 1)


class Log(Function):
    def forward(self, x):
        self.save_for_backward(x)
        return self.xp.log(x)

    def backward(self, gy):
        (x,) = self.saved_tensors
        return guard(gy / x, gy)


class Log1p(Function):
    def forward(self, x):
        self.save_for_backward(x)
        return self.xp.log1p(x)

    def backward(self, gy):
        (x,) = self.saved_tensors
        return guard(gy / (x + 1), gy)


class Sqrt(Function):
    def forward(self, x):
        y = self.xp.sqrt(x)
        self.save_for_backward(y)
        return y

    def backward(self, gy):
        (y,) = self.saved_tensors
        return guard(gy / (y * 2), gy)


class Rsqrt(Function):
    def forward(self, x):
        y = 1 / self.xp.sqrt(x)
        self.save_for_backward(y)
        return y

    def backward(self, gy):
        (y,) = self.saved_tensors
        return guard(gy * (y * y * y) * -0.5, gy)       # d/dx x^-1/2 = -1/2 x^-3/2


class Reciprocal(Function):
    def forward(self, x):
        y = 1 / x
        self.save_for_backward(y)
        return y

    def backward(self, gy):
        (y,) = self.saved_tensors
        return guard(-gy * y * y, gy)


class Abs(Function):
    def forward(self, x):
        self.save_for_backward(x)
        return self.xp.abs(x)

    def backward(self, gy):
        (x,) = self.saved_tensors
        return gy * x.sign()                 # sign(0) = 0: the subgradient PyTorch picks


class Sin(Function):
    def forward(self, x):
        self.save_for_backward(x)
        return self.xp.sin(x)

    def backward(self, gy):
        (x,) = self.saved_tensors
        return gy * x.cos()


class Cos(Function):
    def forward(self, x):
        self.save_for_backward(x)
        return self.xp.cos(x)

    def backward(self, gy):
        (x,) = self.saved_tensors
        return -gy * x.sin()


class Tanh(Function):
    def forward(self, x):
        y = self.xp.tanh(x)
        self.save_for_backward(y)
        return y

    def backward(self, gy):
        (y,) = self.saved_tensors
        return gy * (1 - y * y)


class Sigmoid(Function):
    def forward(self, x):
        xp = self.xp
        # stable for large |x|: exp of a non-positive number only
        e = xp.exp(-xp.abs(x))
        y = xp.where(x >= 0, 1 / (1 + e), e / (1 + e)).astype(x.dtype, copy=False)
        self.save_for_backward(y)
        return y

    def backward(self, gy):
        (y,) = self.saved_tensors
        return gy * (y * (1 - y))


class Relu(Function):
    def forward(self, x):
        self.off = x <= 0                  # where the gradient is blocked
        return self.xp.maximum(x, x.dtype.type(0))

    def backward(self, gy):
        return ZeroWhere.apply(gy, self.off)     # linear in gy: its own backward is itself


class LeakyRelu(Function):
    """leaky_relu through the kernel table (leaky_relu_fwd / leaky_relu_bwd). Its backward is
    linear in gy with a constant (x-dependent) factor: the fused kernel without create_graph,
    gy times that factor as a Tensor op with it (so it is differentiable in gy)."""

    def forward(self, x, slope):
        self.slope = slope
        self.save_for_backward(x)
        return self.kernel("leaky_relu_fwd")(x, slope)

    def backward(self, gy):
        (x,) = self.saved_tensors
        if not _fn.GRAD.enabled:
            return _T(self.kernel("leaky_relu_bwd")(x._data, gy._data, self.slope)), None
        xp = self.xp
        x = x._data
        w = xp.where(x > 0, x.dtype.type(1), x.dtype.type(self.slope))
        return gy * _T(w), None


class Clamp(Function):
    """clamp with scalar bounds; the gradient passes where min <= x <= max (PyTorch's choice)."""

    def forward(self, x, lo, hi):
        xp = self.xp
        mask = None
        if lo is not None:
            mask = x >= lo
        if hi is not None:
            mask = (x <= hi) if mask is None else (mask & (x <= hi))
        self.off = ~mask
        return xp.clip(x, lo, hi)

    def backward(self, gy):
        return ZeroWhere.apply(gy, self.off), None, None


class Sign(Function):
    def forward(self, x):
        self.shape = x.shape
        return self.xp.sign(x)

    def backward(self, gy):
        return gy * 0


class Floor(Sign):
    def forward(self, x):
        return self.xp.floor(x)


class Ceil(Sign):
    def forward(self, x):
        return self.xp.ceil(x)


class Round(Sign):
    def forward(self, x):
        return self.xp.round(x)


class Erf(Function):
    def forward(self, x):
        self.save_for_backward(x)
        return erf_array(x)

    def backward(self, gy):
        (x,) = self.saved_tensors
        return gy * ((-(x * x)).exp() * (2 / math.sqrt(math.pi)))


def erf_array(x):
    if type(x).__module__.startswith("cupy"):
        import cupyx.scipy.special
        return cupyx.scipy.special.erf(x)
    from scipy.special import erf
    return erf(x).astype(x.dtype, copy=False)


class Softplus(Function):
    """log(1 + exp(beta x)) / beta, linear above `threshold` (PyTorch's definition)."""

    def forward(self, x, beta, threshold):
        xp = self.xp
        self.beta = beta
        bx = x * x.dtype.type(beta) if beta != 1 else x
        self.linear = bx > threshold              # where the output is x itself: gradient 1
        self.save_for_backward(x)
        y = (xp.maximum(bx, 0) + xp.log1p(xp.exp(-xp.abs(bx))))
        if beta != 1:
            y = y / x.dtype.type(beta)
        return xp.where(bx > threshold, x, y)

    def backward(self, gy):
        (x,) = self.saved_tensors
        g = gy * (x * self.beta).sigmoid()
        if self.linear.any():
            g = where_(self.linear, gy, g)
        return g, None, None


class Silu(Function):
    def forward(self, x):
        self.save_for_backward(x)
        e = self.xp.exp(-self.xp.abs(x))
        s = self.xp.where(x >= 0, 1 / (1 + e), e / (1 + e)).astype(x.dtype, copy=False)
        return x * s

    def backward(self, gy):
        (x,) = self.saved_tensors
        s = x.sigmoid()
        return gy * (s * (1 + x * (1 - s)))


class Cast(Function):
    def forward(self, x, dtype):
        self.src = x.dtype
        return x.astype(dtype)

    def backward(self, gy):
        return gy.to(self.src), None


class Where(Function):
    """where(cond, a, b); the untaken branch gets an exact zero gradient."""

    def forward(self, cond, a, b):
        self.cond = cond
        self.sa, self.sb = _shape(a), _shape(b)
        return self.xp.where(cond, a, b)

    def backward(self, gy):
        i = self.inputs
        c = _T(self.cond)
        ga = gb = None
        if i[1] is not None:
            ga = unbroadcast(Where.apply(c, gy, 0.0), self.sa)
        if i[2] is not None:
            gb = unbroadcast(Where.apply(c, 0.0, gy), self.sb)
        return None, ga, gb


def where_(cond_arr, a, b):
    """where with a raw boolean array as condition (for backward rules)."""
    return Where.apply(_T(cond_arr), a, b)
