"""Tensor: an array (numpy or cupy), its gradient, and the Function that made it.

Methods delegate to the ops in tinygen/ops; the top-level twins live in tinygen/functions.py.
Construction on the hot path goes through `Tensor._make`, which sets slots and nothing else.
"""
from __future__ import annotations

import collections
import numbers

import numpy as np

from .autograd import function as _function
from .autograd.grad_mode import GRAD
from .autograd.function import Function
from .backend import dtypes as _dt
from .backend.device import Device, cpu as _cpu, device_of, get_xp
from .ops import elementwise as E, reduce as R, shape as S, index as I, linalg as L

_ndarray = np.ndarray
_Number = (int, float, bool)
values_indices = collections.namedtuple("values_indices", ["values", "indices"])


def _norm_dim(dim, ndim, op="dim"):
    nd = ndim if ndim > 0 else 1
    if not -nd <= dim < nd:
        raise IndexError(f"{op}: dimension out of range (expected to be in range of "
                         f"[{-nd}, {nd - 1}], but got {dim})")
    return dim % nd


def _norm_dims(dim, ndim, op="dim"):
    """None -> None; int or tuple -> a sorted tuple of non-negative dims."""
    if dim is None:
        return None
    if isinstance(dim, (tuple, list)):
        if len(dim) == 0:
            return None
        return tuple(sorted({_norm_dim(d, ndim, op) for d in dim}))
    return (_norm_dim(dim, ndim, op),)


def _shape_arg(shape):
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        return tuple(shape[0])
    return tuple(shape)


class Tensor:
    __slots__ = ("_data", "_grad_fn", "_out_idx", "_requires_grad", "grad", "_version",
                 "_hooks", "__weakref__")
    __array_priority__ = 1000           # numpy_array * tensor -> Tensor.__rmul__

    def __init__(self, data, dtype=None, device=None, requires_grad=False):
        from .functions import _to_array
        arr = _to_array(data, dtype, device)
        self._data = arr
        self._grad_fn = None
        self._out_idx = 0
        self._requires_grad = False
        self.grad = None
        self._version = [0]
        self._hooks = None
        if requires_grad:
            self.requires_grad = True

    @staticmethod
    def _make(data, grad_fn, out_idx, requires_grad):
        t = _new(Tensor)
        t._data = data
        t._grad_fn = grad_fn
        t._out_idx = out_idx
        t._requires_grad = requires_grad
        t.grad = None
        t._version = [0]
        t._hooks = None
        return t

    # ---- attributes ---------------------------------------------------------------------------
    @property
    def shape(self):
        return self._data.shape

    @property
    def ndim(self):
        return self._data.ndim

    def dim(self):
        return self._data.ndim

    @property
    def dtype(self):
        return _dt.from_np_dtype(self._data.dtype)

    @property
    def device(self) -> Device:
        return _cpu if type(self._data) is _ndarray else device_of(self._data)

    @property
    def is_cuda(self):
        return self.device.type == "cuda"

    @property
    def requires_grad(self):
        return self._requires_grad

    @requires_grad.setter
    def requires_grad(self, value):
        value = bool(value)
        if value and self._data.dtype.kind != "f":
            raise RuntimeError(f"only Tensors of floating point dtype can require gradients "
                               f"(this one is {self.dtype})")
        if not value and self._grad_fn is not None:
            raise RuntimeError("you can only change requires_grad flags of leaf variables; "
                               "use .detach() to get a tensor that does not require grad")
        self._requires_grad = value

    def requires_grad_(self, requires_grad=True):
        self.requires_grad = requires_grad
        return self

    @property
    def is_leaf(self):
        return self._grad_fn is None

    @property
    def grad_fn(self):
        return self._grad_fn

    @property
    def data(self):
        """A tensor sharing this one's storage, outside the graph (as PyTorch's .data)."""
        t = Tensor._make(self._data, None, 0, False)
        t._version = self._version
        return t

    @data.setter
    def data(self, value):
        self._data = value._data if isinstance(value, Tensor) else get_xp(self.device).asarray(value)

    @property
    def T(self):
        return self.permute(tuple(reversed(range(self.ndim))))

    @property
    def mT(self):
        return self.transpose(-2, -1)

    def t(self):
        if self.ndim > 2:
            raise RuntimeError(f"t(): expects a tensor with <= 2 dimensions, but got {self.ndim}")
        return self if self.ndim < 2 else self.transpose(0, 1)

    def size(self, dim=None):
        if dim is None:
            return self._data.shape
        return self._data.shape[_norm_dim(dim, self.ndim, "size")]

    def numel(self):
        return int(self._data.size)

    def element_size(self):
        return self._data.itemsize

    def is_floating_point(self):
        return self._data.dtype.kind == "f"

    def is_contiguous(self):
        return bool(self._data.flags.c_contiguous)

    def __len__(self):
        if self.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self._data.shape[0]

    # ---- conversion ---------------------------------------------------------------------------
    def numpy(self):
        """The array as NumPy (shares memory on the CPU). Unlike PyTorch, works when it requires grad."""
        if type(self._data) is not _ndarray:
            if isinstance(self._data, np.generic):
                return np.asarray(self._data)
            raise TypeError(f"can't convert a {self.device} tensor to numpy: call .cpu() first")
        return self._data

    def __array__(self, dtype=None, copy=None):
        a = self.cpu()._data
        return a if dtype is None else a.astype(dtype)

    def item(self):
        if self._data.size != 1:
            raise RuntimeError(f"a Tensor with {self._data.size} elements cannot be converted "
                               "to a Python scalar")
        return self._data.item()

    def tolist(self):
        return self._data.tolist()

    def __float__(self):
        return float(self.item())

    def __int__(self):
        return int(self.item())

    def __index__(self):
        if self._data.dtype.kind not in "iu":
            raise TypeError("only integer tensors of a single element can be used as an index")
        return int(self.item())

    def __bool__(self):
        if self._data.size != 1:
            raise RuntimeError(f"Boolean value of Tensor with {self._data.size} elements is "
                               "ambiguous")
        return bool(self._data.item())

    def to(self, *args, **kwargs):
        """to(device), to(dtype), to(device, dtype), to(other_tensor); dtype casts stay in the graph."""
        device = kwargs.pop("device", None)
        dtype = kwargs.pop("dtype", None)
        kwargs.pop("non_blocking", None)
        kwargs.pop("copy", None)
        for a in args:
            if isinstance(a, Tensor):
                device, dtype = a.device, a.dtype
            elif isinstance(a, (_dt.dtype, np.dtype, type)):
                dtype = a
            elif isinstance(a, (str, Device)):
                device = a
            elif a is not None:
                raise TypeError(f"to(): unexpected argument {a!r}")
        out = self
        if device is not None and Device(device) != self.device:
            from .functions import ToDevice
            out = ToDevice.apply(out, Device(device))
        if dtype is not None:
            npd = _dt.to_np_dtype(dtype)
            if npd != out._data.dtype:
                if npd.kind == "f" and out._data.dtype.kind == "f":
                    out = E.Cast.apply(out, npd)
                else:
                    out = Tensor._make(out._data.astype(npd), None, 0, False)
        return out

    def cpu(self):
        return self.to("cpu")

    def cuda(self, device=None):
        return self.to("cuda" if device is None else f"cuda:{int(device)}")

    def float(self):
        return self.to(_dt.float32)

    def double(self):
        return self.to(_dt.float64)

    def half(self):
        return self.to(_dt.float16)

    def long(self):
        return self.to(_dt.int64)

    def int(self):
        return self.to(_dt.int32)

    def bool(self):
        return self.to(_dt.bool_)

    def type_as(self, other):
        return self.to(other.dtype)

    def detach(self):
        t = Tensor._make(self._data, None, 0, False)
        t._version = self._version
        return t

    def detach_(self):
        if self._grad_fn is not None:
            self._grad_fn = None
        self._requires_grad = False
        return self

    def clone(self):
        from .functions import Clone
        return Clone.apply(self)

    def contiguous(self):
        if self._data.flags.c_contiguous:
            return self
        return S.Contiguous.apply(self)

    def new_zeros(self, *size, dtype=None):
        return Tensor._make(get_xp(self.device).zeros(_shape_arg(size), _dt.to_np_dtype(dtype) or self._data.dtype), None, 0, False)

    def new_ones(self, *size, dtype=None):
        return Tensor._make(get_xp(self.device).ones(_shape_arg(size), _dt.to_np_dtype(dtype) or self._data.dtype), None, 0, False)

    def new_full(self, size, fill_value, dtype=None):
        return Tensor._make(get_xp(self.device).full(tuple(size), fill_value, _dt.to_np_dtype(dtype) or self._data.dtype), None, 0, False)

    def new_tensor(self, data, dtype=None):
        from .functions import tensor
        return tensor(data, dtype=dtype or self.dtype, device=self.device)

    # ---- arithmetic ---------------------------------------------------------------------------
    def __add__(self, other):
        return _binary(E.Add, self, other)

    def __radd__(self, other):
        return _binary(E.Add, self, other, reverse=True)

    def __sub__(self, other):
        return _binary(E.Sub, self, other)

    def __rsub__(self, other):
        return _binary(E.Sub, self, other, reverse=True)

    def __mul__(self, other):
        return _binary(E.Mul, self, other)

    def __rmul__(self, other):
        return _binary(E.Mul, self, other, reverse=True)

    def __truediv__(self, other):
        return _binary(E.Div, self, other, true_div=True)

    def __rtruediv__(self, other):
        return _binary(E.Div, self, other, reverse=True, true_div=True)

    def __pow__(self, other):
        if isinstance(other, np.generic):          # NumPy scalars act as Python scalars
            other = other.item()
        if isinstance(other, _Number) and not isinstance(other, bool):
            a = self
            if a._data.dtype.kind in "biu" and isinstance(other, float):
                a = a.to(_dt.get_default_dtype())
            return E.Pow.apply(a, other)
        return _binary(E.Pow, self, other)

    def __rpow__(self, other):
        if isinstance(other, np.generic):
            other = other.item()
        if isinstance(other, _Number):
            a = self if self.is_floating_point() else self.to(_dt.get_default_dtype())
            return E.RPow.apply(a, other)
        return _binary(E.Pow, self, other, reverse=True)

    def __floordiv__(self, other):
        return _nograd_binary(np.floor_divide, self, other)

    def __rfloordiv__(self, other):
        return _nograd_binary(np.floor_divide, self, other, reverse=True)

    def __mod__(self, other):
        return _binary(E.Remainder, self, other)

    def __rmod__(self, other):
        return _binary(E.Remainder, self, other, reverse=True)

    def __matmul__(self, other):
        from .functions import matmul, tensor
        if not isinstance(other, Tensor):
            other = tensor(other, device=self.device)
        return matmul(self, other)

    def __rmatmul__(self, other):
        from .functions import matmul, tensor
        return matmul(tensor(other, device=self.device), self)

    def __neg__(self):
        return E.Neg.apply(self)

    def __pos__(self):
        return self

    def __abs__(self):
        return self.abs()

    def __eq__(self, other):
        return _nograd_binary("equal", self, other)

    def __ne__(self, other):
        return _nograd_binary("not_equal", self, other)

    def __lt__(self, other):
        return _nograd_binary("less", self, other)

    def __le__(self, other):
        return _nograd_binary("less_equal", self, other)

    def __gt__(self, other):
        return _nograd_binary("greater", self, other)

    def __ge__(self, other):
        return _nograd_binary("greater_equal", self, other)

    def __and__(self, other):
        return _nograd_binary("bitwise_and", self, other)

    def __or__(self, other):
        return _nograd_binary("bitwise_or", self, other)

    def __xor__(self, other):
        return _nograd_binary("bitwise_xor", self, other)

    def __invert__(self):
        return Tensor._make(~self._data, None, 0, False)

    __hash__ = object.__hash__

    def add(self, other, alpha=1):
        return self + (other * alpha if alpha != 1 else other)

    def sub(self, other, alpha=1):
        return self - (other * alpha if alpha != 1 else other)

    def mul(self, other):
        return self * other

    def div(self, other, rounding_mode=None):
        if rounding_mode == "floor":
            return self // other
        if rounding_mode == "trunc":
            return _nograd_binary(lambda a, b: np.trunc(a / b), self, other)
        return self / other

    def pow(self, exponent):
        return self ** exponent

    def matmul(self, other):
        return self @ other

    def maximum(self, other):
        return _binary(E.Maximum, self, other)

    def minimum(self, other):
        return _binary(E.Minimum, self, other)

    def remainder(self, other):
        return self % other

    def eq(self, other):
        return self == other

    def ne(self, other):
        return self != other

    def lt(self, other):
        return self < other

    def le(self, other):
        return self <= other

    def gt(self, other):
        return self > other

    def ge(self, other):
        return self >= other

    def logical_not(self):
        return Tensor._make(get_xp(self.device).logical_not(self._data), None, 0, False)

    def logical_and(self, other):
        return _nograd_binary("logical_and", self, other)

    def logical_or(self, other):
        return _nograd_binary("logical_or", self, other)

    def isnan(self):
        return Tensor._make(get_xp(self.device).isnan(self._data), None, 0, False)

    def isinf(self):
        return Tensor._make(get_xp(self.device).isinf(self._data), None, 0, False)

    def isfinite(self):
        return Tensor._make(get_xp(self.device).isfinite(self._data), None, 0, False)

    def any(self, dim=None, keepdim=False):
        return Tensor._make(self._data.any(axis=_norm_dims(dim, self.ndim, "any"), keepdims=keepdim), None, 0, False)

    def all(self, dim=None, keepdim=False):
        return Tensor._make(self._data.all(axis=_norm_dims(dim, self.ndim, "all"), keepdims=keepdim), None, 0, False)

    # ---- math ---------------------------------------------------------------------------------
    def _float(self):
        return self if self._data.dtype.kind == "f" else self.to(_dt.get_default_dtype())

    def exp(self):
        return E.Exp.apply(self._float())

    def expm1(self):
        return E.Expm1.apply(self._float())

    def log(self):
        return E.Log.apply(self._float())

    def log1p(self):
        return E.Log1p.apply(self._float())

    def log2(self):
        return self.log() * (1 / np.log(2))

    def log10(self):
        return self.log() * (1 / np.log(10))

    def sqrt(self):
        return E.Sqrt.apply(self._float())

    def rsqrt(self):
        return E.Rsqrt.apply(self._float())

    def reciprocal(self):
        return E.Reciprocal.apply(self._float())

    def square(self):
        return self * self

    def abs(self):
        return E.Abs.apply(self)

    def sign(self):
        return E.Sign.apply(self) if self._requires_grad else Tensor._make(get_xp(self.device).sign(self._data), None, 0, False)

    def floor(self):
        return E.Floor.apply(self)

    def ceil(self):
        return E.Ceil.apply(self)

    def round(self):
        return E.Round.apply(self)

    def sin(self):
        return E.Sin.apply(self._float())

    def cos(self):
        return E.Cos.apply(self._float())

    def tanh(self):
        return E.Tanh.apply(self._float())

    def sigmoid(self):
        return E.Sigmoid.apply(self._float())

    def relu(self):
        return E.Relu.apply(self)

    def erf(self):
        return E.Erf.apply(self._float())

    def clamp(self, min=None, max=None):
        if min is None and max is None:
            raise ValueError("clamp: at least one of min and max must be given")
        if isinstance(min, Tensor) or isinstance(max, Tensor):
            out = self
            if min is not None:
                out = out.maximum(min)
            if max is not None:
                out = out.minimum(max)
            return out
        # NumPy scalar bounds would upcast a float32 tensor (NEP 50): use Python numbers
        min = min.item() if isinstance(min, np.generic) else min
        max = max.item() if isinstance(max, np.generic) else max
        return E.Clamp.apply(self, min, max)

    clip = clamp

    def clamp_min(self, min):
        return self.clamp(min=min)

    def clamp_max(self, max):
        return self.clamp(max=max)

    def lerp(self, end, weight):
        return self + (end - self) * weight

    # ---- reductions ---------------------------------------------------------------------------
    def sum(self, dim=None, keepdim=False, dtype=None):
        x = self if dtype is None else self.to(dtype)
        if x._data.dtype.kind == "b":
            x = x.long()
        return R.Sum.apply(x, _norm_dims(dim, self.ndim, "sum"), keepdim)

    def mean(self, dim=None, keepdim=False, dtype=None):
        x = self._float() if dtype is None else self.to(dtype)
        return R.Mean.apply(x, _norm_dims(dim, self.ndim, "mean"), keepdim)

    def var(self, dim=None, unbiased=None, keepdim=False, correction=None):
        if correction is None:
            correction = 1 if unbiased is None or unbiased else 0
        x = self._float()
        axes = _norm_dims(dim, self.ndim, "var")
        n = x.numel() if axes is None else int(np.prod([x.shape[a] for a in axes]))
        centred = x - x.mean(dim=axes, keepdim=True)
        return (centred * centred).sum(dim=axes, keepdim=keepdim) * (1.0 / max(n - correction, 0) if n - correction > 0 else float("nan"))

    def std(self, dim=None, unbiased=None, keepdim=False, correction=None):
        return self.var(dim, unbiased, keepdim, correction).sqrt()

    def prod(self, dim=None, keepdim=False):
        if dim is None:
            return R.Prod.apply(self.reshape(-1), 0, False).reshape(())
        return R.Prod.apply(self, _norm_dim(dim, self.ndim, "prod"), keepdim)

    def amax(self, dim=None, keepdim=False):
        return R.Amax.apply(self, _norm_dims(dim, self.ndim, "amax"), keepdim, False)

    def amin(self, dim=None, keepdim=False):
        return R.Amax.apply(self, _norm_dims(dim, self.ndim, "amin"), keepdim, True)

    def _extreme(self, dim, keepdim, is_min, name):
        if dim is None:
            if self.numel() == 0:
                raise RuntimeError(f"{name}(): expected a non-empty tensor")
            return R.Amax.apply(self, None, False, is_min)
        if isinstance(dim, Tensor):           # max(other): elementwise
            return self.minimum(dim) if is_min else self.maximum(dim)
        d = _norm_dim(dim, self.ndim, name)
        if self.ndim == 0:
            return values_indices(self, Tensor._make(np.zeros((), np.int64), None, 0, False))
        idx = (self._data.argmin if is_min else self._data.argmax)(axis=d, keepdims=True)
        values = I.Gather.apply(self, d, idx)
        if not keepdim:
            values = values.squeeze(d)
            idx = idx.squeeze(d)
        return values_indices(values, Tensor._make(idx.astype(np.int64, copy=False), None, 0, False))

    def max(self, dim=None, keepdim=False):
        return self._extreme(dim, keepdim, False, "max")

    def min(self, dim=None, keepdim=False):
        return self._extreme(dim, keepdim, True, "min")

    def argmax(self, dim=None, keepdim=False):
        if dim is None:
            return Tensor._make(np.asarray(self._data.argmax()).astype(np.int64) if type(self._data) is _ndarray else self._data.argmax(), None, 0, False)
        d = _norm_dim(dim, self.ndim, "argmax")
        return Tensor._make(_arr(self._data.argmax(axis=d, keepdims=keepdim).astype(np.int64, copy=False)), None, 0, False)

    def argmin(self, dim=None, keepdim=False):
        if dim is None:
            return Tensor._make(np.asarray(self._data.argmin()).astype(np.int64) if type(self._data) is _ndarray else self._data.argmin(), None, 0, False)
        d = _norm_dim(dim, self.ndim, "argmin")
        return Tensor._make(_arr(self._data.argmin(axis=d, keepdims=keepdim).astype(np.int64, copy=False)), None, 0, False)

    def logsumexp(self, dim, keepdim=False):
        axes = _norm_dims(dim, self.ndim, "logsumexp")
        x = self._float()
        xp = get_xp(self.device)
        m = x._data.max(axis=axes, keepdims=True) if x.numel() else xp.zeros(_kept(x.shape, axes), x._data.dtype)
        m = xp.where(xp.isfinite(m), m, 0).astype(x._data.dtype)
        mt = Tensor._make(m, None, 0, False)
        out = (x - mt).exp().sum(dim=axes, keepdim=True).log() + mt
        return out if keepdim else out.reshape(tuple(s for d, s in enumerate(x.shape) if d not in (axes or range(x.ndim))))

    def norm(self, p="fro", dim=None, keepdim=False):
        axes = _norm_dims(dim, self.ndim, "norm")
        x = self._float()
        if p in ("fro", 2, 2.0):
            return R.Norm2.apply(x, axes, keepdim)
        if p in (float("inf"), "inf"):
            return x.abs().amax(dim=axes, keepdim=keepdim)
        if p in (float("-inf"),):
            return x.abs().amin(dim=axes, keepdim=keepdim)
        if p == 1:
            return x.abs().sum(dim=axes, keepdim=keepdim)
        if p == 0:
            return (x != 0).to(x.dtype).sum(dim=axes, keepdim=keepdim)
        return (x.abs() ** p).sum(dim=axes, keepdim=keepdim) ** (1.0 / p)

    def cumsum(self, dim):
        return R.Cumsum.apply(self, _norm_dim(dim, self.ndim, "cumsum"), False)

    def softmax(self, dim):
        return R.Softmax.apply(self._float(), _norm_dim(dim, self.ndim, "softmax"))

    def log_softmax(self, dim):
        return R.LogSoftmax.apply(self._float(), _norm_dim(dim, self.ndim, "log_softmax"))

    # ---- shape --------------------------------------------------------------------------------
    def reshape(self, *shape):
        shape = _shape_arg(shape)
        if shape == self._data.shape:
            return self
        try:
            shape = _resolve_shape(shape, self._data.size)
        except ValueError as e:
            raise RuntimeError(f"reshape: shape {list(shape)} is invalid for input of shape "
                               f"{tuple(self.shape)} ({self.numel()} elements): {e}") from None
        return S.Reshape.apply(self, shape)

    view = reshape

    def view_as(self, other):
        return self.reshape(other.shape)

    reshape_as = view_as

    def flatten(self, start_dim=0, end_dim=-1):
        if self.ndim == 0:
            return self.reshape(1)
        s = _norm_dim(start_dim, self.ndim, "flatten")
        e = _norm_dim(end_dim, self.ndim, "flatten")
        shape = self.shape
        return self.reshape(shape[:s] + (int(np.prod(shape[s:e + 1])),) + shape[e + 1:])

    def unflatten(self, dim, sizes):
        d = _norm_dim(dim, self.ndim, "unflatten")
        sizes = tuple(sizes)
        if -1 in sizes:
            known = int(np.prod([s for s in sizes if s != -1]))
            sizes = tuple(self.shape[d] // known if s == -1 else s for s in sizes)
        return self.reshape(self.shape[:d] + sizes + self.shape[d + 1:])

    def permute(self, *dims):
        dims = _shape_arg(dims)
        if len(dims) != self.ndim:
            raise RuntimeError(f"permute: number of dims {len(dims)} doesn't match the tensor's "
                               f"{self.ndim} dims (shape {tuple(self.shape)})")
        dims = tuple(_norm_dim(d, self.ndim, "permute") for d in dims)
        if len(set(dims)) != len(dims):
            raise RuntimeError(f"permute: repeated dim in {dims}")
        return S.Permute.apply(self, dims)

    def transpose(self, dim0, dim1):
        nd = self.ndim
        d0, d1 = _norm_dim(dim0, nd, "transpose"), _norm_dim(dim1, nd, "transpose")
        if d0 == d1:
            return self
        dims = list(range(nd))
        dims[d0], dims[d1] = d1, d0
        return S.Permute.apply(self, tuple(dims))

    swapaxes = transpose

    def squeeze(self, dim=None):
        if dim is None:
            return self.reshape(tuple(s for s in self.shape if s != 1))
        dims = _norm_dims(dim, self.ndim, "squeeze")
        return self.reshape(tuple(s for d, s in enumerate(self.shape) if not (d in dims and s == 1)))

    def unsqueeze(self, dim):
        d = _norm_dim(dim, self.ndim + 1, "unsqueeze")
        shape = self.shape
        return S.Reshape.apply(self, shape[:d] + (1,) + shape[d:])

    def expand(self, *sizes):
        sizes = _shape_arg(sizes)
        shape = self.shape
        lead = len(sizes) - len(shape)
        if lead < 0:
            raise RuntimeError(f"expand: the number of sizes ({len(sizes)}) must be >= the number "
                               f"of dims of the tensor ({len(shape)})")
        target = tuple(shape[i - lead] if (s == -1 and i >= lead) else s for i, s in enumerate(sizes))
        for i, s in enumerate(shape):
            if s != 1 and s != target[lead + i]:
                raise RuntimeError(f"expand: the expanded size {target[lead + i]} must match the "
                                   f"existing size {s} at non-singleton dim {i} (shape "
                                   f"{tuple(shape)} -> {tuple(sizes)})")
        if target == shape:
            return self
        return S.BroadcastTo.apply(self, target)

    def expand_as(self, other):
        return self.expand(other.shape)

    def broadcast_to(self, shape):
        return self.expand(shape)

    def repeat(self, *reps):
        reps = _shape_arg(reps)
        if len(reps) < self.ndim:
            raise RuntimeError(f"repeat: number of repeat dims ({len(reps)}) can not be smaller "
                               f"than number of tensor dims ({self.ndim})")
        return S.Repeat.apply(self, reps)

    def split(self, split_size, dim=0):
        d = _norm_dim(dim, self.ndim, "split")
        n = self.shape[d]
        if isinstance(split_size, int):
            if split_size <= 0:
                raise ValueError(f"split: split_size must be positive, got {split_size}")
            sizes = [split_size] * (n // split_size) + ([n % split_size] if n % split_size else [])
            if not sizes:
                sizes = [0]
        else:
            sizes = list(split_size)
            if sum(sizes) != n:
                raise RuntimeError(f"split: sizes {sizes} don't sum to the dim size {n} "
                                   f"(shape {tuple(self.shape)}, dim {dim})")
        return S.Split.apply(self, sizes, d)

    def chunk(self, chunks, dim=0):
        d = _norm_dim(dim, self.ndim, "chunk")
        n = self.shape[d]
        size = -(-n // chunks) if n else 1
        return self.split(max(size, 1), d)

    def unbind(self, dim=0):
        d = _norm_dim(dim, self.ndim, "unbind")
        return tuple(p.squeeze(d) for p in self.split(1, d))

    def flip(self, *dims):
        dims = _shape_arg(dims)
        return S.Flip.apply(self, tuple(_norm_dim(d, self.ndim, "flip") for d in dims))

    def roll(self, shifts, dims=None):
        from .functions import roll
        return roll(self, shifts, dims)

    def sort(self, dim=-1, descending=False, stable=False):
        """(values, indices) sorted along dim; gradients flow through the values."""
        from .functions import sort
        return sort(self, dim, descending, stable)

    def argsort(self, dim=-1, descending=False, stable=False):
        from .functions import argsort
        return argsort(self, dim, descending, stable)

    def topk(self, k, dim=-1, largest=True, sorted=True):
        from .functions import topk
        return topk(self, k, dim, largest, sorted)

    def tril(self, diagonal=0):
        return S.Tril.apply(self, diagonal, False)

    def triu(self, diagonal=0):
        return S.Tril.apply(self, diagonal, True)

    def narrow(self, dim, start, length):
        d = _norm_dim(dim, self.ndim, "narrow")
        idx = [slice(None)] * self.ndim
        idx[d] = slice(start, start + length)
        return self[tuple(idx)]

    # ---- indexing -----------------------------------------------------------------------------
    def __getitem__(self, idx):
        idx = _convert_index(idx)
        return I.GetItem.apply(self, idx)

    def __setitem__(self, idx, value):
        idx = _convert_index(idx)
        if isinstance(value, Tensor) and value._requires_grad and GRAD.enabled or (self._requires_grad and GRAD.enabled):
            from .functions import SetItem
            _rebase_inplace(self, lambda alias: SetItem.apply(alias, idx, value if isinstance(value, Tensor) else _scalar_like(value, self)))
            return
        v = value._data if isinstance(value, Tensor) else value
        self._data[idx] = v
        self._version[0] += 1

    def gather(self, dim, index):
        d = _norm_dim(dim, self.ndim, "gather")
        idx = _index_array(index, "gather")
        if idx.ndim != self.ndim:
            raise RuntimeError(f"gather: index has {idx.ndim} dims but the input has {self.ndim} "
                               f"(input {tuple(self.shape)}, index {tuple(idx.shape)})")
        return I.Gather.apply(self, d, idx)

    def scatter_add(self, dim, index, src):
        d = _norm_dim(dim, self.ndim, "scatter_add")
        return I.ScatterAdd.apply(self, d, _index_array(index, "scatter_add"), src)

    def index_select(self, dim, index):
        d = _norm_dim(dim, self.ndim, "index_select")
        idx = _index_array(index, "index_select")
        if idx.ndim > 1:
            raise IndexError(f"index_select: index must be 1-D, got shape {tuple(idx.shape)}")
        return I.IndexSelect.apply(self, d, idx.reshape(-1))

    def masked_fill(self, mask, value):
        m = mask._data if isinstance(mask, Tensor) else mask
        if m.dtype != np.bool_:
            raise RuntimeError(f"masked_fill: expected a bool mask, got {m.dtype}")
        if isinstance(value, Tensor):
            value = value.item()
        return I.MaskedFill.apply(self, m, value)

    def masked_fill_(self, mask, value):
        return _inplace(self, lambda t: t.masked_fill(mask, value))

    # ---- in place (optimisers and init, under no_grad) ----------------------------------------
    def add_(self, other, alpha=1):
        return _inplace(self, lambda t: t.add(other, alpha=alpha))

    def sub_(self, other, alpha=1):
        return _inplace(self, lambda t: t.sub(other, alpha=alpha))

    def mul_(self, other):
        return _inplace(self, lambda t: t * other)

    def div_(self, other):
        return _inplace(self, lambda t: t / other)

    # `w -= lr * g` is in place in PyTorch: without these Python would rebind w to a new tensor
    def __iadd__(self, other):
        return self.add_(other)

    def __isub__(self, other):
        return self.sub_(other)

    def __imul__(self, other):
        return self.mul_(other)

    def __itruediv__(self, other):
        return self.div_(other)

    def clamp_(self, min=None, max=None):
        return _inplace(self, lambda t: t.clamp(min, max))

    def copy_(self, src):
        src_arr = src._data if isinstance(src, Tensor) else src
        if GRAD.enabled and (self._requires_grad or (isinstance(src, Tensor) and src._requires_grad)):
            return _inplace(self, lambda t: t * 0 + src)
        xp = get_xp(self.device)
        if isinstance(src, Tensor) and src.device != self.device:
            src_arr = src.to(self.device)._data
        self._data[...] = xp.asarray(src_arr).astype(self._data.dtype, copy=False)
        self._version[0] += 1
        return self

    def zero_(self):
        return self.fill_(0)

    def fill_(self, value):
        if GRAD.enabled and self._requires_grad:
            _leaf_inplace_check(self)
        self._data[...] = value._data if isinstance(value, Tensor) else value
        self._version[0] += 1
        return self

    def uniform_(self, a=0.0, b=1.0):
        from .backend.random import generator
        gen = generator(self.device)
        return self._fill_random(gen.uniform(a, b, size=self.shape))

    def normal_(self, mean=0.0, std=1.0):
        from .backend.random import generator
        gen = generator(self.device)
        return self._fill_random(gen.normal(mean, std, size=self.shape))

    def _fill_random(self, values):
        if GRAD.enabled and self._requires_grad:
            _leaf_inplace_check(self)
        self._data[...] = values
        self._version[0] += 1
        return self

    # ---- autograd -----------------------------------------------------------------------------
    def backward(self, gradient=None, retain_graph=None, create_graph=False, inputs=None):
        from .autograd.engine import run_backward
        if retain_graph is None:
            retain_graph = create_graph
        if inputs is not None:
            grads = run_backward([self], [gradient], retain_graph, create_graph,
                                 inputs=list(inputs), allow_unused=True)
            for t, g in zip(inputs, grads):
                if g is not None:
                    t.grad = g if t.grad is None else t.grad + g
            return
        run_backward([self], [gradient], retain_graph, create_graph)

    def register_hook(self, hook):
        """hook(grad) -> new grad or None, called when this tensor's gradient is computed."""
        if not self._requires_grad:
            raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
        fn = self._grad_fn
        if fn is None:
            if self._hooks is None:
                self._hooks = []
            self._hooks.append(hook)
            hooks, key = self._hooks, None
        else:
            if fn._hooks is None:
                fn._hooks = {}
            hooks = fn._hooks.setdefault(self._out_idx, [])
            hooks.append(hook)
        return _RemovableHandle(hooks, hook)

    def retain_grad(self):
        if self._grad_fn is None:
            return
        import weakref
        fn = self._grad_fn
        if fn._retain is None:
            fn._retain = {}
        fn._retain[self._out_idx] = weakref.ref(self)

    @property
    def retains_grad(self):
        fn = self._grad_fn
        return fn is not None and fn._retain is not None and self._out_idx in fn._retain

    # ---- printing -----------------------------------------------------------------------------
    def __repr__(self):
        data = self._data if type(self._data) is _ndarray else self.cpu()._data
        body = np.array2string(data, separator=", ", precision=4, prefix="tensor(")
        extras = []
        if self.device.type != "cpu":
            extras.append(f"device='{self.device}'")
        if self._data.dtype not in (np.float32, np.int64, np.bool_) or data.size == 0:
            extras.append(f"dtype={self.dtype}")
        if self._grad_fn is not None:
            extras.append(f"grad_fn=<{type(self._grad_fn).__name__}Backward>")
        elif self._requires_grad:
            extras.append("requires_grad=True")
        return "tensor(" + body + "".join(", " + e for e in extras) + ")"

    def __iter__(self):
        if self.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return iter(self.unbind(0))

    def __dlpack__(self, stream=None, **kwargs):
        return self._data.__dlpack__(**({"stream": stream} if stream is not None else {}), **kwargs)

    def __dlpack_device__(self):
        return self._data.__dlpack_device__()


_new = object.__new__
_function.register_tensor_type(Tensor)


class _RemovableHandle:
    def __init__(self, hooks, hook):
        self._hooks, self._hook = hooks, hook

    def remove(self):
        if self._hook in self._hooks:
            self._hooks.remove(self._hook)


def _arr(a):
    """NumPy reductions of 0-d results give scalars: keep Tensor data an array."""
    return np.asarray(a) if isinstance(a, np.generic) else a


def _kept(shape, axes):
    return tuple(1 if (axes is None or d in axes) else s for d, s in enumerate(shape))


def _resolve_shape(shape, size):
    shape = tuple(int(s) for s in shape)
    if shape.count(-1) > 1:
        raise ValueError("only one dimension can be inferred (-1)")
    if -1 in shape:
        known = 1
        for s in shape:
            if s != -1:
                known *= s
        if known == 0 or size % known:
            raise ValueError(f"cannot infer the -1 dimension")
        shape = tuple(size // known if s == -1 else s for s in shape)
    n = 1
    for s in shape:
        if s < 0:
            raise ValueError(f"negative dimension {s}")
        n *= s
    if n != size:
        raise ValueError(f"{n} elements requested, {size} present")
    return shape


def _scalar_like(value, like):
    return Tensor._make(get_xp(like.device).asarray(value, dtype=like._data.dtype), None, 0, False)


def _binary(cls, a, b, reverse=False, true_div=False):
    """Apply a binary Function with PyTorch's type promotion (a is a Tensor)."""
    if isinstance(b, Tensor):
        da, db = a._data.dtype, b._data.dtype
        if da is not db and da != db:
            dt = _dt.promote_types(da, db, a._data.ndim == 0, b._data.ndim == 0)
            if da != dt:
                a = a.to(dt)
            if db != dt:
                b = b.to(dt)
        if true_div and a._data.dtype.kind in "biu":
            a = a.to(_dt.get_default_dtype())
            b = b.to(_dt.get_default_dtype())
    elif isinstance(b, _Number):
        if isinstance(b, np.generic):      # np.float64 subclasses float; NumPy 2 would upcast
            b = b.item()
        kind = a._data.dtype.kind
        if kind != "f":
            if isinstance(b, float) or true_div:
                a = a.to(_dt.get_default_dtype())
            elif kind == "b" and not isinstance(b, bool):
                a = a.to(_dt.int64)
    elif b is None:
        raise TypeError(f"{cls.__name__.lower()}: unsupported operand None")
    else:
        if isinstance(b, np.generic):
            return _binary(cls, a, b.item(), reverse, true_div)
        from .functions import tensor
        try:
            bt = tensor(b, device=a.device)
        except Exception:
            return NotImplemented
        return _binary(cls, a, bt, reverse, true_div)
    if reverse:
        return cls.apply(b, a)
    return cls.apply(a, b)


def _nograd_binary(op, a, b, reverse=False):
    xp = get_xp(a.device) if type(a._data) is not _ndarray else np
    f = getattr(xp, op) if isinstance(op, str) else op
    bd = b._data if isinstance(b, Tensor) else b
    if isinstance(b, Tensor) and type(bd) is not type(a._data):
        raise RuntimeError(f"{op if isinstance(op, str) else 'op'}: expected all tensors on the same device, got {a.device} and {b.device}")
    try:
        out = f(bd, a._data) if reverse else f(a._data, bd)
    except (ValueError, TypeError) as e:
        name = op if isinstance(op, str) else getattr(op, "__name__", "op")
        raise ValueError(f"{name}: {e} (shapes {tuple(a.shape)} and "
                         f"{tuple(getattr(b, 'shape', ()))})") from None
    if type(out) is not _ndarray and not hasattr(out, "__cuda_array_interface__"):
        out = xp.asarray(out)
    return Tensor._make(out, None, 0, False)


def _index_array(index, op):
    arr = index._data if isinstance(index, Tensor) else np.asarray(index)
    if arr.dtype.kind not in "iu":
        raise IndexError(f"{op}: expected an integer (int64) index tensor, got {arr.dtype}")
    return arr


def _convert_index(idx):
    if isinstance(idx, Tensor):
        return idx._data if idx.ndim > 0 or idx._data.dtype.kind == "b" else int(idx.item())
    if isinstance(idx, tuple):
        return tuple(_convert_index(i) for i in idx)
    if isinstance(idx, list):
        return np.asarray(idx)
    return idx


def _leaf_inplace_check(t):
    if t._grad_fn is None and t._requires_grad:
        raise RuntimeError(
            f"a leaf Variable that requires grad (shape {tuple(t.shape)}) is being used in an "
            "in-place operation; wrap it in `with tg.no_grad():` (as optimisers and init do)")


def _inplace(self, compute):
    """Run an in-place op: write into self's storage, bump the version counter, and, when the
    result is part of a graph, make self's grad_fn the new node (PyTorch's 'rebase')."""
    if GRAD.enabled:
        _leaf_inplace_check(self)
        out = _rebase_inplace(self, compute)
        return out
    out = compute(self)
    if out._data.shape != self._data.shape:
        raise RuntimeError(f"in-place op: result shape {tuple(out.shape)} doesn't match the "
                           f"tensor's shape {tuple(self.shape)}")
    self._data[...] = out._data
    self._version[0] += 1
    return self


def _rebase_inplace(self, compute):
    # the op sees the old value: a copy, so what it saves for backward (b.mul_(a) saves the old
    # b) is not overwritten by the write below
    alias = Tensor._make(self._data.copy(), self._grad_fn, self._out_idx, self._requires_grad)
    out = compute(alias)
    if out._data.shape != self._data.shape:
        raise RuntimeError(f"in-place op: result shape {tuple(out.shape)} doesn't match the "
                           f"tensor's shape {tuple(self.shape)}")
    self._data[...] = out._data
    self._version[0] += 1
    if out._requires_grad:
        _leaf_inplace_check(self)
        fn = out._grad_fn
        self._grad_fn, self._out_idx, self._requires_grad = fn, out._out_idx, True
        if fn is not None and fn._saved:
            import weakref
            fn._saved = tuple(
                (1, weakref.ref(self), self._version[0]) if e is not None and e[0] == 1 and e[1]() is out else e
                for e in fn._saved)
    return self
