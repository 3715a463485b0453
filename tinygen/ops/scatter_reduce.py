"""scatter_reduce and index_reduce, as torch.*: src's values reduced into input at indices (sum,
prod, mean, amax, amin; include_self), with PyTorch's gradients (ScatterReduce). Their in-place
forms (scatter_reduce_, index_reduce_) write the result through ops/inplace.py."""
from __future__ import annotations

import numpy as np

from ..autograd import function as _fn
from ..autograd.function import Function, wrap
from ..backend.device import array_module
from .args import norm_dim
from .binary import where
from .index import Gather, MaskedFill, _add_at, _along, index_array
from .scatter import _check_index, _source_slices, _vector_index


REDUCTIONS = ("sum", "prod", "mean", "amax", "amin")
_AT = {"prod": np.multiply, "amax": np.maximum, "amin": np.minimum}    # sum, mean: _add_at


class ScatterReduce(Function):
    """input with src reduced into it at index along dim, as torch.scatter_reduce: for dim 0,
    out[index[i][j]][j] = reduce(input[index[i][j]][j] if include_self, and every src[i][j] sent
    there); slots no index points at keep input. src has index's shape here (the public function
    slices it). mean divides by the count (floor division for integer dtypes, as PyTorch).

    Backward as PyTorch's scatter_reduce_backward: sum and mean are linear; amax/amin split gy
    evenly among the values equal to the result; prod is result / x, spelled out with the
    product of the others where x is 0 (a second ScatterReduce, so it is differentiable again).
    One deliberate difference: with include_self=False an excluded input value that happens to
    equal the result does not take a share of the tie (PyTorch counts it, then zeroes it, so the
    src maximum gets half its gradient: a known PyTorch bug; here the gradient is the exact
    derivative where the maximum is unique)."""

    def forward(self, x, dim, index, src, reduce, include_self):
        xp = self.xp
        self.dim, self.index, self.reduce, self.include_self = dim, index, reduce, include_self
        where_ = _along(xp, index, dim)
        written = xp.zeros(x.shape, dtype=bool)
        written[where_] = True
        self.written = written
        out = x.copy()
        if not include_self:
            out[written] = _identity(reduce, x.dtype)
        if reduce in ("sum", "mean"):
            _add_at(xp, out, where_, src)
        else:
            if xp.__name__ == "cupy":
                raise NotImplementedError(f"scatter_reduce(reduce={reduce!r}) runs on the CPU "
                                          "only")
            _AT[reduce].at(out, where_, src)
        if reduce == "mean":
            count = xp.zeros(x.shape, dtype=x.dtype if x.dtype.kind == "f" else np.int64)
            _add_at(xp, count, where_, xp.ones(index.shape, dtype=count.dtype))
            count = count + 1 if include_self else xp.maximum(count, 1)
            self.count = count                 # every slot's count (1 where nothing was sent)
            if x.dtype.kind == "f":
                out = (out / count).astype(x.dtype, copy=False)
            else:
                out = (out // count).astype(x.dtype, copy=False)
        self.save_for_backward(x, src, out)
        return out

    def backward(self, gy):
        x, src, out = self.saved_tensors
        d, index, reduce = self.dim, self.index, self.reduce
        if reduce == "sum":
            gx, gsrc = gy, Gather.apply(gy, d, index)
        elif reduce == "mean":
            gx = gy / wrap(self.count)
            gsrc = Gather.apply(gx, d, index)
        elif reduce in ("amax", "amin"):
            gx, gsrc = self._extremum_grads(gy, x._data, src._data, out._data)
        else:
            gx, gsrc = self._prod_grads(gy, x, src, out)
        if gx is not None and not self.include_self:
            gx = MaskedFill.apply(gx, self.written, 0.0)
        return gx, None, None, gsrc, None, None

    def _extremum_grads(self, gy, x, src, out):
        # the ties are constants of the inputs' values: gy times a fixed weight (linear in gy)
        xp = self.xp
        where_ = _along(xp, self.index, self.dim)
        self_ties = (x == out).astype(x.dtype)
        if not self.include_self:
            self_ties[self.written] = 0        # an excluded value is no candidate (see above)
        src_ties = (src == out[where_]).astype(x.dtype)
        n = self_ties.copy()
        _add_at(xp, n, where_, src_ties)
        share = gy / wrap(n)                   # n is 0 only at a NaN result: NaN, as PyTorch
        return share * wrap(self_ties), Gather.apply(share, self.dim, self.index) * wrap(src_ties)

    def _prod_grads(self, gy, x, src, out):
        d, index, include_self = self.dim, self.index, self.include_self
        xp = self.xp
        # d out / d x = the product of the others: out with x taken as 1 where it is 0, over x
        gx = gsrc = None
        if self.inputs[0] is not None:
            x_ones = MaskedFill.apply(x, x._data == 0, 1.0)
            gx = gy * ScatterReduce.apply(x_ones, d, index, src, "prod", include_self) / x_ones
        if self.inputs[3] is None:
            return gx, gsrc
        # d out / d src: out / src, except for a src that is the only zero sent to its slot,
        # whose others' product is recomputed with it taken as 1 (with two zeros it is 0)
        src_zero = src._data == 0
        zeros_sent = xp.zeros(x.shape, dtype=np.int64)
        _add_at(xp, zeros_sent, _along(xp, index, d), src_zero.astype(np.int64))
        zeros_sent = zeros_sent[_along(xp, index, d)]
        single = src_zero & (zeros_sent == 1)
        others = ScatterReduce.apply(x, d, index, MaskedFill.apply(src, single, 1.0), "prod",
                                     include_self)
        gsrc = where(wrap(single), Gather.apply(gy * others, d, index),
                     Gather.apply(gy * out, d, index) / MaskedFill.apply(src, src_zero, 1.0))
        if bool((zeros_sent > 1).any()):
            gsrc = _NoDoubleBackward.apply(
                gsrc, "scatter_reduce(reduce='prod'): double backward is not supported for src "
                      "when two or more zeros in src are sent to the same slot (as in PyTorch)")
        return gx, gsrc


class _NoDoubleBackward(Function):
    """The identity, whose backward raises: a gradient that is right but not differentiable
    again (PyTorch's DelayedError). Under create_graph=False no node is recorded: free."""

    def forward(self, x, message):
        self.message = message
        return x.copy()

    def backward(self, gy):
        raise RuntimeError(self.message)


def _identity(reduce, dtype):
    """The value a slot starts from when include_self=False: the reduction's identity."""
    if reduce in ("sum", "mean"):
        return 0
    if reduce == "prod":
        return 1
    if dtype.kind == "f":
        return -np.inf if reduce == "amax" else np.inf
    if dtype.kind == "b":
        return reduce == "amin"
    info = np.iinfo(dtype)
    return info.min if reduce == "amax" else info.max


def scatter_reduce(input, dim, index, src, reduce, *, include_self=True):
    """input with src's elements reduced in at `index` along dim (torch.scatter_reduce):
    reduce is "sum", "prod", "mean", "amax" or "amin"; include_self=False leaves input's own
    value out of the slots that receive something. index has input's number of dims, is no
    larger than src, nor than input outside dim, and its entries lie in [0, size of dim).

        x = tg.tensor([1., 2., 3.])
        x.scatter_reduce(0, tg.tensor([0, 0, 2]), tg.tensor([5., 7., 1.]), "amax")  # [7, 2, 3]

    Gradients: see ScatterReduce."""
    if reduce not in REDUCTIONS:
        raise RuntimeError(f"scatter_reduce: reduce must be one of {', '.join(REDUCTIONS)}, got "
                           f"{reduce!r}")
    if not isinstance(src, _fn.Tensor):
        raise TypeError(f"scatter_reduce: expected src to be a Tensor, got "
                        f"{type(src).__name__}")
    if src.dtype != input.dtype:
        raise RuntimeError(f"scatter_reduce: expected src of the input's dtype {input.dtype}, "
                           f"got {src.dtype}")
    if reduce == "mean" and input._data.dtype == np.bool_:
        raise NotImplementedError('"scatter_gather_tensor_cpu_reduce_mean" not implemented for '
                                  "'Bool'")
    if input.ndim == 0:                        # a 0-d input is a vector of one slot
        index = wrap(index_array(index, "scatter_reduce").reshape(-1))
        return scatter_reduce(input.reshape(1), dim, index, src.reshape(-1), reduce,
                              include_self=include_self).reshape(())
    d, idx = _check_index("scatter_reduce", input, dim, index, src)
    if src.ndim != idx.ndim:
        raise RuntimeError(f"scatter_reduce: index has {idx.ndim} dims but src has {src.ndim} "
                           f"(src {tuple(src.shape)}, index {tuple(idx.shape)})")
    if tuple(src.shape) != tuple(idx.shape):   # only the part index reads takes part
        src = src[tuple(slice(0, s) for s in idx.shape)]
    return ScatterReduce.apply(input, d, idx, src, reduce, include_self)


def index_reduce(input, dim, index, source, reduce, *, include_self=True):
    """input with source's slices reduced in at `index` along dim (torch.index_reduce): reduce
    is "prod", "mean", "amax" or "amin" (PyTorch has no "sum" here: that is index_add); index is
    0-d or 1-D with entries in [0, size), source has input's shape with len(index) along dim.
    Values and gradients are scatter_reduce's with index spread over source's shape.

        x = tg.ones(3, 2)
        x.index_reduce(0, tg.tensor([0, 0]), tg.tensor([[2., 3.], [4., 5.]]), "prod")
        # [[8., 15.], [1., 1.], [1., 1.]]"""
    if reduce not in REDUCTIONS[1:]:
        raise RuntimeError(f"index_reduce: reduce must be one of prod, mean, amax, amin, got "
                           f"{reduce!r}")
    if source.dtype != input.dtype:
        raise RuntimeError(f"index_reduce: expected source of the input's dtype {input.dtype}, "
                           f"got {source.dtype}")
    if input.ndim == 0:
        return index_reduce(input.reshape(1), dim, index, source.reshape(-1), reduce,
                            include_self=include_self).reshape(())
    d = norm_dim(dim, input.ndim, "index_reduce")
    idx = _vector_index("index_reduce", input, d, index, source)
    source = _source_slices(source, input)
    xp = array_module(input._data)
    along = idx.reshape((-1,) + (1,) * (input.ndim - d - 1))          # index along dim d
    spread = xp.ascontiguousarray(xp.broadcast_to(along, tuple(source.shape)))
    return ScatterReduce.apply(input, d, spread, source, reduce, include_self)
