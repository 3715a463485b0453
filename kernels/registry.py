"""The kernel table: for each kernel name, a plain-NumPy reference and faster implementations.

A reference is the definition of the op: plain array code, obviously right, written against `xp`
so it runs on numpy and cupy alike. A kernel registers as "a faster version of reference X" with
the same signature and return value; it may return `NotImplemented` for inputs it does not handle,
and the reference runs instead.

    @reference("softmax_fwd", example=lambda rng, size: ((rng.standard_normal(size),), {}))
    def softmax_fwd(x, axis=-1): ...

    @kernel("softmax_fwd", device="cpu", impl="numba_v1", default=True)
    def softmax_fwd_numba(x, axis=-1): ...

`TINYGEN_KERNELS=reference` forces the references everywhere (read at import and by
`set_mode`). This module knows only arrays.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Callable

KERNEL_MODE = {"mode": os.environ.get("TINYGEN_KERNELS", "default")}


@dataclass
class Entry:
    name: str
    reference: Callable | None = None
    example: Callable | None = None        # example(rng, which) -> (args, kwargs); which: "test"|"bench"
    rtol: float = 1e-5
    atol: float = 1e-6
    impls: dict = field(default_factory=dict)       # (device, impl) -> fn
    defaults: dict = field(default_factory=dict)    # device -> impl name


_TABLE: dict[str, Entry] = {}
_CACHE: dict = {}


def _entry(name):
    e = _TABLE.get(name)
    if e is None:
        e = _TABLE[name] = Entry(name)
    return e


def reference(name, example=None, rtol=1e-5, atol=1e-6):
    """Register the plain-NumPy definition of kernel `name` (with example inputs and tolerances)."""
    def deco(fn):
        e = _entry(name)
        e.reference, e.example, e.rtol, e.atol = fn, example, rtol, atol
        _CACHE.clear()
        return fn
    return deco


def kernel(name, device="cpu", impl="v1", default=False):
    """Register a faster implementation of reference `name` for `device`. It runs by default only
    with default=True (else the reference does, until `set_default` picks it)."""
    def deco(fn):
        e = _entry(name)
        e.impls[(device, impl)] = fn
        if default:
            e.defaults[device] = impl
        _CACHE.clear()
        return fn
    return deco


def set_default(name, device, impl):
    """Make `impl` (a registered implementation, or 'reference') what `dispatch(name, device)`
    returns from now on: how a model runs on a kernel that is not the default."""
    e = _TABLE.get(name)
    if e is None or (impl != "reference" and (device, impl) not in e.impls):
        raise KeyError(f"kernel {name!r} has no implementation {impl!r} on {device}")
    if impl == "reference":
        e.defaults.pop(device, None)
    else:
        e.defaults[device] = impl
    _CACHE.clear()


def set_mode(mode: str):
    """'default' (the fastest registered kernel per device) or 'reference' (NumPy everywhere)."""
    if mode not in ("default", "reference"):
        raise ValueError(f"kernel mode must be 'default' or 'reference', got {mode!r}")
    KERNEL_MODE["mode"] = mode
    _CACHE.clear()


def dispatch(name: str, device: str = "cpu", impl: str | None = None) -> Callable:
    """The function that runs kernel `name` on `device` (a device type: 'cpu' or 'cuda').

    The chosen kernel falls back to the reference when it returns NotImplemented.
    """
    key = (name, device, impl, KERNEL_MODE["mode"])
    fn = _CACHE.get(key)
    if fn is not None:
        return fn
    e = _TABLE.get(name)
    if e is None or e.reference is None:
        raise KeyError(f"no reference registered for kernel {name!r}")
    ref = e.reference
    if impl == "reference" or (impl is None and KERNEL_MODE["mode"] == "reference"):
        fn = ref
    else:
        chosen = impl or e.defaults.get(device)
        fast = e.impls.get((device, chosen)) if chosen else None
        if fast is None:
            if impl is not None:
                raise KeyError(f"kernel {name!r} has no implementation {impl!r} on {device}")
            fn = ref
        else:
            def fn(*args, _fast=fast, _ref=ref, **kwargs):
                out = _fast(*args, **kwargs)
                if out is NotImplemented:
                    return _ref(*args, **kwargs)
                return out
            fn.__name__ = f"{name}[{device}:{chosen}]"
            fn.impl = fast
    _CACHE[key] = fn
    return fn


def references():
    """name -> Entry for every kernel with a reference (for the tests and benchmarks)."""
    return {k: v for k, v in _TABLE.items() if v.reference is not None}


def kernels_for(name):
    """{(device, impl): fn} registered for `name`."""
    return dict(_TABLE[name].impls) if name in _TABLE else {}
