"""Size: torch.Size, a tuple of ints with numel(); slices, + and * of a Size are Sizes; it equals
(and hashes as) the plain tuple; repr `tinygen.Size([2, 3])`. `tg.Size([2, 3])` works where a
PyTorch program builds one (and compares it with a shape).

Where PyTorch differs: Tensor.shape and Tensor.size() return the array's plain tuple, not a Size
(so `x.shape.numel()` is x.numel()). Returning a Size costs ~100 ns per access (a Python-level
tuple subclass; ~200 ns more to index one), and tinygen's ops read `.shape` on their hot paths:
measured on a 2-core VM, matmul of 16x16 +22%, unsqueeze +69%, cat +11%, a
TransformerEncoderLayer step +2.1%, a small CNN step +2.7% (the (a*b+c).relu().sum() chain and an
MLP step: no change). Switching needs the ops to read `_data.shape` first.
"""
from __future__ import annotations

import operator

_tnew = tuple.__new__


class Size(tuple):
    __slots__ = ()

    def __new__(cls, sizes=()):
        """Size(iterable of ints): each taken through __index__ (Python, NumPy or 0-d integer
        tensor ints), anything else is a TypeError, as torch.Size."""
        items = []
        for i, v in enumerate(sizes):
            try:
                items.append(operator.index(v))
            except TypeError:
                raise TypeError(f"tinygen.Size() takes an iterable of 'int' (item {i} is "
                                f"'{type(v).__name__}')") from None
        return _tnew(cls, items)

    def numel(self):
        """The number of elements of a tensor of this shape (1 for Size([]))."""
        n = 1
        for v in self:
            n *= v
        return n

    def __repr__(self):
        return f"tinygen.Size({list(self)})"

    __str__ = __repr__

    def __getitem__(self, index):
        out = tuple.__getitem__(self, index)
        return _tnew(Size, out) if type(index) is slice else out

    def __add__(self, other):
        if not isinstance(other, tuple):
            return NotImplemented
        return _tnew(Size, tuple.__add__(self, other))

    def __radd__(self, other):
        if not isinstance(other, tuple):
            return NotImplemented
        return _tnew(Size, tuple.__add__(other, self))

    def __mul__(self, times):
        out = tuple.__mul__(self, times)
        return out if out is NotImplemented else _tnew(Size, out)

    __rmul__ = __mul__

    def __reduce__(self):
        return Size, (tuple(self),)
