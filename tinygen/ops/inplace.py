"""In-place ops: `add_ sub_ mul_ div_ clamp_ masked_fill_ copy_ fill_ zero_ uniform_ normal_`,
item assignment, the in-place twin of the other ops (`exp_`, `relu_`, `scatter_`... from
`twin`), in-place view changes (`squeeze_`, `t_`...) and random fills (`bernoulli_`,
`exponential_`, `random_`...), with PyTorch's rules:

- every in-place write bumps the tensor's version counter, so a backward that saved the old
  value fails clearly instead of using the new one (Function.saved_tensors checks it);
- a leaf that requires grad may be changed in place only under `no_grad` (optimisers, init);
- an op's result may be written only into a tensor of its category or a higher one (bool <
  integer < floating): `int_tensor += 1.5` raises, as PyTorch, where NumPy would truncate;
- inside a graph the op is recorded out of place and the tensor takes the new node as its
  grad_fn (PyTorch's "rebase"), so gradients flow through the in-place history.
"""
from __future__ import annotations

import functools
import inspect
import warnings

import numpy as np

from ..autograd import function as _fn
from ..autograd import capture as _capture
from ..autograd.capture import tracer
from ..autograd.grad_mode import GRAD, no_grad
from ..autograd.view_history import (check_writable, reshaped_in_place, take_history,
                                      writes_without_history)
from ..backend import dtypes as _dt
from ..backend.device import get_xp
from ..backend.random import generator
from .binary import type_name, where
from .convert import as_array, scalar_like
from .diagonal import diagonal_mask
from .index import SetItem, assign
from .index_rules import numpy_index, tensor_index


def _leaf_check(t):
    if t._grad_fn is None and t._requires_grad:
        raise RuntimeError(
            f"a leaf Variable that requires grad (shape {tuple(t.shape)}) is being used in an "
            "in-place operation; wrap it in `with tg.no_grad():` (as optimisers and init do)")


def _write(t, out, name=None, views=True):
    """out (the op's result) into t; with the op's name, refused where PyTorch refuses the cast
    (copy_ and setitem cast freely and pass none). views=False: the caller gives t and its
    views their histories (_rebase)."""
    if out._data.shape != t._data.shape:
        raise RuntimeError(f"in-place op: result shape {tuple(out.shape)} doesn't match the "
                           f"tensor's shape {tuple(t.shape)}")
    if name is not None and out._data.dtype is not t._data.dtype:
        _check_cast(name, out, t)
    _store(t, out._data, views=views)


def _check_cast(name, out, t):
    """PyTorch's can_cast for an in-place result: never to a lower category (floating ->
    integer or bool, integer -> bool); within a category any cast (float64 into float32)."""
    if _dt._category(out._data.dtype) > _dt._category(t._data.dtype):
        raise RuntimeError(f"{name}_: result type {type_name(out._data.dtype)} can't be cast to "
                           f"the desired output type {type_name(t._data.dtype)} (an in-place "
                           f"op on a {t.dtype} tensor of shape {tuple(t.shape)})")


def _store(t, values, source=None, views=True):
    """t's storage set to values (an array, broadcast and cast as NumPy assigns), its version
    bumped; a step being captured (tg.compile) records the write, so its replays make it too
    (values must then be an op's output, made by _constant, or the array of `source`, a
    tensor: state a replay reads again)."""
    if _fn.CAPTURE[0] is not None:
        tr = tracer()
        if tr is not None:
            tr.write(t._data, values, t, source)
    t._data[...] = values
    t._version[0] += 1
    if views and len(t._version) > 1:         # views of this storage (autograd/views.py)
        writes_without_history(t)


def _constant(value, t):
    """A Python value (a number, nested lists of numbers) as an array in t's dtype on t's
    device, which a captured step keeps as a constant; a NumPy array is the caller's data, which
    a captured step cannot know to read again (it then runs eagerly)."""
    arr = as_array(value, t._data.dtype, t.device)
    if _fn.CAPTURE[0] is not None:
        _capture.made(arr, constant=not hasattr(value, "shape"))
    return arr


def inplace(t, compute, name=None):
    """Run `compute(t)` and write the result into t's storage (t's grad_fn becomes the result's
    node when a graph is recorded); `name`, the op's, refuses a result t's dtype can't take."""
    if GRAD.enabled:
        _leaf_check(t)
        return _rebase(t, compute, name)
    _write(t, compute(t), name)
    return t


def _rebase(t, compute, name=None):
    if getattr(t, "_view", None) is not None:
        check_writable(t)
    # the op sees the old value: a copy, so what it saves for backward (b.mul_(a) saves the old
    # b) is not overwritten by the write below
    with no_grad():
        old = _fn.CopyArray.apply(t)._data
    alias = _fn.Tensor._make(old, t._grad_fn, t._out_idx, t._requires_grad)
    out = compute(alias)
    _write(t, out, name, views=not out._requires_grad)
    if out._requires_grad:
        _leaf_check(t)
        take_history(t, out)         # t's, and its root's and their views' (view_history.py)
    return t


def add_(input, other, alpha=1):
    return inplace(input, lambda t: t.add(other, alpha=alpha), "add")


def sub_(input, other, alpha=1):
    return inplace(input, lambda t: t.sub(other, alpha=alpha), "sub")


def mul_(input, other):
    return inplace(input, lambda t: t * other, "mul")


def div_(input, other, rounding_mode=None):
    if rounding_mode is None:
        return inplace(input, lambda t: t / other, "div")
    return inplace(input, lambda t: t.div(other, rounding_mode=rounding_mode), "div")


def clamp_(input, min=None, max=None):
    return inplace(input, lambda t: t.clamp(min, max), "clamp")


def masked_fill_(input, mask, value):
    return inplace(input, lambda t: t.masked_fill(mask, value))


def _index_put(idx, value):
    """Whether PyTorch writes x[idx] = value (value a Tensor) with index_put_: an index with
    arrays, other than one bool mask with a one-element value."""
    arrays = [i for i in (idx if type(idx) is tuple else (idx,)) if hasattr(i, "dtype")]
    if not arrays:
        return False
    return not (len(arrays) == 1 and arrays[0].dtype == np.bool_ and value.numel() == 1)


def setitem(input, idx, value):
    """input[idx] = value, PyTorch's indexing rules (index_rules.numpy_index); recorded as SetItem
    when a graph is being built. A bad index or a value that does not fit the selection raises
    an error naming setitem, the shapes and the index."""
    pre = None
    if isinstance(idx, _fn.Tensor):                     # (the common cases first)
        idx = tensor_index(idx)
    elif not (type(idx) is int or type(idx) is slice and idx.step is None):
        idx, pre = numpy_index(idx)                     # (x[::-1] = v raises there, as PyTorch)
    if (isinstance(value, _fn.Tensor) and value._data.dtype != input._data.dtype
            and _index_put(idx, value)):
        # advanced indexing is PyTorch's index_put_, which takes no other dtype (basic
        # indexing is a copy_, and one bool mask with one value a masked_fill_: both cast)
        raise RuntimeError(f"Index put requires the source and destination dtypes match, got "
                           f"{input.dtype} for the destination and {value.dtype} for the source")
    tracked = isinstance(value, _fn.Tensor) and value._requires_grad or input._requires_grad
    if GRAD.enabled and tracked:
        v = value if isinstance(value, _fn.Tensor) else scalar_like(value, input)
        _rebase(input, lambda alias: SetItem.apply(alias, idx, v, pre))
        return
    if _fn.CAPTURE[0] is not None and tracer() is not None:
        # a captured step records the write: SetItem out of place, then the whole array
        v = value if isinstance(value, _fn.Tensor) else _fn.Tensor._make(
            _constant(value, input), None, 0, False)
        with no_grad():
            _write(input, SetItem.apply(input, idx, v, pre))
        return
    assign(input._data, idx, value._data if isinstance(value, _fn.Tensor) else value, pre)
    input._version[0] += 1
    if len(input._version) > 1:
        writes_without_history(input)


def copy_(input, src):
    """Copy src's values into input (src broadcast, cast and moved to input's device)."""
    if GRAD.enabled and (input._requires_grad or
                         (isinstance(src, _fn.Tensor) and src._requires_grad)):
        return inplace(input, _replaced_by(src))
    if isinstance(src, _fn.Tensor) and src.device == input.device:
        _store(input, src._data, src)        # (the assignment casts and broadcasts)
    else:
        _store(input, _constant(src, input) if not isinstance(src, _fn.Tensor) else
               as_array(src, input._data.dtype, input.device))
    return input


def _replaced_by(src):
    """compute(t) for an in-place op that overwrites all of t with src (a tensor or a number,
    broadcast to t): where(True, src, t), so t's old history gets a zero gradient (not t * 0,
    which is NaN where t held inf) and src its own."""
    def compute(t):
        everywhere = _fn.wrap_constant(get_xp(t.device).ones(t._data.shape, dtype=bool))
        return where(everywhere, src, t)
    return compute


def fill_(input, value):
    if GRAD.enabled and (input._requires_grad or
                         (isinstance(value, _fn.Tensor) and value._requires_grad)):
        return inplace(input, _replaced_by(value))          # its history: FillBackward's
    if isinstance(value, _fn.Tensor):
        _store(input, value._data, value)
    else:
        _store(input, _constant(value, input))
    return input


def zero_(input):
    return fill_(input, 0)


def uniform_(input, a=0.0, b=1.0):
    """Fill with U(a, b) draws from tinygen's generator for the tensor's device."""
    if not hasattr(a, "shape") and not hasattr(b, "shape") and a > b:   # (numbers)
        raise RuntimeError(f"uniform_ expects to return a [from, to) range, but found "
                           f"from={a} > to={b}")
    return _fill_random(input, "uniform", a, b)


def normal_(input, mean=0.0, std=1.0):
    if not hasattr(std, "shape") and std < 0:
        raise RuntimeError(f"normal_ expects std >= 0.0, but found std {std}")
    return _fill_random(input, "normal", mean, std)


def _fill_random(input, kind, *params):
    """input filled with draws of `kind` (_DRAWS) from its device's generator; a step being
    captured records the draw, so its replays draw again from the same stream."""
    if GRAD.enabled and input._requires_grad:
        _leaf_check(input)
    draw = (kind, params, tuple(input.shape), input.device)
    values = _draws(*draw)
    if _fn.CAPTURE[0] is not None and (tr := tracer()) is not None:
        if any(hasattr(v, "shape") for v in params):
            tr.note(f"an in-place {kind} fill with a tensor parameter")
        tr.source(_draws, draw, {}, values)
    if GRAD.enabled and input._requires_grad:       # a graph: the old history gets no gradient
        return inplace(input, _replaced_by(_fn.Tensor._make(values, None, 0, False)))
    _store(input, values)
    return input


_DRAWS = {                          # kind -> (generator, shape, *params) -> values
    "uniform": lambda g, shape, a, b: g.uniform(a, b, size=shape),
    "normal": lambda g, shape, mean, std: g.normal(mean, std, size=shape),
    "bernoulli": lambda g, shape, p: g.random(shape) < p,
    "exponential": lambda g, shape, scale: g.exponential(scale, size=shape),
    "cauchy": lambda g, shape, median, sigma: median + sigma * g.standard_cauchy(size=shape),
    "lognormal": lambda g, shape, mean, std: g.lognormal(mean, std, size=shape),
    "geometric": lambda g, shape, p: g.geometric(p, size=shape),
    "integers": lambda g, shape, low, high: g.integers(low, high, size=shape),
}


def _draws(kind, params, shape, device):
    """Draws of `kind` (_DRAWS) and `shape` from device's generator, as an array there."""
    return get_xp(device).asarray(_DRAWS[kind](generator(device), shape, *params))


# ---- PyTorch's out= keyword ---------------------------------------------------------------------
def with_out(fn, cast="safe"):
    """fn with PyTorch's out= keyword: the result written into `out`, which is returned; an out of
    another shape is resized first (with PyTorch's warning where it held elements). Refused as
    PyTorch refuses them: out= where an argument or out requires grad (under grad mode), and an
    out of a dtype the result may not go to: cast="safe", a lower category (float into int);
    "exact", any other dtype (PyTorch's matmul, gather, abs, floor...); "any", none (cumsum);
    or a function of (args, kwargs) that says which.
    The result is computed in its own dtype, then cast to out's (PyTorch computes some ops in a
    wider out's dtype: the last bits of cos of float32 into a float64 out differ)."""
    @functools.wraps(fn)
    def call(*args, out=None, **kwargs):
        result = fn(*args, **kwargs)
        if out is None:
            return result
        name = fn.__name__
        if not isinstance(out, _fn.Tensor):
            raise TypeError(f"{name}(): argument 'out' must be a Tensor, not {type(out).__name__}")
        if GRAD.enabled and (result._requires_grad or out._requires_grad):
            raise RuntimeError(f"{name}(): functions with out=... arguments don't support "
                               "automatic differentiation, but one of the arguments requires grad.")
        if out._data.dtype is not result._data.dtype:
            _check_out_dtype(name, result, out, cast if type(cast) is str else cast(args, kwargs))
        if out._data.shape != result._data.shape:
            if out._data.size:
                warnings.warn(f"{name}(): an output with one or more elements was resized since "
                              f"it had shape {list(out.shape)}, which does not match the "
                              f"required output shape {list(result.shape)} (as PyTorch, which "
                              "deprecates it)", UserWarning, stacklevel=2)
            out.resize_(tuple(result.shape))
        _store(out, result._data)
        return out
    call.__signature__ = _with_out_parameter(fn)
    return call


def _check_out_dtype(name, result, out, cast):
    got, want = type_name(out._data.dtype), type_name(result._data.dtype)
    if cast == "exact":
        raise RuntimeError(f"{name}(): expected the out= tensor to have dtype {want}, but got "
                           f"{got} (it must match the result's here, as in PyTorch)")
    if cast == "safe" and _dt._category(result._data.dtype) > _dt._category(out._data.dtype):
        raise RuntimeError(f"{name}(): result type {want} can't be cast to the desired output "
                           f"type {got} (the out= tensor's)")


def _clamp_out_cast(args, kwargs):
    """clamp's rule: exact with number bounds, safe with tensor bounds (promoted as a binary op)."""
    bounds = (*args[1:], kwargs.get("min"), kwargs.get("max"))
    return "safe" if any(isinstance(b, _fn.Tensor) for b in bounds) else "exact"


# the tinygen functions that take out= (tinygen/__init__.py wraps them), by PyTorch's rule for
# out's dtype (with_out's `cast`)
OUT_CASTS = (
    ("safe", ("exp", "exp2", "expm1", "log", "log2", "log10", "log1p", "sqrt", "rsqrt", "sin",
              "cos", "tan", "asin", "acos", "atan", "sinh", "cosh", "tanh", "asinh", "acosh",
              "atanh", "sigmoid", "erf", "erfc", "erfinv", "reciprocal", "square", "logit", "add",
              "sub", "mul", "div", "true_divide", "floor_divide", "remainder", "fmod", "pow",
              "atan2", "hypot", "maximum", "minimum", "fmax", "fmin", "eq", "ne", "lt", "le",
              "gt", "ge", "logical_and", "logical_or", "logical_xor", "logical_not",
              "bitwise_and", "bitwise_or", "bitwise_xor", "bitwise_left_shift",
              "bitwise_right_shift", "copysign", "lerp", "addcmul", "addcdiv", "xlogy", "outer",
              "cat", "concat", "concatenate", "stack")),
    ("exact", ("abs", "neg", "ceil", "floor", "round", "trunc", "frac", "sign", "sgn", "signbit",
               "bitwise_not", "nan_to_num", "where", "matmul", "mm", "bmm", "mv", "dot", "addmm",
               "baddbmm", "index_select", "gather", "masked_select", "take", "tril", "triu")),
    ("any", ("cumsum", "cumprod")),
    (_clamp_out_cast, ("clamp", "clip")),
)


def _with_out_parameter(fn):
    """fn's signature with a keyword-only `out=None` (before a **kwargs), for introspection."""
    sig = inspect.signature(fn)
    params = list(sig.parameters.values())
    at = len(params) - (params and params[-1].kind is inspect.Parameter.VAR_KEYWORD)
    params.insert(at, inspect.Parameter("out", inspect.Parameter.KEYWORD_ONLY, default=None))
    return sig.replace(parameters=params)


# ---- the in-place twin of an out-of-place op ----------------------------------------------------
def twin(name):
    """input.<name>_(*args): input.<name>(*args) written into input (PyTorch's in-place twin,
    with the rules of `inplace`: version counter, leaf check, graph rebase, cast check)."""
    def fn(input, *args, **kwargs):
        return inplace(input, lambda t: getattr(t, name)(*args, **kwargs), name)
    fn.__name__ = fn.__qualname__ = name + "_"
    fn.__doc__ = f"In place: input.{name}(...) written into input's storage; returns input."
    return fn


TWINS = (
    "abs", "absolute", "neg", "negative", "exp", "exp2", "expm1", "log", "log1p", "log2",
    "log10", "sqrt", "rsqrt", "reciprocal", "square", "sin", "cos", "tan", "asin", "acos", "atan",
    "sinh", "cosh", "asinh", "acosh", "atanh", "arcsin", "arccos", "arctan", "arcsinh",
    "arccosh", "arctanh", "tanh", "sigmoid", "relu", "floor", "ceil", "round", "trunc", "fix",
    "frac", "sign", "sgn", "erf", "erfc", "erfinv", "lgamma", "digamma", "logit", "nan_to_num",
    "deg2rad", "rad2deg", "sinc", "clamp_min", "clamp_max", "clip", "pow", "remainder", "fmod",
    "atan2", "arctan2", "hypot", "copysign", "xlogy", "lerp", "addcmul", "addcdiv", "addmm",
    "addbmm", "baddbmm", "addmv", "addr", "true_divide", "multiply", "subtract", "divide",
    "floor_divide", "cumsum", "cumprod", "tril", "triu", "index_add", "index_copy",
    "index_fill", "index_put", "masked_scatter", "scatter", "scatter_add", "scatter_reduce",
    "index_reduce", "put", "eq", "ne",
    "lt", "le", "gt", "ge", "greater", "greater_equal", "less", "less_equal",
    "not_equal", "logical_not", "logical_and", "logical_or", "logical_xor", "bitwise_not",
    "bitwise_and", "bitwise_or", "bitwise_xor", "bitwise_left_shift", "bitwise_right_shift",
    "gcd", "lcm", "float_power", "ldexp", "heaviside", "fmax", "fmin", "polygamma", "mvlgamma",
    "nextafter", "renorm")
"""The ops whose in-place twin `<name>_` exists (Tensor methods, and tg.<name>_ where PyTorch
has one): each is twin(name)."""

(abs_, absolute_, neg_, negative_, exp_, exp2_, expm1_, log_, log1p_, log2_, log10_, sqrt_,
 rsqrt_, reciprocal_, square_, sin_, cos_, tan_, asin_, acos_, atan_, sinh_, cosh_, asinh_,
 acosh_, atanh_, arcsin_, arccos_, arctan_, arcsinh_, arccosh_, arctanh_, tanh_, sigmoid_, relu_,
 floor_, ceil_, round_, trunc_, fix_, frac_, sign_, sgn_, erf_, erfc_, erfinv_, lgamma_,
 digamma_, logit_, nan_to_num_, deg2rad_, rad2deg_, sinc_, clamp_min_, clamp_max_, clip_, pow_,
 remainder_, fmod_, atan2_, arctan2_, hypot_, copysign_, xlogy_, lerp_, addcmul_, addcdiv_,
 addmm_, addbmm_, baddbmm_, addmv_, addr_, true_divide_, multiply_, subtract_, divide_,
 floor_divide_, cumsum_, cumprod_, tril_, triu_, index_add_, index_copy_, index_fill_,
 index_put_, masked_scatter_, scatter_, scatter_add_, scatter_reduce_, index_reduce_, put_, eq_,
 ne_, lt_, le_, gt_, ge_, greater_, greater_equal_, less_, less_equal_, not_equal_,
 logical_not_, logical_and_,
 logical_or_, logical_xor_, bitwise_not_, bitwise_and_, bitwise_or_, bitwise_xor_,
 bitwise_left_shift_, bitwise_right_shift_, gcd_, lcm_, float_power_, ldexp_, heaviside_, fmax_,
 fmin_, polygamma_, mvlgamma_, nextafter_, renorm_) = (twin(n) for n in TWINS)


# ---- in-place view changes: the tensor takes the new shape (a view of its storage) --------------
def _reshape_in_place(input, compute):
    if GRAD.enabled and input._requires_grad:
        _leaf_check(input)
        # the view node takes an alias of the old tensor as its input (the tensor itself is about
        # to become the view's output: taking it would make a cycle)
        alias = _fn.Tensor._make(input._data, input._grad_fn, input._out_idx, True)
        alias._version = input._version
        _fn.rebase(input)
        out = compute(alias)
        input._grad_fn, input._out_idx = out._grad_fn, out._out_idx
    else:
        out = compute(input)
    input._data = out._data
    reshaped_in_place(input, out)
    if _fn.CAPTURE[0] is not None:
        tr = tracer()
        if tr is not None:
            tr.rebind(input, input._data)
    return input


def squeeze_(input, dim=None):
    return _reshape_in_place(input, lambda t: t.squeeze(dim))


def unsqueeze_(input, dim):
    return _reshape_in_place(input, lambda t: t.unsqueeze(dim))


def t_(input):
    return _reshape_in_place(input, lambda t: t.t())


def transpose_(input, dim0, dim1):
    return _reshape_in_place(input, lambda t: t.transpose(dim0, dim1))


swapaxes_ = swapdims_ = transpose_


def fill_diagonal_(input, fill_value, wrap=False):
    """Set the main diagonal (2-D, or all dims equal) to fill_value; wrap: a tall matrix's
    diagonal restarts every columns + 1 rows, as numpy.fill_diagonal."""
    mask = diagonal_mask(input, wrap)
    return inplace(input, lambda t: t.masked_fill(mask, fill_value))


# ---- random fills --------------------------------------------------------------------------------
def bernoulli_(input, p=0.5):
    """Fill with 1 with probability p (a number or a tensor broadcast to input), else 0."""
    return _fill_random(input, "bernoulli", p._data if isinstance(p, _fn.Tensor) else p)


def exponential_(input, lambd=1.0):
    """Fill with Exp(lambd) draws (mean 1 / lambd)."""
    return _fill_random(input, "exponential", 1.0 / lambd)


def cauchy_(input, median=0.0, sigma=1.0):
    return _fill_random(input, "cauchy", median, sigma)


def log_normal_(input, mean=1.0, std=2.0):
    """Fill with exp(N(mean, std^2)) draws."""
    return _fill_random(input, "lognormal", mean, std)


def geometric_(input, p):
    """Fill with the number of Bernoulli(p) trials up to the first success (1, 2, ...)."""
    return _fill_random(input, "geometric", p)


def random_(input, from_=0, to=None):
    """Fill with integers uniform in [from_, to); to defaults to 2^mantissa for floats (every
    such integer is exact) and to the dtype's maximum + 1 for integers. random_(n) draws
    [0, n)."""
    if to is None and from_ != 0:
        from_, to = 0, from_
    if to is None:
        dt = input._data.dtype
        to = 2 ** (np.finfo(dt).nmant + 1) if dt.kind == "f" else (
            2 if dt.kind == "b" else int(np.iinfo(dt).max) + 1)
    return _fill_random(input, "integers", from_, to)
