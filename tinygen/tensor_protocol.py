"""The Python protocol of Tensor beyond its operators, as PyTorch's:

    v in x                  whether any element of x equals v (a number or a tensor); else an error
    reversed(x)             x.flip(0), a tensor (a 0-d x itself)
    pickle.dumps(x)         x's whole storage, its size, stride and offset, dtype, requires_grad
    copy.copy(x)            a new tensor on the same storage (no .grad, no graph)
    copy.deepcopy(x)        a leaf only: its storage copied (strides kept), requires_grad and a
                            deep copy of its .grad; a non-leaf is a RuntimeError, as PyTorch's

Set on Tensor at import, at the bottom of this file (tensor.py stays thin).
"""
from __future__ import annotations

import copy as _copy
import numbers

import numpy as np

from .ops.strided import geometry, storage_of, storage_view
from .tensor import Tensor


def _contains(self, element):
    """`v in x`: whether any element of x equals v (a number, or a tensor broadcast against x),
    as PyTorch's; any other v is a RuntimeError, as PyTorch's."""
    if not isinstance(element, (Tensor, numbers.Number)):
        raise RuntimeError(f"Tensor.__contains__ only supports Tensor or scalar, but you passed "
                           f"in a {type(element)}.")
    return bool((self == element).any())


def _reversed(self):
    """reversed(x): x.flip(0), a tensor (a 0-d x itself), as PyTorch's."""
    return self if self.ndim == 0 else self.flip(0)


def _parts(self):
    """(storage as a 1-D array, size, stride, offset) of a CPU copy of x's geometry; a tensor
    with a negative stride (tinygen's flip) as the contiguous copy PyTorch's flip holds."""
    a = self.cpu()._data
    if any(s < 0 for s in a.strides) or type(a) is not np.ndarray:
        a = np.ascontiguousarray(a)
    root, low, nbytes = storage_of(a)
    storage = storage_view(a, root, low, (nbytes // a.itemsize,), (1,), 0)
    return (storage,) + geometry(a, low)


def _rebuild(storage, size, stride, offset, dtype_name, requires_grad):
    """The tensor pickled by _reduce_ex (dtype_name: the storage array's dtype says it)."""
    item = storage.itemsize
    data = np.lib.stride_tricks.as_strided(storage[offset:] if storage.size else storage, size,
                                           tuple(s * item for s in stride))
    t = Tensor._make(data, None, 0, False)
    if requires_grad:
        t.requires_grad = True
    return t


def _reduce_ex(self, protocol):
    return (_rebuild, _parts(self) + (self.dtype.name, self.requires_grad))


def _deepcopy(self, memo):
    if not self.is_leaf:
        raise RuntimeError("Only Tensors created explicitly by the user (graph leaves) support "
                           "the deepcopy protocol at the moment (deepcopy of a tensor with "
                           f"grad_fn {self.grad_fn})")
    if id(self) in memo:
        return memo[id(self)]
    storage, size, stride, offset = _parts(self)
    out = _rebuild(storage.copy(), size, stride, offset, self.dtype.name, self.requires_grad)
    if self.device != out.device:
        out = out.to(self.device)
    memo[id(self)] = out
    if self.grad is not None:
        out.grad = _copy.deepcopy(self.grad, memo)
    return out


Tensor.__contains__ = _contains
Tensor.__reversed__ = _reversed
Tensor.__reduce_ex__ = _reduce_ex
Tensor.__deepcopy__ = _deepcopy
