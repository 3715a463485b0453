"""QR, the symmetric eigendecomposition, the SVD and the pseudo-inverse (batched), as Functions
for tinygen.linalg (qr, eigh, eigvalsh, svd, svdvals, pinv, lstsq, matrix_rank, the 2- and
nuclear norms). matrix_exp, LU and LDL are in decomp3.py.

Each backward is PyTorch's rule for real matrices (FunctionsManual.cpp), written in Tensor ops on
the factors, so it is differentiable again (double backward; see _Factorisation):
    A = QR, m >= n:     gA = (gQ + Q copyltu(M)) R^{-T},   M = gR R^T - Q^T gQ
                        (copyltu(M): M's upper triangle mirrored below the diagonal)
    A = QR, m < n:      A = [X | Y], R = [U | V]: gX as above with gQ + Y gV^T and gU; gY = Q gV
    A = V diag(w) V^T:  gA = V (diag(gw) + F o (V^T gV - gV^T V) / 2) V^T,   F_ij = 1/(w_j - w_i)
    A = U diag(S) Vh:   gA = U (diag(gS) + F o (skew(U^T gU) S + S skew(Vh gVh^T))) Vh
                        + the parts of gU (m > n) or gVh (m < n) off U's / V's span, divided by S
                        (F_ij = 1/(S_j^2 - S_i^2), skew(X) = X - X^T)
    pinv:               pinv_backward (Golub & Pereyra 1973: the derivative at constant rank)
Where two eigenvalues (singular values) are exactly equal, F_ij is 0 here; PyTorch divides by 0
and gives inf or NaN. 0 is the right value when the loss does not depend on the basis chosen
inside that eigenspace (eigenvalues alone, U @ diag(S) @ Vh, projectors), and a finite but
meaningless one otherwise; nearly equal values give large gradients in both libraries. Zero
singular values with gU (m > n) or gVh (m < n) give inf / NaN in both. The gradient of an unused
U, Vh or V (the engine's zeros) is skipped, so eigvalsh, svdvals and a loss on S alone are finite
for repeated values, as PyTorch's.

CuPy: the forwards call cupy.linalg's qr, eigh, eigvalsh and svd on stacks of matrices, which
needs a CuPy whose versions take batches (not tested here: no GPU was available).
"""
from __future__ import annotations

import numpy as np

from ..autograd.function import Function, wrap
from ..autograd.grad_mode import GRAD
from .binary import where
from .decomp import LinAlgError, SolveTriangular
from .shape import cat


def _mT(t):
    return t.transpose(-2, -1)


def _live(g):
    """Whether an output's gradient may be nonzero: False for the zeros the engine passes for an
    unused output (no graph, all zero)."""
    return g.requires_grad or g._grad_fn is not None or bool(g._data.any())


def _inverse_gaps(w):
    """F (..., n, n) with F_ij = 1 / (w_j - w_i), and 0 on the diagonal and where w_i == w_j."""
    gaps = w.unsqueeze(-2) - w.unsqueeze(-1)                         # (..., n, n): w_j - w_i
    same = gaps == 0                                                 # a mask: no gradient
    return where(same, 0.0, 1.0 / where(same, 1.0, gaps))           # never 1 / 0 (double bwd)


def _lapack(op, fn, *args, **kwargs):
    """fn(*args) with numpy's LinAlgError (no convergence) as tinygen's, naming the op."""
    try:
        return fn(*args, **kwargs)
    except np.linalg.LinAlgError as e:
        raise LinAlgError(f"{op}: {e} (input shape {tuple(args[0].shape)})") from None


class _Factorisation(Function):
    """A decomposition whose backward reads its own outputs (Q R, w V, U S Vh). They are kept as
    arrays, not as the outputs themselves (which are held weakly: an output the caller drops,
    such as U of svdvals, would be gone); under create_graph they are computed again from the
    saved input as a new node, so the gradient's own derivative sees them move."""

    def _keep(self, a, *factors):
        self.save_for_backward(a)
        for i, f in enumerate(factors):             # attributes: freed after backward
            setattr(self, f"factor{i}", f)

    def _factors(self, *params):
        (a,) = self.saved_tensors
        if GRAD.enabled:                            # create_graph: differentiable factors
            return type(self).apply(a, *params)
        return tuple(wrap(getattr(self, f"factor{i}")) for i in range(self.n_factors))


# ---- QR -----------------------------------------------------------------------------------------
class QR(_Factorisation):
    """(Q, R) with A = Q R, Q orthonormal columns, R upper triangular; mode 'reduced',
    'complete' or 'r' (then Q is empty and there is no gradient, as in PyTorch)."""

    n_factors = 2

    def forward(self, a, mode):
        self.mode = mode
        if mode == "r":
            return self.xp.empty((0,), a.dtype), _lapack("linalg.qr", self.xp.linalg.qr, a, "r")
        q, r = _lapack("linalg.qr", self.xp.linalg.qr, a, mode)
        self._keep(a, q, r)
        return q, r

    def backward(self, gq, gr):
        if self.mode == "r":
            raise RuntimeError("The derivative of linalg.qr depends on Q, which is not computed "
                               "when mode='r'. Please use linalg.qr(A, mode='reduced') if you "
                               "are going to differentiate through linalg.qr.")
        q, r = self._factors(self.mode)
        m, n = q.shape[-2], r.shape[-1]
        if self.mode == "complete" and m > n:       # Q's last m - n columns are arbitrary
            raise RuntimeError(f"The QR decomposition is not differentiable when "
                               f"mode='complete' and nrows > ncols (A of shape (..., {m}, {n}))")
        if m >= n:
            return _qr_grad(q, r, gq, gr), None
        u, v = r.narrow(-1, 0, m), r.narrow(-1, m, n - m)            # R = [U | V]
        gu, gv = gr.narrow(-1, 0, m), gr.narrow(-1, m, n - m)
        gx = _qr_grad(q, u, gq + (q @ v) @ _mT(gv), gu)               # Y = Q V
        return cat([gx, q @ gv], -1), None


def _qr_grad(q, r, gq, gr):
    """gA for A = Q R with R square: (gQ + Q copyltu(gR R^T - Q^T gQ)) R^{-T}."""
    upper = (gr @ _mT(r) - _mT(q) @ gq).triu()
    b = gq + q @ (upper + _mT(upper.triu(1)))
    return _mT(SolveTriangular.apply(r, _mT(b), True))              # b R^{-T}


# ---- the symmetric eigendecomposition -----------------------------------------------------------
class Eigh(_Factorisation):
    """(w, V) with A = V diag(w) V^T, w ascending, for symmetric A read from its lower (UPLO='L')
    or upper triangle. The gradient is symmetric (as PyTorch's)."""

    n_factors = 2

    def forward(self, a, uplo):
        self.uplo = uplo
        w, v = _lapack("linalg.eigh", self.xp.linalg.eigh, a, UPLO=uplo)
        self._keep(a, w, v)
        return w, v

    def backward(self, gw, gv):
        w, v = self._factors(self.uplo)
        inner = gw.diag_embed()
        if _live(gv):
            vgv = _mT(v) @ gv
            inner = inner + (vgv - _mT(vgv)) * _inverse_gaps(w) * 0.5
        return v @ inner @ _mT(v), None


class EigenValues(Function):
    """The eigenvalues alone (no gradient: tinygen.linalg.eigvalsh uses Eigh where one is
    needed)."""

    def forward(self, a, uplo):
        return _lapack("linalg.eigvalsh", self.xp.linalg.eigvalsh, a, UPLO=uplo)


# ---- the singular value decomposition -----------------------------------------------------------
class SVD(_Factorisation):
    """(U, S, Vh) with A = U diag(S) Vh, S descending. With full_matrices the gradient uses the
    first min(m, n) columns of U and rows of Vh (the others are arbitrary), as PyTorch's."""

    n_factors = 3

    def forward(self, a, full_matrices):
        self.full_matrices = full_matrices
        u, s, vh = _lapack("linalg.svd", self.xp.linalg.svd, a, full_matrices=full_matrices)
        self._keep(a, u, s, vh)
        return u, s, vh

    def backward(self, gu, gs, gvh):
        u, s, vh = self._factors(self.full_matrices)
        k = s.shape[-1]
        if self.full_matrices:
            u, gu = u.narrow(-1, 0, k), gu.narrow(-1, 0, k)
            vh, gvh = vh.narrow(-2, 0, k), gvh.narrow(-2, 0, k)
        m, n = u.shape[-2], vh.shape[-1]
        live_u, live_v = _live(gu), _live(gvh)
        inner = gs.diag_embed()                                       # (..., k, k)
        if live_u or live_v:
            f = _inverse_gaps(s * s)
            if live_u:
                ugu = _mT(u) @ gu
                inner = inner + (ugu - _mT(ugu)) * s.unsqueeze(-2) * f
            if live_v:
                vgv = vh @ _mT(gvh)
                inner = inner + s.unsqueeze(-1) * (vgv - _mT(vgv)) * f
        if m > n and live_u:                    # gU's part off U's columns: (I - U U^T) gU S^-1
            gus = gu / s.unsqueeze(-2)
            return (u @ inner + gus - u @ (_mT(u) @ gus)) @ vh, None
        if m < n and live_v:                    # gVh's part off V's columns
            sgv = gvh / s.unsqueeze(-1)
            return u @ (inner @ vh + sgv - (sgv @ _mT(vh)) @ vh), None
        return u @ inner @ vh, None


class SingularValues(Function):
    """The singular values alone (no gradient: tinygen.linalg.svdvals uses SVD where one is
    needed)."""

    def forward(self, a):
        return _lapack("linalg.svdvals", self.xp.linalg.svd, a, compute_uv=False)


# ---- the pseudo-inverse and the rank ------------------------------------------------------------
def _kept(xp, s, shape, atol, rtol):
    """The mask s > max(atol, rtol * max(s)) with PyTorch's defaults: rtol = eps * max(m, n)
    unless atol > 0 is given (then 0). s (..., k) >= 0; atol, rtol numbers, arrays (batch) or
    None."""
    eps_rtol = np.finfo(s.dtype).eps * max(shape[-2], shape[-1])
    if rtol is None:
        rtol = eps_rtol if atol is None else xp.where(xp.asarray(atol) > 0, 0.0, eps_rtol)
    atol = 0.0 if atol is None else atol
    atol, rtol = (xp.asarray(t, dtype=s.dtype)[..., None] for t in (atol, rtol))
    largest = s.max(axis=-1, keepdims=True) if s.shape[-1] else xp.zeros(s.shape[:-1] + (1,))
    return s > xp.maximum(atol, rtol * largest)


def _svd_of(xp, a, hermitian, op):
    """(U, S, Vh) of a, S >= 0; for symmetric a through eigh: U = V sign(w), S = |w|, Vh = V^T
    (S then unsorted)."""
    if not hermitian:
        return _lapack(op, xp.linalg.svd, a, full_matrices=False)
    w, v = _lapack(op, xp.linalg.eigh, a)
    return v * xp.sign(w)[..., None, :], xp.abs(w), v.swapaxes(-1, -2)


class Pinv(Function):
    """(pinv(A), singular values, rank): the Moore-Penrose inverse (..., n, m) of A (..., m, n)
    from the SVD (eigh for hermitian=True), singular values not above max(atol, rtol * largest)
    dropped. Only the first output has a gradient (PyTorch's pinv_backward)."""

    n_differentiable = 1

    def forward(self, a, atol, rtol, hermitian):
        xp = self.xp
        u, s, vh = _svd_of(xp, a, hermitian, "linalg.pinv")
        keep = _kept(xp, s, a.shape, atol, rtol)
        s_inv = xp.where(keep, 1 / xp.where(keep, s, 1), 0).astype(a.dtype)
        p = (vh.swapaxes(-1, -2) * s_inv[..., None, :]) @ u.swapaxes(-1, -2)   # V S^+ U^T
        self.save_for_backward(a, p)
        return p, s, keep.sum(axis=-1).astype(np.int64)

    def backward(self, gp, _gs, _grank):
        a, p = self.saved_tensors
        m, n = a.shape[-2], a.shape[-1]
        ph, gh = _mT(p), _mT(gp)
        if m <= n:                               # the products of the smaller dimension
            k = gh @ p
            kph = k @ ph
            ga = -_mT(p @ k) + kph - (a @ p) @ kph + (ph @ p) @ (gh - k @ a)
        else:
            k = p @ gh
            phk = ph @ k
            ga = -_mT(k @ p) + ((gh - a @ k) @ p) @ ph + phk - (phk @ p) @ a
        return ga, None, None, None


class Rank(Function):
    """The number of singular values above max(atol, rtol * largest) (int64, no gradient)."""

    def forward(self, a, atol, rtol, hermitian):
        xp = self.xp
        if hermitian:
            s = xp.abs(_lapack("linalg.matrix_rank", xp.linalg.eigvalsh, a))
        else:
            s = _lapack("linalg.matrix_rank", xp.linalg.svd, a, compute_uv=False)
        return _kept(xp, s, a.shape, atol, rtol).sum(axis=-1).astype(np.int64)
