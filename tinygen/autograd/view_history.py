"""In-place ops on views and on tensors that have views: the histories PyTorch gives them.

    y = x * 2
    y[:2].mul_(3)         # y's history: y with its first two elements replaced by 3 * y[:2]
    y.sum().backward()    # x.grad = [6, 6, 2, 2]

ops/inplace.py computes an in-place op out of place on an alias of the old value and writes the
result into the storage (a custom Function's forward writes it itself and marks it dirty:
custom_function.py); then `take_history` gives the tensors that share the storage their new
histories (autograd/views.py keeps how each view was made from its root):
- the tensor written to is a view: the root gets CopySlices (its old history, with the view's
  region replaced by the op's result), and the view the root's new history replayed;
- every other live view of the root gets the root's new history replayed, as does the view
  written to; a root written to directly takes the op's own history, as before.
"""
from __future__ import annotations

import weakref

from . import function as _fn
from .function import Function, rebase, wrap_constant
from .grad_mode import GRAD, enable_grad, no_grad
from .views import chain, live_views, replay


class CopySlices(Function):
    """The root of a view changed in place: forward returns the root's storage (already
    written); backward sends the gradient outside the view's region to the root's old history
    and the region's to the op's result. Both as Tensor ops: differentiable again."""

    def forward(self, root, value, steps, storage):
        self.steps, self.shape, self.dtype = steps, root.shape, root.dtype
        return storage

    def backward(self, g):
        i = self.inputs
        g_root = g * self._outside_mask() if i[0] is not None else None
        g_value = replay(g, self.steps) if i[1] is not None else None
        return g_root, g_value, None, None

    def _outside_mask(self):
        """Ones with the view's region zeroed (the region found by replaying the view on it)."""
        mask = self.xp.ones(self.shape, self.dtype)
        with no_grad():
            region = replay(wrap_constant(mask), self.steps)
        region._data[...] = 0
        return wrap_constant(mask)


def check_writable(t):
    """Before an in-place op on t records a graph: PyTorch's refusals for views, raised before
    anything is written."""
    if t._view is None:
        return
    root, steps = chain(t)
    if root._grad_fn is None and root._requires_grad:
        raise RuntimeError(f"a view of a leaf Variable that requires grad (shape "
                           f"{tuple(root.shape)}) is being used in an in-place operation; wrap "
                           "it in `with tg.no_grad():` (as optimisers and init do)")
    cls, _, _, i = steps[-1]
    # PyTorch refuses it only where the write is recorded (grad mode, a view that requires
    # grad): x.split(2)[0].add_(1) of a tensor that requires no grad, or under no_grad, works
    if i is not None and GRAD.enabled and (t._requires_grad or root._requires_grad):
        raise RuntimeError(f"Output {i} of {cls.__name__} is a view and is being modified "
                           "in place. This view is an output of a function that returns "
                           "several views, whose outputs may not be modified in place: "
                           "replace the in-place operation by an out-of-place one.")


def take_history(t, out):
    """After the in-place op on t (its result `out`, which requires grad, already written into
    t's storage): t, its root and their live views take their new histories. Each is rebased
    first (function.rebase), after the op was recorded: the op's own node, which may take t
    itself as an operand (y.sub_(y)), is one of the Functions that keep t's old history."""
    if getattr(t, "_view", None) is None:  # t is a root: the op's own history, then its views
        rebase(t)
        _set_history(t, out)
        _fix_saved_output(out, t)
        _replay_views(t)
        return
    root, steps = chain(t)
    old = _fn.Tensor._make(root._data, root._grad_fn, root._out_idx, root._requires_grad)
    old._version = root._version
    rebase(root)
    node = CopySlices.apply(old, out, steps, root._data)
    _set_history(root, node)
    _replay_views(root)


def writes_without_history(t):
    """After a write into t's storage that records no graph (under no_grad, or of a tensor that
    requires no grad): the storage's live views take their histories again from their root, as
    PyTorch regenerates a view's grad_fn after its base's version changed (a root that requires
    no grad any more, after detach_, leaves its views none). Optimisers bump versions by
    themselves and do not come here: a view of a parameter is made again each step."""
    root = chain(t)[0] if t._view is not None else t
    views = live_views(root)
    if views and (root._requires_grad or any(v._requires_grad for v in views)):
        with enable_grad():
            _replay_views(root, views)


def _set_history(t, source):
    t._grad_fn, t._out_idx, t._requires_grad = source._grad_fn, source._out_idx, True


def _replay_views(root, views=None):
    """Every live view of root takes root's history, replayed through its view ops (none,
    where root requires no grad)."""
    for v in live_views(root) if views is None else views:
        rebase(v)
        again = replay(root, chain(v)[1])
        v._grad_fn, v._out_idx, v._requires_grad = (again._grad_fn, again._out_idx,
                                                     again._requires_grad)


def _fix_saved_output(out, t):
    """The op's node saved its output (out, about to die): it is t now, at t's version."""
    fn = out._grad_fn
    if fn is not None and fn._saved:
        fn._saved = tuple(
            (1, weakref.ref(t), t._version[0]) if e is not None and e[0] == 1 and e[1]() is out
            else e for e in fn._saved)


def reshaped_in_place(t, out):
    """t took the shape and storage of out, the result of a view op on it (squeeze_, t_, ...):
    a view is now that op applied to (an alias of) what it was; a root stays a root. The other
    views of the storage, whose steps may start from t's old shape, are no longer followed
    (they keep the history they have)."""
    info = getattr(t, "_view", None)
    root = chain(t)[0] if info is not None else t
    for v in live_views(root):
        if v is not t:
            v._view = None
    step = out._view[1] if getattr(out, "_view", None) is not None else None
    if info is None or step is None:
        t._view = None
        return
    before = _fn.Tensor._make(t._data, t._grad_fn, t._out_idx, t._requires_grad)
    before._version, before._view = t._version, info
    t._view = (before, step)
