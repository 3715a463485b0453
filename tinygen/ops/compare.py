"""The comparisons, logical, bitwise and shift ops (no gradient), after PyTorch's type promotion
(promotion.py); allclose, isclose, equal."""
from __future__ import annotations

import builtins

import numpy as np

from ..autograd import function as _fn
from ..autograd.function import Function, wrap
from ..backend.device import array_module
from .convert import type_name
from .promotion import _refuse_kinds, operands


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


def no_grad_binary(op, a, b, reverse=False, name=None, refuse=""):
    """op(a, b) on the arrays outside the graph (`compare`), after PyTorch's type promotion
    (`operands`): comparisons, bitwise and shift ops, rounding divisions. a or b may be a number
    (tg.floor_divide(7, t), 1 & t); dtype kinds in `refuse` ('f', 'b') raise NotImplementedError
    after promotion, as PyTorch's kernels do (bitwise_and on floats)."""
    name = name or (op if isinstance(op, str) else op.__name__)
    given = (a, b)
    if not isinstance(a, _fn.Tensor):
        a, b, reverse = b, a, not reverse
    da = a._data.dtype                  # as in binary: same dtypes, or float tensor and number
    if not ((isinstance(b, _fn.Tensor) and b._data.dtype is da)
            or ((type(b) is float or type(b) is int) and da.kind == "f")):
        a, b = operands(name, a, b)
        if b is NotImplemented:
            return NotImplemented
    if refuse:
        _refuse_kinds(name, refuse, a._data.dtype, *given)
    return compare(op, a, b, reverse)


def _comparison(name, xp_name, refuse=""):
    def fn(input, other):
        if other is None and name in ("eq", "ne"):        # t == None: Python's identity test
            return NotImplemented
        return no_grad_binary(xp_name, input, other, name=name, refuse=refuse)
    fn.__name__ = name
    fn.__doc__ = (f"Elementwise {xp_name} after PyTorch's type promotion (no gradient); either "
                  "operand may be a number.")
    return fn


eq, ne, lt, le, gt, ge = (_comparison(n, f) for n, f in (
    ("eq", "equal"), ("ne", "not_equal"), ("lt", "less"), ("le", "less_equal"),
    ("gt", "greater"), ("ge", "greater_equal")))
logical_and, logical_or, logical_xor = (_comparison(n, n) for n in (
    "logical_and", "logical_or", "logical_xor"))
bitwise_and, bitwise_or, bitwise_xor = (_comparison(n, n, refuse="f") for n in (
    "bitwise_and", "bitwise_or", "bitwise_xor"))
bitwise_left_shift, bitwise_right_shift = (_comparison(n, f, refuse="fb") for n, f in (
    ("bitwise_left_shift", "left_shift"), ("bitwise_right_shift", "right_shift")))


def reflected(fn):
    """Tensor.__r<op>__ for fn(input, other): fn(other, input), fn taking a number first as
    PyTorch's functions do (`1 & t`, `7 // t`)."""
    def method(input, other):
        return fn(other, input)
    method.__name__ = method.__qualname__ = f"r{fn.__name__}"
    method.__doc__ = f"other {fn.__name__} input (the reflected operator)."
    return method


def allclose(input, other, rtol=1e-5, atol=1e-8, equal_nan=False):
    od = other._data if isinstance(other, _fn.Tensor) else other
    xp = array_module(input._data)
    return builtins.bool(xp.allclose(input._data, od, rtol=rtol, atol=atol, equal_nan=equal_nan))


def isclose(input, other, rtol=1e-5, atol=1e-8, equal_nan=False):
    if isinstance(other, _fn.Tensor) and other._data.dtype != input._data.dtype:
        raise RuntimeError(f"isclose: {type_name(input._data.dtype)} did not match "
                           f"{type_name(other._data.dtype)} (PyTorch compares one dtype)")
    od = other._data if isinstance(other, _fn.Tensor) else other
    xp = array_module(input._data)
    # (a 0-d comparison gives a NumPy scalar: as an array, or the Tensor cannot be read back)
    return wrap(xp.asarray(xp.isclose(input._data, od, rtol=rtol, atol=atol,
                                      equal_nan=equal_nan)))


def equal(input, other):
    return input.shape == other.shape and builtins.bool((input._data == other._data).all())

