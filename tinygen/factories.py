"""More of torch's tensor factories: asarray, frombuffer, empty_strided, empty_permuted, the
deprecated range, binomial draws and histogramdd.

    tg.asarray(numpy_array)              shares the array's memory (as from_numpy), like PyTorch
    tg.asarray(x, dtype=tg.float64)      a copy only where needed (copy=None), never (copy=False:
                                         an error if needed) or always (copy=True)
    tg.frombuffer(bytearray(8), dtype=tg.int32)      a 1-D tensor over the buffer's memory
    tg.range(1, 4)                       [1., 2., 3., 4.]: end included, a UserWarning (deprecated)
    tg.binomial(count, prob)             Binomial(count, prob) draws from tinygen's generator
    tg.histogramdd(points, bins=[4, 4])  (hist, bin_edges) of (*, D) points
    tg.empty_permuted((N, C, H, W), (0, 2, 3, 1))    channels last in memory: strides
                                         (H W C, 1, W C, C), an empty array permuted (NumPy's
                                         arrays hold any strides)
"""
from __future__ import annotations

import builtins
import collections
import math
import numbers
import warnings

import numpy as np

from . import creation as _creation
from . import legacy_methods as _legacy
from .backend import dtypes as _dt
from .backend.device import Device, get_xp, to_device
from .backend.random import Generator, generator as _device_generator
from .ops.convert import type_name
from .tensor import Tensor

histogramdd_result = collections.namedtuple("histogramdd", ["hist", "bin_edges"])


# ---- asarray -------------------------------------------------------------------------------------
def asarray(obj, *, dtype=None, device=None, copy=None, requires_grad=None):
    """obj as a tensor, sharing its memory where it can, as torch.asarray.

    obj: a tinygen tensor, a NumPy array or scalar, an object with the buffer protocol (bytes,
    bytearray, memoryview: read as `dtype`, default the default float dtype), or Python numbers
    and nested sequences. copy=None copies only where dtype or device differ; copy=False raises
    ValueError where a copy is needed (always for Python sequences); copy=True always copies (a
    tensor's copy stays in its graph, as clone / to do).

    requires_grad: None keeps the flag of a tensor (alias or copy); True or False sets it, as
    PyTorch: on the aliased leaf itself (obj.requires_grad_), and by detaching a result that is
    in a graph. Where tinygen differs: PyTorch's warning about the changed default of
    requires_grad (None now keeps obj's flag) is not given.
    """
    if isinstance(obj, Tensor):
        return _asarray_tensor(obj, dtype, device, copy, requires_grad)
    if type(obj) is np.ndarray:
        out = _asarray_numpy(obj, dtype, device, copy)
    elif isinstance(obj, (bytes, bytearray, memoryview)):
        out = frombuffer(obj, dtype=dtype or _dt.get_default_dtype())
        out = out.clone() if copy else out
        out = out if device is None else out.to(device)
    else:
        if copy is False:
            raise ValueError(f"asarray: can't alias arbitrary sequence into a tensor (got "
                             f"{type(obj).__name__}; copy=False needs a tensor, an array or a "
                             "buffer)")
        out = _creation.tensor(obj, dtype=dtype, device=device)
    if requires_grad:
        out.requires_grad_(True)
    return out


def _asarray_tensor(obj, dtype, device, copy, requires_grad):
    wrong_dtype = dtype is not None and _dt.to_np_dtype(dtype) != obj._data.dtype
    wrong_device = device is not None and Device(device) != obj.device
    if copy or (copy is None and (wrong_dtype or wrong_device)):
        out = obj.to(device=device, dtype=dtype)                 # a copy in obj's graph
        out = obj.clone() if out is obj else out
    elif wrong_dtype:
        raise ValueError(f"asarray: can't alias tensor with dtype {obj.dtype} into dtype "
                         f"{_dt.from_np_dtype(_dt.to_np_dtype(dtype))} (copy=False)")
    elif wrong_device:
        raise ValueError(f"asarray: can't alias tensor from device '{obj.device}' to "
                         f"'{Device(device)}' (copy=False)")
    else:
        out = obj
    if requires_grad is None or bool(requires_grad) == out.requires_grad:
        return out
    if out.is_leaf:                                              # the flag set in place
        return out.requires_grad_(bool(requires_grad))
    return out.detach()                                          # requires_grad=False


def _asarray_numpy(array, dtype, device, copy):
    npd = _dt.to_np_dtype(dtype)
    wrong_dtype = npd is not None and npd != array.dtype
    wrong_device = device is not None and Device(device) != Device("cpu")
    if copy is False and (wrong_dtype or wrong_device):
        raise ValueError(f"asarray: can't alias a NumPy array of dtype {array.dtype} into "
                         f"dtype {npd or array.dtype} on device {device or 'cpu'} (copy=False)")
    if copy or wrong_dtype or wrong_device:
        return _creation.tensor(array.copy(), dtype=dtype, device=device)
    return _creation.from_numpy(array)


# ---- memory as a tensor --------------------------------------------------------------------------
def frombuffer(buffer, *, dtype, count=-1, offset=0, requires_grad=False):
    """A 1-D tensor over the memory of an object with the buffer protocol (count elements of
    dtype from byte `offset`; count=-1: all that follow), sharing it, as torch.frombuffer.

    Where tinygen differs: a read-only buffer (bytes) gives a read-only tensor, which an
    in-place op refuses (NumPy's ValueError); PyTorch lets one write into it. Both warn."""
    op = "frombuffer"
    try:
        length = memoryview(buffer).nbytes
    except TypeError:
        raise ValueError(f"{op}: object does not implement Python buffer protocol "
                         f"({type(buffer).__name__})") from None
    npd = np.dtype(_dt.to_np_dtype(dtype))
    size = npd.itemsize
    if length <= 0 or count == 0:
        raise ValueError(f"{op}: both buffer length ({length}) and count ({count}) must not be 0")
    if not 0 <= offset < length:
        raise ValueError(f"{op}: offset ({offset} bytes) must be non-negative and no greater "
                         f"than buffer length ({length} bytes) minus 1")
    if count < 0:
        if (length - offset) % size:
            raise ValueError(f"{op}: buffer length ({length - offset} bytes) after offset "
                             f"({offset} bytes) must be a multiple of element size ({size})")
        count = (length - offset) // size
    elif offset + count * size > length:
        raise ValueError(f"{op}: requested buffer length ({count} * {size} bytes) after offset "
                         f"({offset} bytes) must not be greater than actual buffer length "
                         f"({length} bytes)")
    array = np.frombuffer(buffer, dtype=npd, count=count, offset=offset)
    if not array.flags.writeable:
        warnings.warn(f"{op}: the given buffer is not writable: the tensor shares its memory "
                      "read-only, and in-place ops on it will raise (copy the buffer, e.g. "
                      "bytearray(buffer), to write)", UserWarning, stacklevel=2)
    out = _creation.from_numpy(array)
    if requires_grad:
        out.requires_grad_(True)
    return out


def empty_strided(size, stride, *, dtype=None, layout=None, device=None, requires_grad=False,
                  pin_memory=False):
    """An uninitialised tensor of `size` with those strides (in elements), on new memory just
    large enough (Tensor.new_empty_strided's, legacy_methods.py); layout and pin_memory are
    accepted and ignored."""
    anchor = _creation.empty((0,), dtype=dtype, device=device)
    return _legacy.new_empty_strided(anchor, size, stride, requires_grad=requires_grad)


# ---- torch.range (deprecated) --------------------------------------------------------------------
_RANGE_WARNING = ("torch.range is deprecated and will be removed in a future release because its "
                  "behavior is inconsistent with Python's range builtin. Instead, use "
                  "torch.arange, which produces values in [start, end).")


def range(start, end, step=1, *, dtype=None, layout=None, device=None, requires_grad=False):
    """start, start + step, ..., up to and including end (deprecated in PyTorch, which warns the
    same UserWarning): floor((end - start) / step) + 1 values, in the default float dtype
    unless dtype (integers too), computed in float64 and then cast, as PyTorch."""
    warnings.warn(_RANGE_WARNING, UserWarning, stacklevel=2)
    start, end, step = (v.item() if isinstance(v, Tensor) else v for v in (start, end, step))
    if step == 0:
        raise RuntimeError(f"range: step must be nonzero (start {start}, end {end})")
    if (step > 0 and end < start) or (step < 0 and end > start):
        raise RuntimeError(f"range: upper bound and lower bound inconsistent with step sign "
                           f"(start {start}, end {end}, step {step})")
    npd = _dt.to_np_dtype(dtype) or _dt.get_default_dtype().np
    count = int((end - start) / step) + 1
    values = start + np.arange(count, dtype=np.float64) * step                   # (count,)
    xp = get_xp(device) if device is not None else np
    return _creation._leaf(xp.asarray(values.astype(npd)), requires_grad)


# ---- binomial draws ------------------------------------------------------------------------------
def _numpy_stream(generator):
    """A NumPy generator for draws: tinygen's stream (tg.manual_seed) or, for a tg.Generator,
    one seeded by its next 64-bit output (reproducible for its seed)."""
    if generator is None:
        return _device_generator("cpu")
    if not isinstance(generator, Generator):
        raise TypeError(f"binomial: expected generator to be a tinygen.Generator, got "
                        f"{type(generator).__name__}")
    return np.random.Generator(np.random.PCG64(int(generator.random64(1)[0])))


def binomial(count, prob, generator=None):
    """Draws from Binomial(count, prob), elementwise (count and prob broadcast), in count's
    dtype; no gradient. Float count and prob of one dtype, as PyTorch. A count below 0 draws 0,
    a prob above 1 draws count.

    Where tinygen differs: a fractional count is floored; a NaN count or prob raises (PyTorch's
    sampler does not return); the draws are not PyTorch's numbers for a seed."""
    op = "binomial"
    for name, value in (("count", count), ("prob", prob)):
        if not isinstance(value, Tensor):
            raise TypeError(f"{op}(): argument '{name}' must be Tensor, not "
                            f"{type(value).__name__}")
    if not count.dtype.is_floating_point:
        raise ValueError(f"{op}: binomial only supports floating-point dtypes for count, got: "
                         f"{type_name(count._data.dtype)}")
    if prob.dtype != count.dtype:
        raise RuntimeError(f"{op}: Found dtype {type_name(prob._data.dtype)} but expected "
                           f"{type_name(count._data.dtype)} (prob must have count's dtype)")
    counts, probs = np.broadcast_arrays(count.detach().cpu().numpy(),
                                        prob.detach().cpu().numpy())
    if np.isnan(counts).any() or np.isnan(probs).any():
        raise RuntimeError(f"{op}: count and prob must not be NaN")
    trials = np.floor(np.maximum(counts, 0)).astype(np.int64)
    draws = _numpy_stream(generator).binomial(trials, np.clip(probs, 0.0, 1.0))
    values = np.asarray(draws).astype(count._data.dtype)
    return _creation._leaf(to_device(values, count.device), False)


# ---- histogramdd ---------------------------------------------------------------------------------
def _outer_edges(op, points, dims, range):
    """(left, right) per dim: `range` (2 * D numbers), else the points' min and max (0 and 1
    when there are none); an empty span widened by 0.5 each side, as PyTorch and NumPy."""
    if range is not None:
        range = [float(v) for v in range]
        if len(range) != 2 * dims:
            raise RuntimeError(f"{op}: for a {dims}-dimensional histogram range should have "
                               f"{2 * dims} elements, but got {len(range)}")
        spans = [(range[2 * k], range[2 * k + 1]) for k in builtins.range(dims)]
    elif points.shape[0]:
        spans = list(zip(points.min(axis=0).tolist(), points.max(axis=0).tolist()))
    else:
        spans = [(0.0, 1.0)] * dims
    edges = []
    for k, (left, right) in enumerate(spans):
        if not (math.isfinite(left) and math.isfinite(right)):
            raise RuntimeError(f"{op}: dimension {k}'s range [{left}, {right}] is not finite")
        if left > right:
            raise RuntimeError(f"{op}: min should not exceed max, but got min {left:g} max "
                               f"{right:g} for dimension {k}")
        edges.append((left - 0.5, right + 0.5) if left == right else (left, right))
    return edges


def _bin_edges(op, points, bins, range):
    """The bin edges of each dim, as arrays of the points' dtype."""
    dims = points.shape[1]
    if isinstance(bins, numbers.Integral) and not isinstance(bins, bool):
        bins = [int(bins)] * dims
    bins = list(bins)
    if len(bins) != dims:
        raise RuntimeError(f"{op}: The size of bins must be equal to the innermost dimension of "
                           f"the input (got {len(bins)} bins for points of {dims} dims)")
    if all(isinstance(b, Tensor) for b in bins):
        return [b.detach().cpu().numpy().astype(points.dtype) for b in bins]
    for k, count in enumerate(bins):
        if isinstance(count, bool) or not isinstance(count, numbers.Integral) or count <= 0:
            raise RuntimeError(f"{op}: bins must be > 0, but got {count} for dimension {k}")
    outer = _outer_edges(op, points, dims, range)
    return [np.linspace(left, right, count + 1).astype(points.dtype)
            for (left, right), count in zip(outer, bins)]


def histogramdd(input, bins, *, range=None, weight=None, density=False):
    """The D-dimensional histogram of the points input (*, D): (hist of shape (bins_1, ...,
    bins_D), bin_edges: a tuple of D 1-D tensors), in input's (floating) dtype, as PyTorch.

    bins: an int (each dim), D ints, or D 1-D tensors of increasing edges. range: 2 * D numbers
    (min_1, max_1, ...), default the points' extent. weight: input.shape[:-1]. density: divide by
    the total weight and the bin volumes. Each bin holds [left, right); the last also its right
    edge. No gradient."""
    op = "histogramdd"
    if not isinstance(input, Tensor):
        raise TypeError(f"{op}(): argument 'input' must be Tensor, not {type(input).__name__}")
    if not input.dtype.is_floating_point:
        raise NotImplementedError(f'"{op}" not implemented for '
                                  f"'{type_name(input._data.dtype)}' (points must be floating)")
    if input.ndim < 2:
        raise RuntimeError(f"{op}: input tensor should have at least 2 dimensions, got shape "
                           f"{tuple(input.shape)}")
    points = input.detach().cpu().numpy().reshape(-1, input.shape[-1])       # (N, D)
    weights = None
    if weight is not None:
        if tuple(weight.shape) != tuple(input.shape[:-1]):
            raise RuntimeError(f"{op}: if weight tensor is provided it should have the same "
                               f"shape as the input tensor excluding its innermost dimension, "
                               f"but got input with shape {list(input.shape)} and weight with "
                               f"shape {list(weight.shape)}")
        weights = weight.detach().cpu().numpy().reshape(-1)                     # (N,)
    edges = _bin_edges(op, points, bins, range)
    hist, _ = np.histogramdd(points, bins=[e.astype(np.float64) for e in edges], weights=weights,
                             density=density)
    xp = get_xp(input.device)
    return histogramdd_result(
        _creation._leaf(xp.asarray(hist.astype(points.dtype)), False),
        tuple(_creation._leaf(xp.asarray(e), False) for e in edges))


def empty_permuted(size, physical_layout, *, dtype=None, layout=None, device=None,
                   requires_grad=False, pin_memory=False):
    """An uninitialised tensor of shape `size` whose dims are laid out in memory in the order
    physical_layout (outermost first): physical_layout (0, 1, ..., n - 1) is a contiguous tensor,
    and dim physical_layout[-1] has stride 1. layout and pin_memory are accepted and ignored."""
    op = "empty_permuted"
    size, order = tuple(size), tuple(physical_layout)
    if len(size) != len(order):
        raise RuntimeError(f"{op}: Number of dimensions in size does not match the length of "
                           f"the physical_layout; i.e. len(size) = {len(size)} is not equal to "
                           f"len(physical_layout) = {len(order)}")
    if sorted(order) != list(builtins.range(len(order))):
        raise RuntimeError(f"{op}: physical_layout must be a permutation of the dims "
                           f"(0, ..., {len(order) - 1}) without duplicates, got {order}")
    physical = _creation.empty(tuple(size[d] for d in order), dtype=dtype, device=device)
    logical = [0] * len(order)
    for k, d in enumerate(order):                    # logical dim d is physical dim k
        logical[d] = k
    out = physical.permute(*logical) if logical else physical
    return out.requires_grad_() if requires_grad else out
