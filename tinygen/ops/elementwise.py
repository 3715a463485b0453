"""Unary math: forward on arrays, backward in Tensor ops (so it is differentiable again), and the
functions Tensor methods and `tg.*` call (`exp(x)` is `x.exp()` is `tg.exp(x)`).

Gradients through the untaken branch of `where` stay finite: where an op's local derivative is
infinite (log, sqrt, division at 0) and the incoming gradient is exactly 0, the gradient is 0, not
NaN (0 * inf := 0, `guard`). PyTorch returns NaN there; the issue asks for 0.

Integer inputs of the float functions (exp, log, sin...) are cast to the default float dtype
first, as in PyTorch. At their poles (log 0, 1 / 0, sqrt of a negative) the ops give inf or nan
without NumPy's RuntimeWarning, as PyTorch does: those forwards run under `np.errstate(**QUIET)`.
"""
from __future__ import annotations

import functools
import math

import numpy as np

from ..autograd.function import Function, wrap
from ..autograd.grad_mode import GRAD
from ..backend.device import array_module
from ..backend import dtypes as _dt
from .convert import as_float, to
from .shape import unbroadcast

QUIET = {"divide": "ignore", "invalid": "ignore"}     # for ops whose domain has poles


class ZeroWhere(Function):
    """g with zeros where the boolean array `mask` is True (0 * inf := 0 in backward rules)."""

    def forward(self, g, mask):
        self.mask = mask
        return self.kernel("zero_where")(g, mask)

    def backward(self, gg):
        return ZeroWhere.apply(gg, self.mask), None


class ZeroWhereZero(ZeroWhere):
    """g with zeros where `gy` is exactly 0 (the mask made in forward, so a captured step makes
    it again from each step's gy)."""

    fuse = "z if {1} == z else {0}"
    fuse_attrs = {"mask": "{1} == z"}

    def forward(self, g, gy):
        return ZeroWhere.forward(self, g, gy == 0)


class ZeroWhereZeroNotFinite(ZeroWhere):
    """g with zeros where `gy` is exactly 0 and g is not finite (0 * inf): elsewhere g itself,
    so a gradient built for double backward keeps its derivative with respect to gy where gy is
    0 (ZeroWhereZero's constant cut it: the second derivative of prod, div, log or sqrt through a
    zero upstream gradient came out 0)."""

    fuse = "z if ({1} == z and {0} - {0} != z) else {0}"
    fuse_attrs = {"mask": "{1} == z and {0} - {0} != z"}

    def forward(self, g, gy):
        return ZeroWhere.forward(self, g, (gy == 0) & ~self.xp.isfinite(g))


def guard(g, gy):
    """g, but exactly 0 wherever the upstream gradient gy is exactly 0 (under create_graph:
    where g is also not finite, ZeroWhereZeroNotFinite)."""
    if GRAD.enabled:
        return ZeroWhereZeroNotFinite.apply(g, gy)
    return ZeroWhereZero.apply(g, gy)


def quiet(backward):
    """For a backward rule that `guard`s: it computes 0 * inf on purpose, so NumPy's warnings are
    off while it runs (only these rules pay for the switch, not every backward pass)."""
    @functools.wraps(backward)
    def run(self, *grads):
        with np.errstate(**QUIET):
            return backward(self, *grads)
    return run


class Neg(Function):
    fuse = "-{0}"

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
        with np.errstate(**QUIET):
            return self.xp.log(x)

    @quiet
    def backward(self, gy):
        (x,) = self.saved_tensors
        return guard(gy / x, gy)


class Log1p(Function):
    def forward(self, x):
        self.save_for_backward(x)
        with np.errstate(**QUIET):
            return self.xp.log1p(x)

    @quiet
    def backward(self, gy):
        (x,) = self.saved_tensors
        return guard(gy / (x + 1), gy)


class Sqrt(Function):
    def forward(self, x):
        with np.errstate(**QUIET):
            y = self.xp.sqrt(x)
        self.save_for_backward(y)
        return y

    @quiet
    def backward(self, gy):
        (y,) = self.saved_tensors
        return guard(gy / (y * 2), gy)


class Rsqrt(Function):
    def forward(self, x):
        with np.errstate(**QUIET):
            y = 1 / self.xp.sqrt(x)
        self.save_for_backward(y)
        return y

    @quiet
    def backward(self, gy):
        (y,) = self.saved_tensors
        return guard(gy * (y * y * y) * -0.5, gy)       # d/dx x^-1/2 = -1/2 x^-3/2


class Reciprocal(Function):
    def forward(self, x):
        with np.errstate(**QUIET):
            y = 1 / x
        self.save_for_backward(y)
        return y

    @quiet
    def backward(self, gy):
        (y,) = self.saved_tensors
        return guard(-gy * y * y, gy)


class Abs(Function):
    def forward(self, x):
        self.save_for_backward(x)
        return self.xp.abs(x)

    def backward(self, gy):
        (x,) = self.saved_tensors
        return gy * Sign.apply(x)        # sign(0) = 0: the subgradient PyTorch picks


class Sin(Function):
    def forward(self, x):
        self.save_for_backward(x)
        return self.xp.sin(x)

    def backward(self, gy):
        (x,) = self.saved_tensors
        return gy * Cos.apply(x)


class Cos(Function):
    def forward(self, x):
        self.save_for_backward(x)
        return self.xp.cos(x)

    def backward(self, gy):
        (x,) = self.saved_tensors
        return -gy * Sin.apply(x)


class Tanh(Function):
    """NumPy's tanh; backward from the output, gy (1 - y^2), by the kernel table (tanh_bwd)."""

    def forward(self, x):
        y = self.xp.tanh(x)
        self.save_for_backward(y)
        return y

    def backward(self, gy):
        (y,) = self.saved_tensors
        return TanhBackward.apply(y, gy)


class Sigmoid(Function):
    """1 / (1 + exp(-x)) through the kernel table (sigmoid_fwd); backward from the output, gy y
    (1 - y) (sigmoid_bwd)."""

    def forward(self, x):
        y = self.kernel("sigmoid_fwd")(x)
        self.save_for_backward(y)
        return y

    def backward(self, gy):
        (y,) = self.saved_tensors
        return SigmoidBackward.apply(y, gy)


class _BackwardFromOutput(Function):
    """gx = gy f'(y) in one pass by the kernel `kernel_name` (y, gy). Linear in gy (its gy
    gradient is the op again, in gy's dtype: the kernel computes in y's); its y gradient is
    y_grad(y, gy, gg), in Tensor ops."""
    kernel_name = None

    def forward(self, y, gy):
        self.save_for_backward(y, gy)
        return self.kernel(self.kernel_name)(y, gy)

    def backward(self, gg):
        y, gy = self.saved_tensors
        g_gy = type(self).apply(y, gg)
        return self.y_grad(y, gy, gg), g_gy if g_gy.dtype == gy.dtype else g_gy.to(gy.dtype)


class TanhBackward(_BackwardFromOutput):
    """gx = gy (1 - y^2) (tanh_bwd); d/dy = -2 y gy."""
    kernel_name = "tanh_bwd"

    @staticmethod
    def y_grad(y, gy, gg):
        return gg * gy * y * -2


class SigmoidBackward(_BackwardFromOutput):
    """gx = gy y (1 - y) (sigmoid_bwd); d/dy = gy (1 - 2y)."""
    kernel_name = "sigmoid_bwd"

    @staticmethod
    def y_grad(y, gy, gg):
        return gg * gy * (1 - 2 * y)


def _sign(xp, x):
    """xp.sign(x), but 0 at NaN, as PyTorch's sign and sgn (NumPy gives NaN); a bool array is
    its own sign (NumPy has no bool loop)."""
    if x.dtype.kind == "b":
        return x.copy()
    s = xp.asarray(xp.sign(x))                 # (0-d: a NumPy scalar otherwise)
    return xp.where(s != s, s.dtype.type(0), s) if s.dtype.kind == "f" else s


class Sign(Function):
    """Piecewise constant (sign, floor, ceil, round): the derivative is 0 where it exists.
    sign(NaN) is 0, as in PyTorch."""

    def forward(self, x):
        return _sign(self.xp, x)

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


class RoundDecimals(Sign):
    """round(x, decimals=d) as PyTorch computes it, in x's dtype: x * 10^d rounded half to even,
    / 10^d (d < 0: x / 10^-d rounded, * 10^-d)."""

    def forward(self, x, decimals):
        scale = x.dtype.type(10.0 ** decimals if decimals >= 0 else 10.0 ** -decimals)
        if decimals >= 0:
            return self.xp.round(x * scale) / scale
        return self.xp.round(x / scale) * scale

    def backward(self, gy):
        return gy * 0, None


class Erf(Function):
    def forward(self, x):
        self.save_for_backward(x)
        return erf_array(x)

    def backward(self, gy):
        (x,) = self.saved_tensors
        return gy * (Exp.apply(-(x * x)) * (2 / math.sqrt(math.pi)))


def erf_array(x):
    if type(x).__module__.startswith("cupy"):
        import cupyx.scipy.special  # lazy: CuPy is optional
        return cupyx.scipy.special.erf(x)
    from scipy.special import erf  # lazy: scipy's import costs start-up time for one function
    return array_module(x).asarray(erf(x).astype(x.dtype, copy=False))


class Clamp(Function):
    """clamp with scalar bounds; the gradient passes where min <= x <= max (PyTorch's choice)."""

    def forward(self, x, lo, hi):
        mask = None
        if lo is not None:
            mask = x >= lo
        if hi is not None:
            mask = (x <= hi) if mask is None else (mask & (x <= hi))
        self.off = ~mask
        return self.xp.clip(x, lo, hi)

    def backward(self, gy):
        return ZeroWhere.apply(gy, self.off), None, None


# ---- the functions (Tensor methods and tg.*) ----------------------------------------------------
def neg(input):
    try:
        return Neg.apply(input)
    except TypeError:                           # NumPy's refusal of a bool: PyTorch's error
        if input._data.dtype.kind != "b":
            raise
    raise RuntimeError("neg: Negation, the `-` operator, on a bool tensor is not supported. If "
                       "you are trying to invert a mask, use the `~` or `logical_not()` operator "
                       "instead.")


def exp(input):
    return Exp.apply(as_float(input))


def expm1(input):
    return Expm1.apply(as_float(input))


def log(input):
    return Log.apply(as_float(input))


def log1p(input):
    return Log1p.apply(as_float(input))


def log2(input):
    return log(input) * (1 / math.log(2))


def log10(input):
    return log(input) * (1 / math.log(10))


def sqrt(input):
    return Sqrt.apply(as_float(input))


def rsqrt(input):
    return Rsqrt.apply(as_float(input))


def reciprocal(input):
    return Reciprocal.apply(as_float(input))


def square(input):
    """input * input; a bool tensor squares as int64 (PyTorch's pow(x, 2))."""
    if input._data.dtype.kind == "b":
        input = to(input, _dt.int64)
    return input * input


def refuse_bool(name, input):
    """NotImplementedError for a bool tensor, as PyTorch's kernels of `name` raise."""
    if input._data.dtype.kind == "b":
        raise NotImplementedError(f"{name}: not implemented for 'Bool' (a bool tensor, as "
                                  "PyTorch)")
    return input


def abs(input):
    return Abs.apply(refuse_bool("abs", input))


def sign(input):
    return Sign.apply(input) if input._requires_grad else wrap(_sign(array_module(input._data),
                                                                      input._data))


def floor(input):
    return Floor.apply(refuse_bool("floor", input))


def ceil(input):
    return Ceil.apply(refuse_bool("ceil", input))


def round(input, *, decimals=None):
    """Round half to even; with decimals, to that many decimal places (RoundDecimals). As
    PyTorch, decimals (even 0) takes floating tensors only."""
    if decimals is None:
        return Round.apply(refuse_bool("round", input))
    if input._data.dtype.kind not in "fV":
        raise NotImplementedError(f"round: decimals is not implemented for {input.dtype} "
                                  "tensors (floating tensors only, as PyTorch)")
    return RoundDecimals.apply(input, int(decimals))


def sin(input):
    return Sin.apply(as_float(input))


def cos(input):
    return Cos.apply(as_float(input))


def tanh(input):
    return Tanh.apply(as_float(input))


def sigmoid(input):
    return Sigmoid.apply(as_float(input))


def erf(input):
    return Erf.apply(as_float(input))


def clamp(input, min=None, max=None):
    """Limit input to [min, max] (either may be None). Python (or NumPy) number bounds keep a
    floating tensor's dtype; an integer or bool tensor with a float bound becomes the default
    float (clamp(int_t, min=2.5) is float32, as in PyTorch). Tensor bounds broadcast and promote
    as a binary op; where x equals a bound the gradient goes all to x (PyTorch's clamp
    backward), not half to each as maximum and minimum split ties."""
    if min is None and max is None:
        raise ValueError("clamp: at least one of min and max must be given")
    if hasattr(min, "_data") or hasattr(max, "_data"):          # Tensor bounds
        out = _clamp_tensors(input, min, max)
        if min is not None and max is not None:   # (PyTorch's clamp refuses a bool result;
            refuse_bool("clamp", out)             # clamp_min, clamp_max take it)
        return out
    # NumPy scalar bounds would upcast a float32 tensor (NEP 50): use Python numbers
    min = min.item() if isinstance(min, np.generic) else min
    max = max.item() if isinstance(max, np.generic) else max
    if input._data.dtype.kind in "biu":            # an int tensor, a float bound: float
        npd = input._data.dtype
        for bound in (min, max):
            if bound is not None:
                npd = _dt.result_type_scalar(npd, bound)
        if npd != input._data.dtype:
            input = to(input, npd)
    refuse_bool("clamp", input)    # (bool number bounds: a bool result, which PyTorch refuses)
    if input._data.dtype.kind in "iu":          # (an integer result: int bounds only)
        min, max = (_int_bound(b, input._data.dtype) for b in (min, max))
    return Clamp.apply(input, min, max)


def _int_bound(value, np_dtype):
    """An int bound of an integer tensor as PyTorch takes it: beyond the dtype's range a
    RuntimeError, except that an unsigned dtype takes negatives down to -max, wrapped (-1 is 255
    in uint8)."""
    if type(value) is not int:
        return value
    info = np.iinfo(np_dtype)
    low = -int(info.max) if info.min == 0 else int(info.min)
    if not low <= value <= int(info.max):
        raise RuntimeError(f"clamp: value {value} cannot be converted to type {np_dtype} "
                           "without overflow")
    return value % (int(info.max) + 1) if value < 0 and info.min == 0 else value


def _clamp_tensors(input, lo, hi):
    """clamp with Tensor bounds (a number beside one is made a 0-d tensor): the three promoted to
    one dtype as a binary op promotes, then ClampTensors."""
    operands = [v if v is None or hasattr(v, "_data") else
                wrap(array_module(input._data).asarray(
                    v, _dt.result_type_scalar(input._data.dtype, v)))
                for v in (lo, hi)]
    npd, scalar_like = input._data.dtype, input.ndim == 0
    for v in operands:
        if v is not None:
            npd = _dt.promote_types(npd, v._data.dtype, scalar_like, v.ndim == 0)
            scalar_like = scalar_like and v.ndim == 0
    x, lo, hi = (v if v is None or v._data.dtype == npd else to(v, npd)
                 for v in (input, *operands))
    return ClampTensors.apply(x, lo, hi)


class ClampTensors(Function):
    """clamp(x, min, max) with tensor bounds: min(max(x, min), max), NaN anywhere giving NaN.
    PyTorch's clamp backward: x gets gy where min <= x <= max; min where x < min (and
    min < max); max where x > max (or max < min, where the result is max). Each gradient is
    summed back to its input's shape."""

    def forward(self, x, lo, hi):
        xp = self.xp
        out = x if lo is None else xp.maximum(x, lo)
        out = out if hi is None else xp.minimum(out, hi)
        self.shapes = [getattr(v, "shape", None) for v in (x, lo, hi)]
        inside = True
        if lo is not None:
            inside = x >= lo
            self.lo_off = ~(x < lo) if hi is None else ~((x < lo) & (lo < hi))
        if hi is not None:
            inside = inside & (x <= hi)
            self.hi_off = ~(x > hi) if lo is None else ~((x > hi) | (hi < lo))
        self.x_off = ~xp.broadcast_to(inside, out.shape)
        return out

    def backward(self, gy):
        grads = []
        for i, off in enumerate((self.x_off, getattr(self, "lo_off", None),
                                 getattr(self, "hi_off", None))):
            if self.inputs[i] is None or off is None:
                grads.append(None)
                continue
            g = ZeroWhere.apply(gy, self.xp.broadcast_to(off, gy.shape))
            grads.append(unbroadcast(g, self.shapes[i]))
        return tuple(grads)


clip = clamp


def clamp_min(input, min):
    return clamp(input, min=min)


def clamp_max(input, max):
    return clamp(input, max=max)


class Predicate(Function):
    """An array module's elementwise predicate (isnan, isinf, isfinite, logical_not, signbit,
    isposinf, isneginf, isreal) of the array: a bool result outside the graph (no backward). An
    op, so a captured step (tg.compile) computes it again on every replay (as computed outside
    any op, it made such a step run eagerly)."""

    def forward(self, x, name):
        return getattr(self.xp, name)(x)


def predicate(name, input):
    """Predicate `name` of input, as a bool Tensor outside the graph."""
    return Predicate.apply(input.detach() if input._requires_grad else input, name)


def _predicate(name):
    def fn(input):
        return predicate(name, input)
    fn.__name__ = name
    fn.__doc__ = f"Elementwise {name} as a bool tensor (no gradient)."
    return fn


isnan, isinf, isfinite, logical_not = (_predicate(n) for n in
                                       ("isnan", "isinf", "isfinite", "logical_not"))
