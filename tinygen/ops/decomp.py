"""Triangular solves and the Cholesky factorisation (batched), as torch.linalg's
solve_triangular and cholesky and the older torch.cholesky / cholesky_solve / cholesky_inverse
(what the multivariate normal distribution needs), and inverse, det, slogdet, logdet, solve.

Both are Functions whose backward is written with themselves and matmuls, so they are
differentiable to any order:
    X = A^{-1} B (A triangular):   dB = A^{-T} dX,   dA = -tri(dB X^T)     (tri: A's triangle)
    L = chol(A):                   dA = sym(L^{-T} Phi(L^T dL) L^{-1})      (Murray 2016, eq. 10)
with Phi(M) the lower triangle of M with its diagonal halved and sym(M) = (M + M^T) / 2.
Inverse (dA = -Y^T g Y^T), SlogDet (d log|det A| = A^{-T}) and Solve (as SolveTriangular) are
differentiable to any order the same way. The array work is numpy.linalg / cupy.linalg.
"""
from __future__ import annotations

import collections

import numpy as np

from ..autograd.function import Function, wrap_grad
from ..autograd.grad_mode import GRAD
from .binary import where

slogdet_result = collections.namedtuple("slogdet", ["sign", "logabsdet"])


class LinAlgError(RuntimeError):
    """A factorisation or inverse that cannot be completed (a singular matrix, one that is not
    positive-definite), as torch.linalg.LinAlgError: a RuntimeError."""


def _mT(t):
    return t.transpose(-2, -1)


def _triangle(t, upper):
    return t.triu() if upper else t.tril()


def _substitution(xp, tri, b, upper):
    """tri^{-1} b by substitution, row by row, dividing by the diagonal as it stands: where it
    holds a zero the rows from there on are inf or NaN, as PyTorch's solve_triangular gives them
    (LAPACK's solve, the fast path, refuses a singular matrix instead)."""
    shape = np.broadcast_shapes(tri.shape[:-2], b.shape[:-2]) + b.shape[-2:]
    x = xp.zeros(shape, dtype=np.result_type(tri.dtype, b.dtype))
    n = tri.shape[-1]
    with np.errstate(divide="ignore", invalid="ignore"):
        for i in (range(n - 1, -1, -1) if upper else range(n)):
            done = slice(i + 1, n) if upper else slice(0, i)
            rest = b[..., i, :] - (tri[..., i:i + 1, done] @ x[..., done, :])[..., 0, :]
            x[..., i, :] = rest / tri[..., i, i][..., None]
    return x


class SolveTriangular(Function):
    """X with A X = B for a lower (or upper) triangular A (..., n, n) and B (..., n, k); only A's
    triangle is read."""

    def forward(self, a, b, upper):
        self.upper = upper
        tri = self.xp.triu(a) if upper else self.xp.tril(a)
        if a.dtype.itemsize >= 4 and (self.xp.diagonal(tri, axis1=-2, axis2=-1) == 0).any():
            x = _substitution(self.xp, tri, b, upper)    # inf and NaN, as torch's trsm (an LU
        else:                                            # solve may pivot past the zero)
            x = self.xp.linalg.solve(tri, b)
        self.save_for_backward(a, x)
        return x

    def backward(self, gx):
        a, x = self.saved_tensors
        gb = SolveTriangular.apply(_mT(a), gx, not self.upper)          # A^{-T} dX
        ga = None
        if self.inputs[0] is not None:
            ga = _triangle(-(gb @ _mT(x)), self.upper)
            if tuple(ga.shape) != tuple(a.shape):                     # batch dims broadcast
                ga = ga.sum_to_size(*a.shape)
        if self.inputs[1] is not None and tuple(gb.shape) != tuple(self.inputs[1].shape):
            gb = gb.sum_to_size(*self.inputs[1].shape)
        return ga, gb, None


class Cholesky(Function):
    """The lower-triangular L with L L^T = A for symmetric positive-definite A (..., n, n)."""

    def forward(self, a):
        try:
            low = self.xp.linalg.cholesky(a)
        except np.linalg.LinAlgError:
            raise LinAlgError(f"cholesky: the input of shape {a.shape} is not positive-definite"
                              ) from None
        self.save_for_backward(low)
        return low

    def backward(self, gl):
        (low,) = self.saved_tensors
        m = _mT(low) @ gl
        phi = m.tril() - m.diagonal(0, -2, -1).diag_embed() * 0.5        # Phi(L^T dL)
        y = SolveTriangular.apply(_mT(low), phi, True)                    # L^{-T} Phi
        z = _mT(SolveTriangular.apply(_mT(low), _mT(y), True))            # L^{-T} Phi L^{-1}
        return (z + _mT(z)) * 0.5


# ---- the functions (tg.* and tg.linalg-style names) ---------------------------------------------
def _check_square(op, a):
    if a.ndim < 2 or a.shape[-1] != a.shape[-2]:
        raise RuntimeError(f"{op}: expected square matrices (..., n, n), got shape "
                           f"{tuple(a.shape)}")
    if not a.dtype.is_floating_point:
        raise RuntimeError(f"{op}: expected a floating-point tensor, got {a.dtype}")


def solve_triangular(A, B, *, upper, left=True, unitriangular=False):
    """X with A X = B (left=True) or X A = B, A triangular (..., n, n), as
    torch.linalg.solve_triangular."""
    op = "solve_triangular"
    _check_square(op, A)
    if B.dtype != A.dtype:                     # PyTorch: the result has A's dtype
        B = B.to(A.dtype)
    if unitriangular:
        A = A.tril(-1) if not upper else A.triu(1)
        A = A + A.new_ones(A.shape[-1]).diag_embed().to(A.dtype)
    if not left:                                   # X A = B  <=>  A^T X^T = B^T
        return _mT(solve_triangular(_mT(A), _mT(B), upper=not upper))
    if B.ndim < 2 or B.shape[-2] != A.shape[-1]:
        raise RuntimeError(f"{op}: expected B (..., {A.shape[-1]}, k) for A of shape "
                           f"{tuple(A.shape)}, got {tuple(B.shape)}")
    return SolveTriangular.apply(A, B, bool(upper))


def cholesky(input, upper=False):
    """The Cholesky factor of symmetric positive-definite matrices: lower L with L L^T = input
    (upper=True: L^T)."""
    _check_square("cholesky", input)
    low = Cholesky.apply(input)
    return _mT(low) if upper else low


def cholesky_solve(B, L, upper=False):
    """X with (L L^T) X = B, given the Cholesky factor L (upper=True: U with U^T U)."""
    low = _mT(L) if upper else L
    y = solve_triangular(low, B, upper=False)
    return solve_triangular(_mT(low), y, upper=True)


def cholesky_inverse(L, upper=False):
    """(L L^T)^{-1} from the Cholesky factor L."""
    eye = L.new_ones(L.shape[-1]).diag_embed().to(L.dtype)
    return cholesky_solve(eye.expand(L.shape), L, upper)


# ---- inverse, determinants, linear solves -------------------------------------------------------
class Inverse(Function):
    """A^{-1} of square matrices (..., n, n); d(A^{-1}) = -A^{-1} dA A^{-1}, so
    dA = -Y^T g Y^T with Y = A^{-1} (the saved output: differentiable again)."""

    def forward(self, a):
        try:
            y = self.xp.linalg.inv(a)
        except np.linalg.LinAlgError:
            raise LinAlgError(f"inverse: the input of shape {a.shape} is singular") from None
        self.save_for_backward(y)
        return y

    def backward(self, gy):
        (y,) = self.saved_tensors
        return -(_mT(y) @ gy @ _mT(y))


class SlogDet(Function):
    """(log|det A|, sign det A); d log|det A| / dA = A^{-T} (Jacobi's formula). The sign's
    gradient is 0 (it requires grad, as PyTorch's)."""

    def forward(self, a):
        sign, logabs = self.xp.linalg.slogdet(a)
        self.save_for_backward(a)
        return self.xp.asarray(logabs), self.xp.asarray(sign)

    def backward(self, glog, _gsign):
        (a,) = self.saved_tensors
        try:
            inverse = Inverse.apply(a)
        except LinAlgError:             # log|det| is -inf there: NaN (PyTorch: inf and NaN)
            inverse = wrap_grad(_inverse_or_nan(self.xp, a._data))
        return glog.unsqueeze(-1).unsqueeze(-1) * _mT(inverse)


def _inverse_or_nan(xp, a):
    """The inverse of each matrix of a (..., n, n), NaN for the singular ones."""
    flat = a.reshape((-1,) + a.shape[-2:])
    out = xp.full(flat.shape, np.nan, dtype=a.dtype)
    for i in range(flat.shape[0]):
        try:
            out[i] = xp.linalg.inv(flat[i])
        except np.linalg.LinAlgError:
            pass
    return out.reshape(a.shape)


class Det(Function):
    """det A of square matrices (..., n, n). Its gradient is the cofactor matrix: det(A) A^{-T}
    (as Tensor ops, differentiable again) where A is invertible, and, where LAPACK finds a zero
    pivot (an exactly singular A), det(U) det(V) U diag(prod_{j != i} s_j) V^T from the SVD
    A = U S V^T, first order only: the determinant is a polynomial, smooth there, and finite
    differences agree. Where PyTorch differs: its gradient at such a matrix is 0 (for [[1, 2, 3],
    [2, 4, 6], [1, 0, 1]] the (0, 0) cofactor is 4)."""

    def forward(self, a):
        out = self.xp.asarray(self.xp.linalg.det(a))
        self.save_for_backward(a, out)
        return out

    def backward(self, gy):
        a, d = self.saved_tensors
        try:
            inverse = Inverse.apply(a)
        except LinAlgError:
            if GRAD.enabled:
                raise LinAlgError(f"det: the second derivative at a singular matrix (shape "
                                  f"{tuple(a.shape)}) is not implemented; its first, the "
                                  "cofactor matrix, is") from None
            return wrap_grad(gy._data[..., None, None] * _cofactors(self.xp, a._data))
        return (gy * d).unsqueeze(-1).unsqueeze(-1) * _mT(inverse)


def _cofactors(xp, a):
    """The cofactor matrices of a (..., n, n) by the SVD, for singular ones too."""
    u, s, vh = xp.linalg.svd(a)
    one = xp.ones_like(s[..., :1])
    before = xp.cumprod(xp.concatenate([one, s[..., :-1]], axis=-1), axis=-1)
    after = xp.flip(xp.cumprod(xp.flip(xp.concatenate([s[..., 1:], one], axis=-1), axis=-1),
                               axis=-1), axis=-1)            # prod over j < i and over j > i
    sign = xp.linalg.det(u) * xp.linalg.det(vh)
    return sign[..., None, None] * ((u * (before * after)[..., None, :]) @ vh)


class Solve(Function):
    """X with A X = B (A square (..., n, n), B (..., n, k)): dB = A^{-T} dX, dA = -dB X^T."""

    def forward(self, a, b):
        try:
            x = self.xp.linalg.solve(a, b)
        except np.linalg.LinAlgError:
            raise LinAlgError(f"solve: the matrix of shape {a.shape} is singular") from None
        self.save_for_backward(a, x)
        return x

    def backward(self, gx):
        a, x = self.saved_tensors
        gb = Solve.apply(_mT(a), gx)
        ga = None
        if self.inputs[0] is not None:
            ga = -(gb @ _mT(x))
            if tuple(ga.shape) != tuple(a.shape):
                ga = ga.sum_to_size(*a.shape)
        if self.inputs[1] is not None and tuple(gb.shape) != tuple(self.inputs[1].shape):
            gb = gb.sum_to_size(*self.inputs[1].shape)
        return ga, gb


def inverse(input):
    """The inverse of square matrices (..., n, n)."""
    _check_square("inverse", input)
    return Inverse.apply(input)


def slogdet(input):
    """(sign, logabsdet) of det(input) for square matrices (..., n, n), as torch.slogdet."""
    _check_square("slogdet", input)
    logabs, sign = SlogDet.apply(input)
    return slogdet_result(sign, logabs)


def det(input):
    """The determinant (Det: its gradient the cofactor matrix, at singular matrices too)."""
    _check_square("det", input)
    return Det.apply(input)


def logdet(input):
    """log(det(input)): NaN where the determinant is negative, -inf where it is 0."""
    sign, logabs = slogdet(input)
    return where(sign < 0, float("nan"), logabs)


def solve(A, B, *, left=True):
    """X with A X = B (left) or X A = B, as torch.linalg.solve; B (..., n, k) or a vector: (n,)
    or (..., n) with A's batch shape (PyTorch's rule: B (n, k) with A (b, n, n) is a matrix)."""
    _check_square("solve", A)
    if A.dtype != B.dtype:
        raise RuntimeError(f"linalg.solve: Expected A and B to have the same dtype, but found A "
                           f"of type {A.dtype} and B of type {B.dtype} instead")
    if not left:
        if B.ndim < 2:             # X A = B needs B (..., k, n): no vector rule (PyTorch raises)
            n = A.shape[-1]
            raise RuntimeError(f"linalg.solve: Incompatible shapes of A and B for the equation "
                               f"XA = B ({n}x{n} and {B.shape[-1]}x1)")
        if B.ndim == A.ndim - 1 and tuple(B.shape) == tuple(A.shape[:-1]):
            raise RuntimeError("linalg.solve: Vector broadcasting of the left hand side is not "
                               "supported for left=False. In this case linalg.solve is "
                               "equivalent to B / A.squeeze(-1)")
        return _mT(solve(_mT(A), _mT(B)))
    vector = B.ndim == 1 or (B.ndim == A.ndim - 1 and tuple(B.shape) == tuple(A.shape[:-1]))
    b = B.unsqueeze(-1) if vector else B
    if b.shape[-2] != A.shape[-1]:
        raise RuntimeError(f"solve: expected B with {A.shape[-1]} rows for A of shape "
                           f"{tuple(A.shape)}, got B of shape {tuple(B.shape)}")
    x = Solve.apply(A, b)
    return x.squeeze(-1) if vector else x
