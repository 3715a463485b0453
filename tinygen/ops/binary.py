"""Binary math: + - * / ** %, maximum, minimum, where, with PyTorch's type promotion, and the
comparisons, bitwise ops and rounding divisions (no gradient).

Promotion is by category (bool < integer < floating), as in PyTorch: float32 + int64 is float32,
a Python scalar never widens a tensor of its own category (float32 * 2.0 stays float32), and a
0-dim tensor decides the dtype only when it brings a higher category. `operands` (promotion.py)
applies it once, for every op here (`binary` for the Functions, compare.py's `no_grad_binary`
for the ops without gradient, which this module re-exports).

Where PyTorch and NumPy differ, PyTorch wins: a Python int is wrapped into an integer tensor's
dtype (uint8 + -3 is uint8 + 253; NumPy raises OverflowError), an integer division by zero
raises (NumPy returns 0), an integer to a negative tensor power is 0 (or +-1 for a base of +-1;
NumPy raises), and complex operands are refused (tinygen has no complex dtype).

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
from ..autograd.grad_mode import GRAD
from ..backend import dtypes as _dt
from ..backend.device import array_module
from .compare import (Compare, allclose, bitwise_and, bitwise_left_shift, bitwise_or,  # noqa: F401
                      bitwise_right_shift, bitwise_xor, compare, eq, equal, ge, gt, isclose, le,
                      logical_and, logical_or, logical_xor, lt, ne, no_grad_binary, reflected)
from .convert import as_array, constant, to
from .promotion import (_BOOL_SUB, _BOOL_SUB_TWO, _Number, _promote_tensors,  # noqa: F401
                        _wrapped, check_division, operands, type_name)
from .elementwise import QUIET, guard, quiet
from .search import nonzero
from .shape import unbroadcast

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
        try:
            return a - b
        except TypeError:                   # NumPy refuses bool - bool too, in its own words
            if getattr(a, "dtype", None) == np.bool_:
                raise RuntimeError(f"sub: {_BOOL_SUB_TWO}") from None
            raise

    def backward(self, gy):
        i = self.inputs
        gb = None
        if i[1] is not None:                              # (on_arrays: -gy without an op)
            gb = unbroadcast(wrap_grad(-gy._data) if on_arrays() else -gy, self.sb)
        return (unbroadcast(gy, self.sa) if i[0] is not None else None), gb


_SCALARS = (int, float, bool, complex)


class Mul(Function):
    fuse = "{0} * {1}"
    saved_for = ((1,), (0,))                # a for b's gradient, b for a's

    def forward(self, a, b):
        self.sa, self.sb = _shape(a), _shape(b)
        # Python scalars are kept as they are; a tensor times a scalar keeps no tensor (as
        # PyTorch: an in-place change to it afterwards is then no error)
        self.save_for_backward(None if type(b) in _SCALARS else a,
                               None if type(a) in _SCALARS else b)
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
    saved_for = ((1,), (0, 1))

    def forward(self, a, b):
        self.sa, self.sb = _shape(a), _shape(b)
        self.save_for_backward(None if type(b) in _SCALARS else a, b)   # (a / 2: a not needed)
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
    """a ** b for tensor a and tensor-or-scalar b (and scalar a via RPow). Integers as PyTorch:
    a negative tensor exponent gives 0 (1 and +-1 for bases 1 and -1), not NumPy's error."""

    def forward(self, a, b):
        self.sa, self.sb = _shape(a), _shape(b)
        if a.dtype.kind in "biu":
            out = _integer_power(a, b)
        else:
            with np.errstate(**QUIET, over="ignore"):       # inf, as PyTorch
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
            # 0 where b == 0 (a^0 is constant: b a^(b-1) would be 0 * inf at a = 0), as PyTorch
            ga = unbroadcast(Where.apply(b == 0, 0.0, guard(gy * b * a ** (b - 1), gy)), self.sa)
        if i[1] is not None:
            # d/db a^b = a^b log a; 0 where a == 0 and b >= 0 (the limit from a > 0, as PyTorch:
            # 0 * -inf would be nan), -inf where a == 0 and b < 0
            flat = (a == 0).logical_and(b >= 0)
            gb = unbroadcast(Where.apply(flat, 0.0, guard(gy * out * a.log(), gy)), self.sb)
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


def _integer_power(a, b):
    """a ** b for integer arrays a, b (or a Python int b) as PyTorch computes it: bool ** bool is
    refused, and a negative exponent in a tensor gives 1 / a^|b| rounded toward zero: 0, except
    1 for a = 1 and +-1 for a = -1 (NumPy raises for any negative exponent)."""
    if a.dtype.kind == "b":
        raise NotImplementedError("pow: not implemented for 'Bool' (both operands bool); "
                                  "cast one to an integer or floating dtype")
    if not hasattr(b, "dtype"):
        return a ** b                           # a Python int: negative raises, as PyTorch
    xp = array_module(a)
    negative = b < 0
    if not negative.any():
        return a ** b
    positive_part = a ** xp.where(negative, 0, b)
    odd = (b & 1).astype(bool)
    inverse = xp.where(a == 1, 1, xp.where(a == -1, xp.where(odd, -1, 1), 0))
    return xp.where(negative, inverse, positive_part).astype(positive_part.dtype)


class RPow(Function):
    """scalar ** tensor: a float base makes an integer tensor float (rpow), an int base keeps an
    integer tensor's dtype (3 ** int64 is exact)."""

    def forward(self, b, base):
        self.base = base
        if b.dtype.kind in "iu":
            out = _integer_power(self.xp.asarray(_wrapped(base, b.dtype), dtype=b.dtype), b)
        else:
            with np.errstate(**QUIET, over="ignore"):
                out = self.xp.asarray(base, dtype=b.dtype) ** b
        self.save_for_backward(b, out)
        return out

    @quiet
    def backward(self, gy):
        b, out = self.saved_tensors
        base = self.base
        if base > 0:
            return gy * out * math.log(base), None
        if base == 0:        # log 0 = -inf: 0 where b >= 0 (0^b is flat there), as PyTorch
            return gy * Where.apply(b >= 0, 0.0, out * -math.inf), None
        return gy * out * math.nan, None           # log of a negative base, as PyTorch


class Maximum(Function):
    """Ties split the gradient in half between the two inputs; where either is NaN, both get
    all of it (PyTorch's rule: an input's gradient is masked off only where the other strictly
    wins). The shares are computed in backward, from the saved inputs (Shares)."""
    loses = "less"                     # a loses to b where a < b

    def forward(self, a, b):
        self.sa, self.sb = _shape(a), _shape(b)
        self.save_for_backward(a, b)
        return self.xp.maximum(a, b)

    def backward(self, gy):
        a, b = self.saved_tensors
        i = self.inputs
        if on_arrays():                      # (see on_arrays) the same products, on the arrays
            wa, wb = _shares(self.xp, a._data, b._data, self.loses)
            ga, gb = wrap_grad(gy._data * wa), wrap_grad(gy._data * wb)
        else:
            wa, wb = Shares.apply(a.detach(), b.detach(), self.loses)
            ga, gb = gy * wa, gy * wb
        return (unbroadcast(ga, self.sa) if i[0] is not None else None,
                unbroadcast(gb, self.sb) if i[1] is not None else None)


class Minimum(Maximum):
    loses = "greater"

    def forward(self, a, b):
        self.sa, self.sb = _shape(a), _shape(b)
        self.save_for_backward(a, b)
        return self.xp.minimum(a, b)


class Shares(Function):
    """a's and b's shares of maximum's (minimum's) gradient: 0 where one loses (a < b for
    maximum), 1/2 each at a tie, else 1 (so 1 for both where either is NaN). Constants."""

    def forward(self, a, b, loses):
        return _shares(self.xp, a, b, loses)


def _shares(xp, a, b, loses):
    dt = a.dtype
    half = (a == b).astype(dt) * dt.type(0.5)
    lose = getattr(xp, loses)
    return (~lose(a, b)).astype(dt) - half, (~lose(b, a)).astype(dt) - half


class Remainder(Function):
    """a % b with Python's sign convention (= torch.remainder); integers by zero raise."""

    def forward(self, a, b):
        self.sa, self.sb = _shape(a), _shape(b)
        self.save_for_backward(a, b)
        check_division("remainder", a, b)
        with np.errstate(**QUIET):
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
    data) with PyTorch's type promotion (`operands`); reverse=True computes b op a. A float
    tensor with a Python int or float (x * 2.0) needs none: checked first, the hot path."""
    if isinstance(b, _fn.Tensor):
        da, db = a._data.dtype, b._data.dtype
        if (da is not db and da != db) or (true_div and da.kind in "biu"):
            a, b = _promote_tensors(cls.__name__.lower(), a, b, true_div)
    elif not ((type(b) is float or type(b) is int) and a._data.dtype.kind == "f"):
        a, b = operands(cls.__name__.lower(), a, b, true_div)
        if b is NotImplemented:
            return NotImplemented
    return cls.apply(b, a) if reverse else cls.apply(a, b)


# ---- the functions (Tensor methods and tg.*) ----------------------------------------------------
def add(input, other, alpha=1):
    """input + alpha * other; alpha must be an int for integer results (a bool only for bool
    ones), as PyTorch."""
    if not isinstance(input, _fn.Tensor):           # torch.add(2, t): a number first
        return _number_first(Add, "add", input, other, alpha)
    if alpha != 1 or type(alpha) is not int:
        other = _times_alpha("add", input, other, alpha)
    return binary(Add, input, other)


def sub(input, other, alpha=1):
    """input - alpha * other (alpha as in add)."""
    if not isinstance(input, _fn.Tensor):
        return _number_first(Sub, "sub", input, other, alpha)
    if alpha != 1 or type(alpha) is not int:
        other = _times_alpha("sub", input, other, alpha)
    return binary(Sub, input, other)


def _number_first(cls, name, number, other, alpha=1, true_div=False):
    """number <op> alpha * other for a Python number input (torch.add(2, t), torch.div(3.0, t)):
    the reflected operator's promotion (a number never widens the tensor's category)."""
    if not isinstance(other, _fn.Tensor):
        raise TypeError(f"{name}: expected a Tensor operand, got {type(number).__name__} and "
                        f"{type(other).__name__}")
    if alpha != 1 or type(alpha) is not int:
        other = _times_alpha(name, other, other, alpha)
    return binary(cls, other, number, reverse=True, true_div=true_div)


def _times_alpha(name, input, other, alpha):
    """other * alpha, refused as PyTorch refuses it: a float alpha with integer (or bool)
    tensors, a bool alpha unless the result is bool."""
    if name == "sub" and isinstance(other, bool):
        raise RuntimeError(f"sub: {_BOOL_SUB} (a {input.dtype} tensor and {other!r})")
    if isinstance(other, _fn.Tensor) and other._data.dtype != input._data.dtype:
        # alpha * other in the result's dtype (uint8 * -1 would wrap in other's own)
        _, other = _promote_tensors(name, input, other, False)
    floating = input._data.dtype.kind in "fV" or isinstance(other, float) or (
        isinstance(other, _fn.Tensor) and other._data.dtype.kind in "fV")
    if isinstance(alpha, float) and not floating:
        raise RuntimeError(f"{name}: for integral input tensors, argument alpha must not be a "
                           f"floating point number (got alpha={alpha}, a {input.dtype} tensor)")
    boolean = input._data.dtype.kind == "b" and (isinstance(other, bool) or (
        isinstance(other, _fn.Tensor) and other._data.dtype.kind == "b"))
    if isinstance(alpha, bool) and not boolean:
        raise RuntimeError(f"{name}: Boolean alpha only supported for Boolean results "
                           f"(got alpha={alpha}, a {input.dtype} tensor)")
    if boolean:
        alpha = builtins.bool(alpha)        # bool + 2 * bool stays bool: alpha cast to bool
    if not isinstance(other, (_fn.Tensor, np.generic) + _Number):
        other = constant(other, input)          # (a list times alpha would repeat the list)
    return other * alpha


def mul(input, other):
    if not isinstance(input, _fn.Tensor):
        return _number_first(Mul, "mul", input, other)
    return binary(Mul, input, other)


def div(input, other, rounding_mode=None):
    """input / other (integers divide as the default float); rounding_mode 'floor' or 'trunc'
    rounds the quotient in the promoted dtype (integers stay integers; no gradient)."""
    if rounding_mode is None:
        if not isinstance(input, _fn.Tensor):
            return _number_first(Div, "div", input, other, true_div=True)
        return binary(Div, input, other, true_div=True)
    if rounding_mode == "floor":
        return floor_divide(input, other)
    if rounding_mode == "trunc":
        return zero_gradient(no_grad_binary(_trunc_divide, input, other, name="div"),
                             input, other)
    raise RuntimeError(f"div: expected rounding_mode to be one of None, 'trunc', or 'floor', "
                       f"got {rounding_mode!r}")


def floor_divide(input, other):
    """input / other rounded toward -inf, in the promoted dtype (either may be a number; a zero
    gradient, ZeroGradient). An integer division by zero raises, as PyTorch."""
    return zero_gradient(no_grad_binary(_floor_divide, input, other, name="floor_divide"),
                         input, other)


class ZeroGradient(Function):
    """out, and a zero gradient for each of `inputs`: PyTorch's rounding divisions (div with a
    rounding_mode, floor_divide) are differentiable with gradient 0 (their results require
    grad); copysign's `other` too. out's own gradient passes (when out is in a graph)."""

    def forward(self, out, *inputs):
        self.shapes = [i.shape for i in inputs]
        return out.copy()

    def backward(self, gy):
        zeros = [unbroadcast(gy * 0, s) if i is not None else None
                 for i, s in zip(self.inputs[1:], self.shapes)]
        return (gy if self.inputs[0] is not None else None, *zeros)


def zero_gradient(out, *inputs):
    """out tied by ZeroGradient to the floating tensors of inputs that require grad."""
    grads = [t for t in inputs if isinstance(t, _fn.Tensor) and t._requires_grad
             and t._data.dtype.kind in "fV"]
    if out is NotImplemented or not grads or not GRAD.enabled or out._data.dtype.kind != "f":
        return out
    return ZeroGradient.apply(out, *grads)


def _floor_divide(a, b):
    """a // b on promoted arrays (or one Python number): Python's rounding, NumPy's floor_divide
    (one function, not a lambda per call: a captured step compares the ops' arguments)."""
    check_division("floor_divide", a, b)
    with np.errstate(**QUIET, over="ignore"):     # int8 -128 // -1 wraps, as PyTorch
        return np.floor_divide(a, b)


def _trunc_divide(a, b):
    """a / b rounded toward zero on promoted arrays; integers exactly, in their dtype (a - fmod(a,
    b) is a multiple of b), not through a float quotient."""
    check_division("div", a, b)
    with np.errstate(**QUIET, over="ignore"):
        if (a if hasattr(a, "dtype") else b).dtype.kind in "iu":
            return np.floor_divide(a - np.fmod(a, b), b)
        return np.trunc(np.true_divide(a, b))


def pow(input, exponent):
    """input ** exponent, either one a number (tg.pow(2, t)). A Python-number exponent keeps the
    tensor's category (int ** 2 stays int, int ** 2.5 is the default float), except that a bool
    tensor to an int power is int64; bool ** bool number stays bool (x ** True = x, x ** False =
    True), and an integer tensor to a negative number raises, as PyTorch."""
    if not isinstance(input, _fn.Tensor):
        return rpow(exponent, input)
    if isinstance(exponent, np.generic):          # NumPy scalars act as Python scalars
        exponent = exponent.item()
    kind = input._data.dtype.kind
    if type(exponent) is bool:
        if kind == "b":
            return logical_or(input, not exponent)
        exponent = int(exponent)
    if type(exponent) is float or type(exponent) is int:
        if kind not in "fV":
            if type(exponent) is float:
                input = to(input, _dt.get_default_dtype())
            else:
                input = to(input, _dt.int64) if kind == "b" else input
                _integer_exponent(input, exponent)
        return Pow.apply(input, exponent)
    return binary(Pow, input, exponent)


def _integer_exponent(input, exponent):
    """PyTorch's refusals of an integer tensor to a Python int power (NumPy's differ)."""
    if exponent < 0:
        raise RuntimeError(f"pow: Integers to negative integer powers are not allowed (a "
                           f"{input.dtype} tensor to the power {exponent})")
    if exponent != _wrapped(exponent, input._data.dtype):
        raise RuntimeError(f"pow: the exponent {exponent} cannot be converted to {input.dtype} "
                           "without overflow")


def rpow(input, base):
    """base ** input for a number base (Tensor.__rpow__, tg.pow(number, tensor)): a float base
    makes an integer tensor the default float, an int base keeps its dtype (3 ** int64 is exact,
    a bool tensor becomes int64), a bool base with a bool tensor is refused, as PyTorch."""
    if isinstance(base, np.generic):
        base = base.item()
    if not isinstance(base, _Number):
        return binary(Pow, input, base, reverse=True)
    kind = input._data.dtype.kind
    if kind not in "fV":
        if isinstance(base, float):
            input = to(input, _dt.get_default_dtype())
        elif kind == "b":
            if isinstance(base, bool):
                raise NotImplementedError("pow: not implemented for 'Bool' (a bool number to "
                                          "the power of a bool tensor)")
            input = to(input, _dt.int64)
    return RPow.apply(input, base)


def remainder(input, other):
    """input % other with Python's sign convention (either may be a number, as tg.remainder(-7,
    t)); an integer division by zero raises, as PyTorch."""
    if not isinstance(input, _fn.Tensor):
        return binary(Remainder, other, input, reverse=True)
    return binary(Remainder, input, other)


def maximum(input, other):
    """The elementwise maximum of two tensors (PyTorch takes tensors only: clamp(min=) takes a
    number)."""
    return binary(Maximum, input, _tensor_operand("maximum", other, "clamp(min=...)"))


def minimum(input, other):
    return binary(Minimum, input, _tensor_operand("minimum", other, "clamp(max=...)"))


def _tensor_operand(name, other, instead):
    if not isinstance(other, _fn.Tensor):
        raise TypeError(f"{name}: argument 'other' must be a Tensor, not "
                        f"{type(other).__name__} (for a number use {instead})")
    return other


def lerp(input, end, weight):
    """input + weight * (end - input). As PyTorch: floating tensors only, end and a weight tensor
    (not 0-d) of input's dtype."""
    np_dtype = input._data.dtype
    if np_dtype.kind not in "fV":
        raise NotImplementedError(f"lerp: not implemented for '{type_name(np_dtype)}' (a "
                                  f"{input.dtype} input; lerp takes floating tensors)")
    for name, value in (("end", end), ("weight", weight)):
        if (isinstance(value, _fn.Tensor) and value._data.dtype != np_dtype
                and (name == "end" or value.ndim > 0)):
            raise RuntimeError(f"lerp: expected dtype {input.dtype} for `{name}` but got dtype "
                               f"{value.dtype}")
    return Lerp.apply(input, end, weight)


class Lerp(Function):
    """input + weight (end - input) by PyTorch's formula: where |weight| >= 0.5, end - (end -
    input)(1 - weight) (weight 1 gives end exactly; inf and nan as PyTorch). Gradients 1 - w,
    w and end - input."""

    def forward(self, a, b, w):
        xp = self.xp
        self.sa, self.sb, self.sw = _shape(a), _shape(b), _shape(w)
        self.w = None if self.sw is not None else w
        self.save_for_backward(a, b, w if self.sw is not None else None)
        with np.errstate(**QUIET, over="ignore"):
            diff = b - a
            out = xp.where(xp.abs(w) < 0.5, a + w * diff, b - diff * (1 - w))
        return out.astype(a.dtype, copy=False)

    @quiet
    def backward(self, gy):
        a, b, w = self.saved_tensors
        w = self.w if w is None else w
        i = self.inputs
        return (unbroadcast(gy * (1 - w), self.sa) if i[0] is not None else None,
                unbroadcast(gy * w, self.sb) if i[1] is not None else None,
                unbroadcast(gy * (b - a), self.sw) if i[2] is not None else None)


def where(condition, input=None, other=None):
    """input where condition else other (tensors or numbers, broadcast together); with only a
    condition, the indices of its nonzero elements, one index tensor per dim."""
    if input is None and other is None:      # nonzero(as_tuple=True): a 0-d one counts as (1,)
        return nonzero(condition, as_tuple=True)
    cond = condition._data if isinstance(condition, _fn.Tensor) else np.asarray(condition)
    if cond.dtype != np.bool_:
        raise RuntimeError(f"where: expected a bool condition, got {cond.dtype}")
    a, b = (v.item() if isinstance(v, np.generic) else v for v in (input, other))
    if isinstance(a, complex) or isinstance(b, complex):
        raise TypeError(f"where: unsupported complex operand {a if isinstance(a, complex) else b}"
                        " (tinygen has no complex dtype)")
    if type(a) is int:
        _check_where_int(a, b)
    if type(b) is int:
        _check_where_int(b, a)
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


def _check_where_int(v, other):
    """PyTorch's refusals of where's Python int operand v: outside 64 bits an OverflowError;
    beside an integer tensor, a value its dtype cannot hold a RuntimeError (an unsigned dtype
    takes negatives down to -max, as in PyTorch: -1 becomes 255 in uint8); beside a number or a
    bool tensor (an int64 result), one past int64's range."""
    dt = other._data.dtype if isinstance(other, _fn.Tensor) else None
    bounds = _INT_RANGE.get(dt) or _INT_RANGE.setdefault(dt, _int_range(dt))
    if not bounds[0] <= v <= bounds[1]:
        if not -2 ** 63 <= v < 2 ** 64:
            raise OverflowError(f"where: the Python int {v} does not fit in 64 bits")
        target = _dt.int64 if dt is None or dt.kind == "b" else _dt.from_np_dtype(dt)
        raise RuntimeError(f"where: value {v} cannot be converted to type {target} without "
                           f"overflow (expected {bounds[0]} to {bounds[1]})")


_INT_RANGE = {}        # the other operand's dtype (None: a number) -> the ints where takes


def _int_range(dt):
    if dt is not None and dt.kind in "iu":
        info = np.iinfo(dt)
        return (-info.max if dt.kind == "u" else info.min), info.max
    if dt is None or dt.kind == "b":
        return -2 ** 63, 2 ** 63 - 1                # an int64 result
    return -2 ** 63, 2 ** 64 - 1                    # a float result: any 64-bit int


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
