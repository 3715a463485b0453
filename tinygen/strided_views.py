"""PyTorch's storage-level Tensor methods: as_strided and its forms, the storage offset and an
UntypedStorage, set_, resize_ and their kin.

    y = x.as_strided((2, 2), (1, 2), 1)          a view of x's storage (ops/strided.py)
    x.storage_offset(), x.untyped_storage().nbytes()
    x.resize_(4, 5)                              keeps the first elements, grows uninitialised
    y.set_(x); y.is_set_to(x)                    y now views x's memory: True

A tensor's storage is the memory of the array its array is a view of (ops/strided.py's module
doc). Set on Tensor at import, at the bottom of this file (tensor.py stays thin).

Where tinygen differs: a NumPy array cannot grow in place, so a resize_ past the storage's end
moves the tensor to new memory that its other views do not follow (in PyTorch the storage itself
grows, and every tensor on it sees the new memory).
"""
from __future__ import annotations

import math
import operator
import warnings

import numpy as np

from .autograd import function as _fn
from .autograd.capture import tracer
from .autograd.grad_mode import GRAD
from .backend.device import get_xp, to_host
from .legacy import channels_last, channels_last_3d, contiguous_format
from .ops import shape as _shape
from .ops.convert import clone
from .ops.inplace import _reshape_in_place
from .ops.strided import (AsStrided, as_pytorch_holds, as_strided, as_strided_scatter,
                          check_geometry, checked_region, geometry, storage_of, storage_offset,
                          storage_view)
from .tensor import Tensor


def _check_tensor(op, name, value, position=1):
    if not isinstance(value, Tensor):
        raise TypeError(f"{op}(): argument '{name}' (position {position}) must be Tensor, not "
                        f"{type(value).__name__}")


def _rebind(t, data):
    """t now holds array `data` (a step being captured learns of it, as for squeeze_)."""
    t._data = data
    if _fn.CAPTURE[0] is not None:
        tr = tracer()
        if tr is not None:
            tr.rebind(t, data)


# ---- as_strided's other forms --------------------------------------------------------------------
def as_strided_(input, size, stride, storage_offset=None):
    """input becomes as_strided(input, size, stride, storage_offset), in place (its version
    bumped, as PyTorch's); a leaf that requires grad is refused outside no_grad."""
    size, stride, offset = checked_region("as_strided_", input, size, stride, storage_offset)
    _reshape_in_place(input, lambda t: AsStrided.apply(t, size, stride, offset))
    input._version[0] += 1
    return input


def as_strided_copy(input, size, stride, storage_offset=None):
    """as_strided(input, ...) in new, contiguous memory (differentiable as the view is)."""
    _check_tensor("as_strided_copy", "input", input)
    return clone(as_strided(input, size, stride, storage_offset))


# ---- the storage ---------------------------------------------------------------------------------
class UntypedStorage:
    """The bytes a tensor views (PyTorch's UntypedStorage, the calls code makes of it): nbytes(),
    size() and len() (bytes), data_ptr(), element_size() (1), device, tolist() (the bytes).
    Two tensors on one storage give equal data_ptr()s. A snapshot: it does not follow a later
    resize_ or set_ of the tensor, and it cannot be resized itself."""

    def __init__(self, root, low, nbytes, device):
        self._root, self._low, self._nbytes, self.device = root, low, nbytes, device

    def nbytes(self):
        return self._nbytes

    size = nbytes

    def __len__(self):
        return self._nbytes

    def data_ptr(self):
        return self._low

    def element_size(self):
        return 1

    @property
    def is_cuda(self):
        return self.device.type == "cuda"

    def tolist(self):
        data = storage_view(self._root, self._root, self._low, (self._nbytes,), (1,), 0,
                            dtype=np.uint8)
        return to_host(data).tolist()

    def __repr__(self):
        return f"tinygen.UntypedStorage(nbytes={self._nbytes}, device='{self.device}')"


def untyped_storage(input):
    """The storage input views (see UntypedStorage)."""
    root, low, nbytes = storage_of(input._data)
    return UntypedStorage(root, low, nbytes, input.device)


def is_set_to(input, tensor):
    """Whether both view the same storage with the same offset, sizes and strides."""
    _check_tensor("is_set_to", "tensor", tensor)
    a, b = input._data, tensor._data
    if a.itemsize != b.itemsize or type(a) is not type(b):
        return False
    root_a, low_a, _ = storage_of(a)
    root_b, low_b, _ = storage_of(b)
    return root_a is root_b and geometry(a, low_a) == geometry(b, low_b)


def const_data_ptr(input):
    """The address of input's first element, as data_ptr() (PyTorch's promise not to write
    through it is the caller's to keep)."""
    return input.data_ptr()


# ---- set_ ----------------------------------------------------------------------------------------
def _check_set_grad(input, source):
    """set_ records no gradient (PyTorch's grad_fn for it raises in backward): refused where
    one would be needed, so it is used under no_grad or on tensors outside the graph."""
    if not GRAD.enabled:
        return
    if input._requires_grad and input._grad_fn is None:
        raise RuntimeError(f"set_: a leaf Variable that requires grad (shape "
                           f"{tuple(input.shape)}) is being used in an in-place operation; "
                           f"wrap it in `with tg.no_grad():`")
    if input._requires_grad or (isinstance(source, Tensor) and source._requires_grad):
        raise RuntimeError("set_: tinygen records no gradient through set_ (PyTorch's would "
                           "raise in backward): call it under no_grad, or on detach()ed tensors")


def _set_source(op, input, source, storage_offset, size, stride):
    """The array input will hold after set_(source, ...)."""
    data = input._data
    if source is None:
        return get_xp(input.device).empty((0,), dtype=data.dtype)
    if isinstance(source, Tensor):
        if source._data.dtype != data.dtype:
            raise RuntimeError(f"{op}: Could not set tensor of type {source.dtype} to a tensor "
                               f"of type {input.dtype}")
        if source.device != input.device:
            raise RuntimeError(f"{op}: expected source on {input.device}, got {source.device}")
        return source._data
    if not isinstance(source, UntypedStorage):
        raise TypeError(f"{op}(): argument 'source' must be Tensor or UntypedStorage, not "
                        f"{type(source).__name__}")
    item = data.itemsize
    offset = operator.index(storage_offset)
    size = (source.nbytes() // item - offset,) if size is None else tuple(size)
    stride = _contiguous_strides(size) if stride is None else tuple(stride)
    check_geometry(op, size, stride, offset, item, source.nbytes())
    return storage_view(data, source._root, source._low, size, stride, offset)


def set_(input, source=None, storage_offset=0, size=None, stride=None):
    """input views source's memory: a Tensor's (same dtype: its storage, offset, size and
    stride), or an UntypedStorage's with storage_offset, size (default: all of it) and stride
    (default: contiguous); with no source, a new empty storage. Version bumped; refused where a
    gradient would have to flow (see _check_set_grad)."""
    _check_set_grad(input, source)
    _rebind(input, _set_source("set_", input, source, storage_offset, size, stride))
    input._version[0] += 1
    return input


# ---- resize --------------------------------------------------------------------------------------
def _contiguous_strides(size, order=None):
    """Strides (in elements) of a dense tensor of size whose dims, outermost first, are in
    `order` (default: row-major)."""
    order = range(len(size)) if order is None else order
    strides, step = [0] * len(size), 1
    for d in reversed(tuple(order)):
        strides[d] = step
        step *= max(size[d], 1)
    return tuple(strides)


def _resize_size(op, sizes):
    """resize_'s varargs (2, 3) or one sequence ((2, 3), [2, 3], a shape) -> a tuple of ints."""
    if not sizes:
        raise TypeError(f'{op}() missing 1 required positional arguments: "size"')
    if len(sizes) == 1 and isinstance(sizes[0], (tuple, list)):
        sizes = tuple(sizes[0])
    out = []
    for s in sizes:
        if isinstance(s, bool) or not hasattr(s, "__index__"):
            raise TypeError(f"{op}(): argument 'size' (position 1) must be tuple of ints, not "
                            f"{type(s).__name__}")
        out.append(operator.index(s))
    if any(s < 0 for s in out):
        raise RuntimeError(f"{op}: Trying to create tensor with negative dimension: {out}")
    return tuple(out)


_FORMAT_ORDERS = {4: (0, 2, 3, 1), 5: (0, 2, 3, 4, 1)}


def _layout_order(op, size, memory_format):
    """The dim order (outermost first) of memory_format for a tensor of size."""
    if memory_format is None or memory_format is contiguous_format:
        return None
    if memory_format in (channels_last, channels_last_3d):
        ndim = 4 if memory_format is channels_last else 5
        if len(size) != ndim:
            raise RuntimeError(f"{op}: required rank {ndim} tensor to use {memory_format} "
                               f"format, got size {list(size)}")
        return _FORMAT_ORDERS[ndim]
    raise RuntimeError(f"{op}: unsupported memory format option {memory_format}")


def resize_(input, *sizes, memory_format=None):
    """input takes size, in place: its storage read from its offset with contiguous strides
    (or memory_format's), so the first elements (in storage order) keep their values; past the
    storage's end, new memory holds a copy of the old storage and uninitialised values after it.
    The same size changes nothing. Refused on a tensor that requires grad, as PyTorch.
    Version bumped. (See the module doc for how other views see a grown storage.)"""
    op = "resize_"
    size = _resize_size(op, sizes)
    if input._requires_grad:
        raise RuntimeError(f"{op}: cannot resize variables that require grad (shape "
                           f"{tuple(input.shape)} to {list(size)})")
    order = _layout_order(op, size, memory_format)
    data = input._data
    if size == data.shape and order is None:
        return input
    data = as_pytorch_holds(data, get_xp(input.device))    # (a flipped tensor: its copy)
    root, low, nbytes = storage_of(data)
    offset, item = geometry(data, low)[2], data.itemsize
    if (offset + math.prod(size)) * item > nbytes:
        grown = get_xp(input.device).empty((offset + math.prod(size),), dtype=data.dtype)
        new_low = _address_of(grown)
        storage_view(grown, grown, new_low, (nbytes,), (1,), 0, dtype=np.uint8)[...] = \
            storage_view(data, root, low, (nbytes,), (1,), 0, dtype=np.uint8)
        root, low = grown, new_low
    _rebind(input, storage_view(data, root, low, size, _contiguous_strides(size, order), offset))
    input._version[0] += 1
    return input


def _address_of(array):
    _, low, _ = storage_of(array)
    return low


def resize_as_(input, the_template, memory_format=None):
    """resize_(input, the_template's size) (its dtype is not taken)."""
    _check_tensor("resize_as_", "the_template", the_template)
    return resize_(input, tuple(the_template.shape), memory_format=memory_format)


def resize(input, *sizes):
    """input with another shape of the same number of elements (deprecated in PyTorch, which
    warns): a view when input is contiguous, else a copy; differentiable as reshape."""
    warnings.warn("non-inplace resize is deprecated", UserWarning, stacklevel=2)
    return _resize_out_of_place(input, _resize_size("resize", sizes))


def resize_as(input, tensor):
    """resize(input, tensor's size) (deprecated in PyTorch, which warns)."""
    warnings.warn("non-inplace resize_as is deprecated", UserWarning, stacklevel=2)
    _check_tensor("resize_as", "tensor", tensor)
    return _resize_out_of_place(input, tuple(tensor.shape))


def _resize_out_of_place(input, size):
    if math.prod(size) != input.numel():
        raise RuntimeError(
            f"requested resize to {'x'.join(map(str, size))} ({math.prod(size)} elements in "
            f"total), but the given tensor has a size of {'x'.join(map(str, input.shape))} "
            f"({input.numel()} elements). autograd's resize can only change the shape of a "
            f"given tensor, while preserving the number of elements. ")
    return _shape.Reshape.apply(_shape.contiguous(input), size)


Tensor.as_strided, Tensor.as_strided_ = as_strided, as_strided_
Tensor.as_strided_scatter = as_strided_scatter
Tensor.storage_offset, Tensor.untyped_storage = storage_offset, untyped_storage
Tensor.is_set_to, Tensor.const_data_ptr, Tensor.set_ = is_set_to, const_data_ptr, set_
Tensor.resize_, Tensor.resize_as_ = resize_, resize_as_
Tensor.resize, Tensor.resize_as = resize, resize_as
