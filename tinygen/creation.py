"""Creation functions of `import tinygen as tg`: new leaf tensors from data, constants, ranges
and random draws, with PyTorch's signatures (`*size` or a tuple, dtype, device, requires_grad).

Python floats become float32 (the default dtype), Python ints int64; NumPy arrays keep their
dtype. Random draws come from tinygen's seeded generator for the device (tg.manual_seed).
"""
from __future__ import annotations

import builtins

import numpy as np

from .autograd import capture as _capture, function as _function
from .backend import dtypes as _dt
from .backend.device import get_xp
from .ops.args import shape_arg
from .ops.convert import as_array
from .ops.random import random_array
from .tensor import Tensor

_make = Tensor._make


def _leaf(arr, requires_grad):
    if _function.CAPTURE[0] is not None:        # zeros, arange...: a constant of a captured step
        _capture.made(arr, constant=True)        # (random draws are recorded where they are made)
    t = _make(arr, None, 0, False)
    if requires_grad:
        t.requires_grad = True
    return t


def tensor(data, dtype=None, device=None, requires_grad=False):
    """A new leaf tensor copying `data` (lists, numbers, NumPy arrays, tensors)."""
    return Tensor(data, dtype=dtype, device=device, requires_grad=requires_grad)


def from_numpy(arr):
    """A tensor sharing memory with the NumPy array `arr` (dtype kept)."""
    if type(arr) is not np.ndarray:
        raise TypeError(f"from_numpy: expected a numpy.ndarray, got {type(arr).__name__}")
    if _function.CAPTURE[0] is not None:
        _capture.made(arr, constant=False)
    return _make(arr, None, 0, False)


def as_tensor(data, dtype=None, device=None):
    """data itself when it is already a tensor of that dtype and device (a NumPy array of that
    dtype is shared, as from_numpy); else a copy, as tensor()."""
    if isinstance(data, Tensor) and dtype is None and device is None:
        return data
    if type(data) is np.ndarray and device is None and (
            dtype is None or _dt.to_np_dtype(dtype) == data.dtype):
        return from_numpy(data)
    return tensor(data, dtype, device)


def _filled(fill, size, dtype, device, requires_grad):
    npd = _dt.to_np_dtype(dtype) or _dt.get_default_dtype().np
    xp = get_xp(device) if device is not None else np
    return _leaf(fill(xp, shape_arg(size), npd), requires_grad)


def zeros(*size, dtype=None, device=None, requires_grad=False):
    return _filled(lambda xp, s, d: xp.zeros(s, d), size, dtype, device, requires_grad)


def ones(*size, dtype=None, device=None, requires_grad=False):
    return _filled(lambda xp, s, d: xp.ones(s, d), size, dtype, device, requires_grad)


def empty(*size, dtype=None, device=None, requires_grad=False):
    return _filled(lambda xp, s, d: xp.empty(s, d), size, dtype, device, requires_grad)


def full(size, fill_value, dtype=None, device=None, requires_grad=False):
    """A tensor of `size` filled with fill_value; its dtype follows the value (bool, int64, or
    the default float) unless given."""
    if dtype is None:
        dtype = (_dt.bool_ if isinstance(fill_value, bool) else
                 _dt.int64 if isinstance(fill_value, int) else _dt.get_default_dtype())
    return _filled(lambda xp, s, d: xp.full(s, fill_value, d), (tuple(size),), dtype, device,
                   requires_grad)


def zeros_like(input, dtype=None, device=None, requires_grad=False):
    return zeros(input.shape, dtype=dtype or input.dtype, device=device or input.device,
                 requires_grad=requires_grad)


def ones_like(input, dtype=None, device=None, requires_grad=False):
    return ones(input.shape, dtype=dtype or input.dtype, device=device or input.device,
                requires_grad=requires_grad)


def empty_like(input, dtype=None, device=None, requires_grad=False):
    return empty(input.shape, dtype=dtype or input.dtype, device=device or input.device,
                 requires_grad=requires_grad)


def full_like(input, fill_value, dtype=None, device=None, requires_grad=False):
    return full(input.shape, fill_value, dtype=dtype or input.dtype,
                device=device or input.device, requires_grad=requires_grad)


def arange(start, end=None, step=1, dtype=None, device=None, requires_grad=False):
    """start, start + step, ... < end; int64 when all three are ints, else the default float."""
    if end is None:
        start, end = 0, start
    if dtype is None:
        is_int = builtins.all(isinstance(v, (int, np.integer)) for v in (start, end, step))
        dtype = _dt.int64 if is_int else _dt.get_default_dtype()
    xp = get_xp(device) if device is not None else np
    return _leaf(xp.arange(start, end, step).astype(_dt.to_np_dtype(dtype)), requires_grad)


def linspace(start, end, steps, dtype=None, device=None, requires_grad=False):
    xp = get_xp(device) if device is not None else np
    npd = _dt.to_np_dtype(dtype) or _dt.get_default_dtype().np
    return _leaf(xp.linspace(start, end, int(steps)).astype(npd), requires_grad)


def logspace(start, end, steps, base=10.0, dtype=None, device=None, requires_grad=False):
    """base ** linspace(start, end, steps)."""
    xp = get_xp(device) if device is not None else np
    npd = _dt.to_np_dtype(dtype) or _dt.get_default_dtype().np
    return _leaf(xp.logspace(start, end, int(steps), base=base).astype(npd), requires_grad)


def scalar_tensor(s, dtype=None, device=None, requires_grad=False):
    """A 0-d tensor holding the number s (the default float dtype unless given)."""
    return full((), s, dtype=dtype or _dt.get_default_dtype(), device=device,
                requires_grad=requires_grad)


def _triangle_indices(row, col, offset, upper, dtype, device):
    rows, cols = (np.triu_indices if upper else np.tril_indices)(row, offset, col)
    xp = get_xp(device) if device is not None else np
    npd = _dt.to_np_dtype(dtype) or np.dtype(np.int64)
    return _leaf(xp.asarray(np.stack([rows, cols]).astype(npd)), False)


def tril_indices(row, col, offset=0, dtype=None, device=None):
    """(2, N) int64: the row and column indices of the lower triangle of a row x col matrix
    (diagonal `offset` included), row by row."""
    return _triangle_indices(row, col, offset, False, dtype, device)


def triu_indices(row, col, offset=0, dtype=None, device=None):
    return _triangle_indices(row, col, offset, True, dtype, device)


def eye(n, m=None, dtype=None, device=None, requires_grad=False):
    xp = get_xp(device) if device is not None else np
    npd = _dt.to_np_dtype(dtype) or _dt.get_default_dtype().np
    return _leaf(xp.eye(n, m, dtype=npd), requires_grad)


def rand(*size, dtype=None, device=None, requires_grad=False):
    """U[0, 1) draws."""
    return _leaf(random_array("uniform", shape_arg(size), dtype, device), requires_grad)


def randn(*size, dtype=None, device=None, requires_grad=False):
    """N(0, 1) draws."""
    return _leaf(random_array("normal", shape_arg(size), dtype, device), requires_grad)


def randint(low, high=None, size=None, dtype=None, device=None, generator=None):
    """Integers in [low, high) (int64 unless dtype); randint(high, size=...) starts at 0.
    generator: a tg.Generator (then the draws are PyTorch's for the same seed)."""
    if high is None:
        low, high = 0, low
    if size is None:
        raise TypeError("randint: size is required")
    if generator is not None:
        count = int(np.prod(tuple(size), dtype=np.int64))
        values = generator.randint(low, high, count).reshape(tuple(size))
        return _from_generator(values, dtype, device)
    return _leaf(random_array("integers", tuple(size), dtype, device, low, high), False)


def randperm(n, dtype=None, device=None, generator=None):
    """A random permutation of 0..n-1 (int64 unless dtype). generator: a tg.Generator (then the
    permutation is PyTorch's for the same seed)."""
    if generator is not None:
        return _from_generator(generator.randperm(n), dtype, device)
    return _leaf(random_array("permutation", (n,), dtype, device, high=n), False)


def _from_generator(values, dtype, device):
    """int64 NumPy draws of a tg.Generator (CPU) as a Tensor of dtype on device."""
    npd = _dt.to_np_dtype(dtype) or np.int64
    if _function.CAPTURE[0] is not None:
        _capture.note("the step draws from a tg.Generator (generator=...)")
    tensor = Tensor._make(values.astype(npd, copy=False), None, 0, False)
    return tensor if device is None else tensor.to(device)


def rand_like(input, dtype=None, device=None, requires_grad=False):
    return rand(input.shape, dtype=dtype or input.dtype, device=device or input.device,
                requires_grad=requires_grad)


def randn_like(input, dtype=None, device=None, requires_grad=False):
    return randn(input.shape, dtype=dtype or input.dtype, device=device or input.device,
                 requires_grad=requires_grad)


def randint_like(input, low=0, high=None, dtype=None, device=None):
    """Integers in [low, high) with input's shape (and dtype unless given);
    randint_like(x, high) starts at 0."""
    if high is None:
        low, high = 0, low
    return randint(low, high, tuple(input.shape), dtype=dtype or input.dtype,
                   device=device or input.device)


def normal(mean, std=1.0, size=None, dtype=None, device=None, generator=None):
    """N(mean, std^2) draws: mean and std numbers (then size is required) or tensors (broadcast
    together: the result has their shape). Tensor means and stds are treated as constants."""
    tensors = [v for v in (mean, std) if isinstance(v, Tensor)]
    if not tensors:
        if size is None:
            raise TypeError("normal: size is required when mean and std are numbers")
        return randn(size, dtype=dtype, device=device) * std + mean
    shape = np.broadcast_shapes(*[tuple(v.shape) for v in tensors])
    like = tensors[0]
    noise = randn(shape, dtype=dtype or like.dtype, device=device or like.device)
    return (noise * std + mean).detach()


__all__ = ["tensor", "from_numpy", "as_tensor", "zeros", "ones", "empty", "full", "zeros_like",
           "ones_like", "empty_like", "full_like", "arange", "linspace", "eye", "rand", "randn",
           "randint", "randperm", "rand_like", "randn_like", "normal", "logspace", "scalar_tensor",
           "tril_indices", "triu_indices", "randint_like"]
