"""Captured steps: `tg.compile(fn)` records one call of a training step and replays it as a plan.

    @tg.compile
    def step(x, y):
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        return loss

    for x, y in loader:
        loss = step(x, y)          # calls 1 and 2: eager, recorded; then the plan, while guards hold

How it records. Every op reaches its arrays through one seam, `Function.apply`; while a step is
traced, apply tells the tracer (function.CAPTURE) which Function class ran, on which arrays, with
which parameters, and which arrays came out, including the arrays the Function kept for its
backward. The backward pass is recorded the same way, because backward rules are Tensor ops.
What touches state outside an op says so too: an in-place write, a `.grad` delivered by the
engine, a random draw, a tensor made from Python data. Optimiser and scheduler updates
(`Optimizer.step`, `zero_grad`, `LRScheduler.step`) are recorded as effects: calls the plan makes
again on every replay (they read Python state, such as the step count, that an array plan would
freeze), each already one fused kernel.

How it replays. The plan is a list of steps over numbered slots: for an op, a fresh Function
object (no Tensor and no graph) runs `forward` on the slots' arrays; parameters, buffers and
optimiser state are the same arrays as in eager (updated in place), the step's arguments are
bound per call, and each intermediate is dropped after its last use, so memory stays what eager
uses. Random ops draw from the same generator stream in the same order, so a replayed step gives
what the eager step gives, bit for bit (tests check it over many steps of every model).

Confirmation. A plan is replayed only after two calls in a row recorded the same plan: ops whose
Python arguments were read off the arrays (a count of targets turned into a float, a branch on an
array's contents) record different plans for different data, and such a step runs eagerly after
four traces without two alike. (The first call may differ from the second for good reasons: no
.grad yet, a lazy initialisation.)

Guards. A plan is kept per (argument shapes, dtypes, devices, layouts, requires_grad, other
arguments (floats by repr: -0.0 is not 0.0), which arguments are one tensor, grad mode, and
whether the .grad the step adds to or binds were None at the call: gradient accumulation with
zero_grad outside the step); it is also dropped when a state tensor's array is replaced
(`p.data = ...`) or its requires_grad changes (a parameter frozen or unfrozen), when a called
module holds other parameters, buffers or hooks (`load_state_dict(..., assign=True)`, a buffer
assigned anew) or its `training` flag changes, or when a one-element state tensor the step
branched on (`if not self.initialized.item()`) changes. What cannot be captured makes the step
run eagerly, with one warning saying why: reading a value the step computed (`.item()`,
`.numpy()`, `bool(t)`, a tensor made from a list of them), an array computed outside any op, a
returned tensor that requires grad when the step ran no backward, hooks that run when a gradient
is accumulated (DistributedDataParallel), seeding the generators inside the step, a guard the
step itself changes (`model.eval()` ... `model.train()` inside it). As with CUDA graphs, Python
code in the step runs when it is traced, not on replays: a print or a Python counter is not
replayed, and Python values the step reads (a dropout module's `p`, a global loss scale, a
global tensor assigned anew) are those of the trace; an optimiser's settings (its learning rate
in param_groups) are read again, its step being replayed as a call. Returned tensors are
detached (the step ran its backward already).

Fusion. Runs of consecutive elementwise ops in the plan (+, -, *, /, negation, relu, the
backward's zero guard; on C-contiguous float arrays of one shape, with Python numbers) run as one
generated numba loop each (tinygen_kernels.fused), writing only the values the rest of the plan
reads. The loop does each element's IEEE operations in the same order as NumPy, without
fastmath, so fusion keeps the bit-for-bit equality, but for the sign bit of a NaN (which IEEE 754
leaves unspecified; the ops with their own rounding, exp, log, tanh, are left out).
`tg.compile(fn, fuse=False)` turns it off.

Deviations from torch.compile: no preallocated buffers (each op still allocates its result, as
in eager); `fullgraph`, `mode` and `backend` are not taken.
"""
from __future__ import annotations

import functools
import math
import sys
import threading
import warnings

import numpy as np
from tinygen_kernels.fused import elementwise_kernel

from ..backend.random import RESEEDS
from . import function as _function
from .function import CAPTURE, _as_array, tracer
from .grad_mode import GRAD

_ndarray = np.ndarray
_new = object.__new__
MAX_PLANS = 8          # distinct guard keys per compiled function before it stays eager
MAX_TRACES = 4         # traces of one key without two alike in a row before it stays eager

# step kinds
_OP, _WRITE, _SOURCE, _EFFECT, _BIND_GRAD, _READ_GRAD, _REBIND, _FUSED = range(8)
_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))


def _is_array(v):
    """A NumPy array (or a subclass: the test device's), or a CuPy one."""
    return isinstance(v, _ndarray) or (type(v).__name__ == "ndarray" and hasattr(v, "shape"))


class _Slot:
    """A placeholder for slot `i` in a recorded parameter (a list of arrays in a kwarg)."""
    __slots__ = ("i",)

    def __init__(self, i):
        self.i = i


class _Tracer:
    """What one traced call records. The methods below are the hooks the layers call while
    CAPTURE[0] is this tracer (and only from the tracing thread, outside effects)."""

    def __init__(self):
        self.thread = threading.get_ident()
        self.depth = 0               # > 0 inside an effect: nothing inside it is recorded
        self.slot = {}               # id(array) -> slot
        self.values = []             # slot -> the array at trace time
        self.keep = []               # everything seen stays alive, so ids stay unique
        self.kind = []               # slot -> "arg" | "live" | "const" | "op"
        self.steps = []
        self.made = {}               # id(array) -> (constant?, where) for arrays made off an op
        self.guards = {}             # (id(obj), attr) -> (obj, attr, value)
        self.leaves = {}             # id(param) -> (param, array, requires_grad)
        self.problem = None
        self.backward_ran = False
        self.pristine = {}           # const slot -> its value before the step wrote into it
        self.values_read = []        # (tensor, value): one-element state the step branched on
        self.args = []               # the traced call's argument tensors
        self.grads = {}              # .grad target -> (target, was None) or None (see grad_state)
        self.effects = 0             # effects recorded so far
        self.modules = {}            # id(module) -> (module, _holdings(module))

    def here(self):
        return self.depth == 0 and threading.get_ident() == self.thread

    def note(self, reason):
        if self.problem is None:
            self.problem = reason

    # ---- slots ---------------------------------------------------------------------------------
    def _new_slot(self, arr, kind):
        s = len(self.values)
        self.values.append(arr)
        self.kind.append(kind)
        self.slot[id(arr)] = s
        self.keep.append(arr)
        return s

    def slot_of(self, arr, tensor, op):
        """The slot holding `arr`, an input of `op`: recorded before, or state that existed
        before the step (a parameter, a buffer: the plan uses that same array), or a constant."""
        s = self.slot.get(id(arr))
        if s is not None:
            return s
        made = self.made.get(id(arr))
        if made is not None:
            constant, where = made
            if not constant:
                self.note(f"{op} takes an array computed outside any op, in {where}")
            return self._new_slot(arr, "const")
        if tensor is None:
            self.note(f"{op} takes a raw array argument (shape {getattr(arr, 'shape', '?')}) "
                      f"that no op made, in {_caller()}")
            return self._new_slot(arr, "const")
        if tensor._grad_fn is None:      # state: its array and requires_grad are guarded
            self.leaves[id(tensor)] = (tensor, arr, tensor._requires_grad)
        return self._new_slot(arr, "live")

    # ---- hooks ---------------------------------------------------------------------------------
    def op(self, cls, fn, args, arrays, params, out):
        name = cls.__name__
        tmpl = list(arrays)
        ins, generic = [], []
        Tensor = _function.Tensor
        for pos, a in enumerate(args):
            if isinstance(a, Tensor):
                ins.append((pos, self.slot_of(a._data, a, name)))
                if type(a._data) is not _ndarray and isinstance(a._data, np.generic):
                    generic.append(pos)
                tmpl[pos] = None
            elif _is_array(a):
                ins.append((pos, self.slot_of(a, None, name)))
                tmpl[pos] = None
            elif type(a) in (list, tuple) and any(_is_array(v) for v in a):
                self.note(f"{name} takes a list of arrays as an argument")
        if params and any(_is_array(v) or (type(v) in (list, tuple) and
                                           any(_is_array(e) for e in v))
                          for v in params.values()):
            params = self._template(params, name)
            filled = True
        else:
            filled = False
        outs = out if type(out) is tuple else (out,)
        out_slots = [(i, self._new_slot(o, "op")) for i, o in enumerate(outs) if _is_array(o)]
        attrs = [(k, self._new_slot(v, "op")) for k, v in fn.__dict__.items()
                 if _is_array(v) and id(v) not in self.slot]
        saved = []
        if fn._saved is not None and fn._saved is not _function._FREED:
            for i, e in enumerate(fn._saved):
                if e is not None and e[0] == 2 and id(e[1]) not in self.slot:
                    saved.append((i, self._new_slot(e[1], "op")))
        xp = None if fn.xp is np else fn.xp
        self.steps.append((_OP, (cls, xp, tmpl, ins, generic, params, filled,
                                 type(out) is tuple, out_slots, attrs, saved)))

    def _template(self, params, name):
        def fill(v):
            if _is_array(v):
                return _Slot(self.slot_of(v, None, name))
            if type(v) in (list, tuple):
                return type(v)(fill(e) for e in v)
            return v
        return {k: fill(v) for k, v in params.items()}

    def made_array(self, arr, constant):
        if id(arr) not in self.slot:
            self.made[id(arr)] = (constant, _caller())
            self.keep.append(arr)

    def source(self, func, args, kwargs, arr):
        self.steps.append((_SOURCE, (func, args, kwargs, self._new_slot(arr, "op"))))

    def write(self, dst, src, tensor, src_tensor=None):
        """Called before `dst[...] = src` (dst tensor's array; src an op's output, a constant, or
        src_tensor's array): a constant written into is kept as it was made."""
        d = self.slot_of(dst, tensor, "an in-place write")
        if self.kind[d] == "const" and d not in self.pristine:
            self.pristine[d] = dst.copy()
        self.steps.append((_WRITE, (d, self.slot_of(src, src_tensor, "an in-place write"))))

    def rebind(self, tensor, arr):
        if self.leaves.get(id(tensor), (0, 0, False))[2]:   # a parameter the plan reads: another
            self.note(f"the step assigns a parameter's .data (shape {tuple(arr.shape)}); write "
                      f"into it in place instead (p.data.copy_(...), p -= ...), in {_caller()}")
        self.steps.append((_REBIND, (tensor, self.slot_of(arr, tensor, "a .data assignment"))))

    def _step_local(self, t):
        """t's array was computed in the step: t is a tensor of this call only (a mixed image
        for a gradient penalty), whose .grad nothing after the step can read."""
        s = self.slot.get(id(t._data))
        return s is not None and self.kind[s] == "op"

    def _target(self, t):
        """Where a replay delivers t's .grad: t itself, or the replay's argument in t's place."""
        for i, a in enumerate(self.args):
            if a is t:
                return i
        return t

    def grad_state(self, t, was_none):
        """Whether t's .grad was None where the step first touched it (read it to add to it, or
        bound it): the plan adds or binds accordingly, so a call starting with the other state
        needs a plan of its own (Compiled.__call__). Not known after an effect (zero_grad: it is
        the effect's doing, and the same every replay)."""
        target = self._target(t)
        k = target if type(target) is int else id(target)
        if k not in self.grads:
            self.grads[k] = None if self.effects else (target, was_none)

    def read_grad(self, t):
        if self._step_local(t):
            return
        self.grad_state(t, False)
        s = self._new_slot(t.grad._data, "op")
        self.steps.append((_READ_GRAD, (self._target(t), s)))

    def bind_grad(self, t):
        if self._step_local(t):
            return
        self.grad_state(t, True)           # (read_grad came first where it was not None)
        s = self.slot_of(t.grad._data, t.grad, "a .grad")
        # a constant folded into the plan must not become a .grad an optimiser writes into
        self.steps.append((_BIND_GRAD, (self._target(t), s, self.kind[s] != "op")))

    def effect(self, method, args, kwargs):
        self.steps.append((_EFFECT, (method, args, kwargs)))
        self.effects += 1

    def guard(self, obj, attr):
        key = (id(obj), attr)
        if key not in self.guards:
            self.guards[key] = (obj, attr, getattr(obj, attr))

    def guard_module(self, module):
        """A called module's training flag, and which tensors and hooks it holds (by identity:
        load_state_dict(assign=True), a buffer assigned anew or a hook added later changes what
        a replay would have to read or run)."""
        self.guard(module, "training")
        if id(module) not in self.modules:
            self.modules[id(module)] = (module, _holdings(module))


def _holdings(module):
    """What a module holds that a plan depends on, by identity: its parameters, buffers and
    hooks."""
    return tuple(tuple(getattr(module, r).items()) for r in
                 ("_parameters", "_buffers", "_forward_pre_hooks", "_forward_hooks"))


def _same_holdings(module, held):
    for r, items in zip(("_parameters", "_buffers", "_forward_pre_hooks", "_forward_hooks"),
                        held):
        now = getattr(module, r)
        if len(now) != len(items) or any(now.get(k) is not v for k, v in items):
            return False
    return True


def _caller():
    """Where an array was made: the first frame outside the tensor layers (for the warning)."""
    f = sys._getframe(2)
    while f is not None and f.f_code.co_filename.endswith(
            ("function.py", "tensor.py", "creation.py", "capture.py", "convert.py",
             "index.py")):
        f = f.f_back
    if f is None:
        return "?"
    return f"{f.f_code.co_name} ({f.f_code.co_filename.rsplit('/', 1)[-1]}:{f.f_lineno})"


def note(reason):
    """A hook: what the traced step just did cannot be replayed (the step will run eagerly)."""
    tr = tracer()
    if tr is not None:
        tr.note(f"{reason}, in {_caller()}")


def made(arr, constant):
    """A hook: `arr` was made outside an op (constant: from Python data or shapes only)."""
    tr = tracer()
    if tr is not None:
        tr.made_array(arr, constant)


def read_value(tensor, what):
    """A hook: the traced step reads a value of `tensor` (one element, or None for a whole array).
    Kept as a guard when the tensor is state from before the step or a constant; else the step
    runs eagerly."""
    tr = tracer()
    if tr is None:
        return
    arr = None if tensor is None else tensor._data
    s = None if arr is None else tr.slot.get(id(arr))
    made = None if arr is None else tr.made.get(id(arr))
    if arr is not None and ((s is None and (made is None or made[0]))
                            or (s is not None and tr.kind[s] in ("live", "const"))):
        tr.values_read.append((tensor, arr.item()))
        return
    tr.note(f"the step reads a value it computed ({what}); return the tensor and read it "
            f"outside, in {_caller()}")


def replayed(method):
    """Decorate a method whose work a captured step redoes on every replay (an optimiser's step,
    zero_grad, a scheduler's step) instead of recording the array work inside it."""
    @functools.wraps(method)
    def run(*args, **kwargs):
        tr = CAPTURE[0]
        if tr is None or not tr.here():
            return method(*args, **kwargs)
        tr.effect(method, args, kwargs)
        tr.depth += 1
        try:
            result = method(*args, **kwargs)
        finally:
            tr.depth -= 1
        if result is not None:
            tr.note(f"{method.__qualname__} returned a value inside the step")
        return result
    return run


# ---- the plan ---------------------------------------------------------------------------------------
class _Plan:
    """The recorded steps, ready to replay: slots, what to bind per call, what to free when."""

    def __init__(self, tr, arg_slots, out_tmpl, fuse=True):
        self.values = [v if k in ("live", "const") else None for v, k in zip(tr.values, tr.kind)]
        self.arg_slots = arg_slots
        self.out_tmpl = out_tmpl
        self.leaves = list(tr.leaves.values())
        # a constant the step returns is a fresh tensor in eager: copied on each replay
        self.copy_out = {i for i in _tmpl_slots(out_tmpl) if tr.kind[i] == "const"}
        self.guards = list(tr.guards.values())
        self.modules = list(tr.modules.values())
        self.values_read = tr.values_read
        self.steps = [(kind, data, ()) for kind, data in tr.steps]
        self.signature = _signature(tr)
        self.confirmed = False       # set once a second trace recorded the same signature
        self.traces = 1              # traces of this key so far (see Compiled._trace)
        # a constant the step writes into (zeros, then +=) starts each replay as it was made
        self.restore = list(tr.pristine.items())
        if fuse:
            self.steps = _fuse(self.steps, tr, set(_tmpl_slots(out_tmpl)))
        self._free_after_last_use(tr)

    def _free_after_last_use(self, tr):
        last = {}
        for k, (kind, data, _) in enumerate(self.steps):
            for s in _reads(kind, data):
                last[s] = k
        keep = set(_tmpl_slots(self.out_tmpl))
        free = {}
        for s, k in last.items():
            if tr.kind[s] in ("op", "arg") and s not in keep:
                free.setdefault(k, []).append(s)
        self.steps = [(kind, data, tuple(free.get(k, ()))) for k, (kind, data, _) in
                      enumerate(self.steps)]

    def valid(self):
        for t, arr, rg in self.leaves:
            if t._data is not arr or t._requires_grad != rg:
                return False
        for obj, attr, value in self.guards:
            if getattr(obj, attr) != value:
                return False
        for module, held in self.modules:
            if not _same_holdings(module, held):
                return False
        for t, value in self.values_read:
            if t._data.item() != value:
                return False
        return True

    def run(self, tensors):
        vals = list(self.values)
        for s, t in zip(self.arg_slots, tensors):
            vals[s] = t._data
        for s, made in self.restore:
            vals[s] = made.copy()
        make = _function.Tensor._make
        for kind, data, free in self.steps:
            if kind == _OP:
                _run_op(vals, data)
            elif kind == _FUSED:
                _run_fused(vals, data)
            elif kind == _WRITE:
                vals[data[0]][...] = vals[data[1]]
            elif kind == _SOURCE:
                func, args, kwargs, s = data
                vals[s] = func(*args, **kwargs)
            elif kind == _EFFECT:
                data[0](*data[1], **data[2])
            elif kind == _BIND_GRAD:
                g = vals[data[1]]
                t = tensors[data[0]] if type(data[0]) is int else data[0]
                t.grad = make(g.copy() if data[2] else g, None, 0, False)
            elif kind == _READ_GRAD:
                t = tensors[data[0]] if type(data[0]) is int else data[0]
                if t.grad is None:
                    raise RuntimeError("tg.compile: the captured step adds to a .grad that is "
                                       "None now (it was not when the step was traced)")
                vals[data[1]] = t.grad._data
            else:
                data[0]._data = vals[data[1]]
            for s in free:
                vals[s] = None
        return _fill_out(self.out_tmpl, vals, self.copy_out)


def _signature(tr):
    """What two traces of one step must share for its plan to hold: every step's function and
    non-array arguments, the slots it reads and writes, the state arrays (by identity) and the
    constants (by value)."""
    slots = [("live", id(v)) if k == "live" else (k, tr.pristine.get(i, v)) if k == "const"
             else k for i, (v, k) in enumerate(zip(tr.values, tr.kind))]
    steps = []
    for kind, data in tr.steps:
        if kind == _OP:
            cls, xp, tmpl, *rest = data
            steps.append((cls.__name__, cls, xp, [None if _is_array(v) else v for v in tmpl],
                          *rest))
        else:
            steps.append((kind, [id(v) if isinstance(v, _function.Tensor) else v
                                 for v in data]))
    return slots, steps


def _why_different(where):
    """The reason two traces of a step differ, for the warning."""
    if where.startswith("plan[0]"):            # the slots: a state array is not the same one
        return (f"a tensor the step reads but does not take as an argument (from a closure or "
                f"a global) is another array at every call ({where}): pass it as an argument")
    return f"its ops change with the data ({where}): a value read off an array in Python"


def _first_difference(a, b, path="plan"):
    """None when a and b are the same signature (arrays by value, NaN equal to NaN), else a
    short description of the first place they differ."""
    if _is_array(a) or _is_array(b):
        same = (_is_array(a) and _is_array(b) and a.shape == b.shape and a.dtype == b.dtype
                and bool((a == b).all() | ((a != a) & (b != b)).all()))
        return None if same else path
    if type(a) in (list, tuple) and type(b) in (list, tuple):
        if len(a) != len(b):
            return f"{path}: {len(a)} against {len(b)} entries"
        for i, (x, y) in enumerate(zip(a, b)):
            named = path == "plan[1]" and type(x) is tuple and type(x[0]) is str
            name = f"step {i}: {x[0]}" if named else i
            where = _first_difference(x, y, f"{path}[{name}]")
            if where is not None:
                return where
        return None
    if type(a) is dict and type(b) is dict:
        if a.keys() != b.keys():
            return path
        return next((w for k in a if (w := _first_difference(a[k], b[k], f"{path}.{k}"))), None)
    if type(a) is _Slot and type(b) is _Slot:
        return None if a.i == b.i else path
    if isinstance(a, float) and isinstance(b, float) and a != a and b != b:
        return None
    try:
        return None if a == b else f"{path}: {a!r} against {b!r}"
    except Exception:                            # noqa: BLE001 (an object without ==)
        return None if a is b else path


def _run_op(vals, data):
    cls, xp, tmpl, ins, generic, params, filled, multi, outs, attrs, saved = data
    fn = _new(cls)
    if xp is not None:
        fn.xp = xp
    args = list(tmpl)
    for pos, s in ins:
        args[pos] = vals[s]
    for pos in generic:
        args[pos] = np.asarray(args[pos])
    if filled:
        params = {k: _fill_param(v, vals) for k, v in params.items()}
    try:
        out = fn.forward(*args, **params)
    except (ValueError, TypeError, IndexError) as e:
        raise _function._op_error(cls, args, e) from None
    if multi:
        for i, s in outs:
            o = out[i]
            vals[s] = o if type(o) is _ndarray else _as_array(fn, o)
    elif outs:
        vals[outs[0][1]] = out if type(out) is _ndarray else _as_array(fn, out)
    if attrs:
        d = fn.__dict__
        for k, s in attrs:
            vals[s] = d[k]
    for i, s in saved:
        v = fn._to_save[i]
        vals[s] = np.asarray(v) if isinstance(v, np.generic) else v


def _run_fused(vals, data):
    kernel, ins, outs, shape, grid = data
    flat = [vals[s].reshape(-1) for s in ins]
    res = [np.empty(shape, dtype) for _, dtype in outs]
    if grid is None:
        kernel(*flat, *[r.reshape(-1) for r in res])
    else:
        kernel(*grid, *flat, *[r.reshape(-1) for r in res])
    for (s, _), r in zip(outs, res):
        vals[s] = r


# ---- fusion -------------------------------------------------------------------------------------
def _fuse(steps, tr, keep):
    """Each run of two or more consecutive ops with `fuse` templates, on C-contiguous float arrays
    of one shape and dtype (and Python numbers), becomes one generated loop
    (tinygen_kernels.fused): the values the rest of the plan reads come out of it, the others
    stay in registers. Bit for bit what the ops give (see that module)."""
    readers = {}
    for k, (kind, data, _) in enumerate(steps):
        for s in _reads(kind, data):
            readers.setdefault(s, set()).add(k)
    out, run, run_key = [], [], None

    def end_run():
        fused = _fused_step(steps, run, readers, keep, run_key, tr) if len(run) > 1 else None
        out.extend([fused] if fused is not None else [steps[j] for j in run])
    for k, step in enumerate(steps):
        key = _fusable(step, tr)
        if key is None or key != run_key:
            end_run()
            run, run_key = [], key
        if key is None:
            out.append(step)
        else:
            run.append(k)
    end_run()
    return out


def _fusable(step, tr):
    """(shape, dtype) when this step can join a fused loop, else None."""
    kind, data, _ = step
    if kind != _OP:
        return None
    cls, xp, tmpl, ins, generic, params, _, multi, outs, attrs, saved = data
    if (cls.__dict__.get("fuse") is None or xp is not None or params or generic or multi or saved
            or len(outs) != 1 or any(name not in cls.fuse_attrs for name, _ in attrs)):
        return None
    out = tr.values[outs[0][1]]
    if type(out) is not _ndarray or out.dtype not in _FLOATS:
        return None
    for _, s in ins:
        v = tr.values[s]
        if (type(v) is not _ndarray or v.dtype != out.dtype or not v.flags.c_contiguous
                or _broadcast_mode(v.shape, out.shape) is None):
            return None
    arrays = {pos for pos, _ in ins}
    if any(type(v) not in (int, float) for pos, v in enumerate(tmpl) if pos not in arrays):
        return None
    return out.shape, out.dtype


def _broadcast_mode(have, shape):
    """How a fused loop over `shape` reads an input of shape `have`: "j" the same shape, "c" a
    row vector over the last dim, "r" a column (one value a row), "s" one value; else None."""
    if have == shape:
        return "j"
    if not shape or len(have) > len(shape):
        return None
    if all(d == 1 for d in have):
        return "s"
    if have[-1] == shape[-1] and all(d == 1 for d in have[:-1]):
        return "c"
    return "r" if have == shape[:-1] + (1,) else None


def _fused_step(steps, run, readers, keep, key, tr):
    """The _FUSED step of the op steps `run` (indices into steps), or None without numba."""
    shape, dtype = key
    inside = set(run)
    names, inputs, in_slots, lines, consts = {}, [], [], [], [("z", dtype.type(0))]

    def operand(pos, tmpl, slot_at):
        s = slot_at.get(pos)
        if s is None:                               # a Python number: a constant of the dtype
            consts.append((f"c{len(consts)}", dtype.type(tmpl[pos])))
            return consts[-1][0]
        if s not in names:                          # read from an array made before the run
            names[s] = f"v{s}"
            inputs.append((names[s], len(inputs), _broadcast_mode(tr.values[s].shape, shape)))
            in_slots.append(s)
        return names[s]
    produced = []
    for k in run:
        cls, _, tmpl, ins, *_, outs, attrs, _saved = steps[k][1]
        slot_at = dict(ins)
        ops = [operand(pos, tmpl, slot_at) for pos in range(len(tmpl))]
        for s, expr, dt in [(outs[0][1], cls.fuse, dtype)] + [
                (a, cls.fuse_attrs[name], np.dtype(np.bool_)) for name, a in attrs]:
            names[s] = f"v{s}"
            lines.append(f"v{s} = " + expr.format(*ops))
            if s in keep or readers.get(s, set()) - inside:
                produced.append((s, dt))
    if not produced:
        return None
    grid = None                                     # rows x cols where an input broadcasts
    if any(mode != "j" for *_, mode in inputs):
        grid = (math.prod(shape[:-1]), shape[-1])
    else:
        inputs = [i[:2] for i in inputs]
    kernel = elementwise_kernel(tuple(inputs), tuple(lines), tuple(names[s] for s, _ in produced),
                                tuple(consts))
    if kernel is None:
        return None
    return _FUSED, (kernel, tuple(in_slots), produced, shape, grid), ()


def _fill_param(v, vals):
    if type(v) is _Slot:
        return vals[v.i]
    if type(v) in (list, tuple):
        return type(v)(_fill_param(e, vals) for e in v)
    return v


def _reads(kind, data):
    if kind == _OP:
        reads = [s for _, s in data[3]]
        if data[6]:
            reads += [s.i for s in _param_slots(data[5])]
        return reads
    if kind == _WRITE:
        return list(data)
    if kind == _FUSED:
        return list(data[1])
    if kind in (_BIND_GRAD, _REBIND):
        return [data[1]]
    return []


def _param_slots(params):
    for v in params.values():
        stack = [v]
        while stack:
            e = stack.pop()
            if type(e) is _Slot:
                yield e
            elif type(e) in (list, tuple):
                stack.extend(e)


# ---- arguments and results: flatten, key, rebuild ----------------------------------------------------
def _flatten(obj, tensors, key):
    """Tensors of a nested (tuple, list, dict) argument into `tensors`, its guard into `key`."""
    Tensor = _function.Tensor
    if isinstance(obj, Tensor):
        tensors.append(obj)
        d = obj._data
        # (the layout too: fused loops write C order where NumPy keeps another one)
        key.append((tuple(d.shape), d.dtype.str, type(d), obj._requires_grad,
                    d.flags.c_contiguous, d.flags.f_contiguous))
    elif type(obj) in (tuple, list):
        key.append((type(obj), len(obj)))
        for v in obj:
            _flatten(v, tensors, key)
    elif type(obj) is dict:
        key.append((dict, tuple(obj)))
        for v in obj.values():
            _flatten(v, tensors, key)
    elif type(obj) is float:         # by repr: -0.0 is not 0.0 (1 / x), NaN is NaN
        key.append((float, repr(obj)))
    else:
        hash(obj)                    # an unhashable argument cannot be a guard: eager
        key.append((type(obj), obj))


def _out_template(obj, tr):
    Tensor = _function.Tensor
    if isinstance(obj, Tensor):
        if obj._requires_grad and obj._grad_fn is not None and not tr.backward_ran:
            tr.note("the step returns a tensor that requires grad and runs no backward (call "
                    "backward inside the step, or return .detach())")
        return _Slot(tr.slot_of(obj._data, obj, "the step's result"))
    if type(obj) in (tuple, list):
        return type(obj)(_out_template(v, tr) for v in obj)
    if type(obj) is dict:
        return {k: _out_template(v, tr) for k, v in obj.items()}
    if obj is not None and not isinstance(obj, (int, float, str, bool)):
        tr.note(f"the step returns a {type(obj).__name__}, not tensors")
    return obj


def _tmpl_slots(obj):
    if type(obj) is _Slot:
        yield obj.i
    elif type(obj) in (tuple, list):
        for v in obj:
            yield from _tmpl_slots(v)
    elif type(obj) is dict:
        for v in obj.values():
            yield from _tmpl_slots(v)


def _fill_out(obj, vals, copy):
    if type(obj) is _Slot:
        v = vals[obj.i]
        return _function.Tensor._make(v.copy() if obj.i in copy else v, None, 0, False)
    if type(obj) in (tuple, list):
        return type(obj)(_fill_out(v, vals, copy) for v in obj)
    if type(obj) is dict:
        return {k: _fill_out(v, vals, copy) for k, v in obj.items()}
    return obj


class Compiled:
    """`fn` captured: called like fn. `.plans` maps each guard key to its plan (or None: that
    key runs eagerly); `.reason` says why the last trace could not be captured."""

    def __init__(self, fn, fuse=True):
        functools.update_wrapper(self, fn)
        self.fn = fn
        self.fuse = fuse
        self.plans = {}
        self.reason = None
        self._warned = set()
        self._grad_targets = {}      # argument key -> the .grad targets whose None-ness keys too

    def __get__(self, obj, objtype=None):        # as a method decorator: bind like a function
        return self if obj is None else functools.partial(self.__call__, obj)

    def __call__(self, *args, **kwargs):
        tensors, key = [], [GRAD.enabled]
        try:
            _flatten((args, kwargs), tensors, key)
        except TypeError:
            return self._eager("an argument is not hashable (pass tensors, numbers or strings)",
                               args, kwargs)
        if len(tensors) > 1 and len({id(t._data) for t in tensors}) != len(tensors):   # twice
            first = {}
            key.append(tuple(first.setdefault(id(t._data), i) for i, t in enumerate(tensors)))
        key = base = tuple(key)
        targets = self._grad_targets.get(base)     # (an argument's index, or a tensor)
        if targets is not None:          # whether their .grad are None keys a plan too
            key = base + (tuple([(tensors[t] if type(t) is int else t).grad is None
                                 for t in targets]),)
            if key not in self.plans:
                # a sibling never confirmed goes (the first call's, where the step clears .grad
                # itself: its state at the call never comes back)
                for k in [k for k, p in self.plans.items() if p is not None and not p.confirmed
                          and len(k) == len(key) and k[:-1] == base]:
                    del self.plans[k]
        plan = self.plans.get(key)
        stale = 0
        if plan is not None:
            if plan.valid():
                if plan.confirmed:
                    return plan.run(tensors)
                return self._trace(key, tensors, args, kwargs, first=plan)
            if not plan.confirmed:      # a guard the step itself changes (model.eval() in it)
                stale = plan.stale + 1
                if stale >= MAX_TRACES:
                    self.plans[key] = None
                    return self._eager("what the plan is guarded on changes during the step "
                                       "itself (a module's training flag, a parameter's "
                                       "requires_grad)", args, kwargs)
        if plan is None and key in self.plans:
            return self.fn(*args, **kwargs)
        if len(self.plans) >= MAX_PLANS and key not in self.plans:
            return self._eager(f"more than {MAX_PLANS} different argument signatures", args,
                               kwargs)
        return self._trace(key, tensors, args, kwargs, stale=stale, base=base)

    def _eager(self, reason, args, kwargs):
        self._warn(reason)
        return self.fn(*args, **kwargs)

    def _warn(self, reason):
        self.reason = reason
        if reason not in self._warned:
            self._warned.add(reason)
            warnings.warn(f"tg.compile({getattr(self.fn, '__qualname__', self.fn)}): runs "
                          f"eagerly: {reason}", RuntimeWarning, stacklevel=3)

    def _trace(self, key, tensors, args, kwargs, first=None, stale=0, base=None):
        """Run fn eagerly and record it. A plan is replayed only once a second call with the
        same key recorded the same plan: a step whose ops depend on values read off the arrays
        (a count of valid targets in Python, a branch on an array's contents) records a
        different plan for other data, and then runs eagerly."""
        if CAPTURE[0] is not None:
            return self._eager("a compiled step called inside another one being traced", args,
                               kwargs)
        tr = _Tracer()
        arg_slots = [tr._new_slot(t._data, "arg") for t in tensors]
        tr.args = tensors
        reseeds = RESEEDS[0]
        CAPTURE[0] = tr
        try:
            result = self.fn(*args, **kwargs)
        finally:
            CAPTURE[0] = None
        out = _out_template(result, tr)
        if len(set(id(t._data) for t in tensors)) != len(tensors):
            tr.note("two arguments share one array")
        if RESEEDS[0] != reseeds:
            tr.note("the step seeds the generators (tg.manual_seed), which a replay would not")
        grads = [g for g in tr.grads.values() if g is not None]
        if grads and first is None and base is not None and base not in self._grad_targets:
            # the first trace learns whose .grad matters: its plan is keyed by their state
            self._grad_targets[base] = [target for target, _ in grads]
            key = base + (tuple(was_none for _, was_none in grads),)
        if tr.problem is None:
            plan = _Plan(tr, arg_slots, out, self.fuse)
            plan.stale = stale
            if first is not None:
                plan.traces = first.traces + 1
                # a first step may differ (no .grad yet, a lazy init): compare the last two
                where = _first_difference(first.signature, plan.signature)
                plan.confirmed = where is None
                if where is not None and plan.traces >= MAX_TRACES:
                    tr.note(_why_different(where))
        if tr.problem is not None:
            self.plans[key] = None
            self._warn(tr.problem)
        else:
            self.plans[key] = plan
        return result


def compile(fn=None, *, fuse=True, **options):
    """Capture a step: `tg.compile(fn)` or `@tg.compile`. The first two calls with given argument
    shapes run `fn` eagerly and record it; once they recorded the same plan, later calls replay
    it (see the module's docstring: what is recorded, what is guarded, what runs eagerly).
    fuse=False: no fused elementwise loops (each op as recorded). PyTorch's options (`mode`,
    `fullgraph`, `dynamic`, `backend`) are accepted and ignored."""
    if fn is None:
        return lambda f: compile(f, fuse=fuse, **options)
    return Compiled(fn, fuse)
