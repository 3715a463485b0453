"""Tensor: an array (numpy, cupy or the test device's), its gradient, and the Function that made it.

The class holds the attributes and the Python protocol (operators, len, iteration, printing);
every method that computes is a one-line delegation to the op that defines it in tinygen/ops, the
same function `tg.*` exports (`x.exp()` is `tg.exp(x)` is `ops.elementwise.exp(x)`). So the path
from a method to its math is: Tensor method -> ops function -> Function.apply -> forward.

Construction on the hot path goes through `Tensor._make`, which sets slots and nothing else.
"""
from __future__ import annotations

import weakref

import numpy as np

from .autograd import capture as _capture, function as _function
from . import autograd as _autograd
from .autograd.engine import run_backward
from .backend import dtypes as _dt
from .backend.device import Device, cpu as _cpu, device_of, get_xp
from . import printing as _printing
from .printing import set_printoptions  # noqa: F401  (tinygen.tensor.set_printoptions, as before)
from .ops import (activation as A, arrange as AR, binary as B, convert as C, decomp as DC,
                  diagonal as DG, elementwise as E, index as I, inplace as P, linalg as L,
                  norm as NM, pointwise as PW, random as RN, reduce as R, scatter as SC,
                  scatter_reduce as SR, search as SE, shape as S, special as SP, stats as ST,
                  trig as G)
from .ops.args import norm_dim

_ndarray = np.ndarray
_new = object.__new__


def _python_data(data):
    """Whether data is Python numbers only (nested lists of them): a constant to a captured
    step. A list holding tensors (tg.tensor([x.max()])) holds values the step computed."""
    if isinstance(data, (bool, int, float)):
        return True
    return isinstance(data, (list, tuple)) and all(_python_data(v) for v in data)


class Tensor:
    __slots__ = ("_data", "_grad_fn", "_out_idx", "_requires_grad", "grad", "_version",
                 "_hooks", "_post_hooks", "_view", "__weakref__")
    __array_priority__ = 1000           # numpy_array * tensor -> Tensor.__rmul__

    def __init__(self, data, dtype=None, device=None, requires_grad=False):
        arr = C.as_array(data, dtype, device)
        self._data = arr.copy() if arr is getattr(data, "_data", data) else arr
        if _function.CAPTURE[0] is not None:
            _capture.made(self._data, constant=_python_data(data))
        self._grad_fn = None
        self._out_idx = 0
        self._requires_grad = False
        self._version = [0]
        self.grad = self._hooks = self._view = None   # (_view: autograd/views.py)
        if requires_grad:
            self.requires_grad = True

    @staticmethod
    def _make(data, grad_fn, out_idx, requires_grad):
        t = _new(Tensor)
        t._data = data
        t._grad_fn = grad_fn
        t._out_idx = out_idx
        t._requires_grad = requires_grad
        t._version = [0]
        t.grad = t._hooks = t._view = None
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
    def is_cpu(self):
        return self.device.type == "cpu"

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
        if value:
            try:                            # the engine reads it for each leaf, each backward:
                self._post_hooks            # an unset slot costs it ~1 us (an AttributeError)
            except AttributeError:
                self._post_hooks = None

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
        return self.detach()

    @data.setter
    def data(self, value):
        self._data = value._data if isinstance(value, Tensor) else get_xp(self.device).asarray(value)
        tr = _capture.tracer()
        if tr is not None:
            tr.rebind(self, self._data)

    @property
    def T(self):
        return S.permute(self, tuple(reversed(range(self.ndim))))

    @property
    def mT(self):
        return S.transpose(self, -2, -1)

    mH = mT                              # the conjugate transpose of a real tensor

    @property
    def H(self):
        return S.t(self)

    def adjoint(self):
        return S.transpose(self, -2, -1)

    def size(self, dim=None):
        if dim is None:
            return self._data.shape
        return self._data.shape[norm_dim(dim, self.ndim, "size")]

    def numel(self):
        return int(self._data.size)

    nelement = numel
    ndimension = dim

    def element_size(self):
        return self._data.itemsize

    @property
    def itemsize(self):
        return self._data.itemsize

    @property
    def nbytes(self):
        return self._data.nbytes

    def is_complex(self):
        return False

    def is_inference(self):
        """False: tinygen's tensors carry no inference flag (see tg.inference_mode)."""
        return False

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
            raise TypeError(f"can't convert a {self.device} tensor to numpy: call .cpu() first")
        _read("numpy()")
        return self._data

    def __array__(self, dtype=None, copy=None):
        _read("an array conversion")
        a = self.cpu()._data
        return a if dtype is None else a.astype(dtype)

    def item(self):
        if self._data.size != 1:
            raise RuntimeError(f"a Tensor with {self._data.size} elements cannot be converted "
                               "to a Python scalar")
        _read("item()", self)
        return self._data.item()

    def tolist(self):
        _read("tolist()")
        return self._data.tolist()

    def __float__(self):                # int / float / complex of a tensor of n != 1 elements:
        return float(self.item() if self._data.size == 1 else self._one("float"))  # ValueError

    def __int__(self):                  # (as PyTorch's; item() and bool(): RuntimeError)
        return int(self.item() if self._data.size == 1 else self._one("int"))

    def __complex__(self):
        return complex(self._one("complex"))

    def _one(self, what, error=ValueError):
        if self._data.size != 1:
            raise error(f"only one element tensors can be converted to Python scalars ({what}() "
                        f"of a tensor of shape {tuple(self._data.shape)})")
        return self.item()

    def __index__(self):
        if self._data.dtype.kind not in "iub":
            raise TypeError("only integer tensors of a single element can be used as an index")
        return int(self._one("an index", TypeError))

    def __bool__(self):
        if self._data.size != 1:
            raise RuntimeError(f"Boolean value of Tensor with {self._data.size} elements is "
                               "ambiguous")
        _read("bool()", self)
        return bool(self._data.item())

    to = C.to
    clone = C.clone
    new_full = C.new_full
    new_tensor = C.new_tensor
    new_empty, new_zeros, new_ones = C.new_empty, C.new_zeros, C.new_ones
    byte, char, short, int, long, half, bfloat16, float, double, bool = (
        C.byte, C.char, C.short, C.int_, C.long, C.half, C.bfloat16, C.float_, C.double, C.bool_)
    type = C.type_
    get_device, is_signed, is_nonzero, is_same_size = C.get_device, C.is_signed, C.is_nonzero, \
        C.is_same_size

    def cpu(self):
        return C.to(self, "cpu")

    def cuda(self, device=None):
        return C.to(self, "cuda" if device is None else f"cuda:{int(device)}")

    def type_as(self, other):
        return C.to(self, other.dtype)

    def detach(self):
        t = Tensor._make(self._data, None, 0, False)
        t._version = self._version              # a view of the same storage
        return t

    def detach_(self):
        if getattr(self, "_view", None) is not None:       # (as PyTorch)
            raise RuntimeError("Can't detach views in-place. Use detach() instead.")
        _function.rebase(self)
        self._grad_fn = None
        self._requires_grad = False
        return self

    # ---- operators ----------------------------------------------------------------------------
    def __add__(self, other):
        return B.binary(B.Add, self, other)

    def __radd__(self, other):
        return B.binary(B.Add, self, other, reverse=True)

    def __sub__(self, other):
        return B.binary(B.Sub, self, other)

    def __rsub__(self, other):
        return B.binary(B.Sub, self, other, reverse=True)

    def __mul__(self, other):
        return B.binary(B.Mul, self, other)

    def __rmul__(self, other):
        return B.binary(B.Mul, self, other, reverse=True)

    def __truediv__(self, other):
        return B.binary(B.Div, self, other, true_div=True)

    def __rtruediv__(self, other):
        return B.binary(B.Div, self, other, reverse=True, true_div=True)

    __floordiv__, __rfloordiv__ = B.floor_divide, B.reflected(B.floor_divide)
    __mod__, __rmod__ = B.remainder, B.reflected(B.remainder)

    def __matmul__(self, other):
        return L.matmul(self, other if isinstance(other, Tensor) else C.constant(other, self))

    def __rmatmul__(self, other):
        return L.matmul(C.constant(other, self), self)

    __pow__ = B.pow
    __rpow__ = B.rpow
    __neg__ = E.neg
    __abs__ = E.abs
    __eq__ = B.eq
    __ne__ = B.ne
    __lt__ = B.lt
    __le__ = B.le
    __gt__ = B.gt
    __ge__ = B.ge
    __and__, __or__, __xor__ = B.bitwise_and, B.bitwise_or, B.bitwise_xor
    __lshift__, __rshift__ = B.bitwise_left_shift, B.bitwise_right_shift
    __rand__, __ror__, __rxor__, __rlshift__, __rrshift__ = (B.reflected(f) for f in (
        B.bitwise_and, B.bitwise_or, B.bitwise_xor, B.bitwise_left_shift, B.bitwise_right_shift))
    __hash__ = object.__hash__

    def __pos__(self):
        return self

    def __invert__(self):               # ~ of a float: TypeError (bitwise_not: RuntimeError)
        if self._data.dtype.kind == "f":
            raise TypeError(f"~ (operator.invert) is only implemented on integer and Boolean-type "
                            f"tensors, got {self.dtype}")
        return PW.bitwise_not(self)

    # `w -= lr * g` is in place in PyTorch: without these Python would rebind w to a new tensor
    # (and views and aliases of w would keep the old values)
    __iadd__, __isub__, __imul__, __itruediv__ = P.add_, P.sub_, P.mul_, P.div_
    __ifloordiv__, __imod__, __ipow__ = P.floor_divide_, P.remainder_, P.pow_
    __iand__, __ior__, __ixor__, __ilshift__, __irshift__ = P.bitwise_and_, P.bitwise_or_, \
        P.bitwise_xor_, P.bitwise_left_shift_, P.bitwise_right_shift_
    __getitem__ = I.getitem
    __setitem__ = P.setitem

    # ---- math: one-line delegations to tinygen/ops (the same functions tg.* exports) ----------
    add, sub, mul, div, pow, remainder = B.add, B.sub, B.mul, B.div, B.pow, B.remainder
    maximum, minimum, lerp = B.maximum, B.minimum, B.lerp
    eq, ne, lt, le, gt, ge = B.eq, B.ne, B.lt, B.le, B.gt, B.ge
    logical_and, logical_or, logical_xor = B.logical_and, B.logical_or, B.logical_xor
    matmul = L.matmul
    exp, expm1, log, log1p, log2, log10 = E.exp, E.expm1, E.log, E.log1p, E.log2, E.log10
    sqrt, rsqrt, reciprocal, square, abs, sign = E.sqrt, E.rsqrt, E.reciprocal, E.square, \
        E.abs, E.sign
    floor, ceil, round, sin, cos, tanh = E.floor, E.ceil, E.round, E.sin, E.cos, E.tanh
    sigmoid, erf, relu = E.sigmoid, E.erf, A.relu
    clamp, clip, clamp_min, clamp_max = E.clamp, E.clip, E.clamp_min, E.clamp_max
    isnan, isinf, isfinite, logical_not = E.isnan, E.isinf, E.isfinite, E.logical_not

    # reductions
    sum, mean, var, std, prod = R.sum, R.mean, R.var, R.std, R.prod
    amax, amin, max, min, argmax, argmin = R.amax, R.amin, R.max, R.min, R.argmax, R.argmin
    logsumexp, norm, cumsum, any, all = R.logsumexp, R.norm, R.cumsum, R.any, R.all
    softmax, log_softmax = R.softmax, R.log_softmax

    # shape
    reshape, view = S.reshape, S.view
    view_as = reshape_as = S.view_as
    flatten, unflatten, permute, transpose, swapaxes, t = S.flatten, S.unflatten, S.permute, \
        S.transpose, S.transpose, S.t
    squeeze, unsqueeze, expand, expand_as, repeat = S.squeeze, S.unsqueeze, S.expand, \
        S.expand_as, S.repeat
    broadcast_to = S.expand
    split, chunk, unbind, flip, roll, narrow = S.split, S.chunk, S.unbind, S.flip, S.roll, \
        S.narrow
    tril, triu, contiguous = S.tril, S.triu, S.contiguous

    # indexing and sorting
    gather, scatter_add, index_select, masked_fill = I.gather, I.scatter_add, I.index_select, \
        I.masked_fill
    sort, argsort, topk = I.sort, I.argsort, I.topk

    # more math (ops/trig.py, special.py, pointwise.py, linalg.py, diagonal.py, stats.py)
    neg, negative, positive, absolute = E.neg, E.neg, PW.positive, PW.absolute
    tan, asin, acos, atan, atan2, sinh, cosh, asinh, acosh, atanh = G.tan, G.asin, G.acos, \
        G.atan, G.atan2, G.sinh, G.cosh, G.asinh, G.acosh, G.atanh
    arcsin, arccos, arctan, arctan2, arcsinh, arccosh, arctanh = G.asin, G.acos, G.atan, \
        G.atan2, G.asinh, G.acosh, G.atanh
    deg2rad, rad2deg, sinc = G.deg2rad, G.rad2deg, G.sinc
    lgamma, digamma, polygamma, mvlgamma, erfc, erfinv = SP.lgamma, SP.digamma, \
        SP.polygamma_method, SP.mvlgamma, SP.erfc, SP.erfinv
    exp2, logaddexp, logaddexp2, hypot, fmod, frac, trunc, fix = PW.exp2, PW.logaddexp, \
        PW.logaddexp2, PW.hypot, PW.fmod, PW.frac, PW.trunc, PW.fix
    sgn, heaviside, copysign, nan_to_num, signbit, xlogy, logit = PW.sgn, PW.heaviside, \
        PW.copysign, PW.nan_to_num, PW.signbit, PW.xlogy, PW.logit
    float_power, fmax, fmin, addcmul, addcdiv, ldexp = PW.float_power, PW.fmax, PW.fmin, \
        PW.addcmul, PW.addcdiv, PW.ldexp
    gcd, lcm, bitwise_not, bitwise_left_shift, bitwise_right_shift = PW.gcd, PW.lcm, \
        PW.bitwise_not, PW.bitwise_left_shift, PW.bitwise_right_shift
    bitwise_and, bitwise_or, bitwise_xor = B.bitwise_and, B.bitwise_or, B.bitwise_xor
    isposinf, isneginf, isreal, where = PW.isposinf, PW.isneginf, PW.isreal, PW.where_method
    multiply, subtract, divide, true_divide = PW.multiply, PW.subtract, PW.divide, PW.true_divide
    greater, greater_equal, less, less_equal, not_equal = PW.greater, PW.greater_equal, \
        PW.less, PW.less_equal, PW.not_equal
    allclose, isclose, equal = B.allclose, B.isclose, B.equal
    mm, bmm, mv, dot, vdot, inner, outer, ger, kron, cross = L.mm, L.bmm, L.mv, L.dot, L.vdot, \
        L.inner, L.outer, L.ger, L.kron, L.cross
    addmm, addbmm, baddbmm, addmv, addr, matrix_power = L.addmm, L.addbmm, L.baddbmm, L.addmv, \
        L.addr, L.matrix_power
    diag, diagonal, diag_embed, diagflat, trace = DG.diag, DG.diagonal, DG.diag_embed, \
        DG.diagflat, DG.trace
    cholesky, cholesky_inverse = DC.cholesky, DC.cholesky_inverse
    inverse, det, slogdet, logdet, cov, corrcoef = DC.inverse, DC.det, DC.slogdet, DC.logdet, \
        ST.cov, ST.corrcoef
    dist, hardshrink, prelu, renorm, nextafter = NM.dist, A.hardshrink, A.prelu, PW.renorm, \
        PW.nextafter
    floor_divide, index_put = B.floor_divide, SC.index_put
    conj = resolve_conj = resolve_neg = PW.conj
    is_conj = is_neg = PW.is_conj
    real = property(PW.real)

    def stride(self, dim=None):
        """Strides in elements, NumPy's: where they address nothing they may differ from
        PyTorch's (a dim of size 1, e.g. after expand or unsqueeze; an empty tensor, whose
        storage_offset() is also NumPy's, 0 where PyTorch's counts the skipped elements)."""
        strides = tuple(s // self._data.itemsize for s in self._data.strides)
        return strides if dim is None else strides[norm_dim(dim, self.ndim, "stride")]

    def data_ptr(self):
        return self._data.__array_interface__["data"][0] if type(self._data) is _ndarray \
            else self._data.data.ptr

    def cholesky_solve(self, input2, upper=False):
        return DC.cholesky_solve(self, input2, upper)

    cumprod, cummax, cummin, logcumsumexp = ST.cumprod, ST.cummax, ST.cummin, ST.logcumsumexp
    median, nanmedian, mode, kthvalue, quantile, nanquantile = ST.median, ST.nanmedian, \
        ST.mode, ST.kthvalue, ST.quantile, ST.nanquantile
    aminmax, nansum, nanmean, count_nonzero, msort = ST.aminmax, ST.nansum, ST.nanmean, \
        ST.count_nonzero, ST.msort

    # more shape and index ops (ops/arrange.py, scatter.py, search.py)
    movedim, moveaxis, swapdims, fliplr, flipud, rot90 = AR.movedim, AR.moveaxis, AR.swapdims, \
        AR.fliplr, AR.flipud, AR.rot90
    tensor_split, hsplit, vsplit, dsplit, split_with_sizes = AR.tensor_split, AR.hsplit, \
        AR.vsplit, AR.dsplit, AR.split_with_sizes
    unsafe_chunk = S.chunk                 # (unsafe_split: view_copies.py, int sizes only)
    tile, ravel, unfold, repeat_interleave, diff, select = AR.tile, AR.ravel, AR.unfold, \
        AR.repeat_interleave, AR.diff, AR.select
    narrow_copy, sum_to_size = AR.narrow_copy, AR.sum_to_size
    scatter, index_add, index_copy, index_fill, masked_scatter = SC.scatter, SC.index_add, \
        SC.index_copy, SC.index_fill, SC.masked_scatter
    scatter_reduce, index_reduce = SR.scatter_reduce, SR.index_reduce
    masked_select, take, take_along_dim, put = SC.masked_select, SC.take, SC.take_along_dim, \
        SC.put
    nonzero, argwhere, unique, unique_consecutive = SE.nonzero, SE.argwhere, SE.unique, \
        SE.unique_consecutive
    bincount, histc, histogram = SE.bincount, SE.histc, SE.histogram
    bernoulli, multinomial = RN.bernoulli, RN.multinomial

    # in place (optimisers and init, under no_grad; ops/inplace.py)
    add_, sub_, mul_, div_, clamp_ = P.add_, P.sub_, P.mul_, P.div_, P.clamp_
    masked_fill_, copy_, fill_, zero_ = P.masked_fill_, P.copy_, P.fill_, P.zero_
    uniform_, normal_, fill_diagonal_ = P.uniform_, P.normal_, P.fill_diagonal_
    squeeze_, unsqueeze_, t_, transpose_, swapaxes_, swapdims_ = P.squeeze_, P.unsqueeze_, \
        P.t_, P.transpose_, P.swapaxes_, P.swapdims_
    bernoulli_, exponential_, cauchy_, log_normal_, geometric_, random_ = P.bernoulli_, \
        P.exponential_, P.cauchy_, P.log_normal_, P.geometric_, P.random_

    # ---- autograd -----------------------------------------------------------------------------
    def backward(self, gradient=None, retain_graph=None, create_graph=False, inputs=None):
        """Accumulate d self / d leaf into every leaf's .grad (only into `inputs`' when given)."""
        if inputs is None:
            run_backward([self], [gradient], create_graph if retain_graph is None else
                         retain_graph, create_graph)
            return
        _autograd.backward([self], [gradient], retain_graph, create_graph, inputs)

    def register_hook(self, hook):
        """hook(grad) -> new grad or None, called when this tensor's gradient is computed."""
        if not self._requires_grad:
            raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
        fn = self._grad_fn
        if fn is None:
            if self._hooks is None:
                self._hooks = []
            hooks = self._hooks
        else:
            if fn._hooks is None:
                fn._hooks = {}
            hooks = fn._hooks.setdefault(self._out_idx, [])
        hooks.append(hook)
        return _RemovableHandle(hooks, hook)

    def register_post_accumulate_grad_hook(self, hook):
        """hook(tensor), called on a leaf right after its .grad is accumulated in a backward pass
        (mid-pass, as soon as its last use has run: DistributedDataParallel starts its
        all-reduce there)."""
        if self._grad_fn is not None:
            raise RuntimeError("post accumulate grad hooks cannot be registered on non-leaf "
                               "tensors")
        if not self._requires_grad:
            raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
        if getattr(self, "_post_hooks", None) is None:
            self._post_hooks = []
        self._post_hooks.append(hook)
        return _RemovableHandle(self._post_hooks, hook)

    def retain_grad(self):
        if not self._requires_grad:
            raise RuntimeError("can't retain_grad on Tensor that has requires_grad=False")
        fn = self._grad_fn
        if fn is None:
            return
        if fn._retain is None:
            fn._retain = {}
        fn._retain[self._out_idx] = weakref.ref(self)

    @property
    def retains_grad(self):
        fn = self._grad_fn
        return fn is not None and fn._retain is not None and self._out_idx in fn._retain

    # ---- printing, iteration, interchange -----------------------------------------------------
    def __repr__(self):                 # PyTorch's layout, from tinygen/printing.py
        return _printing.tensor_repr(self)

    def __format__(self, spec):         # f"{loss:.4f}": a 0-d tensor formats as its number
        if self._data.ndim == 0 and type(self) is Tensor:    # a Parameter as its repr (PyTorch)
            return format(self.item(), spec)
        return object.__format__(self, spec)

    def __iter__(self):
        if self.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return iter(S.unbind(self, 0))

    def __dlpack__(self, stream=None, **kwargs):
        return self._data.__dlpack__(**({"stream": stream} if stream is not None else {}), **kwargs)

    def __dlpack_device__(self):
        return self._data.__dlpack_device__()


_function.register_tensor_type(Tensor)

# the in-place twins, x.exp_() is x.exp() written back into x (ops/inplace.py's `twin`), one
# per name of inplace.TWINS: mechanical, so set in a loop rather than listed in the class body
for _name in P.TWINS:
    setattr(Tensor, _name + "_", getattr(P, _name + "_"))

def is_tensor(obj):
    return isinstance(obj, Tensor)


class _RemovableHandle:
    def __init__(self, hooks, hook):
        self._hooks, self._hook = hooks, hook

    def remove(self):
        if self._hook in self._hooks:
            self._hooks.remove(self._hook)


def _read(what, scalar=None):
    """A step being captured (tg.compile) reads a value: one of state from before the step (a
    flag in a buffer) becomes a guard of the plan; one the step computed cannot be replayed (the
    step runs eagerly)."""
    if _function.CAPTURE[0] is not None:
        _capture.read_value(scalar, what)
