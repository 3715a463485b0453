"""In-place ops: `add_ sub_ mul_ div_ clamp_ masked_fill_ copy_ fill_ zero_ uniform_ normal_` and
item assignment, with PyTorch's rules:

- every in-place write bumps the tensor's version counter, so a backward that saved the old
  value fails clearly instead of using the new one (Function.saved_tensors checks it);
- a leaf that requires grad may be changed in place only under `no_grad` (optimisers, init);
- inside a graph the op is recorded out of place and the tensor takes the new node as its
  grad_fn (PyTorch's "rebase"), so gradients flow through the in-place history.
"""
from __future__ import annotations

import weakref

from ..autograd import function as _fn
from ..autograd.grad_mode import GRAD
from ..backend.device import get_xp
from ..backend.random import generator
from .convert import as_array, scalar_like
from .index import SetItem, convert_index


def _leaf_check(t):
    if t._grad_fn is None and t._requires_grad:
        raise RuntimeError(
            f"a leaf Variable that requires grad (shape {tuple(t.shape)}) is being used in an "
            "in-place operation; wrap it in `with tg.no_grad():` (as optimisers and init do)")


def _write(t, out):
    if out._data.shape != t._data.shape:
        raise RuntimeError(f"in-place op: result shape {tuple(out.shape)} doesn't match the "
                           f"tensor's shape {tuple(t.shape)}")
    t._data[...] = out._data
    t._version[0] += 1


def inplace(t, compute):
    """Run `compute(t)` and write the result into t's storage (t's grad_fn becomes the result's
    node when a graph is recorded)."""
    if GRAD.enabled:
        _leaf_check(t)
        return _rebase(t, compute)
    _write(t, compute(t))
    return t


def _rebase(t, compute):
    # the op sees the old value: a copy, so what it saves for backward (b.mul_(a) saves the old
    # b) is not overwritten by the write below
    alias = _fn.Tensor._make(t._data.copy(), t._grad_fn, t._out_idx, t._requires_grad)
    out = compute(alias)
    _write(t, out)
    if out._requires_grad:
        _leaf_check(t)
        fn = out._grad_fn
        t._grad_fn, t._out_idx, t._requires_grad = fn, out._out_idx, True
        if fn is not None and fn._saved:        # a saved output is now t, at its new version
            fn._saved = tuple(
                (1, weakref.ref(t), t._version[0]) if e is not None and e[0] == 1 and e[1]() is out
                else e for e in fn._saved)
    return t


def add_(input, other, alpha=1):
    return inplace(input, lambda t: t.add(other, alpha=alpha))


def sub_(input, other, alpha=1):
    return inplace(input, lambda t: t.sub(other, alpha=alpha))


def mul_(input, other):
    return inplace(input, lambda t: t * other)


def div_(input, other):
    return inplace(input, lambda t: t / other)


def clamp_(input, min=None, max=None):
    return inplace(input, lambda t: t.clamp(min, max))


def masked_fill_(input, mask, value):
    return inplace(input, lambda t: t.masked_fill(mask, value))


def setitem(input, idx, value):
    """input[idx] = value; recorded as SetItem when a graph is being built."""
    idx = convert_index(idx)
    tracked = isinstance(value, _fn.Tensor) and value._requires_grad or input._requires_grad
    if GRAD.enabled and tracked:
        v = value if isinstance(value, _fn.Tensor) else scalar_like(value, input)
        _rebase(input, lambda alias: SetItem.apply(alias, idx, v))
        return
    input._data[idx] = value._data if isinstance(value, _fn.Tensor) else value
    input._version[0] += 1


def copy_(input, src):
    """Copy src's values into input (src broadcast, cast and moved to input's device)."""
    if GRAD.enabled and (input._requires_grad or
                         (isinstance(src, _fn.Tensor) and src._requires_grad)):
        return inplace(input, lambda t: t * 0 + src)
    values = as_array(src, input._data.dtype, input.device)
    input._data[...] = values
    input._version[0] += 1
    return input


def fill_(input, value):
    if GRAD.enabled and input._requires_grad:
        _leaf_check(input)
    input._data[...] = value._data if isinstance(value, _fn.Tensor) else value
    input._version[0] += 1
    return input


def zero_(input):
    return fill_(input, 0)


def uniform_(input, a=0.0, b=1.0):
    """Fill with U(a, b) draws from tinygen's generator for the tensor's device."""
    return _fill_random(input, generator(input.device).uniform(a, b, size=input.shape))


def normal_(input, mean=0.0, std=1.0):
    return _fill_random(input, generator(input.device).normal(mean, std, size=input.shape))


def _fill_random(input, values):
    if GRAD.enabled and input._requires_grad:
        _leaf_check(input)
    input._data[...] = get_xp(input.device).asarray(values)
    input._version[0] += 1
    return input

