"""Random programs on the Tensor object itself, run on tinygen and on PyTorch: its metadata, its
conversions and its Python protocol must match, or both refuse at the same step.

Each program is drawn once from its seed as plain data and run on both libraries by the same
code (`run(lib, program)`). It starts from a tensor of a random dtype (bool, uint8, int8, int16,
int32, int64, float16, float32, float64; the floating ones now and then requiring grad) and shape
(0-d to 4-d, empty ones too), then 1-4 view ops (transpose, permute, t(), .T / .mT, slicing with
steps, narrow, expand, unsqueeze, squeeze, unfold, diagonal, as_strided on the fresh base,
contiguous, reshape, flatten). After each, it logs the metadata: shape, size(), size(d) (negative
and out-of-range d), dim(), ndimension(), numel(), nelement(), len(), stride(), stride(d),
storage_offset(), is_contiguous() (and channels_last for 4-d), element_size(), itemsize, nbytes,
dtype.is_floating_point / is_signed, is_floating_point(), is_complex(), requires_grad, is_leaf.
Then 4-10 probes of conversions (item, tolist, int / float / bool / complex / operator.index,
numpy, np.asarray, __array__(dtype), the to() forms, type() / type(dtype) / type_as, the
double() ... bool() casts, new_tensor / new_zeros / new_ones / new_empty / new_full with dtype and
requires_grad, clone(memory_format) strides, detach() sharing its storage) and of the Python
protocol (len, iter, `in`, == / != against a tensor / a number / None, hash, copy.copy /
copy.deepcopy of leaves with .grad and of non-leaves, pickle, format(t, '.3f'), list indexing by
a tensor, range(t), reversed(t), NumPy scalars on the left of * and +, abs / - / ~, round and
math.floor). Values are compared exactly with their dtype (NaN-aware), strides in elements,
Python scalars with their type, and an exception on one side must be one of the same type on the
other at the same probe.

KNOWN deliberate differences, kept out of the programs or checked otherwise:
(a) numpy() of a tensor that requires grad works in tinygen (Tensor.numpy's docstring), PyTorch
refuses it: numpy() is probed on tensors that do not require grad only;
(b) str(dtype) and type() name the library: 'tinygen.float32' / 'tinygen.FloatTensor' are
compared after replacing the library's name;
(c) Tensor.shape and size() are plain tuples, not Sizes (tinygen/backend/size.py): compared as
tuples;
(d) strides and offsets that address nothing follow NumPy's choices (Tensor.stride's docstring):
the stride of a dim of size 1 (expand, unsqueeze, slicing: PyTorch keeps or makes up one), and
the strides and storage offset of an empty tensor (NumPy does not move an empty view's start):
strides are compared on the dims of size > 1 of non-empty tensors, offsets of non-empty ones;
(e) a NumPy bool on either side of an operator is the Python bool in tinygen (ops/promotion.py's
operands), a float in PyTorch (np.bool_(True) * int_tensor is float32 there, an accident): the
NumPy scalars drawn are np.float64, np.int64, np.float32 and np.int8;
(f) a view op that changes nothing (reshape to the same shape, expand to it, transpose(d, d),
t() of a 1-d tensor, squeeze with no dim of size 1, x[()]) returns the input itself in tinygen
(ops/shape.py's reshape), a new view (not a leaf) in PyTorch: is_leaf is not compared after a
view that leaves the geometry as it was (and deepcopy's non-leaf is x.clone());
(g) new arrays are row-major in tinygen (clone, to, casts, op results: tinygen/legacy.py and
ops/convert.py's clone), where PyTorch keeps a permuted dense input's layout; and flip
(reversed) is a view with a negative stride (ops/strided.py): the strides of the probes'
results are compared where the probed tensor is contiguous, never for reversed() or clone().

Sweep of seeds 0-19999, run on 2026-12-07 (/tmp/opfuzz/tensormeta/sweep_before.txt,
sweep_after.txt, with (a)-(g) applied): before the fixes 19,973 of 20,000 differed (19,771 first
on the missing dtype.is_signed, which hid the rest); after them 0. The classes, each fixed (counts
of first differences in a 10,000-seed sweep once the classes before it were fixed): dtype.is_signed
missing (all); unfold a copy with row-major strides, not a view (~1%); int / float / complex /
math.floor of a tensor of n != 1 elements a RuntimeError, not ValueError, and operator.index /
range / list indexing a RuntimeError, not TypeError (~2,000); pickle refused every tensor (a
weakref slot: 1,499); copy.copy kept .grad, deepcopy of a non-leaf not refused (~130);
clone(memory_format=channels_last) of a non-4-d tensor not refused (485); -x of a bool tensor a
TypeError, not RuntimeError (234); new_tensor / new_full without device= and requires_grad=
(~540) and new_full's int fill not wrapped (-1 in uint8: 30); `v in x` of a non-number a
TypeError, ~x of a float an internal error, reversed() an iterator and a 0-d refusal (~25).
"""
import copy
import math
import operator
import pickle
import random
import warnings

import numpy as np
import pytest

import tinygen as tg
from helpers import assert_programs_match, explain_difference  # noqa: E402

torch = pytest.importorskip("torch")

DTYPES = ["bool", "uint8", "int8", "int16", "int32", "int64", "float16", "float32", "float64"]
FLOATS = ("float16", "float32", "float64")
CASTS = ["double", "float", "half", "int", "long", "short", "char", "byte", "bool"]


# ---- drawing ---------------------------------------------------------------------------------

def _shape(r):
    nd = r.choice([0, 1, 1, 2, 2, 3, 3, 4])
    return tuple(r.choice([0, 1, 1, 2, 3, 4] if r.random() < 0.15 else [1, 2, 3, 4])
                 for _ in range(nd))


def _view_op(r, shape, first):
    nd, ops = len(shape), ["unsqueeze", "contiguous", "reshape", "flatten", "slice", "expand"]
    if nd >= 1:
        ops += ["transpose", "permute", "narrow", "squeeze", "unfold", "T"]
    if nd <= 2:
        ops += ["t"]
    if nd >= 2:
        ops += ["mT", "diagonal", "diagonal"]
    if first:
        ops += ["as_strided", "as_strided"]
    op = r.choice(ops)
    return op, _view_args(r, op, shape)


def _view_args(r, op, shape):
    nd = len(shape)
    d = r.randrange(-nd, nd) if nd else 0
    if op == "transpose":
        return d, r.randrange(-nd, nd)
    if op == "permute":
        return r.sample(range(nd), nd)
    if op == "unsqueeze":
        return r.randrange(-nd - 1, nd + 1)
    if op == "reshape":
        n = math.prod(shape)
        dims = [k for k in range(1, n + 1) if n % k == 0] if n else [0, 1, 2]
        a = r.choice(dims)
        return r.choice([(a, -1) if n else (a, 0, 3), (-1,), (n,), (1, -1, 1) if n else (0,)])
    if op == "flatten":
        s = r.randrange(-nd, nd) if nd else 0
        e = r.randrange(s % nd, nd) if nd else 0
        return s, e
    if op == "slice":
        return [(r.randrange(-n - 1, n + 1), r.choice([None, r.randrange(-n - 1, n + 2)]),
                 r.choice([1, 1, 2, 3])) for n in shape[:r.randrange(0, nd + 1)]]
    if op == "expand":
        new = [r.choice([1, 2]) for _ in range(r.choice([0, 0, 1]))]
        return new + [r.choice([-1, n, 3]) if n == 1 else r.choice([-1, n]) for n in shape]
    if op == "narrow":
        s = r.randrange(0, shape[d] + 1)
        return d, s, r.randrange(0, shape[d] - s + 1)
    if op == "squeeze":
        return r.choice([None, d, tuple(sorted({d, r.randrange(-nd, nd)}))])
    if op == "unfold":
        size = r.randrange(0, shape[d] + 1)
        return d, size, r.randrange(1, 4)
    if op == "diagonal":
        d2 = r.choice([k for k in range(nd) if k != d % nd])
        return r.randrange(-2, 3), d, d2
    if op == "as_strided":
        n = math.prod(shape)
        if n == 0:
            return (0, 2), (1, 1), 0
        size = (r.randrange(1, 3), r.randrange(1, 3))
        stride = (r.randrange(0, 3), r.randrange(0, 3))
        off = max(0, n - 1 - (size[0] - 1) * stride[0] - (size[1] - 1) * stride[1])
        if off == 0 and (size[0] - 1) * stride[0] + (size[1] - 1) * stride[1] > n - 1:
            return (1,), (1,), r.randrange(0, n)
        return size, stride, r.randrange(0, off + 1)
    return ()


def _apply_shape(op, args, shape):
    """The shape after a view op, computed on NumPy (for drawing the next op)."""
    return tuple(apply_view(_NP, np.zeros(shape), op, args).shape)


PROBES = ["item", "tolist", "int", "float", "bool", "complex", "index", "numpy", "asarray",
          "array_dtype", "to", "type", "type_dtype", "type_as", "cast", "new", "clone",
          "detach", "len", "iter", "contains", "eq", "hash", "copy", "deepcopy", "pickle",
          "format", "list_index", "range", "reversed", "np_scalar", "unary", "round"]


def program(seed):
    r = random.Random(seed)
    dtype = r.choice(DTYPES)
    shape = _shape(r)
    prog = dict(dtype=dtype, shape=shape, values=r.randrange(2 ** 31),
                requires_grad=dtype in FLOATS and r.random() < 0.35, views=[], probes=[])
    for i in range(r.randrange(1, 5)):
        op, args = _view_op(r, shape, i == 0)
        try:
            shape = _apply_shape(op, args, shape)
        except (ValueError, IndexError, TypeError, RuntimeError):
            pass                                      # an invalid one now and then: both refuse
        prog["views"].append((op, args))
    for _ in range(r.randrange(4, 11)):
        prog["probes"].append((r.choice(PROBES), r.randrange(2 ** 31)))
    return prog


# ---- running ---------------------------------------------------------------------------------

class _NP:
    """Enough of a library for apply_view on a NumPy array (the drawing's shape tracker)."""


def apply_view(lib, x, op, args):
    if lib is _NP:
        return _np_view(x, op, args)
    if op == "slice":
        return x[tuple(slice(*s) for s in args)]
    if op in ("T", "mT"):
        return getattr(x, op)
    if op in ("contiguous", "t"):
        return getattr(x, op)()
    if op == "squeeze":
        return x.squeeze() if args is None else x.squeeze(args)
    if op in ("permute", "reshape", "expand"):
        return getattr(x, op)(*args)
    if op == "diagonal":
        return x.diagonal(*args)
    if op == "as_strided":
        return x.as_strided(*args)
    return getattr(x, op)(*args) if isinstance(args, tuple) else getattr(x, op)(args)


def _np_view(x, op, args):
    nd = x.ndim
    if op == "transpose":
        return np.swapaxes(x, *args) if nd else x
    if op == "permute":
        return x.transpose(args)
    if op == "t":
        return x.T
    if op == "T":
        return x.transpose(tuple(range(nd))[::-1])
    if op == "mT":
        return np.swapaxes(x, -1, -2)
    if op == "slice":
        return x[tuple(slice(max(a, -n) if a is not None else None, b, c)
                       for (a, b, c), n in zip(args, x.shape))]
    if op == "narrow":
        return np.take(x, range(args[1], args[1] + args[2]), axis=args[0])
    if op == "expand":
        shape = [n if s == -1 else s for s, n in zip(args[len(args) - nd:], x.shape)]
        return np.broadcast_to(x, tuple(args[:len(args) - nd]) + tuple(shape))
    if op == "unsqueeze":
        return np.expand_dims(x, args % (nd + 1))
    if op == "squeeze":
        dims = range(nd) if args is None else [args] if isinstance(args, int) else args
        dims = tuple(d % nd for d in dims if x.shape[d] == 1) if nd else ()
        return x.squeeze(dims)
    if op == "unfold":
        d, size, step = args
        d %= max(nd, 1)
        n = (x.shape[d] - size) // step + 1 if nd else 1
        return np.zeros(x.shape[:d] + (n,) + x.shape[d + 1:] + (size,)) if nd else np.zeros(size)
    if op == "diagonal":
        off, d1, d2 = args
        return np.diagonal(x, off, d1 % nd, d2 % nd)
    if op == "as_strided":
        return np.zeros(args[0])
    if op == "reshape":
        return x.reshape(args)
    if op == "flatten":
        s, e = args[0] % max(nd, 1), args[1] % max(nd, 1)
        return x.reshape(x.shape[:s] + (-1,) + x.shape[e + 1:]) if nd else x.reshape(1)
    return x


def _strides(shape, strides):
    """KNOWN (d): the strides that address something: None for a dim of size 1, and none at all
    for an empty tensor."""
    if math.prod(shape) == 0:
        return "empty"
    return tuple(None if n == 1 else s for n, s in zip(shape, strides))


def _plain(lib, v, layout=True):
    """A value as plain, comparable data (tensors as ("tensor", dtype, array, strides)); the
    strides only with `layout` (KNOWN (g))."""
    if isinstance(v, lib.Tensor):
        a = v.detach().cpu().numpy().copy() if v.dtype != lib.bfloat16 else None
        return ("tensor", str(v.dtype).split(".")[-1], a,
                _strides(v.shape, v.stride()) if layout else "layout", v.requires_grad)
    if isinstance(v, lib.dtype):
        return ("dtype", str(v).split(".")[-1])
    if isinstance(v, np.ndarray):
        return ("ndarray", str(v.dtype), v.copy())
    if isinstance(v, np.generic):
        return ("npscalar", type(v).__name__, v.item())
    if isinstance(v, (list, tuple)):      # KNOWN (c): a Size as the tuple it equals
        return (list if isinstance(v, list) else tuple)(_plain(lib, x, layout) for x in v)
    if isinstance(v, str):
        return v.replace(lib.__name__ + ".", "LIB.")
    return v


def _step(log, lib, name, fn, layout=True):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            log.append((name, _plain(lib, fn(), layout)))
        except Exception as e:  # noqa: BLE001  (an exception is a result to compare)
            log.append((name + " refused", type(e).__name__, str(e)[:200]))


def _metadata(log, lib, x, noop):
    s = lambda name, fn: _step(log, lib, name, fn)  # noqa: E731
    s("shape", lambda: x.shape)
    s("size()", lambda: x.size())
    for d in (-1, x.dim(), -x.dim() - 1, 0):
        s(f"size({d})", lambda: x.size(d))
        s(f"stride({d})", lambda: _strides((x.size(d),), (x.stride(d),)) if x.numel() else
          (x.stride(d), "empty")[1])
    s("dims", lambda: (x.dim(), x.ndimension(), x.ndim, x.numel(), x.nelement()))
    s("len", lambda: len(x))
    s("stride", lambda: _strides(x.shape, x.stride()))
    s("storage_offset", lambda: x.storage_offset() if x.numel() else "empty")
    s("is_contiguous", lambda: x.is_contiguous())
    if x.dim() == 4 and x.numel():                   # (of an empty tensor: its strides, (d))
        s("channels_last", lambda: x.is_contiguous(memory_format=lib.channels_last))
    s("sizes", lambda: (x.element_size(), x.itemsize, x.nbytes))
    s("flags", lambda: (x.dtype.is_floating_point, x.dtype.is_signed, x.is_floating_point(),
                        x.is_complex(), x.requires_grad, "no-op view" if noop else x.is_leaf))


def _geometry(x):
    return (tuple(x.shape), _strides(x.shape, x.stride()),
            x.storage_offset() if x.numel() else "empty")


def start(lib, prog):
    arr = np.random.default_rng(prog["values"]).integers(-3, 4, prog["shape"])
    if prog["dtype"] in FLOATS:
        arr = arr * 0.75
    arr = arr.astype(prog["dtype"])
    x = lib.tensor(arr, dtype=getattr(lib, prog["dtype"]))
    return x.requires_grad_() if prog["requires_grad"] else x


def run(lib, prog):
    log = []
    base = start(lib, prog)
    x = base
    for op, args in prog["views"]:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                new = apply_view(lib, x, op, args)
            except Exception as e:  # noqa: BLE001
                log.append((op + " refused", type(e).__name__, str(e)[:200]))
                continue
        log.append((op, _plain(lib, new)))
        _metadata(log, lib, new, _geometry(new) == _geometry(x))    # KNOWN (f)
        x = new
    for name, seed in prog["probes"]:
        layout = x.is_contiguous() and name not in ("reversed", "clone")   # KNOWN (g)
        for n, fn in PROBE_FNS[name](lib, base, x, random.Random(seed)):
            _step(log, lib, f"{name}:{n}", fn, layout)
    return log


# ---- probes: each gives (label, thunk) pairs, drawn from its own seed -----------------------

def _dt(lib, r):
    return getattr(lib, r.choice(DTYPES))


def _p_scalars(name):
    conv = dict(item=lambda t: t.item(), int=int, float=float, bool=bool, complex=complex,
                index=operator.index, tolist=lambda t: t.tolist())[name]
    return lambda lib, base, x, r: [("", lambda: conv(x))]


def _p_numpy(lib, base, x, r):
    src = x.detach() if x.requires_grad else x          # KNOWN (a)
    return [("", lambda: src.numpy()), ("grad", lambda: base.detach().numpy())]


def _p_arrays(lib, base, x, r):
    npd = r.choice(["float64", "int32", "bool", "float16"])
    return [("asarray", lambda: np.asarray(x.detach())),
            ("__array__", lambda: x.detach().__array__(np.dtype(npd)))]


def _p_to(lib, base, x, r):
    d, other = _dt(lib, r), lib.zeros(2, dtype=_dt(lib, r))
    nb = r.choice([False, True])
    forms = [("dtype", lambda: x.to(d)), ("other", lambda: x.to(other)),
             ("cpu", lambda: x.to("cpu")), ("cpu,dtype", lambda: x.to("cpu", d)),
             ("copy", lambda: x.to(d, copy=True)), ("nb", lambda: x.to(d, non_blocking=nb)),
             ("same", lambda: x.to(x.dtype) is x),
             ("same copy", lambda: x.to(x.dtype, copy=True) is x)]
    return r.sample(forms, 3)


def _p_type(lib, base, x, r):
    d = _dt(lib, r)
    name = r.choice(["torch.FloatTensor", "torch.LongTensor", "torch.BoolTensor"])
    return [("()", lambda: x.type()),
            ("(dtype)", lambda: x.type(d)),
            ("(str)", lambda: x.type(name.replace("torch", lib.__name__)))]


def _p_type_as(lib, base, x, r):
    other = lib.zeros(1, dtype=_dt(lib, r))
    return [("", lambda: x.type_as(other))]


def _p_cast(lib, base, x, r):
    return [(c, lambda c=c: getattr(x, c)()) for c in r.sample(CASTS, 3)]


def _p_new(lib, base, x, r):
    kw = {}
    if r.random() < 0.6:
        kw["dtype"] = _dt(lib, r)
    if r.random() < 0.4:
        kw["requires_grad"] = True
    shape = tuple(r.randrange(0, 3) for _ in range(r.randrange(0, 3)))
    fill = r.choice([1, 2.5, True, -1])
    data = r.choice([[1, 2], [[1.5], [2.0]], 3, [True, False]])
    forms = [("tensor", lambda: x.new_tensor(data, **kw)),
             ("zeros", lambda: x.new_zeros(shape, **kw)),
             ("ones", lambda: x.new_ones(*shape, **kw) if shape else x.new_ones(shape, **kw)),
             ("empty", lambda: x.new_empty(shape, **kw).shape),
             ("full", lambda: x.new_full(shape, fill, **kw))]
    return r.sample(forms, 2)


def _p_clone(lib, base, x, r):
    fmt = r.choice(["preserve_format", "contiguous_format", "channels_last"])
    return [(fmt, lambda: x.clone(memory_format=getattr(lib, fmt)))]


def _p_detach(lib, base, x, r):
    def shared():
        d = base.detach()
        if d.numel():
            d.view(-1)[0] = 1
        return base, d.is_leaf, d.requires_grad
    return [("", shared)]


def _p_len_iter(lib, base, x, r):
    return [("len", lambda: len(x)), ("iter", lambda: list(iter(x)))]


def _p_contains(lib, base, x, r):
    v = r.choice([0, 1, 2.5, True, -3])
    return [("number", lambda: v in x), ("tensor", lambda: lib.tensor(v) in x),
            ("str", lambda: "a" in x)]


def _p_eq(lib, base, x, r):
    v = r.choice([0, 1, 0.75, True])
    return [("tensor", lambda: x == x.clone()), ("number", lambda: x != v),
            ("None ==", lambda: x == None), ("None !=", lambda: x != None)]  # noqa: E711


def _p_hash(lib, base, x, r):
    return [("", lambda: (hash(x) == hash(x), hash(x.clone()) != hash(x), {x: 1}[x]))]


def _with_grad(lib, base):
    if base.requires_grad:
        base.grad = lib.ones_like(base)
    return base


def _p_copy(lib, base, x, r):
    b = _with_grad(lib, base)
    return [("leaf", lambda: (lambda c: (c, c.grad, c.is_leaf))(copy.copy(b))),
            ("view", lambda: copy.copy(x))]


def _p_deepcopy(lib, base, x, r):
    b = _with_grad(lib, base)
    return [("leaf", lambda: (lambda c: (c, c.grad, c.is_leaf, c is b))(copy.deepcopy(b))),
            ("non-leaf", lambda: (lambda c: (c, c.is_leaf))(copy.deepcopy(x.clone())))]


def _p_pickle(lib, base, x, r):
    src = x if r.random() < 0.5 else base
    return [("", lambda: (lambda c: (c, c.is_leaf))(pickle.loads(pickle.dumps(src))))]


def _p_format(lib, base, x, r):
    spec = r.choice([".3f", "" if x.dim() == 0 else ".3f", ".2e"])   # (not repr: printing)
    return [("", lambda: format(x, spec))]


def _p_list_index(lib, base, x, r):
    return [("", lambda: [10, 20, 30, 40][x]), ("slice", lambda: [10, 20, 30, 40][x:])]


def _p_range(lib, base, x, r):
    return [("", lambda: list(range(x))), ("2", lambda: list(range(-1, x)))]


def _p_reversed(lib, base, x, r):
    def rev():
        v = reversed(x)
        return v if isinstance(v, lib.Tensor) else ("iterator", list(v))
    return [("", rev)]


def _p_np_scalar(lib, base, x, r):
    s = r.choice([np.float64(2), np.int64(3), np.float32(0.5), np.int8(-2)])  # KNOWN (e)
    return [("*", lambda: s * x), ("+", lambda: s + x), ("-", lambda: s - x)]


def _p_unary(lib, base, x, r):
    return [("abs", lambda: abs(x)), ("neg", lambda: -x), ("invert", lambda: ~x)]


def _p_round(lib, base, x, r):
    return [("round", lambda: round(x)), ("round2", lambda: round(x, 1)),
            ("floor", lambda: math.floor(x)), ("ceil", lambda: math.ceil(x)),
            ("trunc", lambda: math.trunc(x))]


PROBE_FNS = dict(
    item=_p_scalars("item"), tolist=_p_scalars("tolist"), int=_p_scalars("int"),
    float=_p_scalars("float"), bool=_p_scalars("bool"), complex=_p_scalars("complex"),
    index=_p_scalars("index"), numpy=_p_numpy, asarray=_p_arrays, array_dtype=_p_arrays,
    to=_p_to, type=_p_type, type_dtype=_p_type, type_as=_p_type_as, cast=_p_cast, new=_p_new,
    clone=_p_clone, detach=_p_detach, len=_p_len_iter, iter=_p_len_iter, contains=_p_contains,
    eq=_p_eq, hash=_p_hash, copy=_p_copy, deepcopy=_p_deepcopy, pickle=_p_pickle,
    format=_p_format, list_index=_p_list_index, range=_p_range, reversed=_p_reversed,
    np_scalar=_p_np_scalar, unary=_p_unary, round=_p_round)


# ---- comparing -------------------------------------------------------------------------------

def diff(a, b, path=""):
    if isinstance(a, tuple) and a and a[0] in ("tensor", "ndarray"):
        if not (isinstance(b, tuple) and b and b[0] == a[0]):
            return f"{path}: {a!r:.80} vs {b!r:.80}"
        if a[1] != b[1] or a[2].shape != b[2].shape:
            return f"{path}: dtype/shape {a[1]}{a[2].shape} vs {b[1]}{b[2].shape}"
        if not np.array_equal(a[2], b[2], equal_nan=a[2].dtype.kind == "f"):
            return f"{path}: values"
        return None if a[3:] == b[3:] else f"{path}: strides/requires_grad {a[3:]} vs {b[3:]}"
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)) and type(a) is type(b):
        if len(a) != len(b):
            return f"{path}: lengths {len(a)} vs {len(b)}"
        return next((d for i, (x, y) in enumerate(zip(a, b)) if (d := diff(x, y, f"{path}[{i}]"))),
                    None)
    if type(a) is not type(b):
        return f"{path}: {type(a).__name__} {a!r:.60} vs {type(b).__name__} {b!r:.60}"
    if isinstance(a, float) and math.isnan(a) and math.isnan(b):
        return None
    return None if a == b else f"{path}: {a!r:.80} vs {b!r:.80}"


def first_difference(seed):
    """(log entry index, where, ours, theirs) of the first difference of program `seed`, or
    None where the two logs match."""
    prog = program(seed)
    ours, theirs = run(tg, prog), run(torch, prog)
    for n, (a, b) in enumerate(zip(ours, theirs)):
        if a[0] != b[0]:
            return n, f"{a[0]} vs {b[0]}", a, b
        if a[0].endswith("refused"):
            if a[1] != b[1]:
                return n, f"{a[0]}: {a[1]} vs {b[1]}", a, b
            continue
        d = diff(a[1], b[1])
        if d is not None:
            return n, f"{a[0]}{d}", a, b
    if len(ours) != len(theirs):
        return len(theirs), f"log lengths {len(ours)} vs {len(theirs)}", None, None
    return None


def explain(seed, found):
    return explain_difference(seed, found, program(seed))


@pytest.mark.parametrize("block", range(10))
def test_random_tensor_meta_programs_match_pytorch(block):
    seeds = range(block * 30, block * 30 + 30)
    assert_programs_match(seeds, first_difference, explain)
