"""Top-level functions of `import tinygen as tg`: creation, and the twins of Tensor methods."""
from __future__ import annotations

import builtins

import numpy as np

from .autograd.function import Function
from .autograd.grad_mode import GRAD
from .backend import dtypes as _dt
from .backend.device import Device, get_xp, device_of, to_device
from .backend.random import generator
from .ops import elementwise as E, shape as S, linalg as L
from .tensor import Tensor, _norm_dim, _shape_arg, _binary, values_indices

_make = Tensor._make


# ---- creation ------------------------------------------------------------------------------------
def _to_array(data, dtype=None, device=None):
    npd = _dt.to_np_dtype(dtype)
    if isinstance(data, Tensor):
        arr = data._data
        if device is not None and Device(device) != data.device:
            arr = data.to(device)._data
        return arr.astype(npd) if npd is not None and npd != arr.dtype else arr.copy()
    dev = Device(device) if device is not None else None
    xp = get_xp(dev) if dev is not None else np
    if xp is not np and type(data).__module__.startswith("cupy") and dev.type == "cuda":
        arr = data
    elif type(data).__module__.startswith("cupy"):
        arr, xp = data, get_xp(device_of(data))
    else:
        arr = np.asarray(data) if not isinstance(data, (list, tuple)) else np.array(_unwrap(data))
    if npd is None:
        k = arr.dtype.kind
        numpy_data = isinstance(data, (np.ndarray, np.generic))   # keeps its dtype (as torch)
        if k == "f":
            npd = _dt.get_default_dtype().np if not numpy_data else arr.dtype
        elif k in "iu":
            npd = np.dtype(np.int64) if not numpy_data else arr.dtype
        elif k == "b":
            npd = np.dtype(np.bool_)
        elif k == "O":
            raise TypeError(f"tensor(): could not infer a dtype from {type(data).__name__} data")
        else:
            npd = arr.dtype
    arr = arr.astype(npd, copy=False)
    if xp is not np:
        arr = to_device(arr, dev)
    return arr


def _unwrap(data):
    """Lists of Tensors / scalars -> nested lists of numbers (tg.tensor([t1, t2]))."""
    if isinstance(data, Tensor):
        return data.cpu()._data
    if isinstance(data, (list, tuple)):
        return [_unwrap(d) for d in data]
    return data


def tensor(data, dtype=None, device=None, requires_grad=False):
    """A new leaf tensor copying `data` (lists, numbers, numpy arrays, tensors).

    Python floats become float32 (the default dtype), Python ints int64; NumPy arrays keep
    their dtype, as in PyTorch.
    """
    arr = _to_array(data, dtype, device)
    if isinstance(data, np.ndarray) and arr is data:
        arr = arr.copy()
    t = _make(arr, None, 0, False)
    if requires_grad:
        t.requires_grad = True
    return t


def from_numpy(arr):
    """A tensor sharing memory with the NumPy array `arr` (dtype kept)."""
    if not isinstance(arr, np.ndarray):
        raise TypeError(f"from_numpy: expected a numpy.ndarray, got {type(arr).__name__}")
    return _make(arr, None, 0, False)


def as_tensor(data, dtype=None, device=None):
    if isinstance(data, Tensor) and dtype is None and device is None:
        return data
    if isinstance(data, np.ndarray) and device is None and (dtype is None or _dt.to_np_dtype(dtype) == data.dtype):
        return from_numpy(data)
    return tensor(data, dtype, device)


def _creation(fill, size, dtype, device, requires_grad, default=None):
    shape = _shape_arg(size)
    npd = _dt.to_np_dtype(dtype) or (default or _dt.get_default_dtype().np)
    xp = get_xp(device) if device is not None else np
    arr = fill(xp, shape, npd)
    t = _make(arr, None, 0, False)
    if requires_grad:
        t.requires_grad = True
    return t


def zeros(*size, dtype=None, device=None, requires_grad=False):
    return _creation(lambda xp, s, d: xp.zeros(s, d), size, dtype, device, requires_grad)


def ones(*size, dtype=None, device=None, requires_grad=False):
    return _creation(lambda xp, s, d: xp.ones(s, d), size, dtype, device, requires_grad)


def empty(*size, dtype=None, device=None, requires_grad=False):
    return _creation(lambda xp, s, d: xp.empty(s, d), size, dtype, device, requires_grad)


def full(size, fill_value, dtype=None, device=None, requires_grad=False):
    if dtype is None:
        dtype = (_dt.bool_ if isinstance(fill_value, bool) else
                 _dt.int64 if isinstance(fill_value, int) else _dt.get_default_dtype())
    return _creation(lambda xp, s, d: xp.full(s, fill_value, d), (tuple(size),), dtype, device,
                     requires_grad)


def _like(fn, t, dtype, device, requires_grad, *extra):
    return fn(*extra, t.shape, dtype=dtype or t.dtype, device=device or t.device,
              requires_grad=requires_grad) if not extra else \
        fn(t.shape, *extra, dtype=dtype or t.dtype, device=device or t.device,
           requires_grad=requires_grad)


def zeros_like(t, dtype=None, device=None, requires_grad=False):
    return zeros(t.shape, dtype=dtype or t.dtype, device=device or t.device, requires_grad=requires_grad)


def ones_like(t, dtype=None, device=None, requires_grad=False):
    return ones(t.shape, dtype=dtype or t.dtype, device=device or t.device, requires_grad=requires_grad)


def empty_like(t, dtype=None, device=None, requires_grad=False):
    return empty(t.shape, dtype=dtype or t.dtype, device=device or t.device, requires_grad=requires_grad)


def full_like(t, fill_value, dtype=None, device=None, requires_grad=False):
    return full(t.shape, fill_value, dtype=dtype or t.dtype, device=device or t.device,
                requires_grad=requires_grad)


def arange(start, end=None, step=1, dtype=None, device=None, requires_grad=False):
    if end is None:
        start, end = 0, start
    if dtype is None:
        is_int = builtins.all(isinstance(v, (int, np.integer)) for v in (start, end, step))
        dtype = _dt.int64 if is_int else _dt.get_default_dtype()
    npd = _dt.to_np_dtype(dtype)
    xp = get_xp(device) if device is not None else np
    t = _make(xp.arange(start, end, step).astype(npd), None, 0, False)
    if requires_grad:
        t.requires_grad = True
    return t


def linspace(start, end, steps, dtype=None, device=None, requires_grad=False):
    xp = get_xp(device) if device is not None else np
    npd = _dt.to_np_dtype(dtype) or _dt.get_default_dtype().np
    t = _make(xp.linspace(start, end, int(steps)).astype(npd), None, 0, False)
    if requires_grad:
        t.requires_grad = True
    return t


def eye(n, m=None, dtype=None, device=None, requires_grad=False):
    xp = get_xp(device) if device is not None else np
    npd = _dt.to_np_dtype(dtype) or _dt.get_default_dtype().np
    t = _make(xp.eye(n, m, dtype=npd), None, 0, False)
    if requires_grad:
        t.requires_grad = True
    return t


def _random(sample, size, dtype, device, requires_grad):
    shape = _shape_arg(size)
    npd = _dt.to_np_dtype(dtype) or _dt.get_default_dtype().np
    dev = Device(device) if device is not None else Device("cpu")
    arr = get_xp(dev).asarray(sample(generator(dev), shape).astype(npd, copy=False))
    t = _make(arr, None, 0, False)
    if requires_grad:
        t.requires_grad = True
    return t


def rand(*size, dtype=None, device=None, requires_grad=False):
    return _random(lambda g, s: g.random(s, dtype=np.float64), size, dtype, device, requires_grad)


def randn(*size, dtype=None, device=None, requires_grad=False):
    return _random(lambda g, s: g.standard_normal(s), size, dtype, device, requires_grad)


def randint(low, high=None, size=None, dtype=None, device=None):
    if high is None:
        low, high = 0, low
    if size is None:
        raise TypeError("randint: size is required")
    dt = dtype or _dt.int64
    return _random(lambda g, s: g.integers(low, high, size=s), (tuple(size),), dt, device, False)


def randperm(n, dtype=None, device=None):
    return _random(lambda g, s: g.permutation(n), ((n,),), dtype or _dt.int64, device, False)


def rand_like(t, dtype=None, device=None, requires_grad=False):
    return rand(t.shape, dtype=dtype or t.dtype, device=device or t.device, requires_grad=requires_grad)


def randn_like(t, dtype=None, device=None, requires_grad=False):
    return randn(t.shape, dtype=dtype or t.dtype, device=device or t.device, requires_grad=requires_grad)


def normal(mean, std, size, dtype=None, device=None):
    return randn(size, dtype=dtype, device=device) * std + mean


# ---- Functions used by Tensor methods --------------------------------------------------------
class Clone(Function):
    def forward(self, x):
        return x.copy()

    def backward(self, gy):
        return gy


class ToDevice(Function):
    def forward(self, x, device):
        self.src = device_of(x)
        return to_device(x, device)

    def backward(self, gy):
        return ToDevice.apply(gy, self.src), None


class SetItem(Function):
    """x with x[idx] = value, out of place (used for item assignment inside a graph)."""

    def forward(self, x, idx, value):
        self.idx = idx
        self.value_shape = getattr(value, "shape", None)
        out = x.copy()
        out[idx] = value
        return out

    def backward(self, gy):
        from .ops.index import GetItem
        gx = SetItem.apply(gy, self.idx, 0.0) if self.inputs[0] is not None else None
        gv = None
        if self.inputs[2] is not None:
            gv = S.unbroadcast(GetItem.apply(gy, self.idx), self.value_shape)
        return gx, None, gv


# ---- functions -----------------------------------------------------------------------------------
def _check_tensors(op, tensors):
    if not tensors:
        raise ValueError(f"{op}: expected a non-empty list of tensors")
    for t in tensors:
        if not isinstance(t, Tensor):
            raise TypeError(f"{op}: expected Tensors, got {type(t).__name__}")


def cat(tensors, dim=0):
    tensors = list(tensors)
    _check_tensors("cat", tensors)
    ref = tensors[0]
    d = _norm_dim(dim, ref.ndim, "cat")
    dt = ref._data.dtype
    for k, t in enumerate(tensors):
        if t.ndim != ref.ndim or builtins.any(a != b for i, (a, b) in enumerate(zip(t.shape, ref.shape)) if i != d):
            raise RuntimeError(
                f"cat: sizes of tensors must match except in dimension {d}; tensor 0 has shape "
                f"{tuple(ref.shape)} and tensor {k} has shape {tuple(t.shape)}")
        if t._data.dtype != dt:
            dt = _dt.promote_types(dt, t._data.dtype)
    tensors = [t if t._data.dtype == dt else t.to(dt) for t in tensors]
    return S.Cat.apply(*tensors, dim=d)


concat = cat


def stack(tensors, dim=0):
    tensors = list(tensors)
    _check_tensors("stack", tensors)
    shape = tensors[0].shape
    for k, t in enumerate(tensors):
        if t.shape != shape:
            raise RuntimeError(f"stack: expects each tensor to be equal size, but got "
                               f"{tuple(shape)} at entry 0 and {tuple(t.shape)} at entry {k}")
    d = _norm_dim(dim, len(shape) + 1, "stack")
    return cat([t.unsqueeze(d) for t in tensors], d)


def where(condition, input=None, other=None):
    if input is None and other is None:
        return tuple(_make(a, None, 0, False) for a in get_xp(condition.device).nonzero(condition._data))
    cond = condition._data if isinstance(condition, Tensor) else np.asarray(condition)
    if cond.dtype != np.bool_:
        raise RuntimeError(f"where: expected a bool condition, got {cond.dtype}")
    a, b = input, other
    a = a.item() if isinstance(a, np.generic) else a      # NumPy scalars act as Python ones
    b = b.item() if isinstance(b, np.generic) else b
    if not isinstance(a, Tensor) and not isinstance(b, Tensor):
        a = tensor(a)
    if isinstance(a, Tensor) and isinstance(b, Tensor):
        da, db = a._data.dtype, b._data.dtype
        if da != db:
            dt = _dt.promote_types(da, db, a.ndim == 0, b.ndim == 0)
            a, b = a.to(dt), b.to(dt)
    elif isinstance(a, Tensor):
        if isinstance(b, float) and a._data.dtype.kind != "f":
            a = a.to(_dt.get_default_dtype())
    else:
        if isinstance(a, float) and b._data.dtype.kind != "f":
            b = b.to(_dt.get_default_dtype())
    try:
        np.broadcast_shapes(cond.shape, getattr(a, "shape", ()), getattr(b, "shape", ()))
    except ValueError:
        raise RuntimeError(f"where: condition {tuple(cond.shape)}, input "
                           f"{tuple(getattr(a, 'shape', ()))} and other "
                           f"{tuple(getattr(b, 'shape', ()))} do not broadcast") from None
    return E.Where.apply(_make(cond, None, 0, False), a, b)


def matmul(a, b):
    """Matrix product with PyTorch's rules for 1-D operands and batch broadcasting."""
    if not isinstance(a, Tensor) or not isinstance(b, Tensor):
        raise TypeError(f"matmul: expected Tensors, got {type(a).__name__} and {type(b).__name__}")
    if a.ndim == 0 or b.ndim == 0:
        raise RuntimeError(f"matmul: both arguments need at least 1 dimension, got shapes "
                           f"{tuple(a.shape)} and {tuple(b.shape)}")
    if a._data.dtype != b._data.dtype:
        raise RuntimeError(f"matmul: expected both operands to have the same dtype, got "
                           f"{a.dtype} (shape {tuple(a.shape)}) and {b.dtype} (shape {tuple(b.shape)})")
    ka = a.shape[-1]
    kb = b.shape[-2] if b.ndim > 1 else b.shape[0]
    if ka != kb:
        raise RuntimeError(f"matmul: shapes {tuple(a.shape)} and {tuple(b.shape)} cannot be "
                           f"multiplied ({ka} != {kb})")
    if a.ndim == 1 and b.ndim == 1:
        return (a * b).sum()
    if a.ndim == 1:
        return L.MatMul.apply(a.unsqueeze(0), b).squeeze(-2)
    if b.ndim == 1:
        return L.MatMul.apply(a, b.unsqueeze(-1)).squeeze(-1)
    try:
        np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
    except ValueError:
        raise RuntimeError(f"matmul: batch dims of {tuple(a.shape)} and {tuple(b.shape)} do not "
                           "broadcast") from None
    return L.MatMul.apply(a, b)


mm = bmm = matmul


def dot(a, b):
    return matmul(a, b)


def einsum(equation, *operands):
    """einsum with explicit or implicit output and '...'. Gradients for every operand without
    repeated subscripts."""
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    eq = equation.replace(" ", "")
    lhs, arrow, rhs = eq.partition("->")
    ins = lhs.split(",")
    if len(ins) != len(operands):
        raise ValueError(f"einsum: {len(ins)} operand subscripts for {len(operands)} operands")
    if "..." in eq:
        used = set(c for c in eq if c.isalpha())
        free = [c for c in "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz" if c not in used]
        nell = builtins.max((op.ndim - (len(s) - 3)) for s, op in zip(ins, operands) if "..." in s)
        ell = "".join(free[:nell])
        new_ins = []
        for s, op in zip(ins, operands):
            if "..." in s:
                k = op.ndim - (len(s) - 3)
                s = s.replace("...", ell[nell - k:])
            new_ins.append(s)
        ins = new_ins
        if arrow:
            rhs = rhs.replace("...", ell)
        else:
            rhs = ell + "".join(sorted(c for c in set("".join(ins)) if "".join(ins).count(c) == 1 and c not in ell))
    elif not arrow:
        joined = "".join(ins)
        rhs = "".join(sorted(c for c in set(joined) if joined.count(c) == 1))
    for s, op in zip(ins, operands):
        if len(s) != op.ndim:
            raise ValueError(f"einsum: subscripts {s!r} don't match an operand of shape {tuple(op.shape)}")
    spec = ",".join(ins) + "->" + rhs
    dt = operands[0]._data.dtype
    operands = [op if op._data.dtype == dt else op.to(dt) for op in operands]
    return L.Einsum.apply(*operands, spec=spec)


def _unary(name):
    def fn(input, *args, **kwargs):
        return getattr(input, name)(*args, **kwargs)
    fn.__name__ = name
    fn.__doc__ = f"tg.{name}(t, ...) is t.{name}(...)"
    return fn


METHOD_TWINS = ["exp", "expm1", "log", "log1p", "log2", "log10", "sqrt", "rsqrt", "abs", "sign",
              "sin", "cos", "tanh", "sigmoid", "relu", "erf", "clamp", "clip", "square",
              "reciprocal", "floor", "ceil", "round", "sum", "mean", "var", "std", "prod", "amax",
              "amin", "argmax", "argmin", "logsumexp", "norm", "cumsum", "softmax", "log_softmax",
              "reshape", "flatten", "unflatten", "permute", "transpose", "squeeze", "unsqueeze",
              "split", "chunk", "unbind", "flip", "tril", "triu", "gather", "scatter_add",
              "index_select", "masked_fill", "narrow", "isnan", "isinf", "isfinite",
              "logical_not", "t", "detach", "clone", "numel", "maximum", "minimum", "remainder",
              "lerp", "any", "all"]
for _name in METHOD_TWINS:
    globals()[_name] = _unary(_name)
neg = negative = _unary("__neg__")
add = _unary("add")
sub = _unary("sub")
mul = _unary("mul")
div = _unary("div")
pow = _unary("pow")
eq, ne, lt, le, gt, ge = (_unary(n) for n in ("eq", "ne", "lt", "le", "gt", "ge"))


def max(input, dim=None, keepdim=False):
    return input.max(dim, keepdim)


def min(input, dim=None, keepdim=False):
    return input.min(dim, keepdim)


def allclose(a, b, rtol=1e-5, atol=1e-8, equal_nan=False):
    xp = get_xp(a.device)
    bd = b._data if isinstance(b, Tensor) else b
    return builtins.bool(xp.allclose(a._data, bd, rtol=rtol, atol=atol, equal_nan=equal_nan))


def isclose(a, b, rtol=1e-5, atol=1e-8, equal_nan=False):
    xp = get_xp(a.device)
    bd = b._data if isinstance(b, Tensor) else b
    return _make(xp.isclose(a._data, bd, rtol=rtol, atol=atol, equal_nan=equal_nan), None, 0, False)


def equal(a, b):
    return a.shape == b.shape and builtins.bool((a._data == b._data).all())


def sort(input, dim=-1, descending=False, stable=False):
    d = _norm_dim(dim, input.ndim, "sort")
    xp = get_xp(input.device)
    data = input._data
    idx = xp.argsort(-data if descending and data.dtype.kind != "b" else data, axis=d, kind="stable")
    if descending and data.dtype.kind == "b":
        idx = xp.flip(xp.argsort(data, axis=d, kind="stable"), d)
    values = input.gather(d, _make(idx, None, 0, False))
    return values_indices(values, _make(idx.astype(np.int64, copy=False), None, 0, False))


def argsort(input, dim=-1, descending=False, stable=False):
    return sort(input, dim, descending, stable).indices


def topk(input, k, dim=-1, largest=True, sorted=True):
    d = _norm_dim(dim, input.ndim, "topk")
    if not 0 <= k <= input.shape[d]:
        raise RuntimeError(f"topk: k ({k}) is out of range for dimension {d} of size {input.shape[d]}")
    values, idx = sort(input, d, descending=largest)
    sl = [builtins.slice(None)] * input.ndim
    sl[d] = builtins.slice(0, k)
    idx = idx[tuple(sl)]
    return values_indices(input.gather(d, idx), idx)


def multinomial(input, num_samples, replacement=False, generator_=None):
    """Sample indices from rows of (unnormalised) probabilities; no gradient."""
    probs = input.detach().double().cpu().numpy()
    squeeze = probs.ndim == 1
    probs = probs.reshape(-1, probs.shape[-1])
    if (probs < 0).any() or not np.isfinite(probs).all():
        raise RuntimeError("multinomial: probability tensor contains inf, nan or an element < 0")
    sums = probs.sum(axis=1, keepdims=True)
    if (sums <= 0).any():
        raise RuntimeError("multinomial: every row must have a positive sum")
    if not replacement and num_samples > probs.shape[1]:
        raise RuntimeError(f"multinomial: cannot sample {num_samples} > {probs.shape[1]} "
                           "categories without replacement")
    g = generator("cpu")
    out = np.stack([g.choice(probs.shape[1], size=num_samples, replace=replacement, p=p / p.sum())
                    for p in probs]).astype(np.int64)
    if squeeze:
        out = out[0]
    return tensor(out, device=input.device)


def roll(input, shifts, dims=None):
    if dims is None:
        return roll(input.flatten(), shifts, 0).reshape(input.shape)
    if isinstance(shifts, int):
        shifts, dims = (shifts,), (dims,) if isinstance(dims, int) else dims
    out = input
    for s, d in zip(shifts, dims):
        d = _norm_dim(d, input.ndim, "roll")
        n = input.shape[d]
        if n == 0:
            continue
        s %= n
        if s:
            a, b = out.split([n - s, s], d)
            out = cat([b, a], d)
    return out


def broadcast_tensors(*tensors):
    shape = np.broadcast_shapes(*[t.shape for t in tensors])
    return tuple(t.expand(shape) for t in tensors)


def numel(t):
    return t.numel()


def is_tensor(obj):
    return isinstance(obj, Tensor)


def is_grad_enabled():
    return GRAD.enabled
