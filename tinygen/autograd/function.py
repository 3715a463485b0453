"""Function: one op of the graph. Forward on arrays, backward on Tensors.

    class Exp(Function):
        def forward(self, x):              # arrays in, arrays out
            y = self.xp.exp(x)
            self.save_for_backward(y)      # d/dx exp(x) = exp(x): keep the output, not the input
            return y

        def backward(self, gy):            # Tensors in, Tensors out (one per positional input)
            (y,) = self.saved_tensors
            return gy * y

(PyTorch's form, static forward(ctx, ...) and backward(ctx, ...) on Tensors, runs too: a subclass
written that way gets its own apply, from custom_function.py.)

`Exp.apply(t)` unwraps Tensor arguments to arrays, runs `forward`, wraps the result and, when grad
mode is on and an input requires grad, records the Function instance as the output's `grad_fn`.
Because `backward` is written with Tensor ops, running it with grad mode on (create_graph=True)
records a graph of the backward itself: second derivatives of every op come for free. Where no
graph is recorded (the usual backward), the hottest rules do the same arithmetic on the arrays
(`on_arrays()`): an op on a small array is mostly Python, and those rules run in every step.

Memory: a Function holds its inputs that require grad (the graph's edges) and what it saved. A
saved *output* is held through a weak reference, so output -> grad_fn -> output is no cycle; the
engine drops saved arrays after backward unless retain_graph=True.
"""
from __future__ import annotations

import weakref

import numpy as np

from ..backend.device import array_module, device_type
from ..backend.dispatch import kernel_for
from .grad_mode import GRAD
from .views import record as record_view

ANOMALY = [False]
CAPTURE = [None]       # the tracer of tg.compile while it records a step (autograd/capture.py)
REBASES = [0]          # how many times a tensor's grad_fn was replaced (in-place ops): see rebase


def tracer():
    """The tracer recording a step on this thread (tg.compile), or None: every capture hook's
    check. (Callers on hot paths test `CAPTURE[0] is not None` first: all eager mode pays.)"""
    tr = CAPTURE[0]
    return tr if tr is not None and tr.here() else None
_ndarray = np.ndarray
_new = object.__new__


# ---- the seam: where autograd learns the Tensor class -----------------------------------------
# Function.apply makes Tensors and backward rules are written with Tensor methods, but the Tensor
# class is defined above autograd (tensor.py imports autograd and ops, not the other way round).
# tensor.py hands its class down once, at import, through register_tensor_type; everything below
# tensor.py that needs to make a Tensor calls `wrap(array)` (or reads `function.Tensor`).
Tensor = None


def register_tensor_type(cls):
    """Called once by tinygen/tensor.py: the class Function.apply wraps its outputs in."""
    global Tensor
    Tensor = cls


def wrap(array):
    """A Tensor around `array` outside any graph (a constant: requires no grad, has no grad_fn).
    A step being captured (tg.compile) notes the array as computed outside an op: the step runs
    eagerly if an op then reads it, unless the array is an op's output or saved state."""
    if CAPTURE[0] is not None and (tr := tracer()) is not None:
        tr.made_array(array, False)
    return Tensor._make(array, None, 0, False)


def wrap_constant(array):
    """wrap() for an array that depends on nothing but shapes and dtypes (ones to seed a
    backward pass, zeros for an unused output): a captured step keeps it as a constant."""
    if CAPTURE[0] is not None and (tr := tracer()) is not None:
        tr.made_array(array, True)
    return Tensor._make(array, None, 0, False)


def on_arrays():
    """Whether a backward rule may compute on its tensors' arrays instead of in Tensor ops: no
    graph of the backward is recorded (create_graph=False) and no step is being captured
    (tg.compile records ops). The usual backward pass. A small array's op costs ~4 us of Python
    around ~1 us of NumPy, so the hottest rules (Mul, Sub, Relu, Sum, Mean, Linear, MatMul) take
    the same arithmetic on the arrays there, one wrap per gradient: the same bits, 5-12% off
    micrograd's toy step and the per-op chain (2-core AMD EPYC, Zen 1; MatMul's: its 64x64 case
    of benchmarks/overhead.py 1.2-1.35x faster on the 2-core Xeon VM). Their Tensor ops still
    run under create_graph=True and in captured steps; tests/autograd/test_array_rules.py checks
    that both give the same bits."""
    return not GRAD.enabled and CAPTURE[0] is None


def wrap_grad(out):
    """A gradient computed on arrays by a rule where on_arrays(), as a Tensor. NumPy's arithmetic
    on 0-d arrays gives a scalar: made a 0-d array, as apply does."""
    if type(out) is not _ndarray and isinstance(out, np.generic):
        out = np.asarray(out)
    return Tensor._make(out, None, 0, False)


# ---- in-place ops: a tensor whose grad_fn changes --------------------------------------------
# A Function's inputs are the Tensors themselves, not (grad_fn, output index) pairs as in
# PyTorch's edges: cheaper to record, but an in-place op then gives a tensor a new grad_fn under
# the Functions that took it before (y = x * 2; z = y + 1; y.mul_(3): z's Add holds y, whose
# grad_fn is now the mul_). So an in-place op calls rebase(t) first: Functions recorded from then
# on carry a later epoch, and t's history until then is kept for the earlier ones, which the
# engine points at it before a backward pass (engine._as_recorded).
PRIORS = {}            # id(tensor) -> (weakref to it, [(epoch, grad_fn, output index), ...])


def rebase(t):
    """Call before t's grad_fn or output index changes (an in-place op, detach_, a custom
    Function's mark_dirty): the Functions recorded until now that take t keep t's history as
    it is now."""
    REBASES[0] += 1
    if t._grad_fn is None:                 # a leaf: no Function took it as a graph's edge
        return
    entry = (REBASES[0], t._grad_fn, t._out_idx)
    held = PRIORS.get(id(t))
    if held is not None and held[0]() is t:
        held[1].append(entry)
    else:
        key = id(t)
        PRIORS[key] = (weakref.ref(t, lambda _, key=key: PRIORS.pop(key, None)), [entry])


def history_at(t, epoch):
    """(grad_fn, output index) t had when a Function of `epoch` took it, or None if unchanged."""
    held = PRIORS.get(id(t))
    if held is None or held[0]() is not t:
        return None
    for e, grad_fn, out_idx in held[1]:
        if epoch < e:
            return grad_fn, out_idx
    return None


class _Freed:
    pass


_FREED = _Freed()


class Function:
    """Base class of every op. Subclasses define `forward(*arrays, **params)` and `backward(*grads)`."""

    # class-level defaults, so the hot path sets only what differs
    _saved = None            # tuple of (kind, value, version) after apply
    _hooks = None            # {output index: [hook, ...]} for non-leaf tensor hooks
    _retain = None           # {output index: weakref(tensor)} for retain_grad
    _n_out = 1
    _out_meta = None         # [(shape, dtype)] for multi-output Functions (zeros for unused outputs)
    _to_save = ()
    is_view = False          # output shares memory (and the version counter) with input 0
    n_differentiable = None  # of a tuple of outputs, only the first n get gradients (None: all)
    xp = np                  # the array module of the inputs; set per call only off the CPU
    # an elementwise op's forward as one scalar expression over its operands {0}, {1}, ... (and
    # z, a zero of their dtype), for captured steps' fused loops (autograd/capture.py): only
    # where NumPy's result is one correctly rounded IEEE operation, a comparison or a select.
    # Read from the class's own __dict__: a subclass does not inherit it. fuse_attrs: the
    # arrays forward keeps as attributes, {name: expression}.
    fuse = None
    fuse_attrs = {}
    _unwanted = ()           # inputs whose gradient this backward pass does not want (engine.py)
    _epoch = 0               # REBASES[0] when recorded (only after a rebase: see rebase)
    # per value given to save_for_backward, the inputs whose gradients need it: a value none of
    # them requires is not kept (PyTorch's rule: a later in-place change to it is no error)
    saved_for = None

    def __init_subclass__(cls, **kwargs):
        """A subclass with a static forward (or setup_context) is a PyTorch-style custom
        Function (custom_function.py): its apply and its node class are set here, once."""
        super().__init_subclass__(**kwargs)
        if (isinstance(cls.__dict__.get("forward"), staticmethod) or "setup_context" in
                cls.__dict__ or getattr(cls, "_backward_cls", None) is not None):
            from .custom_function import make_custom  # lazy: that module subclasses Function
            make_custom(cls)

    @classmethod
    def apply(cls, *args, **params):
        fn = _new(cls)
        arrays = []
        inputs = []                            # the graph's edges: inputs that require grad
        requires = False
        other = False                          # an array that is not NumPy's ndarray
        for a in args:
            if isinstance(a, Tensor):
                d = a._data
                if type(d) is not _ndarray:
                    other = True
                arrays.append(d)
                if a._requires_grad:
                    requires = True
                    inputs.append(a)
                    continue
            else:
                arrays.append(a)
            inputs.append(None)
        if other:
            _other_arrays(fn, args, arrays)
        try:
            out = fn.forward(*arrays, **params)
        except (ValueError, TypeError, IndexError) as e:
            raise _op_error(cls, args, e) from None
        if requires and GRAD.enabled:
            node = fn
            fn.inputs = inputs
            if REBASES[0]:
                fn._epoch = REBASES[0]
        else:
            node = None
            requires = False
        if type(out) is tuple:
            out, outs = _multi_out(fn, out, node, requires)
        else:
            if type(out) is not _ndarray:
                out = _as_array(fn, out)
            outs = _new(Tensor)
            outs._data = out
            outs._grad_fn = node
            outs._out_idx = 0
            outs._requires_grad = requires
            outs._version = [0]
            outs.grad = outs._hooks = outs._view = None
        if requires:
            if fn._to_save:
                fn._resolve_saved(args, arrays, outs)
        if fn.is_view and isinstance(args[0], Tensor):
            record_view(outs, args[0], fn, args, params)      # (views.py)
        if CAPTURE[0] is not None and (tr := tracer()) is not None:
            tr.op(cls, fn, args, arrays, params, out)
        return outs

    @property
    def needs_input_grad(self):
        """Inside backward: for each input, whether the pass wants its gradient: the input
        requires grad and, under autograd.grad, leads to one of the tensors asked for (as the
        derivative masks of PyTorch's engine: an op with no formula for one input answers for
        the others). A tuple, as PyTorch's ctx.needs_input_grad (whose entries say only whether
        each input requires grad). An op may return a gradient it was not asked for; the engine
        drops it."""
        return tuple(t is not None and i not in self._unwanted for i, t in enumerate(self.inputs))

    # ---- saving for backward -------------------------------------------------------------
    def save_for_backward(self, *arrays):
        """Call in forward with arrays: inputs, outputs or intermediates backward will need."""
        self._to_save = arrays

    def _resolve_saved(self, args, arrays, outs):
        """Map each saved array to the Tensor it came from: an input (strong ref, it is an edge
        anyway), an output (weak ref: no cycle), or an intermediate (kept as a plain array).
        (Inputs first, by identity: what most ops save; the per-op cost of every recorded op.)"""
        saved = []
        need = self.saved_for
        for k, s in enumerate(self._to_save):
            if need is not None and all(self.inputs[j] is None for j in need[k]):
                saved.append(None)
                continue
            if k < len(arrays) and arrays[k] is s and isinstance(args[k], Tensor):
                a = args[k]                  # saved in input order (x * x.detach(): two
                saved.append((0, a, a._version[0]))     # tensors on one array, each its own)
                continue
            for a, arr in zip(args, arrays):
                if arr is s and isinstance(a, Tensor):
                    saved.append((0, a, a._version[0]))
                    break
            else:
                saved.append(None if s is None else _saved_other(s, outs))
        self._saved = tuple(saved)
        self._to_save = ()

    @property
    def saved_tensors(self):
        saved = self._saved
        if saved is _FREED:
            raise RuntimeError(
                f"Trying to backward through the graph a second time (or to read the saved "
                f"tensors of {type(self).__name__} after they were freed). Saved intermediate "
                "values of the graph are freed when you call .backward() or autograd.grad(). "
                "Specify retain_graph=True the first time if you need to backward through the "
                "graph again.")
        if saved is None:
            return ()
        res = []
        for entry in saved:
            if entry is None:
                res.append(None)
                continue
            kind, val, version = entry
            if kind == 3:
                res.append(val)
                continue
            if kind == 2:
                res.append(Tensor._make(val, None, 0, False))
                continue
            t = val if kind == 0 else val()
            if t is None:            # an output nobody references any more (cannot be reached)
                raise RuntimeError(f"{type(self).__name__}: a saved output was freed")
            if t._version[0] != version:
                raise RuntimeError(
                    "one of the variables needed for gradient computation has been modified by "
                    f"an inplace operation: the {'input' if kind == 0 else 'output'} of "
                    f"{type(self).__name__} with shape {tuple(t.shape)} and dtype {t.dtype} is at "
                    f"version {t._version[0]}; expected version {version} instead.")
            res.append(t)
        return tuple(res)

    def _release(self):
        """After a backward without retain_graph: drop what was saved, including arrays kept as
        attributes in forward (masks, indices, weights), so they die with the backward, not
        with the graph's output. A later backward through this node then fails clearly."""
        freed = self._saved is not None
        d = self.__dict__
        arrays = ()
        for k, v in d.items():                     # (a loop: a comprehension costs more here)
            if _IS_ARRAY[type(v)]:                 # numpy or cupy
                arrays += (k,)
        for k in arrays:
            del d[k]
        if freed or arrays:
            self._saved = _FREED

    def _check_not_freed(self):
        if self._saved is _FREED:
            self.saved_tensors                  # raises the "second time" error

    def kernel(self, name):
        """The kernel table's implementation of `name` for this call's device (numba on the CPU,
        CUDA on cuda, the NumPy reference when asked or when nothing faster is registered): the
        one way an op reaches a kernel."""
        return kernel_for(name, device_type(self.xp))

    # ---- what subclasses define ------------------------------------------------------------
    def forward(self, *args, **params):
        raise NotImplementedError

    def backward(self, *grads):
        raise NotImplementedError(f"{type(self).__name__} has no backward")

    @property
    def name(self):
        return type(self).__name__

    def __repr__(self):
        return f"<{type(self).__name__}Backward>"

    @property
    def next_functions(self):
        """(grad_fn or 'leaf' Tensor, output index) per input that requires grad (for graph walks)."""
        res = []
        for t in getattr(self, "inputs", ()):
            if t is None:
                res.append((None, 0))
            elif t._grad_fn is None:
                res.append((t, 0))
            else:
                res.append((t._grad_fn, t._out_idx))
        return tuple(res)


class CopyArray(Function):
    """A copy of an array, as an op (no gradient rule needed: used under no_grad by the engine
    and in-place ops), so a captured step records it instead of folding the copy."""

    def forward(self, a):
        return a.copy()


class _ArrayTypes(dict):
    """type -> whether it is an array type (NumPy's, CuPy's: named ndarray), learnt on first
    sight: one dict lookup per attribute in Function._release."""

    def __missing__(self, t):
        self[t] = t is _ndarray or t.__name__ == "ndarray"
        return self[t]


_IS_ARRAY = _ArrayTypes()


def _saved_other(s, outs):
    """A saved value that is not an input: an output, an intermediate array or a scalar."""
    if not hasattr(s, "shape"):
        return (3, s, 0)                     # a Python scalar: kept as it is
    for o in (outs if type(outs) is tuple else (outs,)):
        if o._data is s:
            return (1, weakref.ref(o), o._version[0])
    if isinstance(s, np.generic):            # a NumPy scalar: keep an array
        s = np.asarray(s)
    return (2, s, 0)


def _multi_out(fn, out, node, requires):
    """apply's outputs where forward returned a tuple: (the arrays, their Tensors); of those,
    the first n_differentiable get gradients."""
    for o in out:
        if type(o) is not _ndarray:
            out = tuple([o if type(o) is _ndarray else _as_array(fn, o) for o in out])
            break
    n_diff = len(out) if fn.n_differentiable is None else fn.n_differentiable
    outs = []
    for i, o in enumerate(out):
        diff = i < n_diff
        outs.append(Tensor._make(o, node if diff else None, i, requires and diff))
    if requires:
        fn._n_out = len(outs)
        fn._out_meta = [(o.shape, o.dtype) for o in out]
    return out, tuple(outs)


def _as_array(fn, out):
    """NumPy returns scalars from 0-d ops: make an array, and point a saved scalar at it so a
    saved output stays tied to its Tensor (else double backward through a 0-d op is lost).
    Arrays of other devices (cupy, the test device's) are kept as they are."""
    if hasattr(out, "ndim") and not isinstance(out, np.generic):
        return out
    arr = fn.xp.asarray(out)
    if fn._to_save:
        saved = []
        for s in fn._to_save:
            saved.append(arr if s is out else s)
        fn._to_save = tuple(saved)
    return arr


def _describe(args):
    parts = []
    for a in args:
        if isinstance(a, Tensor):
            parts.append(f"Tensor(shape={tuple(a._data.shape)}, dtype={a.dtype}, device={a.device})")
        elif isinstance(a, _ndarray):
            parts.append(f"array(shape={a.shape}, dtype={a.dtype})")
        elif a is not None:
            parts.append(repr(a) if len(repr(a)) < 60 else type(a).__name__)
    return ", ".join(parts)


def _op_error(cls, args, e):
    msg = str(e)
    if isinstance(e, _OpError):
        return e
    kind = _OpIndexError if isinstance(e, IndexError) else (
        _OpTypeError if isinstance(e, TypeError) else _OpError)
    return kind(f"{cls.__name__.lower()}: {msg} (inputs: {_describe(args)})")


class _OpError(ValueError, RuntimeError):
    """A user-facing error from an op: names the op, the shapes, dtypes and devices. A
    ValueError, and the RuntimeError PyTorch raises for the same mistakes (a shape mismatch),
    so a PyTorch program's `except RuntimeError` catches it."""


class _OpIndexError(_OpError, IndexError):
    """An out-of-range index: still an IndexError (as in PyTorch and NumPy), named like _OpError."""


class _OpTypeError(_OpError, TypeError):
    pass


def _other_arrays(fn, args, arrays):
    """apply's arguments where not every array is a NumPy ndarray: a NumPy scalar (from a 0-d
    op) becomes a 0-d array, the arrays must share one device, and fn.xp is its array module."""
    first = None
    for k, a in enumerate(args):
        if isinstance(a, Tensor):
            d = arrays[k]
            if type(d) is not _ndarray and isinstance(d, np.generic):
                d = arrays[k] = np.asarray(d)
            if first is None:
                first = d
            elif type(d) is not type(first):
                _device_mismatch(type(fn), args)
    if type(first) is not _ndarray:
        fn.xp = array_module(first)


def _device_mismatch(cls, args):
    devs = [str(a.device) for a in args if isinstance(a, Tensor)]
    raise RuntimeError(
        f"{cls.__name__.lower()}: expected all tensors to be on the same device, but found "
        f"tensors on {', '.join(devs)} (inputs: {_describe(args)}). Move them with .to(device).")


def _check_nan(op, arrays):
    """Anomaly mode's check of a backward's gradients, as PyTorch's: NaN only (an inf is a
    legitimate gradient, and forward values, -inf masks among them, are not checked)."""
    for i, a in enumerate(arrays):
        if a is None:
            continue
        data = a._data if isinstance(a, Tensor) else a
        if data.dtype.kind in "fc" and bool(array_module(data).isnan(data).any()):
            raise RuntimeError(f"Function '{op}' returned nan values in its {i}th output "
                               f"(shape {tuple(data.shape)}): the first backward that did "
                               "(anomaly mode).")


OpError = _OpError
OpIndexError = _OpIndexError



def __getattr__(name):
    """The other names of PyTorch's torch.autograd.function, which live in custom_function."""
    if name in ("FunctionCtx", "once_differentiable", "BackwardCFunction"):
        from . import custom_function  # lazy: it imports this module (it subclasses Function)
        return getattr(custom_function, "CustomNode" if name == "BackwardCFunction" else name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
