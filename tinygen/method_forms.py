"""torch.* function forms of Tensor methods and queries that tinygen's top level lacked:

    tg.get_device(x)                               -1 on the CPU, else the GPU's index
    tg.index_put_(x, (rows, cols), values)         x[rows, cols] = values, in place
    tg.nonzero_static(x, size=4)                   nonzero(x) padded / cut to `size` rows
    tg.is_storage(obj)                             whether obj is an UntypedStorage

Tensor.nonzero_static is set on Tensor at the bottom of this file (tensor.py stays thin).
"""
from __future__ import annotations

import numbers

from .autograd.function import wrap
from .backend import dtypes as _dt
from .ops.convert import get_device as _get_device
from .strided_views import UntypedStorage
from .tensor import Tensor


def _check_tensor(op, name, value, position=1):
    if not isinstance(value, Tensor):
        raise TypeError(f"{op}(): argument '{name}' (position {position}) must be Tensor, not "
                        f"{type(value).__name__}")


def get_device(input):
    """-1 for a CPU tensor, else the index of its GPU (Tensor.get_device)."""
    _check_tensor("get_device", "input", input)
    return _get_device(input)


def is_storage(obj):
    """Whether obj is a storage object: tinygen's UntypedStorage (Tensor.untyped_storage();
    tinygen has no TypedStorage)."""
    return isinstance(obj, UntypedStorage)


def index_put_(input, indices, values, accumulate=False):
    """input[indices] = values (accumulate: +=), in place; returns input: Tensor.index_put_,
    whose checks are PyTorch's (ops/scatter.py's index_put), with values a Tensor here, as
    torch.index_put_ takes it."""
    _check_tensor("index_put_", "input", input)
    _check_tensor("index_put_", "values", values, 3)
    return input.index_put_(indices, values, accumulate)


def nonzero_static(input, *, size, fill_value=-1):
    """The indices of input's nonzero elements, (size, input.ndim) int64, in nonzero()'s order:
    cut to the first `size`, or padded with rows of fill_value. A fixed shape whatever the data
    (for compiled graphs, in PyTorch)."""
    op = "nonzero_static"
    _check_tensor(op, "input", input)
    if isinstance(size, bool) or not isinstance(size, numbers.Integral) or size < 0:
        raise RuntimeError(f"{op}: 'size' must be an non-negative integer, got {size!r}")
    data = input._data
    xp = input.device.xp
    found = xp.argwhere(data) if data.ndim else xp.zeros((int(bool(data)), 0), xp.int64)
    out = xp.full((int(size), data.ndim), fill_value, dtype=_dt.int64.np)
    count = min(int(size), found.shape[0])
    out[:count] = found[:count]
    return wrap(out)


Tensor.nonzero_static = nonzero_static
