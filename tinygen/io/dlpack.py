"""DLPack interchange: `tg.from_dlpack(obj)` and `Tensor.__dlpack__` (in tensor.py).

Zero-copy wherever the device allows: a NumPy array, a CPU torch tensor or a CuPy array shares
its memory with the tinygen Tensor made from it, and `np.from_dlpack(t)`,
`torch.from_dlpack(t)`, `cupy.from_dlpack(t)` share a tinygen Tensor's memory, so writes through
one are seen through the other.

    t = tg.from_dlpack(torch.arange(4.0))   # shares the torch tensor's storage
    a = np.from_dlpack(t)                   # shares t's storage
"""
from __future__ import annotations

import numpy as np

from ..backend import dtypes as _dt
from ..backend.device import get_xp
from ..tensor import Tensor

# DLPack device types (dlpack.h DLDeviceType)
_CPU, _CUDA, _CUDA_HOST, _CUDA_MANAGED = 1, 2, 3, 13


def from_dlpack(ext_tensor):
    """A Tensor sharing memory with `ext_tensor`, any object with `__dlpack__` and
    `__dlpack_device__` (NumPy >= 1.22 array, torch tensor, CuPy array, JAX array, ...).

    CPU (and CUDA host) memory becomes a NumPy-backed Tensor, CUDA memory a CuPy-backed one.
    The result is a leaf that does not require grad. Tensor in, the same storage out.
    """
    if isinstance(ext_tensor, Tensor):
        return ext_tensor.detach()
    if not hasattr(ext_tensor, "__dlpack__") or not hasattr(ext_tensor, "__dlpack_device__"):
        raise TypeError(f"from_dlpack: expected an object with __dlpack__ and "
                        f"__dlpack_device__ (a NumPy array, torch tensor, CuPy array...), got "
                        f"{type(ext_tensor).__name__}")
    device_type, _ = ext_tensor.__dlpack_device__()
    device_type = int(device_type)
    if device_type in (_CPU, _CUDA_HOST):
        arr = np.from_dlpack(ext_tensor)
    elif device_type in (_CUDA, _CUDA_MANAGED):
        arr = get_xp("cuda").from_dlpack(ext_tensor)
    else:
        raise RuntimeError(f"from_dlpack: unsupported DLPack device type {device_type} "
                           "(tinygen runs on the CPU and CUDA)")
    try:
        _dt.from_np_dtype(arr.dtype)
    except TypeError:
        raise TypeError(f"from_dlpack: tinygen has no dtype for {arr.dtype} (shape "
                        f"{tuple(arr.shape)}); it supports bool, integer and float dtypes") from None
    return Tensor._make(arr, None, 0, False)
