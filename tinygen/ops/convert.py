"""Arrays in and out of the graph: Python data -> arrays, copies, device moves and dtype casts.

    as_array([[1, 2], [3.5, 4]])        # float32 (2, 2): Python floats take the default dtype
    to(t, "cuda"), to(t, tg.float64)    # ToDevice / Cast: both stay in the graph

PyTorch's inference rules: Python floats become the default dtype (float32), Python ints int64,
bools bool; NumPy arrays keep their dtype.
"""
from __future__ import annotations

import numpy as np

from ..autograd.function import Function, wrap, wrap_constant
from ..autograd import function as _fn
from ..backend import dtypes as _dt
from ..backend.device import Device, device_of, get_xp, to_device


def as_array(data, dtype=None, device=None):
    """An array on `device` (default: where data is, else the CPU) holding `data`: a Tensor, a
    NumPy or CuPy array, a number, or nested lists and tuples of numbers and Tensors."""
    npd = _dt.to_np_dtype(dtype)
    dev = None if device is None else Device(device)
    if isinstance(data, _fn.Tensor):
        arr = data._data
        if dev is not None and dev != data.device:
            arr = to_device(arr, dev)
        return arr.astype(npd) if npd is not None and npd != arr.dtype else arr
    if hasattr(data, "__cuda_array_interface__") or type(data).__module__.startswith("cupy"):
        arr = data                                     # a CuPy array: stays on its GPU
        dev = dev or device_of(data)
    else:
        arr = np.array(_unwrap(data)) if isinstance(data, (list, tuple)) else np.asarray(data)
    arr = arr.astype(_infer_dtype(data, arr) if npd is None else npd, copy=False)
    if dev is not None and dev != device_of(arr):
        arr = to_device(arr, dev)
    return arr


def _infer_dtype(data, arr):
    kind = arr.dtype.kind
    numpy_data = isinstance(data, (np.ndarray, np.generic))      # keeps its dtype (as torch)
    if kind == "f":
        return arr.dtype if numpy_data else _dt.get_default_dtype().np
    if kind in "iu":
        return arr.dtype if numpy_data else np.dtype(np.int64)
    if kind == "b":
        return np.dtype(np.bool_)
    if kind == "O":
        raise TypeError(f"tensor(): could not infer a dtype from {type(data).__name__} data")
    return arr.dtype


def _unwrap(data, seen=None):
    """Lists of Tensors / scalars -> nested lists of numbers (tg.tensor([t1, t2])); `seen`, a
    list, gets an entry for each Tensor, NumPy array or NumPy scalar met (their dtypes count)."""
    if isinstance(data, (list, tuple)):
        return [_unwrap(d, seen) for d in data]
    if seen is not None and isinstance(data, (_fn.Tensor, np.ndarray, np.generic)):
        seen.append(data)
    if isinstance(data, _fn.Tensor):
        return data.cpu()._data
    return data


class Clone(Function):
    def forward(self, x):
        return x.copy()

    def backward(self, gy):
        return gy


class ToDevice(Function):
    """A copy on another device; its gradient goes back to the source device."""

    def forward(self, x, device):
        self.src = device_of(x)
        return to_device(x, device)

    def backward(self, gy):
        return ToDevice.apply(gy, self.src), None


class Cast(Function):
    """A floating dtype change; the gradient is cast back."""

    def forward(self, x, dtype):
        self.src = x.dtype
        return x.astype(dtype)

    def backward(self, gy):
        return Cast.apply(gy, self.src), None


def clone(input, *, memory_format=None):
    """A copy of input in new memory, in the graph. memory_format is accepted and changes
    nothing: tinygen's new arrays are row-major (tinygen/legacy.py), but channels_last asks
    for a 4-d input (channels_last_3d a 5-d one), as PyTorch's."""
    rank = {"channels_last": 4, "channels_last_3d": 5}.get(getattr(memory_format, "name", None))
    if rank is not None and input.ndim != rank:
        raise RuntimeError(f"clone: required rank {rank} tensor to use {memory_format.name} "
                           f"format, got shape {tuple(input.shape)}")
    return Clone.apply(input)


def to(input, *args, **kwargs):
    """to(device), to(dtype), to(device, dtype), to(other_tensor). Casts between floating dtypes
    and device moves stay in the graph; casts to integer or bool dtypes leave it."""
    device = kwargs.pop("device", None)
    dtype = kwargs.pop("dtype", None)
    kwargs.pop("non_blocking", None)
    copy = kwargs.pop("copy", False)
    kwargs.pop("memory_format", None)           # accepted: arrays are always row-major
    if kwargs:
        raise TypeError(f"to(): unexpected keyword arguments {sorted(kwargs)}")
    for a in args:
        if isinstance(a, _fn.Tensor):
            device, dtype = a.device, a.dtype
        elif isinstance(a, (_dt.dtype, np.dtype, type)):
            dtype = a
        elif isinstance(a, (str, Device)):
            device = a
        elif a is not None:
            raise TypeError(f"to(): unexpected argument {a!r}")
    out = input
    if device is not None and Device(device) != input.device:
        out = ToDevice.apply(out, Device(device))
    if dtype is not None:
        npd = _dt.to_np_dtype(dtype)
        if npd != out._data.dtype:
            if npd.kind == "f" and out._data.dtype.kind == "f":
                out = Cast.apply(out, npd)
            else:                              # out of the graph, still an op (tg.compile)
                out = Cast.apply(out.detach(), npd)
    if copy and out is input:                  # copy=True: a new tensor even when nothing changes
        out = Clone.apply(out)
    return out


def as_float(x):
    """x itself if floating, else x cast to the default float dtype (int -> float for exp etc.)."""
    return x if x._data.dtype.kind == "f" else to(x, _dt.get_default_dtype())


def new_full(input, size, fill_value, *, dtype=None, device=None, requires_grad=False):
    """A constant tensor on input's device with input's dtype (or `dtype`, `device`); an int
    fill wraps into an integer dtype, as PyTorch's (-1 in uint8 is 255)."""
    npd = np.dtype(_dt.to_np_dtype(dtype) or input._data.dtype)
    if isinstance(fill_value, int) and npd.kind in "iu" and -2 ** 63 <= fill_value < 2 ** 63:
        fill_value = np.asarray(fill_value, np.int64).astype(npd)
    t = wrap(get_xp(device if device is not None else input.device).full(tuple(size),
                                                                          fill_value, npd))
    if requires_grad:
        t.requires_grad = True
    return t


def new_tensor(input, data, *, dtype=None, device=None, requires_grad=False):
    """data as a new tensor with input's dtype and device (unless given)."""
    t = wrap(as_array(data, dtype or input.dtype, device or input.device).copy())
    if requires_grad:
        t.requires_grad = True
    return t


def constant(data, like):
    """data (array-like, dtype inferred) as a constant tensor on like's device."""
    return wrap(as_array(data, device=like.device))


def scalar_like(value, like):
    """A 0-d constant with like's dtype on like's device."""
    return wrap_constant(get_xp(like.device).asarray(value, dtype=like._data.dtype))


# ---- dtype conversions and type queries (Tensor methods) ----------------------------------------
def _caster(dtype_name, torch_name):
    def fn(input, memory_format=None):
        return to(input, getattr(_dt, dtype_name))
    fn.__name__ = torch_name
    fn.__doc__ = f"input as {dtype_name} (the same tensor when it already is)."
    return fn


(byte, char, short, int_, long, half, bfloat16, float_, double, bool_) = (
    _caster(d, n) for d, n in (
        ("uint8", "byte"), ("int8", "char"), ("int16", "short"), ("int32", "int"),
        ("int64", "long"), ("float16", "half"), ("bfloat16", "bfloat16"), ("float32", "float"),
        ("float64", "double"), ("bool_", "bool")))

_TYPE_NAMES = {"uint8": "Byte", "int8": "Char", "int16": "Short", "int32": "Int",
               "int64": "Long", "float16": "Half", "bfloat16": "BFloat16", "float32": "Float",
               "float64": "Double", "bool": "Bool"}


def type_name(np_dtype):
    """PyTorch's name of a dtype in its kernel errors ('Float', 'Long', 'Bool')."""
    return _TYPE_NAMES.get(np_dtype.name, np_dtype.name)


def type_(input, dtype=None, non_blocking=False):
    """With no dtype, the type's name ('tinygen.FloatTensor', PyTorch's spelling with tinygen's
    prefix); with one (a dtype or such a name), input cast to it."""
    if dtype is None:
        return f"tinygen.{_TYPE_NAMES[input.dtype.name]}Tensor"
    if isinstance(dtype, str) and dtype.endswith("Tensor"):
        short = dtype.split(".")[-1][:-len("Tensor")]
        names = {v: k for k, v in _TYPE_NAMES.items()}
        if short not in names:
            raise ValueError(f"type(): unknown type {dtype!r}")
        dtype = names[short]
    return to(input, _dt.from_np_dtype(_dt.to_np_dtype(dtype)))


def new_empty(input, *size, dtype=None, device=None, requires_grad=False):
    """An uninitialised tensor of `size` with input's dtype and device (unless given)."""
    return _new(input, size, dtype, device, requires_grad, "empty")


def new_zeros(input, *size, dtype=None, device=None, requires_grad=False):
    return _new(input, size, dtype, device, requires_grad, "zeros")


def new_ones(input, *size, dtype=None, device=None, requires_grad=False):
    return _new(input, size, dtype, device, requires_grad, "ones")


def _new(input, size, dtype, device, requires_grad, kind):
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        size = tuple(size[0])
    npd = _dt.to_np_dtype(dtype) or input._data.dtype
    xp = get_xp(device if device is not None else input.device)
    t = wrap(getattr(xp, kind)(tuple(int(s) for s in size), dtype=npd))
    if requires_grad:
        t.requires_grad = True
    return t


def get_device(input):
    """-1 for a CPU tensor, else the index of its GPU."""
    dev = input.device
    return -1 if dev.type == "cpu" else (dev.index or 0)


def is_signed(input):
    return input._data.dtype.kind in "if"


def is_nonzero(input):
    """The truth of a one-element tensor."""
    if input.numel() != 1:
        raise RuntimeError(f"is_nonzero: Boolean value of Tensor with {input.numel()} elements "
                           "is ambiguous")
    return bool(input._data.reshape(-1)[0])


def is_same_size(input, other):
    return tuple(input.shape) == tuple(other.shape)
