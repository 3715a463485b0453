"""Devices and the array module (`xp`) that serves each: numpy on `cpu`, cupy on `cuda`.

A third device, `test`, exists for CI: its arrays are `TestArray`, a NumPy subclass, so they
compute like the CPU's but are a distinct type. Every op checks that its tensors share one array
type, so a tensor that training, sampling or evaluation creates on the wrong device raises on the
`test` device exactly as it would on a GPU, without a GPU. Its kernels are the NumPy references.
"""
from __future__ import annotations

import numpy as np

_cupy = None          # the cupy module once imported, False if import failed
_cupy_error = None


def _import_cupy():
    """Import CuPy on first use of `cuda`; remember a failure so it is reported once, clearly."""
    global _cupy, _cupy_error
    if _cupy is None:
        try:
            import cupy  # lazy: CuPy is optional and slow to import
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
    """`tg.device("cpu")`, `tg.device("cuda")`, `tg.device("cuda:1")` (and `"test"`, CI's device).
    Compares equal to its string."""

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
        if kind not in ("cpu", "cuda", "test"):
            raise ValueError(f"tg.device: unknown device type {kind!r}; expected 'cpu' or 'cuda'")
        if idx:
            if index is not None:
                raise ValueError(f"tg.device: index given twice in {spec!r} and index={index}")
            index = int(idx)
        if kind == "cuda" and index is None:
            index = 0
        if kind != "cuda":
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


# ---- the test device -------------------------------------------------------------------------
class TestArray(np.ndarray):
    """An array of the `test` device: NumPy's memory and math, a type of its own."""

    __test__ = False                   # not a pytest test class, whatever imports it


class _TestModule:
    """numpy for the `test` device: the same functions, with ndarray results viewed as TestArray.
    Types (np.float32...) and constants pass through; submodules (np.linalg) are wrapped too."""

    __name__ = "tinygen.test_device"
    device_type = "test"               # what Function.kernel asks the kernel table for

    def __init__(self, module=np):
        self._module = module
        self._cache = {}

    def __getattr__(self, name):
        value = self._cache.get(name)
        if value is not None:
            return value
        value = getattr(self._module, name)
        if isinstance(value, type(np)):
            value = _TestModule(value)
        elif callable(value) and not isinstance(value, type):
            value = _returning_test_arrays(value)
        self._cache[name] = value
        return value

    def asarray(self, a, dtype=None, **kwargs):
        return to_test_array(np.asarray(a, dtype=dtype, **kwargs))


def to_test_array(value):
    """ndarray results (alone or in a tuple/list) as TestArray views; anything else as it is."""
    if type(value) is np.ndarray:
        return value.view(TestArray)
    if isinstance(value, (tuple, list)):
        return type(value)(to_test_array(v) for v in value)
    return value


def _returning_test_arrays(fn):
    def wrapped(*args, **kwargs):
        return to_test_array(fn(*args, **kwargs))
    wrapped.__name__ = getattr(fn, "__name__", "function")
    return wrapped


test_xp = _TestModule()


def get_xp(dev):
    """The array module for a device: numpy for cpu, cupy for cuda (imported here, lazily)."""
    dev = Device(dev)
    if dev.type == "cpu":
        return np
    if dev.type == "test":
        return test_xp
    cp = _import_cupy()
    if not cp:
        raise RuntimeError(
            "device 'cuda' is not available: CuPy could not be imported or sees no GPU "
            f"({_cupy_error!r}). Install the extra with: pip install 'tinygen[cuda]'")
    return cp


def array_module(arr):
    """numpy, cupy or the test device's module, whichever owns `arr` (numpy for scalars)."""
    if type(arr) is np.ndarray:
        return np
    if type(arr) is TestArray:
        return test_xp
    if _cupy is None or _cupy is False:
        return np
    return _cupy.get_array_module(arr)


def device_type(xp) -> str:
    """'cpu', 'cuda' or 'test': the kernel table's name for the device an array module serves."""
    return "cpu" if xp is np else getattr(xp, "device_type", "cuda")


def device_of(arr) -> Device:
    if type(arr) is np.ndarray:
        return cpu
    if type(arr) is TestArray:
        return Device("test")
    if _cupy and isinstance(arr, _cupy.ndarray):
        return Device("cuda", arr.device.id)
    return cpu


def to_host(arr):
    """A NumPy array with arr's values: arr itself on the CPU, a copy from any other device."""
    if type(arr) is np.ndarray:
        return arr
    if type(arr) is TestArray:
        return arr.view(np.ndarray).copy()
    if hasattr(arr, "get"):                 # cupy
        return arr.get()
    return np.asarray(arr)


def to_device(arr, dev):
    """A copy of arr on device `dev` (never an alias of memory on another device)."""
    dev = Device(dev)
    if dev.type == "cpu":
        return to_host(arr)
    if dev.type == "test":
        return np.array(to_host(arr)).view(TestArray)
    xp = get_xp(dev)
    on_host = type(arr) is np.ndarray or type(arr) is TestArray
    with xp.cuda.Device(dev.index):
        return xp.asarray(to_host(arr) if on_host else arr)
