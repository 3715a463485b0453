"""Views and in-place ops: how a view was made from the tensor that owns its storage.

A view (the output of a Function with is_view: a reshape, a transpose, basic indexing, ...)
shares its base's storage and version counter, and, from record(), knows how it was made:
t._view = (base, step), the step (Function class, its arguments, its keywords, output index or
None) that made t from base; chain(t) follows the bases down to the root, the tensor
that owns the storage, and replay(root, steps) makes the same view again, with autograd. The
version counter, a list, holds after the count weak references to the views made of that
storage: live_views(root). (Cost: ~0.15 us a view op.)

With these, an in-place op on a view (autograd/view_history.py) gives the root a new history (the
root with the view's region replaced by the op's result: PyTorch's CopySlices) and every live
view of the root its history again, replayed from the root; an in-place op on a root does the
latter. Before, only the tensor written to took the new history: the base of a changed view,
or a view of a changed base, kept its old one, and gradients through them were silently wrong
(y = x * 2; y[:2].mul_(3); y.sum() gave dx = 2 everywhere; PyTorch: 6, 6, 2, 2).
"""
from __future__ import annotations

import weakref

_PRUNE_FROM = 32         # the version list is pruned of dead views at lengths 32, 64, 128, ...


def record(outs, base, fn, args, params):
    """outs (a Tensor, or a tuple for a multi-output view) share base's storage: Function.apply,
    for a Function with is_view."""
    version = base._version
    if type(outs) is tuple:
        for i, o in enumerate(outs):
            o._version = version
            o._view = (base, (type(fn), args, params, i))
            version.append(weakref.ref(o))
    else:
        outs._version = version
        outs._view = (base, (type(fn), args, params, None))
        version.append(weakref.ref(outs))
    n = len(version)
    if n > _PRUNE_FROM and not n & (n - 1):
        version[1:] = [r for r in version[1:] if r() is not None]


def chain(t):
    """(root, steps): the tensor that owns t's storage, and the view steps from it to t."""
    steps = []
    info = t._view
    while info is not None:
        t, (cls, args, params, i) = info
        steps.append((cls, args[1:], params, i))   # (the base itself is not a step's argument)
        info = getattr(t, "_view", None)
    steps.reverse()
    return t, tuple(steps)


def replay(t, steps):
    """The view that steps (from chain()) describe, made again from t (with autograd, as the ops
    run)."""
    for cls, rest, params, i in steps:
        t = cls.apply(t, *rest, **params)
        if i is not None:                   # one output of a multi-output view
            t = t[i]
    return t


def live_views(root):
    """The views of root's storage still alive that were made from root (not detached aliases
    or other roots sharing the counter)."""
    found = []
    for ref in root._version[1:]:
        v = ref()
        if v is not None and v._view is not None and chain(v)[0] is root:
            found.append(v)
    return found
