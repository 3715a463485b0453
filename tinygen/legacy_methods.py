"""Older and rarer torch.Tensor methods: the legacy constructor, new_empty_strided, Python-callable
maps, the complex-number methods of real tensors, and the ones PyTorch makes raise on dense real
tensors.

    x.new(2, 3), x.new([1, 2])              a tensor of x's dtype and device (sizes or data)
    x.new_empty_strided((2, 3), (1, 2))     uninitialised, with those strides
    x.apply_(f), x.map_(y, f), x.map2_(y, z, f)   f(element, ...) on Python numbers, in place
    x.angle(), x.conj_physical()            ops/complex_parts.py
    x.imag, x.values(), x.int_repr(), x.solve(A), x.cfloat()   raise, with PyTorch's messages

Set on Tensor at import, at the bottom of this file (tensor.py stays thin).
"""
from __future__ import annotations

import math
import numbers
import operator

import numpy as np

from . import creation as _creation
from .backend.device import Device
from .linalg_legacy import solve
from .ops import shape as _shape
from .ops.complex_parts import angle, conj_physical, conj_physical_
from .ops.strided import as_strided, check_geometry, int_tuple
from .tensor import Tensor


# ---- new: the legacy constructor -----------------------------------------------------------------
def _is_int(value):
    return not isinstance(value, bool) and isinstance(value, numbers.Integral)


def new(input, *args, device=None):
    """A tensor of input's dtype on input's device (or `device`): new() is empty; new(2, 3)
    uninitialised of that size; new(data) copies a list or array (cast to input's dtype);
    new(tensor) aliases a tensor of the same dtype (differentiable, as PyTorch's AliasBackward).

    Where tinygen differs: a tuple of ints is a size, as PyTorch's torch.Size, because
    tinygen's shapes are plain tuples (`x.new(y.size())` is the common use); PyTorch reads a
    plain tuple (2, 3) as data. A list is data in both."""
    op = "new"
    dev = input.device if device is None else Device(device)
    if not args:
        return input.new_empty((0,), device=dev)
    if len(args) == 1 and isinstance(args[0], tuple) and all(_is_int(a) for a in args[0]):
        args = args[0]
    if all(_is_int(a) for a in args):
        if any(a < 0 for a in args):
            bad = next(a for a in args if a < 0)
            raise RuntimeError(f"{op}: Trying to create tensor with negative dimension {bad}: "
                               f"{list(args)}")
        return input.new_empty(tuple(args), device=dev)
    if len(args) > 1:
        k, bad = next((k, a) for k, a in enumerate(args) if not _is_int(a))
        raise TypeError(f"{op}(): argument 'size' must be tuple of ints, but found element of "
                        f"type {type(bad).__name__} at pos {k}")
    data = args[0]
    if isinstance(data, Tensor):
        if data.dtype != input.dtype or data.device != dev:
            raise TypeError(f"{op}(): expected a tensor of dtype {input.dtype} on {dev} (self's "
                            f"options), got one of dtype {data.dtype} on {data.device}")
        return _shape.Reshape.apply(data, data.shape)      # an alias: a view of the same shape
    if not isinstance(data, (list, tuple, np.ndarray)):
        raise TypeError(f"{op}(): data must be a sequence (got {type(data).__name__})")
    return _creation.tensor(data, dtype=input.dtype, device=dev)


def new_empty_strided(input, size, stride, *, dtype=None, layout=None, device=None,
                      requires_grad=False, pin_memory=False):
    """An uninitialised tensor of size with those strides (in elements), on new memory just
    large enough; input's dtype and device unless given. layout and pin_memory are accepted."""
    op = "new_empty_strided"
    size, stride = int_tuple(op, "size", size, 1), int_tuple(op, "stride", stride, 2)
    if len(size) != len(stride):
        raise RuntimeError(f"{op}: dimensionality of sizes ({len(size)}) must match "
                           f"dimensionality of strides ({len(stride)})")
    span = 0 if math.prod(size) == 0 or any(n < 0 for n in size) else \
        1 + sum((n - 1) * s for n, s in zip(size, stride))
    memory = input.new_empty((max(span, 0),), dtype=dtype, device=device)
    check_geometry(op, size, stride, 0, memory._data.itemsize, memory._data.nbytes)
    out = as_strided(memory, size, stride, 0)
    return out.requires_grad_(True) if requires_grad else out


# ---- Python callables, element by element --------------------------------------------------------
def _real(value):
    """value as a Python number PyTorch would store (a 1-element tensor gives its item)."""
    if isinstance(value, Tensor):
        value = value.item()
    if isinstance(value, (str, bytes, complex)) or not (
            hasattr(value, "__float__") or hasattr(value, "__index__")):
        raise TypeError(f"must be real number, not {type(value).__name__}")
    return value


def _as_integer(value, np_dtype, op):
    """value stored in an integer dtype, as PyTorch's checked conversion: floats truncate
    toward zero, NaN and values out of range raise; a negative int stored in an unsigned dtype
    wraps (down to -max), as PyTorch allows."""
    info = np.iinfo(np_dtype)
    overflow = RuntimeError(f"{op}: value cannot be converted to type {np_dtype} without "
                            f"overflow (got {value!r})")
    if isinstance(value, (float, np.floating)):
        if not math.isfinite(value) or not info.min <= math.trunc(value) <= info.max:
            raise overflow
        return math.trunc(value)
    value = operator.index(value)
    if info.min == 0 and -info.max <= value < 0:
        return value % (info.max + 1)
    if not info.min <= value <= info.max:
        raise overflow
    return value


def _store_as(value, np_dtype, op):
    value = _real(value)
    if np_dtype.kind == "b":
        return bool(value)
    if np_dtype.kind == "f":
        return float(value)
    return _as_integer(value, np_dtype, op)


def _map_elements(op, input, others, callable):
    """input[i] = callable(input[i], other[i], ...) for every i in row-major order, each on
    Python numbers (others broadcast to input's shape and of its dtype); version bumped."""
    if input.device.type != "cpu":
        raise RuntimeError(f"{op} is only implemented on CPU tensors (got one on {input.device})")
    if any(t._requires_grad for t in (input, *others)):
        raise RuntimeError(f"Can't call {op}() on Variable that requires grad. Use "
                           f"var.detach().{op}() instead.")
    data = input._data
    if not data.flags.writeable:
        raise RuntimeError(f"{op}: the tensor's memory (shape {tuple(data.shape)}) is read-only "
                           f"(tinygen's expand gives such views, PyTorch's does not): apply "
                           f"it to a clone()")
    try:
        arrays = [np.broadcast_to(t._data, data.shape) for t in others]
    except ValueError:
        raise RuntimeError(f"{op}: the other tensors (shapes "
                           f"{[tuple(t.shape) for t in others]}) must broadcast to self's shape "
                           f"{tuple(data.shape)}") from None
    with np.errstate(over="ignore"):            # a float too large for float32 is inf, as torch
        for index in np.ndindex(data.shape):
            args = [data[index].item()] + [a[index].item() for a in arrays]
            data[index] = _store_as(callable(*args), data.dtype, op)
    input._version[0] += 1
    return input


def _check_other(op, input, name, value, position):
    if not isinstance(value, Tensor):
        raise TypeError(f"{op}(): argument '{name}' (position {position}) must be Tensor, not "
                        f"{type(value).__name__}")
    if value.dtype != input.dtype:
        raise TypeError(f"{op}: expected {input.dtype} for argument '{name}' (self's dtype), "
                        f"got {value.dtype}")


def apply_(input, callable):
    """input[i] = callable(input[i]) for every element, on Python numbers (floats, ints or
    bools by input's dtype), the result cast back as PyTorch casts it. CPU only; refused on a
    tensor that requires grad. Slow: one Python call per element.

    Where tinygen differs: the version is bumped (PyTorch 2.13 leaves it, so a backward that
    saved the tensor would silently use the new values)."""
    return _map_elements("apply_", input, (), callable)


def map_(input, other, callable):
    """input[i] = callable(input[i], other[i]), other broadcast to input's shape and of its
    dtype; as apply_ otherwise."""
    _check_other("map_", input, "other", other, 1)
    return _map_elements("map_", input, (other,), callable)


def map2_(input, x, y, callable):
    """input[i] = callable(input[i], x[i], y[i]), x and y broadcast to input's shape and of its
    dtype; as apply_ otherwise."""
    _check_other("map2_", input, "x", x, 1)
    _check_other("map2_", input, "y", y, 2)
    return _map_elements("map2_", input, (x, y), callable)


# ---- what PyTorch raises on dense real tensors ---------------------------------------------------
def _imag(input):
    """The imaginary part: PyTorch's error for a real tensor (tinygen has no complex dtype)."""
    raise RuntimeError("imag is not implemented for tensors with non-complex dtypes.")


def values(input):
    """A sparse tensor's values: PyTorch's error for a dense (strided) tensor."""
    raise RuntimeError("values expected sparse tensor layout but got Strided")


def int_repr(input):
    """A quantized tensor's integers: PyTorch's error for a tensor that is not quantized."""
    backend = "CPU" if input.device.type == "cpu" else input.device.type.upper()
    raise NotImplementedError(
        f"Could not run 'aten::int_repr' with arguments from the '{backend}' backend. This "
        f"could be because the operator doesn't exist for this backend: int_repr() is defined "
        f"for quantized tensors only (this one is {input.dtype}).")


def _no_complex(name, torch_dtype):
    def method(input, memory_format=None):
        raise RuntimeError(f"{name}(): tinygen has no complex dtypes (PyTorch would return "
                           f"{torch_dtype} here, for a {input.dtype} tensor of shape "
                           f"{tuple(input.shape)}); keep the real and imaginary parts as two "
                           f"real tensors")
    method.__name__ = name
    method.__doc__ = f"A {torch_dtype} copy in PyTorch: raises, tinygen having no complex dtype."
    return method


cfloat = _no_complex("cfloat", "torch.complex64")
cdouble = _no_complex("cdouble", "torch.complex128")
chalf = _no_complex("chalf", "torch.complex32")


Tensor.new, Tensor.new_empty_strided = new, new_empty_strided
Tensor.apply_, Tensor.map_, Tensor.map2_ = apply_, map_, map2_
Tensor.angle, Tensor.conj_physical, Tensor.conj_physical_ = angle, conj_physical, conj_physical_
Tensor.imag = property(_imag)
Tensor.values, Tensor.int_repr, Tensor.solve = values, int_repr, solve
Tensor.cfloat, Tensor.cdouble, Tensor.chalf = cfloat, cdouble, chalf
