"""PyTorch names older scripts still use, on tinygen's Tensor:

    tg.FloatTensor([1.0, 2.0]), tg.LongTensor(3, 4)     constructors (data, or a shape: zeros
                                                        here, uninitialised in PyTorch)
    isinstance(x, tg.FloatTensor)                       a dtype test, as PyTorch's
    tg.channels_last, x.contiguous(memory_format=...)   accepted: arrays are always row-major
    x.share_memory_(), x.pin_memory()                   accepted, x itself (see below)

share_memory_: a DataLoader's workers are forked and read the parent's arrays as they were at the
fork; a tensor changed in place by a worker is not seen by the parent (PyTorch's shared memory
would be). pin_memory: NumPy arrays need no pinning for tinygen's CuPy copies.
"""
from __future__ import annotations

from . import creation as _creation
from .backend import dtypes as _dt
from .tensor import Tensor


class memory_format:
    """torch.memory_format: a name only (tinygen's arrays are row-major whatever it says)."""

    def __init__(self, name):
        self.name = name

    def __repr__(self):
        return f"tinygen.{self.name}"


contiguous_format = memory_format("contiguous_format")
channels_last = memory_format("channels_last")
channels_last_3d = memory_format("channels_last_3d")
preserve_format = memory_format("preserve_format")


class _LegacyType(type):
    def __instancecheck__(cls, obj):
        return isinstance(obj, Tensor) and obj.dtype == cls.dtype


class _Legacy(metaclass=_LegacyType):
    dtype = None

    def __new__(cls, *args):
        if len(args) == 1 and not isinstance(args[0], int):
            return _creation.tensor(args[0], dtype=cls.dtype)
        return _creation.zeros(*(args or (0,)), dtype=cls.dtype)   # FloatTensor(): shape (0,)


def _legacy(name, dtype):
    return _LegacyType(name, (_Legacy,), {"dtype": dtype, "__doc__": f"torch.{name}: "
                                          f"{dtype} tensors (see tinygen.legacy)"})


FloatTensor, DoubleTensor = _legacy("FloatTensor", _dt.float32), _legacy("DoubleTensor", _dt.float64)
HalfTensor = _legacy("HalfTensor", _dt.float16)
LongTensor, IntTensor = _legacy("LongTensor", _dt.int64), _legacy("IntTensor", _dt.int32)
ShortTensor, CharTensor = _legacy("ShortTensor", _dt.int16), _legacy("CharTensor", _dt.int8)
ByteTensor, BoolTensor = _legacy("ByteTensor", _dt.uint8), _legacy("BoolTensor", _dt.bool_)


_FLOATING = {"FloatTensor": FloatTensor, "DoubleTensor": DoubleTensor, "HalfTensor": HalfTensor}


def set_default_tensor_type(t):
    """torch.set_default_tensor_type (deprecated since PyTorch 2.1): the default dtype of a
    floating legacy type, given as the class or its name ('torch.DoubleTensor'). CUDA types are
    refused (set_default_device picks a device), integer ones as PyTorch refuses them."""
    name = t if isinstance(t, str) else getattr(t, "__name__", repr(t))
    if ".cuda." in name:
        raise TypeError(f"type {name} not available as the default tensor type: use "
                        "tg.set_default_dtype and tg.set_default_device")
    short = name.rsplit(".", 1)[-1]
    if short not in _FLOATING:
        raise TypeError(f"only floating-point types are supported as the default type, got "
                        f"{name!r}")
    _dt.set_default_dtype(_FLOATING[short].dtype)


def _itself(self, *args, **kwargs):
    return self


def _to_dense(self, dtype=None, *, masked_grad=None):
    """x.to_dense(): tinygen's tensors are dense (strided): x itself, or x in dtype."""
    return self if dtype is None else self.to(dtype)


def _false(self):
    return False


Tensor.share_memory_ = _itself
Tensor.to_dense = _to_dense
Tensor.pin_memory = _itself
Tensor.is_shared = _false
Tensor.is_pinned = _false
