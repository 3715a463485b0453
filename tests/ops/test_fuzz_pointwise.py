"""Random pointwise programs, run on tinygen and on PyTorch: the same dtype, shape and values (and
float64 gradients), or both refusing.

Each program is one op call drawn from its seed as plain data (`program(seed)`): the op (seed %
len(OPS), so any len(OPS) consecutive seeds exercise every op), its form, its arguments as specs
and its keyword arguments. `run(lib, program)` builds the inputs and calls the op the same way
on `tg` and on `torch`. Drawn:
  * ops: unary math (abs ... erfinv, ceil floor round (decimals=) trunc frac, sign sgn,
    reciprocal square, relu gelu silu softplus through nn.functional, logit (eps=), nan_to_num
    (nan=, posinf=, neginf=), the predicates isnan isinf isfinite signbit, logical_not,
    bitwise_not), clamp / clip (min only, max only, min > max, none, tensor bounds), binary
    arithmetic (add / sub with alpha=, mul, div with rounding_mode None / 'trunc' / 'floor',
    true_divide, floor_divide, remainder, fmod, pow, atan2, hypot, maximum minimum fmax fmin,
    copysign, xlogy), comparisons, logical, bitwise and shift ops, isclose (rtol, atol,
    equal_nan), lerp (number or tensor weight), addcmul / addcdiv (value=), where (tensors or
    Python numbers);
  * forms: tg.op(...) (a Python number first where PyTorch's signature takes one), the method,
    the in-place method op_ (where PyTorch has one: a missing one in tinygen is a difference),
    the Python operators (+ - * / // % ** & | ^ << >> comparisons, unary - ~ abs, reflected:
    `3 - a`, `2 ** a`) and their in-place forms (a += b ...), and the out= keyword where
    tinygen's function takes it (an out of any dtype and shape: PyTorch's dtype rules and
    resizing; OUT_EVERYWHERE = True draws it for every op, a runner's option);
  * inputs: shapes that broadcast (0-d, (1,) against (), size-0 dims, now and then shapes that
    do not), dtypes float32 float64 int64 int32 int8 uint8 bool mixed (type promotion with 0-d
    tensors and Python int / float / bool numbers), values of a kind (normal, wide magnitudes,
    specials: +-0, +-inf, nan, 1e30; (-1.1, 1.1); positive; integral; k + 0.5; integer edge values;
    shift amounts up to 70);
  * gradients: for a float64 program (a third of the differentiable ops' draws), every float64
    tensor input requires grad, and the .grad of each after backward of a weighted sum of the
    result (weights away from 0) is compared, as is the result's requires_grad.
Compared: the result's dtype, shape and values (integers and bools equal; floats allclose with
NaN == NaN and infinities equal: rtol 1e-5 / atol 1e-6 for float32, rtol 1e-9 / atol 1e-12 for
float64), whether an in-place form returns its tensor, the gradients (rtol 1e-9, atol 1e-12,
NaN-aware); where one side raises (any exception) the other must raise too; the exception types
may differ (`differences` notes them, the test does not fail on them).

KNOWN differences, kept out of the programs or checked otherwise:
(a) tinygen's gradients are exactly 0, not NaN, where the upstream gradient is exactly 0
    (elementwise.py, `guard`, deliberate): the weights of the weighted sum are never 0.
(b) tinygen takes a Python number in places where PyTorch's signature takes only a tensor
    (floor_divide(7, t) and `1 & t` as functions, atan2's and copysign's other a number, clamp
    with a number beside a tensor bound: compare.py `no_grad_binary`, trig.py `Atan2`,
    elementwise.py `_clamp_tensors`, documented there): numbers are drawn only where PyTorch
    takes them (SCALAR_SELF, SCALAR_OTHER; clamp's bounds both numbers or both tensors).
(c) where PyTorch's backward raises and tinygen's computes (remainder with a number dividend,
    floor_divide: "derivative not implemented"; clamp with bounds broadcast beyond x; pow with a
    bool base: an internal assert), a note ("torch-backward-raises"), not a failure.
(d) PyTorch's pow(x, False) gradient is NaN at x = 0 (its zero-exponent shortcut misses a bool
    exponent): no bool exponents in gradient programs.
(e) PyTorch's backward formulas compute in the inputs' own dtypes (a float32 operand of a
    float64 op, an int8 operand of atan2 squared in int8): gradients of programs with a float32
    input are compared at float32's tolerance, atan2's and hypot's only with float64 operands.
(f) PyTorch's NaN from its formula at infinite inputs: gelu(+inf) (approximate="none"; the
    limit is inf) and copysign's input gradient at +-inf and NaN (result / input; the derivative
    is +-1): those positions, where PyTorch has NaN, are not compared (`_artefacts`).
(g) a float32 op (float32 or integer operands) into a float64 out: PyTorch computes some in
    float64 (cos, exp of ints), tinygen in float32 and casts (inplace.py, with_out): compared at
    float32's tolerance.
(h) PyTorch's where(cond, t, number) has no out= overload (a TypeError): where with a number is
    not drawn with out=.
The report of the runs over seeds 0-19999 (/tmp/opfuzz/pointwise/report.md, 2026-12-07) lists
the differences found and the classes these 300 seeds hit (round decimals=, isclose dtypes,
hypot, bool inputs, sub with a number first).
"""
import inspect
import math
import operator
import random
import warnings

import numpy as np
import pytest

import tinygen as tg

torch = pytest.importorskip("torch")

OUT_EVERYWHERE = False           # the runner's option: draw out= for ops tinygen takes it for not
DTYPES = ["float32", "float64", "int64", "int32", "int8", "uint8", "bool"]
DTYPE_WEIGHTS = [3, 3, 2, 1, 1, 1, 1]
FLOATS = ("float32", "float64")
SHAPES = [(), (), (1,), (3,), (0,), (2, 3), (2, 1), (1, 3), (2, 0), (4, 1, 3), (1, 2, 1), (5,)]
KINDS = {"float": ["normal", "wide", "special", "unit", "pos", "intlike", "half"],
         "int": ["small", "nonzero", "pos", "edge", "shift"], "bool": ["bool"]}
INT_HINT = {"pos": "pos", "intlike": "nonzero", "shift": "shift", "special": "edge",
            "wide": "edge", "unit": "small", "half": "small"}
SPECIALS = [0.0, -0.0, 1.0, -1.0, math.inf, -math.inf, math.nan, 1e30, -1e30, 1e-30, 0.5, 88.5]
NUMBERS = {"int": [0, 1, -1, 2, 3, -3, 7, 100, 300, -129, 2 ** 31, -2 ** 40],
           "float": [0.0, -0.0, 0.5, -1.5, 2.5, 3.0, -2.0, 1e10, math.inf, -math.inf, math.nan],
           "bool": [True, False]}

# unary ops: the value kind they are mostly drawn with
UNARY = {
    "abs": "", "neg": "", "exp": "wide", "exp2": "wide", "expm1": "wide", "log": "pos",
    "log2": "pos", "log10": "pos", "log1p": "unit", "sqrt": "pos", "rsqrt": "pos", "sin": "wide",
    "cos": "wide", "tan": "normal", "asin": "unit", "acos": "unit", "atan": "wide",
    "sinh": "wide", "cosh": "wide", "tanh": "wide", "asinh": "wide", "acosh": "pos",
    "atanh": "unit", "sigmoid": "wide", "erf": "normal", "erfc": "normal", "erfinv": "unit",
    "ceil": "half", "floor": "half", "round": "half", "trunc": "half", "frac": "half",
    "sign": "special", "sgn": "special", "reciprocal": "intlike", "square": "", "relu": "",
    "gelu": "", "silu": "", "softplus": "wide", "logit": "unit", "nan_to_num": "special",
    "isnan": "special", "isinf": "special", "isfinite": "special", "signbit": "special",
    "logical_not": "", "bitwise_not": "edge",
}
NN = ("gelu", "silu", "softplus")             # nn.functional only
# binary ops: the value kind of their second operand
BINARY = {
    "add": "", "sub": "", "mul": "", "div": "intlike", "true_divide": "intlike",
    "floor_divide": "intlike", "remainder": "intlike", "fmod": "intlike", "pow": "intlike",
    "atan2": "special", "hypot": "", "maximum": "special", "minimum": "special",
    "fmax": "special", "fmin": "special", "eq": "intlike", "ne": "intlike", "lt": "intlike",
    "le": "intlike", "gt": "intlike", "ge": "intlike", "logical_and": "", "logical_or": "",
    "logical_xor": "", "bitwise_and": "edge", "bitwise_or": "edge", "bitwise_xor": "edge",
    "bitwise_left_shift": "shift", "bitwise_right_shift": "shift", "copysign": "special",
    "xlogy": "intlike", "isclose": "special",
}
OTHER = ("clamp", "clip", "lerp", "addcmul", "addcdiv", "where")
OPS = list(UNARY) + list(BINARY) + list(OTHER)
ARITH = ("add", "sub", "mul", "div", "true_divide", "floor_divide", "remainder", "pow")
BITS = ("bitwise_and", "bitwise_or", "bitwise_xor", "bitwise_left_shift", "bitwise_right_shift")
COMPARE = ("eq", "ne", "lt", "le", "gt", "ge")
# where PyTorch's signature takes a Python number (KNOWN (b): elsewhere tinygen may take more)
SCALAR_SELF = ARITH + BITS + ("xlogy",)
SCALAR_OTHER = ARITH + BITS + COMPARE + ("fmod", "copysign", "xlogy")
NO_GRAD = ("isnan", "isinf", "isfinite", "signbit", "logical_not", "bitwise_not", "isclose",
           "logical_and", "logical_or", "logical_xor") + BITS + COMPARE
OPERATORS = {"add": operator.add, "sub": operator.sub, "mul": operator.mul,
             "div": operator.truediv, "floor_divide": operator.floordiv,
             "remainder": operator.mod, "pow": operator.pow, "bitwise_and": operator.and_,
             "bitwise_or": operator.or_, "bitwise_xor": operator.xor,
             "bitwise_left_shift": operator.lshift, "bitwise_right_shift": operator.rshift,
             "eq": operator.eq, "ne": operator.ne, "lt": operator.lt, "le": operator.le,
             "gt": operator.gt, "ge": operator.ge, "neg": operator.neg,
             "bitwise_not": operator.invert, "abs": abs}
IOPERATORS = {"add": operator.iadd, "sub": operator.isub, "mul": operator.imul,
              "div": operator.itruediv, "floor_divide": operator.ifloordiv,
              "remainder": operator.imod, "pow": operator.ipow, "bitwise_and": operator.iand,
              "bitwise_or": operator.ior, "bitwise_xor": operator.ixor,
              "bitwise_left_shift": operator.ilshift, "bitwise_right_shift": operator.irshift}
INPLACE = tuple(op for op in OPS if op not in NN and hasattr(torch.Tensor, op + "_"))


def _takes_out(op):
    try:
        return "out" in inspect.signature(getattr(tg, op)).parameters
    except (AttributeError, TypeError, ValueError):
        return False


OUT_OK = tuple(op for op in OPS if op not in NN + ("isclose",) and _takes_out(op))


# ---- drawing: plain data ---------------------------------------------------------------------

def _dtype(r, floats=False):
    if floats and r.random() < 0.5:
        return r.choice(FLOATS)
    return r.choices(DTYPES, DTYPE_WEIGHTS)[0]


def _tensor(r, shape, dtype, hint=""):
    """A tensor spec: ("t", shape, dtype, value kind, values seed)."""
    cat = "float" if dtype in FLOATS else "bool" if dtype == "bool" else "int"
    kinds = KINDS[cat]
    hint = INT_HINT.get(hint, hint) if cat == "int" else hint
    kind = hint if hint in kinds and r.random() < 0.6 else r.choice(kinds)
    return ("t", tuple(shape), dtype, kind, r.randrange(10 ** 6))


def _number(r, dtype=None):
    """A Python number: mostly of dtype's category, else any."""
    cat = {None: None, "bool": "bool"}.get(dtype, "float" if dtype in FLOATS else "int")
    cat = cat if cat and r.random() < 0.5 else r.choice(["int", "int", "float", "float", "bool"])
    return ("s", r.choice(NUMBERS[cat]))


def _partner(r, s):
    """A shape that broadcasts with s (now and then any shape of SHAPES)."""
    u = r.random()
    if u < 0.35:
        return s
    if u < 0.5:
        return r.choice([(), (1,)])
    if u < 0.56:
        return r.choice(SHAPES)
    t = s[r.randrange(len(s) + 1):]
    return tuple(1 if r.random() < 0.3 else d for d in t)


def _operand(r, shape, dtype, hint, scalar_ok):
    """Another tensor (of dtype, or now and then any dtype), or a number where taken."""
    if scalar_ok and r.random() < 0.3:
        return _number(r, dtype)
    dt = dtype if r.random() < 0.5 else _dtype(r, floats=dtype in FLOATS)
    return _tensor(r, _partner(r, shape), dt, hint)


def _d_unary(r, op, f64):
    dtype = "float64" if f64 else _dtype(r, floats=op not in ("bitwise_not", "logical_not"))
    args = [_tensor(r, r.choice(SHAPES), dtype, UNARY[op])]
    kw = {}
    if op == "round" and r.random() < 0.5:
        kw["decimals"] = r.choice([0, 1, 2, 3, -1, -2])
    elif op == "logit" and r.random() < 0.6:
        kw["eps"] = r.choice([1e-6, 0.1, 0.25, 0.6])
    elif op == "nan_to_num":
        kw = {k: v for k, v in (("nan", 1.5), ("posinf", 100.0), ("neginf", -7.0))
              if r.random() < 0.4}
    elif op == "gelu" and r.random() < 0.5:
        kw["approximate"] = "tanh"
    elif op == "softplus" and r.random() < 0.6:
        kw = {"beta": r.choice([1, 2, 0.5]), "threshold": r.choice([20, 1, 5])}
    return args, kw


def _d_binary(r, op, f64, form):
    dtype = "float64" if f64 else _dtype(r, floats=op not in BITS + ("logical_and",))
    a = _tensor(r, r.choice(SHAPES), dtype, "" if op != "xlogy" else "intlike")
    b = _operand(r, a[1], "float64" if f64 else dtype, BINARY[op],
                 op in SCALAR_OTHER and form != "out")
    if f64 and op == "pow" and b[0] == "s" and isinstance(b[1], bool):
        b = ("s", int(b[1]))                                  # (KNOWN (d))
    if op in SCALAR_SELF and form in ("fn", "operator") and b[0] == "t" and r.random() < 0.2:
        a, b = _number(r, dtype), b                       # 2 ** t, tg.remainder(-7, t)
    elif r.random() < 0.3 and b[0] == "t":
        a, b = b, a
    kw = {}
    if op in ("add", "sub") and r.random() < 0.4:
        kw["alpha"] = r.choice([2, -1, 0, 0.5, True])
    elif op == "div" and r.random() < 0.7:
        kw["rounding_mode"] = r.choice([None, "trunc", "floor"])
    elif op == "isclose":
        kw = {"rtol": r.choice([1e-5, 0.1, 0.0]), "atol": r.choice([1e-8, 0.5, 0.0]),
              "equal_nan": r.random() < 0.5}
    return [a, b], kw


def _d_clamp(r, op, f64):
    dtype = "float64" if f64 else _dtype(r, floats=True)
    x = _tensor(r, r.choice(SHAPES), dtype, "special")
    tensors = r.random() < 0.45          # (KNOWN (b): numbers and tensors are not mixed)
    bounds = []
    for _ in range(2):
        dt = dtype if f64 or r.random() < 0.6 else _dtype(r)
        bounds.append(None if r.random() < 0.3 else _number(r, dtype) if not tensors else
                      _tensor(r, _partner(r, x[1]), dt, "intlike"))
    lo, hi = bounds
    if r.random() < 0.15:                                             # min > max
        lo, hi = ("s", 2.0 if dtype in FLOATS else 2), ("s", -1.0 if dtype in FLOATS else -1)
    kw = {k: v for k, v in (("min", lo), ("max", hi)) if v is not None or r.random() < 0.2}
    return [x], kw


def _d_lerp(r, op, f64):
    dtype = "float64" if f64 else _dtype(r, floats=True) if r.random() < 0.3 else \
        r.choice(FLOATS)
    x = _tensor(r, r.choice(SHAPES), dtype, "")
    end = _tensor(r, _partner(r, x[1]), dtype if r.random() < 0.85 else _dtype(r), "special")
    if r.random() < 0.5:
        w = ("s", r.choice([0.0, 0.25, 0.5, 1.0, 1.5, -0.5, 2]))
    else:
        w = _tensor(r, _partner(r, x[1]), dtype if r.random() < 0.85 else _dtype(r), "unit")
    return [x, end, w], {}


def _d_addc(r, op, f64):
    dtype = "float64" if f64 else _dtype(r, floats=True)
    x = _tensor(r, r.choice(SHAPES), dtype, "")
    t1 = _tensor(r, _partner(r, x[1]), dtype if f64 or r.random() < 0.7 else _dtype(r), "")
    t2 = _tensor(r, _partner(r, x[1]), dtype if f64 or r.random() < 0.7 else _dtype(r),
                 "intlike")
    kw = {"value": r.choice([2, -1, 0.5, 0, True])} if r.random() < 0.4 else {}
    return [x, t1, t2], kw


def _d_where(r, op, f64):
    cond = _tensor(r, r.choice(SHAPES), "bool" if r.random() < 0.95 else _dtype(r), "")
    shape = cond[1]
    ab = []
    for _ in range(2):
        dtype = "float64" if f64 else _dtype(r)
        ab.append(_operand(r, shape, dtype, "special", not f64 or r.random() < 0.2))
    return [cond] + ab, {}


DRAW = {**{op: _d_clamp for op in ("clamp", "clip")}, "lerp": _d_lerp, "addcmul": _d_addc,
        "addcdiv": _d_addc, "where": _d_where}


def _forms(op):
    """The forms an op is drawn in, with weights."""
    forms = [("fn", 4)]
    if op not in NN:
        forms.append(("method", 2))
    if op in INPLACE:
        forms.append(("inplace", 2))
    if op in OPERATORS:
        forms.append(("operator", 2))
    if op in IOPERATORS:
        forms.append(("ioperator", 1))
    if op in OUT_OK or (OUT_EVERYWHERE and op not in NN + ("isclose",)):
        forms.append(("out", 1))
    return forms


def program(seed):
    """Program `seed` as plain data: the op, its form, its argument specs, keyword arguments,
    and whether float64 gradients are compared."""
    r = random.Random(seed)
    op = OPS[seed % len(OPS)]
    forms = _forms(op)
    form = r.choices([f for f, _ in forms], [w for _, w in forms])[0]
    f64 = op not in NO_GRAD and form not in ("inplace", "ioperator", "out") and r.random() < 0.33
    if op in UNARY:
        args, kw = _d_unary(r, op, f64)
    elif op in BINARY:
        args, kw = _d_binary(r, op, f64, form)
    else:
        args, kw = DRAW[op](r, op, f64)
    lead = args[1] if op == "where" else args[0]              # (t.where(cond, other))
    if form in ("method", "inplace", "ioperator", "out") and lead[0] != "t":
        form = "fn"
    if form == "out" and op == "where" and any(a[0] != "t" for a in args):
        form = "fn"                                           # (KNOWN (h))
    if form == "out":
        kw["out"] = _tensor(r, _out_shape(args, kw), _dtype(r), "")
    return {"op": op, "form": form, "args": args, "kw": kw, "grad": f64, "seed": seed}


def _out_shape(args, kw):
    shapes = [s[1] for s in list(args) + list(kw.values()) if isinstance(s, tuple) and s
              and s[0] == "t"]
    try:
        return tuple(np.broadcast_shapes(*shapes))
    except ValueError:
        return ()


# ---- running ---------------------------------------------------------------------------------

def _float_values(g, n, kind):
    if kind == "normal":
        return g.standard_normal(n) * 2
    if kind == "wide":
        return g.standard_normal(n) * 10.0 ** g.integers(-6, 7, n)
    if kind == "special":
        return np.where(g.random(n) < 0.6, g.choice(SPECIALS, n), g.standard_normal(n))
    if kind == "unit":
        return g.uniform(-1.1, 1.1, n)
    if kind == "pos":
        return g.exponential(2.0, n)
    if kind == "intlike":
        return g.integers(-6, 7, n).astype(np.float64)
    return g.integers(-4, 5, n) + 0.5                                   # "half"


def _int_values(g, n, kind, np_dtype):
    info = np.iinfo(np_dtype)
    low = 0 if info.min == 0 else None
    if kind == "edge":
        edges = [v for v in (info.min, info.max, 0, 1, -1, info.max - 1, info.min + 1, 2)
                 if info.min <= v <= info.max]
        return np.array(edges, dtype=np_dtype)[g.integers(0, len(edges), n)]
    span = {"small": (-5, 6), "nonzero": (1, 6), "pos": (0, 10), "shift": (-2, 71)}[kind]
    v = g.integers(*span, n)
    if kind == "nonzero":
        v = v * np.where(g.random(n) < 0.5, -1, 1)
    if low == 0:
        v = np.abs(v) if kind != "small" else v % 7
    return v.astype(np_dtype)


def values(spec):
    """The NumPy array of a tensor spec ("t", shape, dtype, kind, seed)."""
    _, shape, dtype, kind, seed = spec
    g = np.random.default_rng(seed)
    n = int(np.prod(shape))
    if dtype == "bool":
        v = g.random(n) < 0.5
    elif dtype in FLOATS:
        v = _float_values(g, n, kind)
    else:
        v = _int_values(g, n, kind, np.dtype(dtype))
    return np.asarray(v).astype(dtype).reshape(shape)


def _make(lib, spec, grad):
    if not (isinstance(spec, tuple) and spec and spec[0] in ("t", "s")):
        return spec                                             # None, a string
    if spec[0] == "s":
        return spec[1]
    t = lib.tensor(values(spec), dtype=getattr(lib, spec[2]))
    return t.requires_grad_() if grad and spec[2] == "float64" else t


def _call(lib, prog, args, kw):
    """Call the op of `prog` in its form; a missing name in `lib` gives ("missing", name)."""
    op, form = prog["op"], prog["form"]
    if form == "operator":
        return OPERATORS[op](*args)
    if form == "ioperator":
        return IOPERATORS[op](*args)
    if form in ("fn", "out"):
        owner, name, where = (lib.nn.functional if op in NN else lib), op, "" if op not in NN \
            else "nn.functional."
        if not hasattr(owner, name):
            return ("missing", f"{where}{name}")
        return getattr(owner, name)(*args, **kw)
    name = op + ("_" if form == "inplace" else "")
    if not hasattr(lib.Tensor, name):
        return ("missing", f"Tensor.{name}")
    if op == "where":
        return args[1].where(args[0], *args[2:], **kw)
    return getattr(args[0], name)(*args[1:], **kw)


def _family(e):
    """The builtin exception class e is compared as (NotImplementedError is a RuntimeError)."""
    for cls in (IndexError, TypeError, RuntimeError, ValueError, ArithmeticError):
        if isinstance(e, cls):
            return cls.__name__
    return type(e).__name__


def _np(t):
    t = t.detach()
    return np.array(t.numpy(force=True) if isinstance(t, torch.Tensor) else t.numpy())


def _dtname(dt):
    return str(dt).split(".")[-1]


def run(lib, prog):
    """Program `prog` on `lib` (tg or torch): a dict of what is compared."""
    args = [_make(lib, s, prog["grad"]) for s in prog["args"]]
    kw = {k: _make(lib, v, False) for k, v in prog["kw"].items()}
    try:
        with warnings.catch_warnings():
            if lib is torch:
                warnings.simplefilter("ignore")
            out = _call(lib, prog, args, kw)
    except Exception as e:                                       # noqa: BLE001 (compared)
        return {"raised": _family(e), "type": type(e).__name__, "message": str(e)[:300]}
    if isinstance(out, tuple) and out[:1] == ("missing",):
        return {"missing": out[1]}
    if not isinstance(out, lib.Tensor):
        return {"type": type(out).__name__, "values": np.asarray(out)}
    try:
        rec = {"dtype": _dtname(out.dtype), "shape": tuple(out.shape), "values": _np(out)}
    except Exception as e:                                       # noqa: BLE001 (compared)
        return {"unreadable": f"{type(e).__name__}: {e}"}
    if prog["form"] in ("inplace", "ioperator", "out"):
        target = kw["out"] if prog["form"] == "out" else args[0]
        rec["is_target"] = out is target
    if prog["grad"]:
        rec["requires_grad"] = out.requires_grad
        rec["grads"] = _grads(lib, out, args, prog["seed"])
    return rec


def _grads(lib, out, args, seed):
    """The .grad of each input that requires grad after backward of a weighted sum of out (the
    weights in +-[0.5, 1.5]); ("raised", type) where backward raises."""
    leaves = [a for a in args if isinstance(a, lib.Tensor) and a.requires_grad]
    if not out.requires_grad:
        return None
    g = np.random.default_rng(seed)
    w = g.uniform(0.5, 1.5, tuple(out.shape)) * np.where(g.random(tuple(out.shape)) < 0.5, -1, 1)
    try:
        (out * lib.tensor(w, dtype=lib.float64)).sum().backward()
    except Exception as e:                                       # noqa: BLE001 (compared)
        return ("raised", _family(e))
    return [None if a.grad is None else _np(a.grad) for a in leaves]


# ---- comparing -------------------------------------------------------------------------------

NOTES = ("raise-type", "torch-backward-raises")        # kinds of difference that do not fail
TOL = {"float32": (1e-5, 1e-6), "float64": (1e-9, 1e-12)}


def _close(a, b, dtype, skip=None):
    """a == b (ints, bools) or allclose, NaN == NaN, infinities equal (floats); where `skip`
    (KNOWN (f)) and b is NaN, anything."""
    if np.shape(a) != np.shape(b):
        return False
    if dtype not in TOL:
        return bool(np.array_equal(a, b))
    rtol, atol = TOL[dtype]
    a, b = np.array(a, np.float64), np.array(b, np.float64)
    if skip is not None and skip.size:
        off = np.broadcast_to(skip, b.shape) & np.isnan(b)
        a[off] = b[off] = 0
    return bool(np.all(np.isclose(a, b, rtol=rtol, atol=atol, equal_nan=True)))


def _artefacts(prog):
    """KNOWN (f): (what, mask) of the positions where PyTorch's formula gives NaN at an
    infinite (or NaN) input: gelu(+inf) (approximate="none"), copysign's input gradient at
    +-inf and NaN (result / input)."""
    op, x = prog["op"], prog["args"][0]
    if x[0] != "t" or x[2] not in FLOATS:
        return None, None
    if op == "gelu" and prog["kw"].get("approximate", "none") == "none":
        return "values", values(x) == np.inf
    if op == "copysign":
        return "grads", ~np.isfinite(values(x))
    return None, None


def _grad_differences(a, b, tol, skip=None):
    """KNOWN (c): where PyTorch's backward raises and tinygen's does not, a note. skip: the
    first input's KNOWN (f) positions."""
    ga, gb = a.get("grads"), b.get("grads")
    if isinstance(gb, tuple) and not isinstance(ga, tuple):
        return [("torch-backward-raises", f"tinygen {ga!r:.200}, torch {gb}")]
    if (ga is None) != (gb is None) or isinstance(ga, tuple) or isinstance(gb, tuple):
        return [] if ga == gb else [("grad", f"tinygen {ga!r:.200}, torch {gb!r:.200}")]
    for n, (x, y) in enumerate(zip(ga or [], gb or [])):
        if (x is None) != (y is None) or (x is not None and not _close(
                x, y, tol, skip if n == 0 else None)):
            return [("grad", f"input {n}: tinygen {x!r}, torch {y!r}")]
    return []


def differences(prog):
    """[(kind, detail)] where tinygen and torch differ on prog; kind "raise-type" is a note
    (both raise, different exception types), the others are failures."""
    a, b = run(tg, prog), run(torch, prog)
    if "missing" in a or "missing" in b:
        return [("missing", a.get("missing") or b.get("missing"))]
    if ("raised" in a) != ("raised" in b):
        who = "tinygen" if "raised" in a else "torch"
        return [("raise-vs-not", f"only {who} raises: tinygen {a}, torch {b}")]
    if "raised" in a:
        return [] if a["raised"] == b["raised"] else [
            ("raise-type", f"tinygen {a['type']}: {a['message']} | torch {b['type']}: "
                           f"{b['message']}")]
    for key in ("unreadable", "type", "dtype", "shape"):
        if a.get(key) != b.get(key):
            return [(key, f"tinygen {a.get(key)}, torch {b.get(key)}")]
    diffs, (what, skip) = [], _artefacts(prog)
    tol = b.get("dtype")                   # (a float32 op into a float64 out: float32's bits,
    if prog["form"] == "out" and tol == "float64" and not any(  # which PyTorch may compute in
            s[0] == "t" and s[2] == "float64" for s in prog["args"]):   # float64: KNOWN (g))
        tol = "float32"
    if not _close(a["values"], b["values"], tol, skip if what == "values" else None):
        diffs.append(("value", f"tinygen {a['values']!r}, torch {b['values']!r}"))
    if a.get("is_target") != b.get("is_target"):
        diffs.append(("returns-target", f"tinygen {a.get('is_target')}, torch "
                                        f"{b.get('is_target')}"))
    if a.get("requires_grad") != b.get("requires_grad"):
        diffs.append(("requires_grad", f"tinygen {a.get('requires_grad')}, torch "
                                       f"{b.get('requires_grad')}"))
    elif "grads" in b and not (prog["op"] in ("atan2", "hypot") and any(       # (KNOWN (e))
            s[0] == "t" and s[2] != "float64" for s in prog["args"])):
        mixed = any(s[0] == "t" and s[2] == "float32" for s in prog["args"])
        diffs += _grad_differences(a, b, "float32" if mixed else "float64",
                                   skip if what == "grads" else None)
    return diffs


def check(seed):
    prog = program(seed)
    fails = [d for d in differences(prog) if d[0] not in NOTES]
    assert not fails, f"seed {seed}: {fails}; program {prog}"


@pytest.mark.parametrize("seed", range(300))
def test_random_pointwise_programs_match_pytorch(seed):
    check(seed)
