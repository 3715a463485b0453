"""Shape ops: views, broadcasting, concatenation, padding. Each backward is another shape op.

The adjoint of broadcasting is a sum (`SumTo`), and the adjoint of that sum is broadcasting
(`BroadcastTo`): the pair closes under differentiation, so double backward needs nothing more.
"""
from __future__ import annotations

import math

import numpy as np

from ..autograd.function import Function, on_arrays, wrap_grad
from ..autograd import function as _fn
from ..backend import dtypes as _dt
from .args import norm_dim, norm_dims, resolve_shape, shape_arg
from .convert import Clone

_add_reduce = np.add.reduce


def unbroadcast(g, shape):
    """Reduce gradient g to `shape` (the adjoint of broadcasting). No-op when shapes match."""
    if shape is None:            # the operand was a Python scalar: no gradient
        return None
    if g._data.shape == shape:
        return g
    return SumTo.apply(g, shape)


def _sum_axes(gshape, shape):
    lead = len(gshape) - len(shape)
    axes = tuple(range(lead)) + tuple(
        lead + i for i, s in enumerate(shape) if s == 1 and gshape[lead + i] != 1)
    return axes


def sum_array(fn, x, axes, keepdims):
    """x.sum(axis=axes, keepdims=keepdims) in op fn's forward. A sum over every axis but axis 1
    of an array of 3 or more dims (a convolution's bias gradient, the gradient of a per-channel
    tensor broadcast over images) goes to the kernel channel_sum: NumPy reduces over axes
    (0, 2, 3) 2-3x slower (kernels/reduce.py)."""
    if (axes is not None and x.ndim >= 3 and len(axes) == x.ndim - 1 and 1 not in axes
            and x.size):
        y = fn.kernel("channel_sum")(x)
        return y.reshape((1, -1) + (1,) * (x.ndim - 2)) if keepdims else y
    if type(x) is np.ndarray:     # the ufunc itself: x.sum's Python wrapper costs ~0.15 us, and
        return _add_reduce(x, axes, None, None, keepdims)   # NumPy's warnings would name it
    return x.sum(axis=axes, keepdims=keepdims)


class SumTo(Function):
    def forward(self, x, shape):
        self.in_shape = x.shape
        axes = _sum_axes(x.shape, shape)
        y = sum_array(self, x, axes, True) if axes else x
        lead = len(x.shape) - len(shape)
        if lead:
            y = y.reshape(shape)
        return y

    def backward(self, gy):
        return BroadcastTo.apply(gy, self.in_shape), None


class BroadcastTo(Function):
    is_view = True

    def forward(self, x, shape):
        self.in_shape = x.shape
        # read-only (NumPy's broadcast view) only where elements overlap, a dim of size 1 made
        # larger: PyTorch refuses an in-place op there alone. Only new leading dims of size 1,
        # (3,) -> (1, 1, 3), are a reshape (a writable view); an empty result is new memory
        n = math.prod(shape)
        if n == 0:
            return self.xp.empty(shape, x.dtype)
        return x.reshape(shape) if n == x.size else self.xp.broadcast_to(x, shape)

    def backward(self, gy):
        return unbroadcast(gy, self.in_shape), None


class Reshape(Function):
    is_view = True          # where NumPy could reshape without a copy (forward says)

    def forward(self, x, shape):
        self.in_shape = x.shape
        y = x.reshape(shape)
        b = y.base                              # a view's base is x or the array x views
        if b is not x and (b is None or b is not x.base):
            self.is_view = False                # a copy: its own storage, as PyTorch's
        return y

    def backward(self, gy):
        return Reshape.apply(gy, self.in_shape), None


class Permute(Function):
    is_view = True

    def forward(self, x, dims):
        self.dims = dims
        return x.transpose(dims)

    def backward(self, gy):
        inv = [0] * len(self.dims)
        for i, d in enumerate(self.dims):
            inv[d] = i
        return Permute.apply(gy, tuple(inv)), None


class Cat(Function):
    def forward(self, *xs, dim):
        self.dim = dim
        self.sizes = [x.shape[dim] for x in xs]
        return self.xp.concatenate(xs, axis=dim)

    def backward(self, gy):
        return Split.apply(gy, self.sizes, self.dim)


class Split(Function):
    """Split along `dim` into pieces of `sizes`: a multi-output op whose backward is Cat, or,
    where the pieces' gradients already lie side by side in one array of x's shape, that array
    (kernels/attention.py lays dq, dk, dv out so for a model's `qkv.split(C, dim=2)`)."""

    is_view = True

    def forward(self, x, sizes, dim):
        self.dim, self.sizes, self.in_shape = dim, sizes, x.shape
        idx = [slice(None)] * x.ndim
        out, start = [], 0
        for s in sizes:
            idx[dim] = slice(start, start + s)
            out.append(x[tuple(idx)])
            start += s
        return tuple(out)

    def backward(self, *gys):
        if on_arrays():
            whole = _side_by_side([g._data for g in gys], self.in_shape, self.dim)
            if whole is not None:
                return wrap_grad(whole), None, None
        return Joined.apply(*gys, dim=self.dim, shape=self.in_shape), None, None


class Joined(Cat):
    """Split's gradient as an op (where its backward records ops: under create_graph, and in a
    captured step): the pieces concatenated, or, where they lie side by side in one array of
    the whole's shape (_side_by_side), that array without a copy. Only for gradients, which no
    one else holds: a cat of views of one tensor is a new tensor (Cat). In the baby GPT's
    captured step the four (12, 64, 384) concatenations of dq, dk, dv went (~80 us each)."""

    def forward(self, *xs, dim, shape):
        self.dim = dim
        self.sizes = [x.shape[dim] for x in xs]
        whole = _side_by_side(xs, shape, dim) if type(xs[0]) is np.ndarray else None
        return whole if whole is not None else self.xp.concatenate(xs, axis=dim)


def _side_by_side(pieces, shape, dim):
    """The array the pieces are views of, as `shape`, where it is C-contiguous of that size and
    each piece is exactly its slice along dim, in order (so the pieces make it up, and
    concatenating them would copy it); else None."""
    base = pieces[0].base
    if (type(base) is not np.ndarray or not base.flags.c_contiguous
            or base.size != math.prod(shape)):
        return None
    whole, dim = base.reshape(shape), dim % len(shape)          # (a view: base is contiguous)
    start, step, total = base.__array_interface__["data"][0], whole.strides[dim], 0
    for p in pieces:
        if (p.base is not base or p.strides != whole.strides or p.dtype != base.dtype
                or p.__array_interface__["data"][0] != start + total * step
                or p.shape[:dim] != shape[:dim] or p.shape[dim + 1:] != shape[dim + 1:]):
            return None
        total += p.shape[dim]
    return whole if total == shape[dim] else None


class Pad(Function):
    """Constant padding. `pads` is ((before, after), ...) per dim, negative values crop."""

    def forward(self, x, pads, value):
        self.in_shape = x.shape
        self.pads = pads
        crop = tuple(slice(max(-b, 0), x.shape[d] - max(-a, 0)) for d, (b, a) in enumerate(pads))
        x = x[crop]
        grow = [(max(b, 0), max(a, 0)) for b, a in pads]
        return self.xp.pad(x, grow, mode="constant", constant_values=value)

    def backward(self, gy):
        return Pad.apply(gy, tuple((-b, -a) for b, a in self.pads), 0.0), None, None


class Repeat(Function):
    def forward(self, x, reps):
        self.in_shape = x.shape
        self.reps = reps
        return self.xp.tile(x, reps)

    def backward(self, gy):
        # view each repeated dim as (rep, size) and sum over the rep axes
        reps = self.reps
        shape = (1,) * (len(reps) - len(self.in_shape)) + tuple(self.in_shape)
        split = []
        for r, s in zip(reps, shape):
            split += [r, s]
        g = gy.reshape(split).sum(dim=tuple(range(0, 2 * len(reps), 2)))
        return g.reshape(self.in_shape), None


class Flip(Function):
    """A copy, as PyTorch's flip (NumPy's is a view: an in-place change to it changed x)."""

    def forward(self, x, dims):
        self.dims = dims
        return self.xp.flip(x, axis=dims).copy()

    def backward(self, gy):
        return Flip.apply(gy, self.dims), None


class Tril(Function):
    def forward(self, x, k, upper):
        self.k, self.upper = k, upper
        return self.xp.triu(x, k) if upper else self.xp.tril(x, k)

    def backward(self, gy):
        return Tril.apply(gy, self.k, self.upper), None, None


class Contiguous(Function):
    def forward(self, x):
        return self.xp.ascontiguousarray(x)

    def backward(self, gy):
        return gy


# ---- the functions (Tensor methods and tg.*) ----------------------------------------------------
def reshape(input, *shape):
    """input with a new shape (one dim may be -1); a view when the array allows it.

    Where PyTorch differs: the same shape returns input itself (as transpose(d, d), t() of a
    1-d tensor, squeeze with nothing to squeeze and expand to input's shape do), where PyTorch
    makes a new view, a non-leaf when input requires grad: reshape is on every op's path."""
    shape = shape_arg(shape)
    if shape == input._data.shape:
        return input
    return Reshape.apply(input, resolve_shape(shape, input._data.size, "reshape", input.shape))


def view(input, *shape):
    """reshape that never copies: PyTorch's view refuses a shape that input's strides cannot
    give (a transposed matrix flattened); reshape copies there."""
    out = reshape(input, *shape)
    if out is not input and out._view is None and out._data.size:     # (Reshape copied)
        raise RuntimeError(f"view size is not compatible with input tensor's size and stride "
                           f"(at least one dimension spans across two contiguous subspaces): "
                           f"shape {tuple(input.shape)} -> {tuple(shape_arg(shape))}. Use "
                           ".reshape(...) instead.")
    return out


def view_as(input, other):
    return reshape(input, other.shape)


def flatten(input, start_dim=0, end_dim=-1):
    if input.ndim == 0:
        return reshape(input, 1)
    s = norm_dim(start_dim, input.ndim, "flatten")
    e = norm_dim(end_dim, input.ndim, "flatten")
    if s > e:
        raise RuntimeError(f"flatten() has invalid args: start_dim cannot come after end_dim "
                           f"({start_dim}, {end_dim} of shape {tuple(input.shape)})")
    shape = input.shape
    return reshape(input, shape[:s] + (int(np.prod(shape[s:e + 1])),) + shape[e + 1:])


def unflatten(input, dim, sizes):
    if input.ndim == 0:
        raise RuntimeError("unflatten: Dimension specified as 0 but tensor has no dimensions")
    d = norm_dim(dim, input.ndim, "unflatten")
    # (-1 next to a 0: resolve_shape's RuntimeError, where `n // 0` raised ZeroDivisionError)
    sizes = resolve_shape(tuple(sizes), input.shape[d], "unflatten", input.shape)
    return reshape(input, input.shape[:d] + sizes + input.shape[d + 1:])


def _required(op, name, args):
    """PyTorch's TypeError for a method called without its sizes (x.permute(), x.flip()...);
    an empty tuple, x.permute(()), is an argument."""
    if not args:
        raise TypeError(f'{op}() missing 1 required positional arguments: "{name}"')


def permute(input, *dims):
    _required("permute", "dims", dims)
    dims = shape_arg(dims)
    if len(dims) != input.ndim:
        raise RuntimeError(f"permute: number of dims {len(dims)} doesn't match the tensor's "
                           f"{input.ndim} dims (shape {tuple(input.shape)})")
    dims = tuple(norm_dim(d, input.ndim, "permute") for d in dims)
    if len(set(dims)) != len(dims):
        raise RuntimeError(f"permute: repeated dim in {dims}")
    return Permute.apply(input, dims)


def transpose(input, dim0, dim1):
    nd = input.ndim
    d0, d1 = norm_dim(dim0, nd, "transpose"), norm_dim(dim1, nd, "transpose")
    if d0 == d1:
        return input
    dims = list(range(nd))
    dims[d0], dims[d1] = d1, d0
    return Permute.apply(input, tuple(dims))


def t(input):
    if input.ndim > 2:
        raise RuntimeError(f"t(): expects a tensor with <= 2 dimensions, but got {input.ndim}")
    return input if input.ndim < 2 else transpose(input, 0, 1)


def squeeze(input, dim=None):
    if dim is None:
        return reshape(input, tuple(s for s in input.shape if s != 1))
    dims = norm_dims(dim, input.ndim, "squeeze") or ()
    return reshape(input, tuple(s for d, s in enumerate(input.shape)
                                if not (d in dims and s == 1)))


def unsqueeze(input, dim):
    d = norm_dim(dim, input.ndim + 1, "unsqueeze")
    shape = input.shape
    return Reshape.apply(input, shape[:d] + (1,) + shape[d:])


def expand(input, *sizes):
    """A broadcast view with sizes (-1 keeps a dim); new dims go in front."""
    _required("expand", "size", sizes)
    sizes = shape_arg(sizes)
    shape = input.shape
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
        return input
    return BroadcastTo.apply(input, target)


def expand_as(input, other):
    return expand(input, other.shape)


def repeat(input, *reps):
    _required("repeat", "repeats", reps)
    reps = shape_arg(reps)
    if len(reps) < input.ndim:
        raise RuntimeError(f"repeat: number of repeat dims ({len(reps)}) can not be smaller "
                           f"than number of tensor dims ({input.ndim})")
    return Repeat.apply(input, reps)


def split(input, split_size, dim=0):
    """Pieces of split_size along dim (the last may be smaller), or of the sizes in a list."""
    d = norm_dim(dim, input.ndim, "split")
    n = input.shape[d]
    if isinstance(split_size, int):
        if split_size < 0 or (split_size == 0 and n != 0):     # PyTorch's RuntimeErrors
            raise RuntimeError(f"split: split_size can only be 0 if dimension size is 0, and "
                               f"never negative, but got split_size {split_size} for dimension "
                               f"size {n} (dim {d} of shape {tuple(input.shape)})")
        sizes = ([split_size] * (n // split_size) + ([n % split_size] if n % split_size else [])
                 if split_size else [])
        sizes = sizes or [0]
    else:
        sizes = list(split_size)
        if sum(sizes) != n:
            raise RuntimeError(f"split: sizes {sizes} don't sum to the dim size {n} "
                               f"(shape {tuple(input.shape)}, dim {dim})")
    return Split.apply(input, sizes, d)


def chunk(input, chunks, dim=0):
    """Pieces of ceil(n / chunks) along dim (fewer pieces where that divides n unevenly, as
    PyTorch); an empty dim gives `chunks` empty pieces, as PyTorch."""
    if not isinstance(chunks, int) or chunks < 1:
        raise RuntimeError(f"chunk: chunks must be a positive int, got {chunks!r}")
    d = norm_dim(dim, input.ndim, "chunk")
    n = input.shape[d]
    if n == 0:
        return tuple(narrow(input, d, 0, 0) for _ in range(chunks))
    return split(input, -(-n // chunks), d)


def unbind(input, dim=0):
    d = norm_dim(dim, input.ndim, "unbind")
    if input.ndim and input.shape[d] == 0:   # no slices: (), as PyTorch (split gives one piece)
        return ()
    return tuple(squeeze(p, d) for p in split(input, 1, d))


def flip(input, *dims, **kwargs):
    """flip(x, dims), x.flip(0, 1) or flip(x, dims=(0, 1)), as PyTorch."""
    if kwargs:
        if dims or set(kwargs) != {"dims"}:
            raise TypeError(f"flip() got unexpected arguments {sorted(kwargs)}; expected dims")
        dims = (kwargs["dims"],)
    _required("flip", "dims", dims)
    dims = shape_arg(dims)
    return Flip.apply(input, tuple(norm_dim(d, input.ndim, "flip") for d in dims))


def narrow(input, dim, start, length):
    """input[..., start:start + length, ...] along dim: a view. A negative start counts from the
    end; start + length past the end raises (PyTorch's checks; a slice would clip)."""
    d = norm_dim(dim, input.ndim, "narrow")
    n = input.shape[d]
    if not -n <= start <= n:
        raise IndexError(f"narrow: start out of range (expected to be in range of [{-n}, {n}], "
                         f"but got {start})")
    start = start + n if start < 0 else start
    if length < 0 or start + length > n:
        raise RuntimeError(f"narrow: start ({start}) + length ({length}) exceeds dimension "
                           f"size ({n}) (dim {d} of shape {tuple(input.shape)})")
    idx = [slice(None)] * input.ndim
    idx[d] = slice(start, start + length)
    return input[tuple(idx)]


def _matrices(op, input):
    if input.ndim < 2:
        raise RuntimeError(f"{op}: input tensor must have at least 2 dimensions (shape "
                           f"{tuple(input.shape)})")


def tril(input, diagonal=0):
    _matrices("tril", input)
    return Tril.apply(input, diagonal, False)


def triu(input, diagonal=0):
    _matrices("triu", input)
    return Tril.apply(input, diagonal, True)


def contiguous(input, memory_format=None):
    """memory_format (tg.contiguous_format, tg.channels_last...) is accepted: tinygen's arrays
    are always row-major (C order), as PyTorch's default."""
    return input if input._data.flags.c_contiguous else Contiguous.apply(input)


def _check_tensors(op, tensors):
    if not tensors:
        raise ValueError(f"{op}: expected a non-empty list of tensors")
    for x in tensors:
        if not isinstance(x, _fn.Tensor):
            raise TypeError(f"{op}: expected Tensors, got {type(x).__name__}")


def cat(tensors, dim=0):
    """Concatenate along dim (sizes must match elsewhere); dtypes are promoted together."""
    tensors = list(tensors)
    _check_tensors("cat", tensors)
    # PyTorch's legacy rule: a 1-D empty tensor fits any shape (it is skipped in the shape
    # checks, still promoted and in the graph): here reshaped to the others' with 0 along dim
    others = [x for x in tensors if x.shape != (0,)]
    if not others:
        dim = 0                              # only such tensors: any dim
    elif len(others) < len(tensors):
        shape = list(others[0].shape)
        shape[norm_dim(dim, len(shape), "cat")] = 0
        tensors = [reshape(x, tuple(shape)) if x.shape == (0,) else x for x in tensors]
    ref = tensors[0]
    d = norm_dim(dim, ref.ndim, "cat")
    dt = ref._data.dtype
    for k, x in enumerate(tensors):
        if x.ndim != ref.ndim or any(a != b for i, (a, b) in enumerate(zip(x.shape, ref.shape))
                                     if i != d):
            raise RuntimeError(
                f"cat: sizes of tensors must match except in dimension {d}; tensor 0 has shape "
                f"{tuple(ref.shape)} and tensor {k} has shape {tuple(x.shape)}")
        if x._data.dtype != dt:
            dt = _dt.promote_types(dt, x._data.dtype)
    tensors = [x if x._data.dtype == dt else x.to(dt) for x in tensors]
    return Cat.apply(*tensors, dim=d)


concat = cat


def stack(tensors, dim=0):
    tensors = list(tensors)
    _check_tensors("stack", tensors)
    shape = tensors[0].shape
    for k, x in enumerate(tensors):
        if x.shape != shape:
            raise RuntimeError(f"stack: expects each tensor to be equal size, but got "
                               f"{tuple(shape)} at entry 0 and {tuple(x.shape)} at entry {k}")
    d = norm_dim(dim, len(shape) + 1, "stack")
    return cat([unsqueeze(x, d) for x in tensors], d)


def roll(input, shifts, dims=None):
    """Shift elements along dims, wrapping around (a split and a cat, so differentiable)."""
    if dims is None:
        return reshape(roll(flatten(input), shifts, 0), input.shape)
    if isinstance(shifts, int):
        shifts, dims = (shifts,), (dims,) if isinstance(dims, int) else dims
    if len(shifts) != len(dims):
        raise RuntimeError(f"roll: shifts and dimensions must align. shifts: {len(shifts)}, "
                           f"dims: {len(dims)}")
    out = input
    for s, d in zip(shifts, dims):
        d = norm_dim(d, input.ndim, "roll")
        n = input.shape[d]
        if n == 0:
            continue
        s %= n
        if s:
            a, b = split(out, [n - s, s], d)
            out = cat([b, a], d)
    return out if out is not input else Clone.apply(input)     # always new memory, as PyTorch


def broadcast_tensors(*tensors):
    shape = np.broadcast_shapes(*[x.shape for x in tensors])
    return tuple(expand(x, shape) for x in tensors)
