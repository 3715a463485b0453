"""Process-wide state and switches PyTorch scripts call as torch.*, beside backend/settings.py's:

    tg.get_default_device()              device(type='cpu'): tinygen makes tensors on the CPU
    tg.set_default_device("cpu")         accepted (and None); other devices refused (see there)
    tg.seed()                            reseed every generator from the OS; returns the seed
    tg.set_anomaly_enabled(True)         tg.autograd's anomaly mode (its NaN / Inf check)
    tg.set_warn_always(True)             recorded (see set_warn_always)
    tg.set_num_interop_threads(4)        recorded: tinygen runs one op at a time
    tg.set_flush_denormal(True)          False: NumPy has no flush-to-zero switch
    tg.is_inference(x), tg.typename(x)   questions about a tensor or any object
"""
from __future__ import annotations

import numbers
import os

import numpy as np

from .autograd import anomaly as _anomaly
from .backend.device import Device
from .backend.random import manual_seed
from .tensor import Tensor

_state = {"check_nan": True, "warn_always": False, "interop_threads": None}


def get_default_device():
    """The device new tensors go to: always the CPU (tinygen has no default-device switch)."""
    return Device("cpu")


def set_default_device(device):
    """Accepts "cpu" (or a cpu device, or None: the default); tinygen makes every tensor on the
    CPU unless told otherwise, so any other device raises (pass device= or call .to() instead)."""
    if device is None or Device(device) == Device("cpu"):
        return
    raise NotImplementedError(f"set_default_device: tinygen has no default-device switch; new "
                              f"tensors are made on the CPU. Got {device!r}: pass device="
                              f"{str(Device(device))!r} to the factory, or move tensors with "
                              ".to(device)")


def seed():
    """Seed every device's generator with a non-deterministic 64-bit number (from the OS) and
    return it, as torch.seed (tg.initial_seed() then returns it too)."""
    value = int(np.random.SeedSequence().entropy) & 0xFFFFFFFFFFFFFFFF
    manual_seed(value)
    return value


def is_inference(input):
    """False: tinygen's tensors carry no inference flag (see tg.inference_mode)."""
    if not isinstance(input, Tensor):
        raise TypeError(f"is_inference(): argument 'input' (position 1) must be Tensor, not "
                        f"{type(input).__name__}")
    return input.is_inference()


def is_anomaly_enabled():
    return _anomaly.is_anomaly_enabled()


def set_anomaly_enabled(enabled, check_nan=True):
    """Turn anomaly mode on or off (tg.autograd.set_detect_anomaly). Where tinygen differs:
    its anomaly mode is the NaN / Inf check of every op's outputs, so check_nan=False is
    recorded (is_anomaly_check_nan_enabled reads it back) but the check still runs."""
    _anomaly.set_detect_anomaly(bool(enabled))
    _state["check_nan"] = bool(check_nan)


def is_anomaly_check_nan_enabled():
    return _state["check_nan"]


def set_warn_always(b):
    """Recorded and read back by is_warn_always_enabled. tinygen's warnings go through Python's
    warnings module, whose filters decide how often one shows (PyTorch's flag turns its
    warn-once C++ warnings into warn-always)."""
    _state["warn_always"] = bool(b)


def is_warn_always_enabled():
    return _state["warn_always"]


def get_num_interop_threads():
    """The inter-op thread count last set (default: the CPUs this process may use). tinygen runs
    one op at a time, its kernels' threads being the intra-op ones (tg.get_num_threads)."""
    if _state["interop_threads"] is None:
        return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else \
            (os.cpu_count() or 1)
    return _state["interop_threads"]


def set_num_interop_threads(num):
    """Recorded (get_num_interop_threads reads it back); a count below 1 raises, as PyTorch."""
    if isinstance(num, bool) or not isinstance(num, numbers.Integral):
        raise TypeError(f"set_num_interop_threads(): argument must be int, not "
                        f"{type(num).__name__}")
    if num < 1:
        raise RuntimeError(f"set_num_interop_threads expects a positive integer, got {num}")
    _state["interop_threads"] = int(num)


def set_flush_denormal(mode):
    """False, as PyTorch returns on CPUs without the switch: NumPy keeps denormal numbers (no
    flush-to-zero mode), whatever mode asks."""
    return False


def typename(obj):
    """A string naming obj's type: a tensor's type() ('tinygen.FloatTensor': tinygen's prefix
    where PyTorch says 'torch.'), else the module-qualified name of obj (a class or function)
    or of its class, without 'builtins.' (as torch.typename)."""
    if isinstance(obj, Tensor):
        return obj.type()
    module = getattr(obj, "__module__", "") or ""
    if hasattr(obj, "__qualname__"):
        qualname = obj.__qualname__
    elif hasattr(obj, "__name__"):
        qualname = obj.__name__
    else:
        module = obj.__class__.__module__ or ""
        qualname = obj.__class__.__qualname__
    return qualname if module in ("", "builtins") else f"{module}.{qualname}"
