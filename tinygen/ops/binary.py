"""Binary math: + - * / ** %, maximum, minimum, where, with PyTorch's type promotion, and the
comparisons (no gradient).

Promotion is by category (bool < integer < floating), as in PyTorch: float32 + int64 is float32,
a Python scalar never widens a tensor of its own category (float32 * 2.0 stays float32), and a
0-dim tensor decides the dtype only when it brings a higher category. `binary` applies it once,
for every op here.

Broadcasting's adjoint is a sum: `unbroadcast(g, shape)` (shape.py) reduces a gradient back to an
input's shape, in one place.
"""
from __future__ import annotations

import builtins
import math
import operator

import numpy as np

from tinygen_kernels.binary import KERNEL_MIN_ELEMENTS as _ADD_KERNEL_MIN

from ..autograd.function import Function, on_arrays, wrap, wrap_constant, wrap_grad
from ..autograd import function as _fn
from ..backend import dtypes as _dt
from ..backend.device import array_module
from .convert import as_array, constant, to
from .elementwise import QUIET, guard, quiet
from .shape import unbroadcast

_Number = (int, float, bool)


def _shape(a):
    return a.shape if hasattr(a, "shape") else None


class Add(Function):
    """a + b; large arrays through the kernel table's `add`, which splits them over tinygen's
    threads (NumPy adds on one)."""
    fuse = "{0} + {1}"

    def forward(self, a, b):
        self.sa, self.sb = _shape(a), _shape(b)
        if getattr(a, "size", 0) >= _ADD_KERNEL_MIN or getattr(b, "size", 0) >= _ADD_KERNEL_MIN:
            return self.kernel("add")(a, b)
        return a + b

    def backward(self, gy):
        i = self.inputs
        return (unbroadcast(gy, self.sa) if i[0] is not None else None,
                unbroadcast(gy, self.sb) if i[1] is not None else None)


class Sub(Function):
    fuse = "{0} - {1}"

    def forward(self, a, b):
        self.sa, self.sb = _shape(a), _shape(b)
        return a - b

    def backward(self, gy):
        i = self.inputs
        gb = None
        if i[1] is not None:                              # (on_arrays: -gy without an op)
            gb = unbroadcast(wrap_grad(-gy._data) if on_arrays() else -gy, self.sb)
        return (unbroadcast(gy, self.sa) if i[0] is not None else None), gb


class Mul(Function):
    fuse = "{0} * {1}"

    def forward(self, a, b):
        self.sa, self.sb = _shape(a), _shape(b)
        self.save_for_backward(a, b)       # Python scalars are kept as they are
        return a * b

    def backward(self, gy):
        a, b = self.saved_tensors
        i = self.inputs
        mul = _product_of_arrays if on_arrays() else operator.mul
        ga = unbroadcast(mul(gy, b), self.sa) if i[0] is not None else None
        if a is b and ga is not None:       # x * x: the same product twice, made once (the
            return ga, ga                   # engine adds the two: 2 gy x, the same bits)
        return ga, unbroadcast(mul(gy, a), self.sb) if i[1] is not None else None


def _product_of_arrays(gy, x):
    """gy * x (x a Tensor or a Python scalar) on the arrays, wrapped: Mul's backward where
    on_arrays(). Their dtypes agree (binary promoted the operands): NumPy's product is the op's."""
    return wrap_grad(gy._data * (x._data if isinstance(x, _fn.Tensor) else x))


class Div(Function):
    fuse = "{0} / {1}"

    def forward(self, a, b):
        self.sa, self.sb = _shape(a), _shape(b)
        self.save_for_backward(a, b)
        with np.errstate(**QUIET):
            return a / b

    @quiet
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
        with np.errstate(**QUIET):
            out = a ** b
        self.save_for_backward(a, b, out)
        return out

    @quiet
    def backward(self, gy):
        a, b, out = self.saved_tensors
        if self.sb is None:
            return self._scalar_exponent(gy, a, b), None
        i = self.inputs
        ga = gb = None
        if i[0] is not None:
            ga = unbroadcast(guard(gy * b * a ** (b - 1), gy), self.sa)
        if i[1] is not None:
            # d/db a^b = a^b log a; 0 where a == 0 (the limit for b > 0, as PyTorch does)
            loga = Where.apply(a != 0, a.log(), 0.0)
            gb = unbroadcast(guard(gy * out * loga, gy), self.sb)
        return ga, gb

    def _scalar_exponent(self, gy, a, b):
        if self.inputs[0] is None:
            return None
        if b == 0:
            return gy * 0
        if b == 1:
            return gy
        if b == 2:
            return gy * (a * 2)
        if b > 1:
            return gy * (a ** (b - 1) * b)       # finite everywhere: no guard needed
        return guard(gy * b * a ** (b - 1), gy)


class RPow(Function):
    """scalar ** tensor."""

    def forward(self, b, base):
        self.base = base
        with np.errstate(**QUIET):
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
        self.wa = (a > b).astype(a.dtype) + (a == b).astype(a.dtype) * a.dtype.type(0.5)
        return self.xp.maximum(a, b)

    def backward(self, gy):
        wa = wrap(self.wa)
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


class Where(Function):
    """where(cond, a, b); the untaken branch gets an exact zero gradient."""

    def forward(self, cond, a, b):
        self.cond = cond
        self.sa, self.sb = _shape(a), _shape(b)
        return self.xp.where(cond, a, b)

    def backward(self, gy):
        i = self.inputs
        c = wrap(self.cond)
        ga = gb = None
        if i[1] is not None:
            ga = unbroadcast(Where.apply(c, gy, 0.0), self.sa)
        if i[2] is not None:
            gb = unbroadcast(Where.apply(c, 0.0, gy), self.sb)
        return None, ga, gb


# ---- promotion ----------------------------------------------------------------------------------
def binary(cls, a, b, reverse=False, true_div=False):
    """Apply a binary Function to Tensor a and b (a Tensor, a Python or NumPy number, or array
    data) with PyTorch's type promotion; reverse=True computes b op a."""
    if isinstance(b, _fn.Tensor):
        da, db = a._data.dtype, b._data.dtype
        if da is not db and da != db:
            dt = _dt.promote_types(da, db, a._data.ndim == 0, b._data.ndim == 0)
            if da != dt:
                a = to(a, dt)
            if db != dt:
                b = to(b, dt)
        if true_div and a._data.dtype.kind in "biu":
            a, b = to(a, _dt.get_default_dtype()), to(b, _dt.get_default_dtype())
    elif isinstance(b, _Number):
        if isinstance(b, np.generic):      # np.float64 subclasses float; NumPy 2 would upcast
            b = b.item()
        kind = a._data.dtype.kind
        if kind != "f":
            if isinstance(b, float) or true_div:
                a = to(a, _dt.get_default_dtype())
            elif kind == "b" and not isinstance(b, bool):
                a = to(a, _dt.int64)
    elif b is None:
        raise TypeError(f"{cls.__name__.lower()}: unsupported operand None")
    elif isinstance(b, np.generic):
        return binary(cls, a, b.item(), reverse, true_div)
    else:
        try:
            b = constant(b, a)
        except Exception:
            return NotImplemented
        return binary(cls, a, b, reverse, true_div)
    return cls.apply(b, a) if reverse else cls.apply(a, b)


# ---- the functions (Tensor methods and tg.*) ----------------------------------------------------
def add(input, other, alpha=1):
    return binary(Add, input, other * alpha if alpha != 1 else other)


def sub(input, other, alpha=1):
    return binary(Sub, input, other * alpha if alpha != 1 else other)


def mul(input, other):
    return binary(Mul, input, other)


def _trunc_div(a, b):
    """a / b rounded toward zero (one function, not a lambda per call: a captured step compares
    the ops' arguments between traces)."""
    return np.trunc(a / b)


def div(input, other, rounding_mode=None):
    """input / other; rounding_mode 'floor' or 'trunc' rounds the quotient (no gradient)."""
    if rounding_mode == "floor":
        return floor_divide(input, other)
    if rounding_mode == "trunc":
        return compare(_trunc_div, input, other)
    return binary(Div, input, other, true_div=True)


def pow(input, exponent):
    """input ** exponent; a Python-number exponent keeps the dtype (int ** float is float)."""
    if isinstance(exponent, np.generic):          # NumPy scalars act as Python scalars
        exponent = exponent.item()
    if isinstance(exponent, _Number) and not isinstance(exponent, bool):
        if input._data.dtype.kind in "biu" and isinstance(exponent, float):
            input = to(input, _dt.get_default_dtype())
        return Pow.apply(input, exponent)
    return binary(Pow, input, exponent)


def rpow(input, base):
    """base ** input for a number base (Tensor.__rpow__)."""
    if isinstance(base, np.generic):
        base = base.item()
    if isinstance(base, _Number):
        x = input if input._data.dtype.kind == "f" else to(input, _dt.get_default_dtype())
        return RPow.apply(x, base)
    return binary(Pow, input, base, reverse=True)


def remainder(input, other):
    return binary(Remainder, input, other)


def maximum(input, other):
    return binary(Maximum, input, other)


def minimum(input, other):
    return binary(Minimum, input, other)


def lerp(input, end, weight):
    return input + (end - input) * weight


def where(condition, input=None, other=None):
    """input where condition else other (tensors or numbers, broadcast together); with only a
    condition, the indices of its nonzero elements, one index tensor per dim."""
    if input is None and other is None:
        return tuple(wrap(a) for a in array_module(condition._data).nonzero(condition._data))
    cond = condition._data if isinstance(condition, _fn.Tensor) else np.asarray(condition)
    if cond.dtype != np.bool_:
        raise RuntimeError(f"where: expected a bool condition, got {cond.dtype}")
    a, b = (v.item() if isinstance(v, np.generic) else v for v in (input, other))
    a, b = _where_operands(a, b, condition)
    try:
        np.broadcast_shapes(cond.shape, getattr(a, "shape", ()), getattr(b, "shape", ()))
    except ValueError:
        raise RuntimeError(f"where: condition {tuple(cond.shape)}, input "
                           f"{tuple(getattr(a, 'shape', ()))} and other "
                           f"{tuple(getattr(b, 'shape', ()))} do not broadcast") from None
    # the condition Tensor itself (an op's output, or a constant, to a captured step), not its
    # array wrapped again (which a captured step takes for an array computed outside any op)
    return Where.apply(condition if isinstance(condition, _fn.Tensor) else wrap(cond), a, b)


def _where_operands(a, b, condition):
    """where's two values with one dtype: promoted Tensors, or a Tensor and a Python number."""
    is_a, is_b = isinstance(a, _fn.Tensor), isinstance(b, _fn.Tensor)
    if not is_a and not is_b:
        device = condition.device if isinstance(condition, _fn.Tensor) else None
        made = as_array(a, device=device)
        a, is_a = (wrap_constant(made) if isinstance(a, (bool, int, float)) else wrap(made)), True
    if is_a and is_b:
        da, db = a._data.dtype, b._data.dtype
        if da != db:
            dt = _dt.promote_types(da, db, a.ndim == 0, b.ndim == 0)
            a, b = to(a, dt), to(b, dt)
    elif is_a and isinstance(b, float) and a._data.dtype.kind != "f":
        a = to(a, _dt.get_default_dtype())
    elif is_b and isinstance(a, float) and b._data.dtype.kind != "f":
        b = to(b, _dt.get_default_dtype())
    return a, b


# ---- comparisons and bitwise ops: no gradient ---------------------------------------------------
def compare(op, a, b, reverse=False):
    """op(a, b) on the arrays (an xp function name or a callable), as a Tensor outside the graph."""
    f = getattr(array_module(a._data), op) if isinstance(op, str) else op
    bd = b._data if isinstance(b, _fn.Tensor) else b
    name = op if isinstance(op, str) else getattr(op, "__name__", "op")
    if isinstance(b, _fn.Tensor) and type(bd) is not type(a._data):
        raise RuntimeError(f"{name}: expected all tensors on the same device, got {a.device} "
                           f"and {b.device}")
    # no graph: inputs that require grad are detached (the others already make none)
    if isinstance(b, _fn.Tensor) and b._requires_grad:
        b = b.detach()
    return Compare.apply(a.detach() if a._requires_grad else a, b, f=f, reverse=reverse,
                         name=name)


class Compare(Function):
    """f(a, b) (f(b, a) if reverse) on the arrays: a result outside the graph (no backward).
    An op, so a captured step (tg.compile) computes it again on every replay."""

    def forward(self, a, b, f, reverse, name):
        try:
            out = f(b, a) if reverse else f(a, b)
        except (ValueError, TypeError) as e:
            raise _fn.OpError(f"{name}: {e} (shapes {tuple(a.shape)} and "
                              f"{tuple(getattr(b, 'shape', ()))})") from None
        if not hasattr(out, "ndim") or isinstance(out, np.generic):
            out = self.xp.asarray(out)
        return out


def floor_divide(input, other):
    return compare(np.floor_divide, input, other)


def _comparison(name, xp_name):
    def fn(input, other):
        return compare(xp_name, input, other)
    fn.__name__ = name
    fn.__doc__ = f"Elementwise {xp_name} as a bool tensor (no gradient)."
    return fn


eq, ne, lt, le, gt, ge = (_comparison(n, f) for n, f in (
    ("eq", "equal"), ("ne", "not_equal"), ("lt", "less"), ("le", "less_equal"),
    ("gt", "greater"), ("ge", "greater_equal")))
logical_and, logical_or, logical_xor = (_comparison(n, n) for n in (
    "logical_and", "logical_or", "logical_xor"))
bitwise_and, bitwise_or, bitwise_xor = (_comparison(n, n) for n in (
    "bitwise_and", "bitwise_or", "bitwise_xor"))


def allclose(input, other, rtol=1e-5, atol=1e-8, equal_nan=False):
    od = other._data if isinstance(other, _fn.Tensor) else other
    xp = array_module(input._data)
    return builtins.bool(xp.allclose(input._data, od, rtol=rtol, atol=atol, equal_nan=equal_nan))


def isclose(input, other, rtol=1e-5, atol=1e-8, equal_nan=False):
    od = other._data if isinstance(other, _fn.Tensor) else other
    xp = array_module(input._data)
    return wrap(xp.isclose(input._data, od, rtol=rtol, atol=atol, equal_nan=equal_nan))


def equal(input, other):
    return input.shape == other.shape and builtins.bool((input._data == other._data).all())

