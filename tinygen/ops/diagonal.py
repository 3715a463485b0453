"""Diagonals: diagonal, diag_embed, diag, diagflat, trace, and the boolean diagonal mask that
fill_diagonal_ writes through.

`Diagonal` reads the elements (i, i + offset) of the plane (dim1, dim2) into a new last dim;
`DiagonalScatter` writes such a last dim into zeros of a given shape. Each is the other's
adjoint (both are linear), so the pair closes under differentiation.

    diagonal(x, offset=1)          # (3, 4) -> (3,): x[0, 1], x[1, 2], x[2, 3]
    diag_embed(v)                  # (..., n) -> (..., n, n) with v on the diagonal
"""
from __future__ import annotations

import numpy as np

from ..autograd.function import Function, wrap
from .args import norm_dim
from .convert import Clone
from .shape import Pad, cat


def _diagonal_index(shape, offset, d1, d2):
    """(row indices, column indices) of the diagonal `offset` of the plane (d1, d2) of shape."""
    n1, n2 = shape[d1], shape[d2]
    start1, start2 = max(-offset, 0), max(offset, 0)
    length = max(min(n1 - start1, n2 - start2), 0)
    return np.arange(start1, start1 + length), np.arange(start2, start2 + length)


def _plane_last(xp, x, d1, d2):
    """A view of x with dims d1, d2 moved to the end (the others keep their order)."""
    return xp.moveaxis(x, (d1, d2), (-2, -1))


class Diagonal(Function):
    """x's diagonal `offset` in the plane (d1, d2), as a new last dim: a view, as PyTorch's
    (NumPy's diagonal is a view marked read-only; it is made writable where x is)."""

    is_view = True

    def forward(self, x, offset, d1, d2):
        self.shape, self.offset, self.d1, self.d2 = x.shape, offset, d1, d2
        out = self.xp.diagonal(x, offset, d1, d2)
        if self.xp is np and x.flags.writeable and not out.flags.writeable:
            out.flags.writeable = True
        return out

    def backward(self, gy):
        g = DiagonalScatter.apply(gy, self.shape, self.offset, self.d1, self.d2)
        return g, None, None, None


class DiagonalScatter(Function):
    """zeros(shape) with the last dim of v written on the diagonal `offset` of (d1, d2)."""

    def forward(self, v, shape, offset, d1, d2):
        self.offset, self.d1, self.d2 = offset, d1, d2
        out = self.xp.zeros(shape, dtype=v.dtype)
        rows, cols = _diagonal_index(shape, offset, d1, d2)
        _plane_last(self.xp, out, d1, d2)[..., rows, cols] = v
        return out

    def backward(self, gg):
        return Diagonal.apply(gg, self.offset, self.d1, self.d2), None, None, None, None


# ---- the functions (Tensor methods and tg.*) ----------------------------------------------------
def diagonal(input, offset=0, dim1=0, dim2=1):
    """The diagonal `offset` (> 0 above, < 0 below) of the planes (dim1, dim2), as the last dim."""
    if input.ndim < 2:
        raise RuntimeError(f"diagonal: expected a tensor of at least 2 dims, got shape "
                           f"{tuple(input.shape)}")
    d1, d2 = norm_dim(dim1, input.ndim, "diagonal"), norm_dim(dim2, input.ndim, "diagonal")
    if d1 == d2:
        raise RuntimeError(f"diagonal: dim1 and dim2 cannot be the same (both {d1})")
    return Diagonal.apply(input, int(offset), d1, d2)


def diag_embed(input, offset=0, dim1=-2, dim2=-1):
    """(..., n) -> a tensor with two new dims (dim1, dim2) of size n + |offset| whose diagonal
    `offset` holds the last dim of input, zeros elsewhere."""
    nd = input.ndim + 1
    d1, d2 = norm_dim(dim1, nd, "diag_embed"), norm_dim(dim2, nd, "diag_embed")
    if d1 == d2:
        raise RuntimeError(f"diag_embed: dim1 and dim2 cannot be the same (both {d1})")
    n = input.shape[-1] + abs(int(offset))
    rest = list(input.shape[:-1])
    shape = []
    for d in range(nd):
        shape.append(n if d in (d1, d2) else rest.pop(0))
    return DiagonalScatter.apply(input, tuple(shape), int(offset), d1, d2)


def diag(input, diagonal=0):
    """A 1-D input -> the square matrix with it on diagonal `diagonal`; a 2-D input -> that
    diagonal of it."""
    if input.ndim == 1:
        return diag_embed(input, diagonal, 0, 1)
    if input.ndim == 2:                      # a copy (torch.diag), unlike diagonal()
        return Clone.apply(Diagonal.apply(input, int(diagonal), 0, 1))
    raise RuntimeError(f"diag: expected a 1-D or 2-D tensor, got shape {tuple(input.shape)}")


def diagflat(input, offset=0):
    """The flattened input on diagonal `offset` of a square matrix."""
    return diag_embed(input.reshape(-1), offset, 0, 1)


def trace(input):
    """The sum of the main diagonal of a 2-D tensor (a 0-d tensor)."""
    if input.ndim != 2:
        raise RuntimeError(f"trace: expected a 2-D tensor, got shape {tuple(input.shape)}")
    if input._data.dtype == np.bool_:
        raise NotImplementedError('"trace" not implemented for \'Bool\'')
    return Diagonal.apply(input, 0, 0, 1).sum()


def diagonal_mask(input, wrap_around=False):
    """A bool tensor of input's shape, True on its main diagonal (all dims equal, or 2-D; a tall
    matrix's diagonal restarts every columns + 1 rows with wrap_around, as numpy.fill_diagonal)."""
    if input.ndim < 2:
        raise RuntimeError(f"fill_diagonal_: expected a tensor of at least 2 dims, got shape "
                           f"{tuple(input.shape)}")
    if input.ndim > 2 and len(set(input.shape)) != 1:
        raise RuntimeError(f"fill_diagonal_: all dims must have the same length past 2-D, got "
                           f"shape {tuple(input.shape)}")
    mask = np.zeros(input.shape, dtype=bool)
    np.fill_diagonal(mask, True, wrap=wrap_around)
    return wrap(input.device.xp.asarray(mask))


def block_diag(*tensors):
    """The tensors (0-D, 1-D as one row, or 2-D) along the diagonal of one matrix, zeros elsewhere,
    dtypes promoted as cat's, as torch.block_diag; differentiable (each block padded, then cat)."""
    blocks = []
    for k, t in enumerate(tensors):
        if t.ndim > 2:
            raise RuntimeError(f"block_diag: expected 0-, 1- or 2-D tensors, got tensor {k} of "
                               f"shape {tuple(t.shape)}")
        blocks.append(t.reshape(1, -1) if t.ndim == 1 else t.reshape(1, 1) if t.ndim == 0 else t)
    if not blocks:
        return wrap(np.zeros((1, 0), np.float32))
    widths = [b.shape[1] for b in blocks]
    rows, left = [], 0
    for b, w in zip(blocks, widths):
        rows.append(Pad.apply(b, ((0, 0), (left, sum(widths) - left - w)), 0))
        left += w
    return cat(rows, 0)
