"""PyTorch's type promotion for the binary ops (binary.py's Functions, compare.py's ops without
gradient): by category (bool < integer < floating), a Python scalar never widening a tensor of
its own category, a 0-dim tensor deciding the dtype only when it brings a higher category; a
Python int wrapped into an integer tensor's dtype (uint8 + -3 is uint8 + 253, where NumPy
raises); complex operands refused (tinygen has no complex dtype). And the integer division's
checks (a zero divisor raises, as PyTorch; NumPy returns 0)."""
from __future__ import annotations

import numpy as np

from ..autograd import function as _fn
from ..backend import dtypes as _dt
from .convert import constant, to, type_name

_Number = (int, float, bool)
_INT_BOUNDS = {}                    # integer NumPy dtype -> (lowest, highest), for _wrapped
_BOOL_SUB = ("Subtraction, the `-` operator, with a bool tensor is not supported. If you are "
             "trying to invert a mask, use the `~` or `logical_not()` operator instead.")
_BOOL_SUB_TWO = ("Subtraction, the `-` operator, with two bool tensors is not supported. Use the "
                 "`^` or `logical_xor()` operator instead.")


def operands(name, a, b, true_div=False):
    """Tensor a and b (a Tensor, a Python or NumPy number, or array data) as PyTorch computes
    `a <name> b`: tensors promoted to one dtype, a Python number kept (`_promote_scalar`);
    true_div makes integers the default float. b comes back NotImplemented when it is no numeric
    data (Python may then try the other operand's reflected operator)."""
    if isinstance(b, _fn.Tensor):
        return _promote_tensors(name, a, b, true_div)
    if isinstance(b, np.generic):      # NumPy scalars act as Python scalars (NumPy 2 would upcast;
        # PyTorch reads a np.bool_ as a float, np.bool_(True) * int_tensor is float32: not kept)
        b = b.item()
    if isinstance(b, _Number):
        return _promote_scalar(name, a, b, true_div)
    if b is None or isinstance(b, complex):
        raise TypeError(f"{name}: unsupported operand {b!r} with a {a.dtype} tensor"
                        + ("" if b is None else " (tinygen has no complex dtype)"))
    try:
        b = constant(b, a)
    except Exception:
        return a, NotImplemented
    kind = b._data.dtype.kind
    if kind == "O":
        return a, NotImplemented
    if kind not in "biuf":
        raise TypeError(f"{name}: unsupported operand of NumPy dtype {b._data.dtype} with a "
                        f"{a.dtype} tensor (tinygen's dtypes are bool, integers and floats)")
    return _promote_tensors(name, a, b, true_div)


def _promote_tensors(name, a, b, true_div):
    """Tensors a and b cast to their common dtype (a 0-d one only decides it when it brings a
    higher category); true_div makes an integer one the default float, each operand cast to it
    straight (uint8 / tensor(300) is 7 / 300, not 7 / 44)."""
    da, db = a._data.dtype, b._data.dtype
    dt = da
    if da != db:
        if name == "sub" and (da.kind == "b" or db.kind == "b"):
            raise RuntimeError(f"sub: {_BOOL_SUB} (dtypes {a.dtype} and {b.dtype})")
        dt = _dt.promote_types(da, db, a._data.ndim == 0, b._data.ndim == 0)
    if true_div and dt.kind in "biu":
        dt = _dt.get_default_dtype().np
    if da != dt:
        a = to(a, dt)
    if db != dt:
        b = to(b, dt)
    return a, b


def _promote_scalar(name, a, b, true_div):
    """Tensor a and a Python number b: the number never widens a's category, but a float (or a
    true division) makes an integer or bool tensor the default float, and an int makes a bool
    tensor int64. An int is wrapped into an integer tensor's dtype (`_wrapped`)."""
    kind = a._data.dtype.kind
    if name == "sub" and (kind == "b" or isinstance(b, bool)):
        raise RuntimeError(f"sub: {_BOOL_SUB} (a {a.dtype} tensor and {b!r})")
    if kind in "fV":                            # ("V": ml_dtypes' bfloat16)
        return a, b
    if isinstance(b, float) or true_div:
        return to(a, _dt.get_default_dtype()), b
    if kind == "b":
        if isinstance(b, bool):
            return a, b
        a = to(a, _dt.int64)
    if type(b) is int:
        b = _wrapped(b, a._data.dtype)
    return a, b


def _wrapped(value, dtype):
    """A Python int as a value of the integer dtype, wrapped around as a cast wraps: PyTorch
    casts a scalar to the tensor's dtype (uint8 + -3 is uint8 + 253, int8 < 300 is int8 < 44),
    where NumPy 2 raises OverflowError. Beyond int64 / uint64 it raises, as PyTorch."""
    bounds = _INT_BOUNDS.get(dtype)
    if bounds is None:
        info = np.iinfo(dtype)
        bounds = _INT_BOUNDS[dtype] = (int(info.min), int(info.max))
    low, high = bounds
    if type(value) is not int or low <= value <= high:
        return value
    if not -2 ** 63 <= value < 2 ** 64:
        raise OverflowError(f"the Python int {value} is out of the range of int64 and uint64")
    return (value - low) % (high - low + 1) + low


def _refuse_kinds(name, kinds, np_dtype, a, b):
    """NotImplementedError, as PyTorch's kernels raise, where the promoted dtype's kind is one of
    `kinds` ('f' floats, 'b' bool): a bitwise op on floats, a shift of bools. a, b: the operands
    as given."""
    if np_dtype.kind in kinds:
        given = " and ".join(f"a {v.dtype} tensor" if isinstance(v, _fn.Tensor) else repr(v)
                             for v in (a, b))
        raise NotImplementedError(f"{name}: not implemented for '{type_name(np_dtype)}' "
                                  f"({given}, promoted to {np_dtype.name})")


def check_division(name, a, b):
    """The checks of an integer division (floor_divide, remainder, fmod, div with rounding) on
    promoted operands a, b (arrays or a Python number): bool is refused and a zero divisor raises,
    as PyTorch does (NumPy returns 0). One pass over the divisor, on the integer path only."""
    np_dtype = (a if hasattr(a, "dtype") else b).dtype
    if np_dtype.kind in "fV":
        return
    if np_dtype.kind == "b":
        raise NotImplementedError(f"{name}: not implemented for 'Bool' (bool operands); cast "
                                  "them to an integer dtype")
    if getattr(a, "size", 1) == 0 or getattr(b, "size", 1) == 0:
        return                                  # an empty result: nothing is divided
    if not (b.all() if hasattr(b, "all") else b):
        raise RuntimeError(f"{name}: ZeroDivisionError (an integer division by zero, dtype "
                           f"{np_dtype.name})")
