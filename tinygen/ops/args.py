"""Argument rules shared by the ops: dims, shapes and the tuples of convolution-like ops.

Each raises the error PyTorch raises (IndexError for a dim out of range, RuntimeError for a bad
shape), naming the op.
"""
from __future__ import annotations


def norm_dim(dim, ndim, op="dim"):
    """A dim in [-ndim, ndim) -> a non-negative dim (a 0-d tensor has one dim, as in PyTorch)."""
    nd = ndim if ndim > 0 else 1
    if not -nd <= dim < nd:
        raise IndexError(f"{op}: dimension out of range (expected to be in range of "
                         f"[{-nd}, {nd - 1}], but got {dim})")
    return dim % nd


def norm_dims(dim, ndim, op="dim"):
    """None or () -> None (all dims); int or sequence -> a sorted tuple of non-negative dims."""
    if dim is None:
        return None
    if isinstance(dim, (tuple, list)):
        if len(dim) == 0:
            return None
        dims = [norm_dim(d, ndim, op) for d in dim]
        for k, d in enumerate(dims):
            if d in dims[:k]:
                raise RuntimeError(f"{op}: dim {d} appears multiple times in the list of dims "
                                   f"{tuple(dim)}")
        return tuple(sorted(dims))
    return (norm_dim(dim, ndim, op),)


def shape_arg(shape):
    """The varargs of reshape(2, 3) or reshape((2, 3)) -> (2, 3)."""
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        return tuple(shape[0])
    return tuple(shape)


def resolve_shape(shape, size, op="reshape", input_shape=None):
    """A target shape with at most one -1 -> the concrete shape holding `size` elements."""
    shape = tuple(int(s) for s in shape)
    try:
        if shape.count(-1) > 1:
            raise ValueError("only one dimension can be inferred (-1)")
        if -1 in shape:
            known = 1
            for s in shape:
                if s != -1:
                    known *= s
            if known == 0 or size % known:
                raise ValueError("cannot infer the -1 dimension")
            shape = tuple(size // known if s == -1 else s for s in shape)
        n = 1
        for s in shape:
            if s < 0:
                raise ValueError(f"negative dimension {s}")
            n *= s
        if n != size:
            raise ValueError(f"{n} elements requested, {size} present")
    except ValueError as e:
        raise RuntimeError(f"{op}: shape {list(shape)} is invalid for input of shape "
                           f"{tuple(input_shape or ())} ({size} elements): {e}") from None
    return shape


def kept_shape(shape, axes):
    """shape with the reduced axes kept as 1 (axes None: all)."""
    return tuple(1 if (axes is None or d in axes) else s for d, s in enumerate(shape))


def ntuple(value, n, name, op, minimum=0):
    """An int or a sequence of n ints -> a tuple of n ints, each >= minimum."""
    if isinstance(value, (list, tuple)):
        if len(value) == 1:
            value = tuple(value) * n
        if len(value) != n:
            raise ValueError(f"{op}: expected {name} to be a single int or {n} ints, got {value!r}")
        out = tuple(value)
    else:
        out = (value,) * n
    for v in out:
        if not isinstance(v, int) or isinstance(v, bool) or v < minimum:
            raise ValueError(f"{op}: expected {name} to be int(s) >= {minimum}, got {value!r}")
    return out


def check_float(op, x, name="input"):
    """x must have a floating dtype (a Tensor or anything with .dtype.is_floating_point)."""
    if not x.dtype.is_floating_point:
        raise RuntimeError(f"{op}: expected a floating-point {name}, got {x.dtype} (shape "
                           f"{tuple(x.shape)})")
    return x
