"""`tg.amp`, as `torch.amp`: autocast regions and the gradient scaler of mixed-precision training.

    with tg.autocast(device_type="cpu", dtype=tg.bfloat16):   # accepted: see autocast
        loss = model(x)
    scaler = tg.amp.GradScaler("cpu")
    scaler.scale(loss).backward(); scaler.step(opt); scaler.update()

Where PyTorch differs: tinygen has no autocast casting policy. A region is recorded (what
tg.is_autocast_enabled(device_type) and get_autocast_dtype read), but every op runs in its
inputs' dtype, as outside it: a float32 model stays float32 (more precise than PyTorch's
bfloat16 / float16 products, not faster, not smaller). The GradScaler is PyTorch's algorithm in
full (scale the loss, unscale the gradients, skip a step whose gradients are not finite, grow the
scale after growth_interval good steps, back off after a bad one), so a script's loop runs and
its state_dict has PyTorch's keys.
"""
from __future__ import annotations

import functools
import math
import threading
import warnings

from . import cuda
from .backend import bfloat16, float16

_DEVICE_TYPES = ("cpu", "cuda", "mps", "xpu", "xla", "hpu", "mtia", "meta")


class autocast:
    """torch.autocast(device_type, dtype=None, enabled=True, cache_enabled=None), as a context
    manager or a decorator. Accepted and checked; ops keep their inputs' dtype (module
    docstring)."""

    def __init__(self, device_type, dtype=None, enabled=True, cache_enabled=None):
        if not isinstance(device_type, str):
            raise ValueError(f"Expected `device_type` of type `str`, got: `{type(device_type)}`")
        if device_type.split(":")[0] not in _DEVICE_TYPES:
            raise RuntimeError(f"autocast: unknown device_type {device_type!r}; expected one of "
                               f"{', '.join(_DEVICE_TYPES)}")
        self.device = device_type
        self.fast_dtype, self._enabled, self._cache_enabled = dtype, enabled, cache_enabled

    def __enter__(self):
        state = _state(self.device)
        self._prev = (state.enabled, state.dtype, _STATE.cache_enabled)
        state.enabled = bool(self._enabled)
        if self.fast_dtype is not None:
            state.dtype = self.fast_dtype
        if self._cache_enabled is not None:
            _STATE.cache_enabled = bool(self._cache_enabled)
        autocast_increment_nesting()
        return self

    def __exit__(self, *exc):
        state = _state(self.device)
        state.enabled, state.dtype, _STATE.cache_enabled = self._prev
        autocast_decrement_nesting()
        return False

    def __call__(self, fn):
        @functools.wraps(fn)
        def run(*args, **kwargs):
            with self:
                return fn(*args, **kwargs)
        return run


def is_autocast_available(device_type: str) -> bool:
    return device_type in ("cpu", "cuda")


# ---- autocast's state, as torch.is_autocast_enabled / get_autocast_dtype read it --------------
# Per thread and device type: whether a region is open and its dtype (PyTorch's defaults:
# bfloat16 on the CPU, float16 on CUDA). Recorded for code that asks; ops do not read it.
# tinygen/__init__.py lists these functions for tg.* (_AUTOCAST_STATE).
class _DeviceState:
    def __init__(self, device):
        self.enabled = False
        self.dtype = _default_dtype(device)


def _default_dtype(device):
    return float16 if device in ("cuda", "mps", "mtia") else bfloat16


class _AutocastState(threading.local):
    def __init__(self):
        self.devices, self.nesting, self.cache_enabled = {}, 0, True


_STATE = _AutocastState()


def _state(device_type):
    device = device_type.split(":")[0]
    if device not in _DEVICE_TYPES:
        raise RuntimeError(f"autocast: unknown device_type {device_type!r}; expected one of "
                           f"{', '.join(_DEVICE_TYPES)}")
    if device not in _STATE.devices:
        _STATE.devices[device] = _DeviceState(device)
    return _STATE.devices[device]


def is_autocast_enabled(device_type="cuda"):
    return _state(device_type).enabled


def set_autocast_enabled(device_type, enabled=None):
    """set_autocast_enabled(device_type, enabled), or PyTorch's older set_autocast_enabled(
    enabled) for CUDA."""
    if enabled is None:
        device_type, enabled = "cuda", device_type
    _state(device_type).enabled = bool(enabled)


def get_autocast_dtype(device_type):
    return _state(device_type).dtype


def set_autocast_dtype(device_type, dtype):
    _state(device_type).dtype = dtype


def autocast_increment_nesting():
    _STATE.nesting += 1
    return _STATE.nesting


def autocast_decrement_nesting():
    _STATE.nesting -= 1
    return _STATE.nesting


def is_autocast_cache_enabled():
    return _STATE.cache_enabled


def set_autocast_cache_enabled(enabled):
    _STATE.cache_enabled = bool(enabled)


def clear_autocast_cache():
    """Nothing is cached: no op casts its inputs here."""


def is_autocast_cpu_enabled():
    return is_autocast_enabled("cpu")


def set_autocast_cpu_enabled(enabled):
    set_autocast_enabled("cpu", enabled)


def get_autocast_cpu_dtype():
    return get_autocast_dtype("cpu")


def set_autocast_cpu_dtype(dtype):
    set_autocast_dtype("cpu", dtype)


def get_autocast_gpu_dtype():
    return get_autocast_dtype("cuda")


def set_autocast_gpu_dtype(dtype):
    set_autocast_dtype("cuda", dtype)


class GradScaler:
    """torch.amp.GradScaler(device='cuda', init_scale=2.0**16, growth_factor=2.0,
    backoff_factor=0.5, growth_interval=2000, enabled=True). On 'cuda' without a GPU it warns
    and disables itself, as PyTorch's does."""

    def __init__(self, device="cuda", init_scale=2.0 ** 16, growth_factor=2.0, backoff_factor=0.5,
                 growth_interval=2000, enabled=True):
        if enabled and device == "cuda" and not cuda.is_available():
            warnings.warn("torch.cuda.amp.GradScaler is enabled, but CUDA is not available.  "
                          "Disabling.", UserWarning, stacklevel=2)
            enabled = False
        if enabled and not (growth_factor > 1.0 and backoff_factor < 1.0):
            raise ValueError("The growth factor must be > 1.0 and the backoff factor < 1.0.")
        self._device, self._enabled = device, enabled
        self._scale, self._growth_factor = float(init_scale), float(growth_factor)
        self._backoff_factor, self._growth_interval = float(backoff_factor), int(growth_interval)
        self._growth_tracker = 0
        self._per_optimizer = {}            # id(optimizer) -> {"unscaled": bool, "found_inf": bool}

    def is_enabled(self):
        return self._enabled

    def get_scale(self):
        return self._scale if self._enabled else 1.0

    def scale(self, outputs):
        """outputs (a tensor or nested lists/tuples of them) times the scale."""
        if not self._enabled:
            return outputs
        if isinstance(outputs, (list, tuple)):
            return type(outputs)(self.scale(o) for o in outputs)
        return outputs * self._scale

    def _state(self, optimizer):
        return self._per_optimizer.setdefault(id(optimizer), {"unscaled": False,
                                                              "found_inf": False})

    def unscale_(self, optimizer):
        """Divide the optimizer's gradients by the scale (once per step) and note whether any is
        not finite."""
        if not self._enabled:
            return
        state = self._state(optimizer)
        if state["unscaled"]:
            raise RuntimeError("unscale_() has already been called on this optimizer since the "
                               "last update().")
        inv, found = 1.0 / self._scale, False
        for group in optimizer.param_groups:
            for p in group["params"]:
                if p.grad is not None:
                    p.grad.mul_(inv)
                    found = found or not bool(p.grad.isfinite().all())
        state["unscaled"], state["found_inf"] = True, found

    def step(self, optimizer, *args, **kwargs):
        """optimizer.step(*args, **kwargs) unless the unscaled gradients hold inf or NaN."""
        if not self._enabled:
            return optimizer.step(*args, **kwargs)
        if "closure" in kwargs:
            raise RuntimeError("Closure use is not currently supported if GradScaler is enabled.")
        state = self._state(optimizer)
        if not state["unscaled"]:
            self.unscale_(optimizer)
        return None if state["found_inf"] else optimizer.step(*args, **kwargs)

    def update(self, new_scale=None):
        """Back off after a step with inf/NaN gradients, grow after growth_interval good ones."""
        if not self._enabled:
            return
        if new_scale is not None:
            self._scale = float(new_scale)
        elif any(s["found_inf"] for s in self._per_optimizer.values()):
            self._scale *= self._backoff_factor
            self._growth_tracker = 0
        else:
            self._growth_tracker += 1
            if self._growth_tracker == self._growth_interval:
                grown = self._scale * self._growth_factor
                self._scale = grown if math.isfinite(grown) else self._scale
                self._growth_tracker = 0
        self._per_optimizer.clear()

    def get_growth_factor(self):
        return self._growth_factor

    def set_growth_factor(self, new_factor):
        self._growth_factor = new_factor

    def get_backoff_factor(self):
        return self._backoff_factor

    def set_backoff_factor(self, new_factor):
        self._backoff_factor = new_factor

    def get_growth_interval(self):
        return self._growth_interval

    def set_growth_interval(self, new_interval):
        self._growth_interval = new_interval

    def state_dict(self):
        if not self._enabled:
            return {}
        return {"scale": self._scale, "growth_factor": self._growth_factor,
                "backoff_factor": self._backoff_factor, "growth_interval": self._growth_interval,
                "_growth_tracker": self._growth_tracker}

    def load_state_dict(self, state_dict):
        if not self._enabled:
            return
        if len(state_dict) == 0:
            raise RuntimeError("The source state dict is empty, possibly because it was saved "
                               "from a disabled instance of GradScaler.")
        self._scale, self._growth_factor = float(state_dict["scale"]), state_dict["growth_factor"]
        self._backoff_factor = state_dict["backoff_factor"]
        self._growth_interval = state_dict["growth_interval"]
        self._growth_tracker = int(state_dict["_growth_tracker"])
