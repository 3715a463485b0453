"""The other torch.* forms of tinygen's view ops: the `*_copy` variants, the `unsafe_*` splits
and adjoint.

    y = tg.transpose_copy(x, 0, 1)          x.transpose(0, 1) in fresh, contiguous memory
    a, b = tg.split_copy(x, 2, dim=1)       each piece its own memory
    tg.view_copy(x, tg.int32)               x's bytes read as int32 (a copy)
    tg.unsafe_split(x, 2), tg.adjoint(x)    split; transpose of the last two dims

Each `*_copy` is its view op followed by a copy (Clone), so it is differentiable as the view is
and never shares memory with its input, as PyTorch's functionalisation passes need. PyTorch's
`out=` argument is not taken. The `unsafe_*` splits are split and chunk: PyTorch's versions
only skip marking the pieces as views for autograd's in-place checks, which tinygen's split does
not make. as_strided_copy is with as_strided, in strided_views.py.
"""
from __future__ import annotations


from .backend import dtypes as _dt
from .autograd.function import wrap
from .ops import shape as _shape
from .ops.args import norm_dim
from .ops.arrange import split_with_sizes as _split_with_sizes
from .ops.arrange import unfold as _unfold
from .ops.convert import clone
from .ops.diagonal import diagonal as _diagonal
from .numerics import select_position
from .tensor import Tensor


def _check_tensor(op, value):
    if not isinstance(value, Tensor):
        raise TypeError(f"{op}(): argument 'input' (position 1) must be Tensor, not "
                        f"{type(value).__name__}")


def _copies(pieces):
    return tuple(clone(p) for p in pieces)


# ---- one view, then a copy -----------------------------------------------------------------------
def view_copy(input, size):
    """input reshaped to size (one entry may be -1), or, with a dtype, input's bytes read as that
    dtype (the last dim scaled by the ratio of element sizes; no gradient, even to input's own
    dtype, as PyTorch's), in new memory."""
    _check_tensor("view_copy", input)
    if isinstance(size, _dt.dtype):
        return _view_dtype_copy(input, size)
    return clone(_shape.reshape(input, size))


def _view_dtype_copy(input, dtype):
    """PyTorch's view(dtype) checks, then NumPy's reinterpretation of a contiguous copy (the
    same values: only the last dim's elements are regrouped, and it is contiguous either way)."""
    op = "view_copy"
    old, new = input._data.dtype.itemsize, _dt.to_np_dtype(dtype).itemsize
    if old != new:
        if input.ndim == 0:
            raise RuntimeError(f"{op}: self.dim() cannot be 0 to view {input.dtype} as {dtype} "
                               f"(different element sizes)")
        if input.shape[-1] > 1 and input.stride(-1) != 1:
            raise RuntimeError(f"{op}: self.stride(-1) must be 1 to view {input.dtype} as "
                               f"{dtype} (different element sizes), but got {input.stride(-1)}")
        if (input.shape[-1] * old) % new:
            raise RuntimeError(f"{op}: self.size(-1) must be divisible by {new // old or 1} to "
                               f"view {input.dtype} as {dtype} (different element sizes), but "
                               f"got {input.shape[-1]}")
    xp = input.device.xp
    data = xp.ascontiguousarray(input._data)
    if dtype == _dt.bool_:          # any nonzero byte reads True, stored as 1 (as PyTorch's copy)
        return wrap(data.view(xp.uint8) != 0)
    return wrap(data.view(_dt.to_np_dtype(dtype)).copy())


def permute_copy(input, dims):
    _check_tensor("permute_copy", input)
    return clone(_shape.permute(input, tuple(dims)))


def transpose_copy(input, dim0, dim1):
    _check_tensor("transpose_copy", input)
    return clone(_shape.transpose(input, dim0, dim1))


def t_copy(input):
    """input.t() (at most 2 dims) in new memory."""
    _check_tensor("t_copy", input)
    return clone(_shape.t(input))


def squeeze_copy(input, dim=None):
    _check_tensor("squeeze_copy", input)
    return clone(_shape.squeeze(input, dim))


def unsqueeze_copy(input, dim):
    _check_tensor("unsqueeze_copy", input)
    return clone(_shape.unsqueeze(input, dim))


def expand_copy(input, size, *, implicit=False):
    """input broadcast to size (-1 keeps a dim), materialised; `implicit` is accepted and has no
    effect, as in PyTorch's eager mode."""
    _check_tensor("expand_copy", input)
    return clone(_shape.expand(input, tuple(size)))


def select_copy(input, dim, index):
    """input.select(dim, index) (that dim removed) in new memory."""
    _check_tensor("select_copy", input)
    d, index = select_position("select_copy", input, dim, index)
    return clone(input[(slice(None),) * d + (index,)])


def slice_copy(input, dim=0, start=None, end=None, step=1):
    """input's elements start:end:step along dim (bounds clamped as Python's slices; step > 0)
    in new memory."""
    op = "slice_copy"
    _check_tensor(op, input)
    if input.ndim == 0:
        raise IndexError(f"{op}: slice() cannot be applied to a 0-dim tensor.")
    d = norm_dim(dim, input.ndim, op)
    if step <= 0:
        raise RuntimeError(f"{op}: slice step must be positive, got {step}")
    return clone(input[(slice(None),) * d + (slice(start, end, step),)])


def _check_split_size(op, split_size):
    if isinstance(split_size, bool) or not isinstance(split_size, int):
        raise TypeError(f"{op}(): argument 'split_size' (position 2) must be int, not "
                        f"{type(split_size).__name__} (split_with_sizes takes a list)")


def split_copy(input, split_size, dim=0):
    """Pieces of split_size along dim (the last may be smaller), each in new memory."""
    _check_tensor("split_copy", input)
    _check_split_size("split_copy", split_size)
    return _copies(_shape.split(input, split_size, dim))


def split_with_sizes_copy(input, split_sizes, dim=0):
    """Pieces of the given sizes (summing to the dim's size) along dim, each in new memory."""
    _check_tensor("split_with_sizes_copy", input)
    return _copies(_split_with_sizes(input, split_sizes, dim))


def unbind_copy(input, dim=0):
    _check_tensor("unbind_copy", input)
    return _copies(_shape.unbind(input, dim))


def unfold_copy(input, dimension, size, step):
    """Windows of `size` every `step` along `dimension`, as a new last dim (Tensor.unfold)."""
    _check_tensor("unfold_copy", input)
    return clone(_unfold(input, dimension, size, step))


def diagonal_copy(input, offset=0, dim1=0, dim2=1):
    """The diagonal `offset` of the planes (dim1, dim2), as the last dim, in new memory."""
    op = "diagonal_copy"
    _check_tensor(op, input)
    norm_dim(dim1, input.ndim, op)            # an out-of-range dim: IndexError, as PyTorch
    norm_dim(dim2, input.ndim, op)
    return clone(_diagonal(input, offset, dim1, dim2))


def detach_copy(input):
    """A copy of input outside the graph (requires no grad).

    Where tinygen differs: PyTorch 2.13 returns a tensor that requires grad when input does,
    with a grad_fn whose backward is not implemented; tinygen returns what detach() promises."""
    _check_tensor("detach_copy", input)
    return clone(input.detach())


def alias_copy(input):
    """A copy of input (the gradient passes through, as the alias it copies)."""
    _check_tensor("alias_copy", input)
    return clone(input)


# ---- splits without view tracking, adjoint -------------------------------------------------------
def unsafe_split(input, split_size, dim=0):
    """split(input, split_size, dim) for an int split_size (see the module doc on `unsafe`)."""
    _check_tensor("unsafe_split", input)
    _check_split_size("unsafe_split", split_size)
    return tuple(_shape.split(input, split_size, dim))


def unsafe_split_with_sizes(input, split_sizes, dim=0):
    """split(input, split_sizes, dim): pieces of those sizes, which must sum to the dim's size."""
    _check_tensor("unsafe_split_with_sizes", input)
    return tuple(_split_with_sizes(input, split_sizes, dim))


def unsafe_chunk(input, chunks, dim=0):
    """chunk(input, chunks, dim): ceil(n / chunks)-sized pieces (see the module doc)."""
    _check_tensor("unsafe_chunk", input)
    return tuple(_shape.chunk(input, chunks, dim))


def adjoint(input):
    """The conjugate transpose of the last two dims: their transpose, tinygen's tensors being
    real. input (..., m, n) -> (..., n, m); a 0-d tensor is itself (PyTorch warns that this is
    deprecated: tinygen does not)."""
    _check_tensor("adjoint", input)
    if input.ndim == 0:
        return input
    if input.ndim == 1:
        raise RuntimeError(f"adjoint: tensor.adjoint() is only supported on matrices or batches "
                           f"of matrices. Got 1-D tensor (shape {tuple(input.shape)}).")
    return _shape.transpose(input, -2, -1)


Tensor.unsafe_split = unsafe_split
Tensor.unsafe_split_with_sizes = unsafe_split_with_sizes
