"""Devices and the array module (`xp`) that serves each: numpy on `cpu`, cupy on `cuda`."""
from __future__ import annotations

import numpy as np

_cupy = None          # the cupy module once imported, False if import failed
_cupy_error = None


def _import_cupy():
    """Import CuPy on first use of `cuda`; remember a failure so it is reported once, clearly."""
    global _cupy, _cupy_error
    if _cupy is None:
        try:
            import cupy
            cupy.cuda.runtime.getDeviceCount()     # raises without a driver / device
            _cupy = cupy
        except Exception as e:  # ImportError, CUDARuntimeError, ...
            _cupy, _cupy_error = False, e
    return _cupy


def cuda_is_available() -> bool:
    """True when CuPy imports and sees at least one GPU; never raises."""
    cp = _import_cupy()
    if not cp:
        return False
    try:
        return cp.cuda.runtime.getDeviceCount() > 0
    except Exception:
        return False


class Device:
    """`tg.device("cpu")`, `tg.device("cuda")`, `tg.device("cuda:1")`. Compares equal to its string."""

    __slots__ = ("type", "index")
    _cache: dict = {}

    def __new__(cls, spec="cpu", index=None):
        if isinstance(spec, Device):
            return spec
        key = (spec, index)
        dev = cls._cache.get(key)
        if dev is not None:
            return dev
        if not isinstance(spec, str):
            raise TypeError(f"tg.device: expected a string like 'cpu' or 'cuda:0', got {spec!r}")
        kind, _, idx = spec.partition(":")
        if kind not in ("cpu", "cuda"):
            raise ValueError(f"tg.device: unknown device type {kind!r}; expected 'cpu' or 'cuda'")
        if idx:
            if index is not None:
                raise ValueError(f"tg.device: index given twice in {spec!r} and index={index}")
            index = int(idx)
        if kind == "cuda" and index is None:
            index = 0
        if kind == "cpu":
            index = None
        dev = object.__new__(cls)
        dev.type, dev.index = kind, index
        cls._cache[key] = dev
        return dev

    @property
    def xp(self):
        return get_xp(self)

    def __repr__(self):
        return f"device(type='{self.type}'" + (f", index={self.index})" if self.index is not None else ")")

    def __str__(self):
        return self.type if self.index is None else f"{self.type}:{self.index}"

    def __eq__(self, other):
        if isinstance(other, str):
            other = Device(other)
        return isinstance(other, Device) and self.type == other.type and self.index == other.index

    def __hash__(self):
        return hash((self.type, self.index))


device = Device
cpu = Device("cpu")


def get_xp(dev):
    """The array module for a device: numpy for cpu, cupy for cuda (imported here, lazily)."""
    dev = Device(dev)
    if dev.type == "cpu":
        return np
    cp = _import_cupy()
    if not cp:
        raise RuntimeError(
            "device 'cuda' is not available: CuPy could not be imported or sees no GPU "
            f"({_cupy_error!r}). Install the extra with: pip install 'tinygen[cuda]'")
    return cp


def array_module(arr):
    """numpy or cupy, whichever owns `arr` (numpy for Python scalars)."""
    if type(arr) is np.ndarray or _cupy is None or _cupy is False:
        return np
    return _cupy.get_array_module(arr)


def device_of(arr) -> Device:
    if type(arr) is np.ndarray:
        return cpu
    if _cupy and isinstance(arr, _cupy.ndarray):
        return Device("cuda", arr.device.id)
    return cpu
