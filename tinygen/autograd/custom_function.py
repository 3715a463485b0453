"""PyTorch-style custom autograd Functions: a static forward and backward on Tensors, with a ctx.

    class Clip(tg.autograd.Function):
        @staticmethod
        def forward(ctx, x, bound):           # Tensors in (under no_grad), Tensors out
            ctx.save_for_backward(x)
            ctx.bound = bound
            return x.clamp(-bound, bound)

        @staticmethod
        def backward(ctx, gy):                # one gradient (or None) per forward input
            (x,) = ctx.saved_tensors
            return gy * (x.abs() <= ctx.bound), None

    y = Clip.apply(x, 1.0)

tinygen's own ops subclass the same Function with instance methods on arrays (function.py). A
subclass whose forward is a staticmethod, or that defines setup_context (PyTorch 2's form:
forward(*args) without ctx, then setup_context(ctx, inputs, output)), is a PyTorch-style one:
Function.__init_subclass__ calls make_custom, which gives it `custom_apply` as its apply. The
outputs' grad_fn is a node of the class `<Name>Backward` (a Function: the engine runs it as any
op) that calls the class's backward (or vjp) with the ctx; attributes set on the ctx are read through it as well
(y.grad_fn.bound), as on PyTorch's, where the node is the ctx. Here the ctx is its own object, so
nothing a user stores on it can shadow the node's own state.

As PyTorch: backward's gradients are checked (their count, None for inputs that are not tensors),
summed to the input's shape where they broadcast to it and cast to its dtype; an integer output
or one marked non-differentiable gets no gradient; an input returned as it is comes back as a new
tensor sharing its storage; one changed in place and marked dirty takes the node as its history.
Under create_graph=True backward runs with grad mode on, so a backward written with tensor ops has
a derivative itself (@once_differentiable: it runs without, and a second derivative raises).
Differences: PyTorch's ctx.needs_input_grad says only whether each input requires grad; ours, in
backward, is also False for an input whose gradient this pass does not want (autograd.grad).
Forward-mode AD (jvp, save_for_forward) and vmap rules are not supported.
"""
from __future__ import annotations

import functools
import inspect
import weakref

from ..backend.device import array_module
from ..backend.dtypes import from_np_dtype
from . import function as _fn
from .function import Function, wrap_constant
from .grad_mode import GRAD, no_grad
from .view_history import check_writable, take_history


class FunctionCtx:
    """What forward and backward of a PyTorch-style Function get as `ctx`: its methods, the
    saved tensors and needs_input_grad, and any attribute the Function sets on it."""

    def __init__(self, node):
        self._node = node
        self._to_save = ()
        self._dirty = ()
        self._non_differentiable = ()
        self.materialize_grads = True

    def save_for_backward(self, *tensors):
        """Tensors (inputs, outputs or intermediates) or None, for backward's ctx.saved_tensors:
        checked there against later in-place changes."""
        for k, t in enumerate(tensors):
            if t is not None and not isinstance(t, _fn.Tensor):
                raise TypeError(f"save_for_backward can only save tensors (or None), but "
                                f"argument {k} is of type {type(t).__name__}")
        self._to_save = tensors

    def save_for_forward(self, *tensors):
        """Kept for PyTorch's forward-mode AD, which tinygen's custom Functions do not run."""
        self._to_save_forward = tensors

    def mark_dirty(self, *tensors):
        """The inputs forward changed in place (they must be returned as outputs)."""
        self._dirty = tensors

    def mark_non_differentiable(self, *tensors):
        """Outputs that get no gradient (requires_grad False; backward gets zeros for them)."""
        self._non_differentiable = tensors

    def set_materialize_grads(self, value):
        """False: backward gets None, not zeros, for outputs that got no gradient."""
        self.materialize_grads = bool(value)

    @property
    def saved_tensors(self):
        return self._node.saved_tensors

    @property
    def needs_input_grad(self):
        return self._node.needs_input_grad


class CustomNode(Function):
    """The grad_fn of a PyTorch-style Function's outputs: runs its backward with the ctx."""

    _forward_cls = None
    _ctx = None
    _arg_meta = ()           # per forward input: (shape, dtype) of a tensor, else None
    _out_meta_all = ()       # per output: (shape, dtype) of a tensor, else None

    def __getattr__(self, name):            # what the Function stored on its ctx
        ctx = self.__dict__.get("_ctx")
        if ctx is None or name.startswith("__"):
            raise AttributeError(f"{type(self).__name__} has no attribute {name!r}")
        return getattr(ctx, name)

    def __repr__(self):
        return f"<{type(self).__name__}>"

    @property
    def name(self):
        return type(self).__name__

    def backward(self, *grads):
        ctx, cls = self._ctx, self._forward_cls
        grads = self._materialized(grads, ctx.materialize_grads)
        user = _user_backward(cls)
        out = user(ctx, *grads)
        if getattr(user, "_once_differentiable", False) and GRAD.enabled:
            out = _mark_once(out, self.inputs)
        return self._checked(out if type(out) is tuple else (out,))

    def _materialized(self, grads, materialize):
        res = []
        for g, meta in zip(grads, self._out_meta_all):
            if g is None and materialize and meta is not None:
                g = wrap_constant(self.xp.zeros(*meta))
            res.append(g)
        return res

    def _checked(self, out):
        """backward's gradients as PyTorch's engine takes them: one per input (extra Nones
        dropped), None for non-tensors, summed and cast to each input's shape and dtype."""
        n, name = len(self._arg_meta), type(self).__name__
        if len(out) < n or any(g is not None for g in out[n:]):
            raise RuntimeError(f"function {name} returned an incorrect number of gradients "
                               f"(expected {n}, got {len(out)})")
        res = []
        for k, (g, meta) in enumerate(zip(out, self._arg_meta)):
            if g is not None and meta is not None and self.inputs[k] is None:
                g = None         # (an input that needs no gradient: dropped unchecked, as PyTorch)
            elif g is not None:
                g = _checked_grad(name, k, g, meta)
            res.append(g)
        return tuple(res)


def _checked_grad(name, k, g, meta):
    if not isinstance(g, _fn.Tensor):
        raise RuntimeError(f"function {name} returned a {type(g).__name__} as gradient {k}: "
                           "expected a Tensor or None")
    if meta is None:
        raise RuntimeError(f"function {name} returned a gradient different than None at "
                           f"position {k + 1}, but the corresponding forward input was not a "
                           "Tensor")
    shape, dtype = meta
    if g._data.shape != shape:
        if not _expandable(shape, g._data.shape):
            raise RuntimeError(f"Function {name} returned an invalid gradient at index {k} - "
                               f"got {list(g.shape)} but expected shape compatible with "
                               f"{list(shape)}")
        g = g.sum_to_size(shape)
    if g._data.dtype != dtype:
        g = g.to(from_np_dtype(dtype))
    return g


def _expandable(shape, to):
    """Whether `shape` broadcasts to `to` (a gradient of the larger shape is then summed)."""
    if len(shape) > len(to):
        return False
    return all(s == t or s == 1 for s, t in zip(shape[::-1], to[::-1]))


def _user_backward(cls):
    backward = cls.backward
    vjp = getattr(cls, "vjp", None)
    if _overrides(cls, "vjp"):
        if _overrides(cls, "backward"):
            raise RuntimeError(f"{cls.__name__}: implementing both 'backward' and 'vjp' for a "
                               "custom autograd.Function is not allowed; define one of them")
        return vjp
    if not _overrides(cls, "backward"):
        raise NotImplementedError(
            f"{cls.__name__}: you must implement either the backward or vjp method for your "
            "custom autograd.Function to use it with backward mode AD.")
    return backward


def _overrides(cls, attr):
    """Whether a class between cls and Function (inclusive of cls) defines attr."""
    for k in cls.__mro__:
        if k is Function:
            return False
        if attr in k.__dict__:
            return True
    return False


# ---- apply -----------------------------------------------------------------------------------
def custom_apply(cls, *args, **kwargs):
    """Function.apply of a PyTorch-style Function: forward under no_grad, then the outputs
    wired to a node when an input requires grad and grad mode is on."""
    setup = cls._setup_context
    if setup:
        args = _bind(cls, args, kwargs)
        kwargs = {}
    node = _fn._new(cls._backward_cls)
    ctx = node._ctx = FunctionCtx(node)
    node.inputs = [a if isinstance(a, _fn.Tensor) and a._requires_grad else None for a in args]
    record = GRAD.enabled and any(t is not None for t in node.inputs)
    with no_grad():
        if setup:
            out = cls.forward(*args)
            cls.setup_context(ctx, args, out)
        else:
            out = cls.forward(ctx, *args, **kwargs)
    outs = out if type(out) is tuple else (out,)
    _check_dirty(cls, ctx, outs)
    if not record:          # (an input returned as it is: a new tensor on its storage, as wired)
        outs = tuple(_alias(o) if _returned_input(o, args, ctx) else o for o in outs)
        return outs if type(out) is tuple else outs[0]
    node._arg_meta = tuple((a._data.shape, a._data.dtype) if isinstance(a, _fn.Tensor) else None
                           for a in args)
    if _fn.REBASES[0]:
        node._epoch = _fn.REBASES[0]
    for t in node.inputs:
        if t is not None:
            node.xp = array_module(t._data)       # (zeros for unused outputs on its device)
            break
    wired = _wire(node, ctx, args, outs)
    _save(node, ctx, wired)
    return wired if type(out) is tuple else wired[0]


def _bind(cls, args, kwargs):
    """forward's arguments as a tuple, defaults filled in (setup_context's `inputs`)."""
    bound = inspect.signature(cls.forward).bind(*args, **kwargs)
    bound.apply_defaults()
    return bound.args


def _check_dirty(cls, ctx, outs):
    for t in ctx._dirty:
        if not any(o is t for o in outs):
            raise RuntimeError(
                f"{cls.__name__}: some tensors marked dirty (changed in place) during forward "
                "were not returned as outputs. The inputs that are modified in place must all "
                "be outputs of the Function.")


def _returned_input(o, args, ctx):
    """Whether output o of a call that records nothing is an input to return as a new tensor:
    as PyTorch, one marked dirty stays itself unless it requires grad (under no_grad)."""
    return isinstance(o, _fn.Tensor) and any(o is a for a in args) and (
        o._requires_grad or not any(o is t for t in ctx._dirty))


def _alias(o):
    """A new tensor (no history) on o's storage, sharing its version counter."""
    t = _fn.Tensor._make(o._data, None, 0, False)
    t._version = o._version
    return t


def _wire(node, ctx, args, outs):
    """The outputs with node as their grad_fn (those that get gradients), as PyTorch wraps them."""
    dirty = [id(t) for t in ctx._dirty]
    nondiff = [id(t) for t in ctx._non_differentiable]
    wired, meta = [], []
    for i, o in enumerate(outs):
        if not isinstance(o, _fn.Tensor):
            wired.append(o)
            meta.append(None)
            continue
        meta.append((o._data.shape, o._data.dtype))
        diff = id(o) not in nondiff and o._data.dtype.kind in "fc"
        if id(o) in dirty:
            _dirty_input(node, args, o)
            if diff:        # o's history (and its root's and views', where o is a view)
                take_history(o, _fn.Tensor._make(o._data, node, i, True))
            wired.append(o)
            continue
        if any(o is a for a in args) or any(o is w for w in wired):
            t = _alias(o)                                       # a new tensor on its storage
        else:
            t = o
        if diff:
            t._grad_fn, t._out_idx, t._requires_grad = node, i, True
        wired.append(t)
    node._n_out = len(outs)
    node._out_meta_all = tuple(meta)
    return tuple(wired)


def _dirty_input(node, args, t):
    """An input changed in place by forward: its history so far becomes the node's input."""
    if t._grad_fn is None and t._requires_grad:
        raise RuntimeError(f"{type(node).__name__}: a leaf Variable that requires grad (shape "
                           f"{tuple(t.shape)}) has been used in an in-place operation (marked "
                           "dirty).")
    check_writable(t)                       # (a view: PyTorch's refusals)
    for k, a in enumerate(args):
        if a is t and node.inputs[k] is not None:
            alias = _fn.Tensor._make(t._data, t._grad_fn, t._out_idx, True)
            alias._version = t._version
            node.inputs[k] = alias
    t._version[0] += 1


def _save(node, ctx, wired):
    """ctx.save_for_backward's tensors as the node's saved entries: an output weakly (it holds
    the node), anything else strongly; each with its version now, for saved_tensors' check."""
    saved = []
    for s in ctx._to_save:
        if s is None:
            saved.append(None)
        elif s._grad_fn is node:
            saved.append((1, weakref.ref(s), s._version[0]))
        else:
            saved.append((0, s, s._version[0]))
    node._saved = tuple(saved) if saved else None     # (nothing saved: nothing to free)
    ctx._to_save = ()


# ---- once_differentiable ----------------------------------------------------------------------
def once_differentiable(backward):
    """Decorate a PyTorch-style Function's backward that is not itself differentiable: it runs
    under no_grad, and under create_graph=True its gradients raise when differentiated again.
    Where PyTorch differs: its gradients are marked so (they require grad) only where one of
    the incoming gradients requires grad; otherwise they do not require grad (differentiating
    them raises too). tinygen marks them always, so they are never tied to the graph with a
    zero second derivative (engine.ZeroDerivative), which would be wrong here."""
    @functools.wraps(backward)
    def run(ctx, *grads):
        with no_grad():
            return backward(ctx, *grads)
    run._once_differentiable = True
    return run


class _OnceDifferentiated(Function):
    """A gradient from a @once_differentiable backward: itself, with a backward that raises."""

    is_view = True

    def forward(self, g, anchor):
        return g

    def backward(self, gg):
        raise RuntimeError("trying to differentiate twice a function that was marked with "
                           "@once_differentiable")


def _mark_once(out, inputs):
    single = type(out) is not tuple
    res = []
    for k, g in enumerate((out,) if single else out):
        if isinstance(g, _fn.Tensor) and k < len(inputs) and inputs[k] is not None:
            g = _OnceDifferentiated.apply(g, inputs[k])
        res.append(g)
    return res[0] if single else tuple(res)


def make_custom(cls):
    """Make cls (a Function subclass with a static forward) a PyTorch-style one: its apply, its
    node class `<Name>Backward`, and whether it uses setup_context, decided once."""
    cls.apply = classmethod(custom_apply)
    cls._backward_cls = type(f"{cls.__name__}Backward", (CustomNode,),
                             {"_forward_cls": cls, "__module__": cls.__module__})
    cls._setup_context = _overrides(cls, "setup_context")
