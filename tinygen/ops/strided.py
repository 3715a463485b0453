"""Storage geometry: as_strided and its scatter, over the memory a tensor shares with its views.

    y = x.as_strided((2, 2), (1, 2), 1)      # y[i, j] is storage[1 + i + 2 j]
    x.storage_offset()                       # where x starts in that storage, in elements

A tinygen tensor wraps a NumPy (or CuPy) array; a view's array is a view of another, down to the
array that owns the memory (`.base`, through NumPy's stride_tricks wrapper). That owner's memory
is the tensor's *storage* (PyTorch's UntypedStorage): a tensor's storage offset is its distance
from the storage's lowest address, in elements of its dtype. A geometry is (size, stride, offset)
in elements, relative to one storage.

Where tinygen differs: flip is a view in tinygen (a negative stride) and a copy in PyTorch. A
tensor with a negative stride therefore stands, for the storage offset and as_strided, for the
contiguous copy PyTorch would hold: storage offset 0, and as_strided views such a copy (whose
writes do not reach the flipped tensor's memory). untyped_storage() still reports the memory it
views.

as_strided's gradient is PyTorch's as_strided_backward: the output's gradient is summed into a
zero buffer spanning both geometries (by the output's geometry, so elements the output reads
twice add up), divided where the *input* reads one place more than once (its elements share
that place's gradient equally), and read back by the input's geometry. That is one op,
StridedRegather (scatter by one geometry, read by another), whose adjoint is itself with the two
geometries swapped: double backward needs nothing more.
"""
from __future__ import annotations

import math

import numpy as np

from ..autograd.function import Function, wrap
from ..backend.device import array_module


# ---- storage: the owner's memory ---------------------------------------------------------------
def _is_array(obj):
    return hasattr(obj, "strides") and hasattr(obj, "dtype")


def _address(a):
    """The byte address of a's element [0, ..., 0] (a NumPy, test-device or CuPy array)."""
    if isinstance(a, np.ndarray):
        return a.__array_interface__["data"][0]
    return a.data.ptr


def owner(a):
    """The array at the bottom of a's chain of views, whose memory they all share. (NumPy's
    as_strided puts a small wrapper, not an array, between a view and its base: walked through.)"""
    while True:
        base = a.base
        if not _is_array(base):
            inner = getattr(base, "base", None)
            if not (_is_array(inner) and hasattr(base, "__array_interface__")):
                return a
            base = inner
        a = base


def _extent(a):
    """(lowest address, highest address + 1) of the bytes a's elements occupy."""
    start = _address(a)
    if a.size == 0:
        return start, start
    low = high = start
    for n, s in zip(a.shape, a.strides):
        if s < 0:
            low += (n - 1) * s
        else:
            high += (n - 1) * s
    return low, high + a.itemsize


def storage_of(a):
    """(owner array, lowest byte address, size in bytes) of the storage a views."""
    root = owner(a)
    low, high = _extent(root)
    if a.size:                              # (a view never reaches past its owner; kept safe)
        a_low, a_high = _extent(a)
        low, high = min(low, a_low), max(high, a_high)
    return root, low, high - low


def as_pytorch_holds(a, xp):
    """a, or, where a has a negative stride (tinygen's flip), the contiguous copy PyTorch's flip
    would have made (see the module doc)."""
    if any(s < 0 for s in a.strides):
        return xp.ascontiguousarray(a)
    return a


def geometry(a, low):
    """a's (size, stride, offset) in elements, relative to a storage starting at byte `low`."""
    item = a.itemsize
    return (tuple(a.shape), tuple(s // item for s in a.strides), (_address(a) - low) // item)


class _Memory:
    """What NumPy's asarray reads a view from: an array interface, and the owner it keeps alive
    (NumPy's own as_strided does the same with its DummyArray)."""

    def __init__(self, interface, base):
        self.__array_interface__ = interface
        self.base = base


def storage_view(like, root, low, size, stride, offset, dtype=None):
    """An array of like's type and dtype (or `dtype`) over the storage of `root` starting at byte
    `low`: size, stride and offset in elements. The caller checks the bounds (check_geometry)."""
    dtype = like.dtype if dtype is None else np.dtype(dtype)
    item = dtype.itemsize
    start = low + offset * item
    byte_strides = tuple(s * item for s in stride)
    if isinstance(like, np.ndarray):
        interface = {"data": (start, not root.flags.writeable), "shape": tuple(size),
                     "strides": byte_strides, "typestr": f"|V{item}", "version": 3}
        out = np.asarray(_Memory(interface, root)).view(dtype)   # (a same-size view: any strides)
        return out if type(like) is np.ndarray else out.view(type(like))
    xp = array_module(like)                                      # CuPy: a pointer into root
    return xp.ndarray(tuple(size), dtype, memptr=root.data + (start - _address(root)),
                      strides=byte_strides)


def check_geometry(op, size, stride, offset, itemsize, nbytes):
    """PyTorch's checks of a geometry against a storage of nbytes: one stride per dim, no
    negative size, stride or offset, and every element inside the storage."""
    if len(size) != len(stride):
        raise RuntimeError(f"{op}: mismatch in length of strides and shape: size {list(size)} "
                           f"({len(size)} dims), stride {list(stride)} ({len(stride)} dims)")
    if any(n < 0 for n in size):
        raise RuntimeError(f"{op}: Trying to create tensor with negative dimension: sizes "
                           f"{list(size)}")
    if any(s < 0 for s in stride):
        raise RuntimeError(f"{op}: Negative strides are not supported at the moment, got "
                           f"strides: {list(stride)}")
    if offset < 0:
        raise RuntimeError(f"{op}: invalid storage offset {offset} (must be >= 0)")
    needed = 0 if math.prod(size) == 0 else \
        (offset + 1 + sum((n - 1) * s for n, s in zip(size, stride))) * itemsize
    if needed > nbytes:
        raise RuntimeError(f"{op}: setStorage: sizes {list(size)}, strides {list(stride)}, "
                           f"storage offset {offset}, and itemsize {itemsize} requiring a "
                           f"storage size of {needed} are out of bounds for storage of size "
                           f"{nbytes}")


def int_tuple(op, name, value, position):
    """A size or stride argument: a tuple or list of ints (an int alone is refused, as PyTorch)."""
    if not isinstance(value, (tuple, list)):
        raise TypeError(f"{op}(): argument '{name}' (position {position}) must be tuple of ints, "
                        f"not {type(value).__name__}")
    return tuple(int(v) for v in value)


def may_overlap(size, stride):
    """Whether two elements of the geometry may share a place (PyTorch's
    _maybe_overlapping_memory): sorted by stride, each stride must pass the reach of the smaller."""
    reach = 0
    for s, n in sorted((abs(s), n) for n, s in zip(size, stride) if n > 1):
        if s <= reach:
            return True
        reach += s * (n - 1)
    return False


def _indices(xp, size, stride, offset):
    """The storage index of each element of a geometry: an int64 array of shape size."""
    idx = xp.full(tuple(size), offset, dtype=np.int64)
    for d, (n, s) in enumerate(zip(size, stride)):
        step = [1] * len(size)
        step[d] = n
        idx = idx + (xp.arange(n, dtype=np.int64) * s).reshape(step)
    return idx


# ---- the ops -------------------------------------------------------------------------------------
class StridedRegather(Function):
    """g (shaped as the `source` geometry) summed into a zero buffer by source's indices, divided
    where the `count` geometry reads one place more than once, and read out by the `target`
    geometry: as_strided's gradient (source: the output's geometry, target and count: the
    input's). Linear in g; its adjoint swaps source and target and keeps count."""

    def forward(self, g, source, target, count):
        self.geometries = (source, target, count)
        xp = self.xp
        src, dst = _indices(xp, *source), _indices(xp, *target)
        if src.size == 0 or dst.size == 0:
            return xp.zeros(target[0], dtype=g.dtype)
        low = min(int(src.min()), int(dst.min()))
        n = max(int(src.max()), int(dst.max())) - low + 1
        # bincount sums repeated places (an output that reads one place twice); in float64
        buffer = xp.bincount((src - low).ravel(), weights=g.ravel(), minlength=n)
        if may_overlap(count[0], count[1]):
            places = (_indices(xp, *count) - low).ravel()     # count is source or target
            buffer = buffer / xp.maximum(xp.bincount(places, minlength=n), 1)
        return buffer[dst - low].astype(g.dtype, copy=False)

    def backward(self, gg):
        source, target, count = self.geometries
        return StridedRegather.apply(gg, target, source, count), None, None, None


class AsStrided(Function):
    """A view of x's storage with another geometry (size, stride, offset in elements; checked
    by the caller). Backward: StridedRegather from the output's geometry to x's."""

    is_view = True

    def forward(self, x, size, stride, offset):
        x = as_pytorch_holds(x, self.xp)
        root, low, _ = storage_of(x)
        self.geometries = (geometry(x, low), (size, stride, offset))
        return storage_view(x, root, low, size, stride, offset)

    def backward(self, gy):
        inp, out = self.geometries
        return StridedRegather.apply(gy, out, inp, inp), None, None, None


class AsStridedScatter(Function):
    """A copy of x's whole storage, read with x's geometry, in which the elements of the
    `region` geometry hold src (PyTorch's clone_preserve_strides, then copy_; an x that reads a
    place twice is copied contiguous first). Gradients: src's is the output's gradient read
    through the region; x's is it with the region's elements zeroed."""

    def forward(self, x, src, size, stride, offset):
        xp = self.xp
        if _expanded(x.shape, x.strides):
            x = xp.ascontiguousarray(x)                 # (an expanded x: its own memory first)
        x = as_pytorch_holds(x, xp)
        root, low, nbytes = storage_of(x)
        flat = storage_view(x, root, low, (nbytes // x.itemsize,), (1,), 0).copy()
        place = geometry(x, low)
        out = storage_view(flat, flat, _address(flat), *place)
        storage_view(flat, flat, _address(flat), size, stride, offset)[...] = src
        self.geometries = (place, (size, stride, offset))
        return out

    def backward(self, gy):
        place, region = self.geometries
        xp = self.xp
        kept = ~xp.isin(_indices(xp, *place), _indices(xp, *region))
        grad_x = gy * wrap(kept.astype(gy._data.dtype))
        return grad_x, StridedRegather.apply(gy, place, region, place), None, None, None


# ---- the functions -----------------------------------------------------------------------------
def storage_offset(input):
    """Where input starts in its storage, in elements of its dtype (0 for a tensor with a
    negative stride: see the module doc)."""
    if any(s < 0 for s in input._data.strides):
        return 0
    _, low, _ = storage_of(input._data)
    return (_address(input._data) - low) // input._data.itemsize


def _expanded(shape, strides):
    """Whether a geometry reads one place twice through a zero stride (an expanded tensor)."""
    return any(s == 0 and n > 1 for n, s in zip(shape, strides))


def checked_region(op, input, size, stride, storage_offset_, copied=False):
    """The checked geometry (size, stride, offset) of an as_strided call on input's storage
    (copied: on the contiguous copy as_strided_scatter makes of an expanded input; one with a
    negative stride always reads such a copy)."""
    size = int_tuple(op, "size", size, 1)
    stride = int_tuple(op, "stride", stride, 2)
    data = input._data
    if copied or any(s < 0 for s in data.strides):
        own_offset, nbytes = 0, data.size * data.itemsize
    else:
        _, low, nbytes = storage_of(data)
        own_offset = geometry(data, low)[2]
    offset = own_offset if storage_offset_ is None else int(storage_offset_)
    check_geometry(op, size, stride, offset, data.itemsize, nbytes)
    return size, stride, offset


def as_strided(input, size, stride, storage_offset=None):
    """A view of input's storage: element (i, j, ...) is storage[offset + i stride[0] + ...].
    storage_offset defaults to input's own. Strides are >= 0 and every element must lie in the
    storage, as PyTorch checks. Differentiable (see the module doc); writes through the view
    reach input and every other view of the storage (except for an input with a negative
    stride, which as_strided reads as a copy: see the module doc)."""
    size, stride, offset = checked_region("as_strided", input, size, stride, storage_offset)
    return AsStrided.apply(input, size, stride, offset)


def as_strided_scatter(input, src, size, stride, storage_offset=None):
    """A copy of input with the elements as_strided(size, stride, storage_offset) would view
    replaced by src (of exactly that size; cast to input's dtype). Out of place: the result
    has input's strides and offset on a copy of input's storage, as PyTorch's.

    Where tinygen differs: input's gradient is the output's with the replaced elements zeroed
    (what finite differences give); PyTorch 2.13 returns the replaced elements' gradient
    instead (its formula fails its own gradcheck), and refuses a non-contiguous input that
    requires grad (an internal assert), which tinygen differentiates."""
    op = "as_strided_scatter"
    size, stride, offset = checked_region(op, input, size, stride, storage_offset,
                                          copied=_expanded(input.shape, input._data.strides))
    if tuple(src.shape) != size:
        raise RuntimeError(f"{op}: expected src to have a size equal to the slice of self. src "
                           f"size = {list(src.shape)}, slice size = {list(size)}")
    if _expanded(size, stride):
        raise RuntimeError(f"{op}: unsupported operation: more than one element of the "
                           f"written-to tensor refers to a single memory location (size "
                           f"{list(size)}, stride {list(stride)}). Please clone() the tensor "
                           f"before performing the operation.")
    return AsStridedScatter.apply(input, src, size, stride, offset)
