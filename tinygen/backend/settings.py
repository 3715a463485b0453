"""Process-wide switches and number facts PyTorch scripts call at their top, as torch.*:

    tg.finfo(tg.float32).eps, tg.iinfo(tg.int64).max      number formats (NumPy's, bfloat16 too)
    tg.get_num_threads(), tg.set_num_threads(n)           the CPU threads tinygen's kernels use
    tg.set_float32_matmul_precision("high")               recorded; tinygen computes float32 in
                                                          float32 (no TF32, no bfloat16 passes)
    tg.use_deterministic_algorithms(True)                 recorded; tinygen's CPU kernels give
                                                          the same bits run to run already (at
                                                          one thread count)

Threads: tinygen's CPU kernels take their thread count from BLAS's (kernels/_threads.py: a
convolution's batch chunks, a split product's rows, numba's loops), so set_num_threads sets BLAS's
threads and numba's pool (at most the pool's size, NUMBA_NUM_THREADS) and get_num_threads reads
BLAS's, as PyTorch's pair sets and reads its intra-op pool.
"""
from __future__ import annotations

import collections
import warnings

import numpy as np
from tinygen_kernels import _numba, _threads

from . import dtypes as _dtypes

finfo_result = collections.namedtuple(
    "finfo", ["bits", "eps", "max", "min", "tiny", "smallest_normal", "resolution", "dtype"])
iinfo_result = collections.namedtuple("iinfo", ["bits", "max", "min", "dtype"])

# bfloat16 without ml_dtypes installed (NumPy has no finfo for it): PyTorch's values
_BFLOAT16 = finfo_result(16, 0.0078125, 3.3895313892515355e38, -3.3895313892515355e38,
                         1.1754943508222875e-38, 1.1754943508222875e-38, 0.01, "bfloat16")
_PRECISIONS = ("highest", "high", "medium")
_state = {"matmul_precision": "highest", "deterministic": False, "warn_only": False}


def finfo(type=None):
    """The float format of `type` (default: the default dtype): bits, eps, max, min, tiny
    (= smallest_normal), resolution and the dtype's name, as torch.finfo."""
    d = _dtypes.get_default_dtype() if type is None else type
    if d is _dtypes.bfloat16:
        return _BFLOAT16
    npd = np.dtype(_dtypes.to_np_dtype(d))
    if npd.kind != "f":
        raise TypeError(f"finfo() requires a floating point input type, got {d}; use "
                        "tinygen.iinfo for integer types")
    f = np.finfo(npd)
    return finfo_result(int(f.bits), float(f.eps), float(f.max), float(f.min),
                        float(f.smallest_normal), float(f.smallest_normal),
                        10.0 ** -int(f.precision), npd.name)


def iinfo(type):
    """The integer format of `type`: bits, max, min and the dtype's name, as torch.iinfo."""
    npd = np.dtype(_dtypes.to_np_dtype(type))
    if npd.kind not in "iu":
        raise TypeError(f"iinfo() requires an integer input type, got {type}; use "
                        "tinygen.finfo for floating point types")
    i = np.iinfo(npd)
    return iinfo_result(int(i.bits), int(i.max), int(i.min), npd.name)


def get_num_threads() -> int:
    """The CPU threads tinygen's kernels use: BLAS's thread count (see the module docstring)."""
    return _threads.blas_threads()


def set_num_threads(n: int) -> None:
    """Use n CPU threads: BLAS's thread count, and numba's pool up to its size."""
    if type(n) is not int or n < 1:
        raise ValueError(f"set_num_threads: expected a positive int, got {n!r}")
    for lib in _threads._blas_controllers():
        lib.set_num_threads(n)
    if _numba.HAVE_NUMBA:
        _numba.numba.set_num_threads(min(n, _numba.numba.config.NUMBA_NUM_THREADS))


def set_float32_matmul_precision(precision: str) -> None:
    """Recorded and read back by get_float32_matmul_precision; tinygen's float32 products stay
    float32 whatever it says (PyTorch may use TF32 or bfloat16 passes for 'high' / 'medium')."""
    if precision not in _PRECISIONS:
        warnings.warn(f"{precision} is not one of 'highest', 'high', or 'medium'; the "
                      "set_float32_matmul_precision call has no effect.", UserWarning,
                      stacklevel=2)
        return
    _state["matmul_precision"] = precision


def get_float32_matmul_precision() -> str:
    return _state["matmul_precision"]


def use_deterministic_algorithms(mode: bool, *, warn_only: bool = False) -> None:
    """Recorded (are_deterministic_algorithms_enabled reads it back). tinygen's CPU kernels are
    deterministic without it at a given thread count: work is split the same way each run and
    the threads' parts are summed in a fixed order (a convolution's batch chunks in batch
    order), so nothing is switched. On CUDA the switch is not enforced either."""
    _state["deterministic"], _state["warn_only"] = bool(mode), bool(warn_only)


def are_deterministic_algorithms_enabled() -> bool:
    return _state["deterministic"]


def is_deterministic_algorithms_warn_only_enabled() -> bool:
    return _state["warn_only"]
