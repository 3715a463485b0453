"""PyTorch's complex-number ops on tinygen's tensors, which are all real:

    tg.angle(x)              pi where x < 0, 0 elsewhere, NaN where x is NaN; gradient 0
    tg.conj_physical(x)      x itself (the conjugate of a real tensor), as PyTorch returns it
    x.conj_physical_()       x, its version bumped (an in-place op that writes nothing)

angle of an integer or bool tensor is in the default float dtype, as PyTorch's.
"""
from __future__ import annotations

import math

import numpy as np

from ..autograd import function as _fn
from ..autograd.function import Function
from ..autograd.grad_mode import GRAD
from ..backend import dtypes as _dt


class Angle(Function):
    """The argument of a real number: pi for negatives, 0 for the rest (-0.0 included), NaN
    kept. Piecewise constant, so its gradient is 0, as PyTorch's for real inputs."""

    def forward(self, x):
        xp = self.xp
        dtype = x.dtype if x.dtype.kind == "f" else _dt.get_default_dtype().np
        x = x.astype(dtype, copy=False)
        pi, zero = np.asarray(math.pi, dtype), np.asarray(0, dtype)
        return xp.where(xp.isnan(x), x, xp.where(x < 0, pi, zero))

    def backward(self, gy):
        return gy * 0


def _check_tensor(op, value):
    if not isinstance(value, _fn.Tensor):
        raise TypeError(f"{op}(): argument 'input' (position 1) must be Tensor, not "
                        f"{type(value).__name__}")


def angle(input):
    """Elementwise argument of input as a complex number: pi where input < 0, else 0; NaN stays
    NaN. Integer and bool inputs give the default float dtype."""
    _check_tensor("angle", input)
    return Angle.apply(input)


def conj_physical(input):
    """The complex conjugate, materialised: for tinygen's real tensors, input itself (the same
    object, as PyTorch returns for a real tensor; gradients pass through)."""
    _check_tensor("conj_physical", input)
    return input


def conj_physical_(input):
    """In-place conjugate: nothing to write for a real tensor; the version is bumped and a leaf
    that requires grad is refused outside no_grad, as PyTorch's in-place ops."""
    _check_tensor("conj_physical_", input)
    if GRAD.enabled and input._requires_grad and input._grad_fn is None:
        raise RuntimeError(f"conj_physical_: a leaf Variable that requires grad (shape "
                           f"{tuple(input.shape)}) is being used in an in-place operation; "
                           f"wrap it in `with tg.no_grad():`")
    input._version[0] += 1
    return input
