"""The LU and LDL factorisations, the info codes of the *_ex variants, QR's Householder form and the
matrix exponential (batched), for tinygen.linalg (lu_factor, lu, lu_solve, ldl_*, cholesky_ex,
inv_ex, solve_ex, householder_product, matrix_exp) and the older torch.* names.

The backward rules are PyTorch's (FunctionsManual.cpp), in Tensor ops on the factors, so they are
differentiable again (the factors are computed again as a node under create_graph, as in
decomp2._Factorisation). With k = min(m, n) and A = P L U (L (m, k) unit lower, U (k, n) upper):
    m = n:  gA = P L^{-T} [tril_{-1}(L^T gL) + triu(gU U^T)] U^{-T}
    m < n:  U = [U1 | U2]:  gA = P L^{-T} [X + triu(gU1) | gU2],
            X = tril_{-1}(L^T gL - triu(gU) U^T) U1^{-T}
    m > n:  L = [L1; L2]:   gA = P [Y + tril_{-1}(gL1); gL2] U^{-T},
            Y = L1^{-T} triu(gU U^T - L^T tril_{-1}(gL))
(linalg_lu_backward; lu_factor_ex_backward reads gL and gU from the one gradient of the compact
LU). lu_solve is two triangular solves on L and U read from LU (tril / triu of it), so its
gradients to LU and B are the solves' own, PyTorch's linalg_lu_solve_LU / _B within rounding.
matrix_exp:  gA = exp([[A^T, G], [0, A^T]])[:n, n:] (the adjoint of the Frechet derivative,
Najfeld & Havel 1995, as PyTorch's backward), itself a MatrixExp: differentiable to any order.
householder_product is the product of the reflectors I - tau v v^T in Tensor ops.

LAPACK's getrf, sytrf, sytrs, potrf and geqrf run through SciPy one matrix at a time on the host
(CuPy arrays go there and back). LU without pivoting (PyTorch: CUDA only) is Doolittle's
elimination, vectorised over the batch.
"""
from __future__ import annotations

import math

import numpy as np

from ..autograd.function import Function, wrap, wrap_constant
from ..backend.device import array_module, to_host
from .decomp import SolveTriangular
from .decomp2 import _Factorisation
from .shape import cat


def _mT(t):
    return t.transpose(-2, -1)


def _lapack_funcs(name, dtype):
    from scipy.linalg import get_lapack_funcs  # lazy: scipy.linalg is slow to import
    return get_lapack_funcs(name, dtype=dtype)


def _per_matrix(a):
    """a (..., m, n) on the host as (b, m, n), and the batch shape."""
    host = to_host(a)
    batch = host.shape[:-2]
    return host.reshape((math.prod(batch),) + tuple(host.shape[-2:])), batch


# ---- LU -----------------------------------------------------------------------------------------
def _doolittle(lu):
    """LU without row exchanges of lu (b, m, n), in place; info: the first zero pivot (1-based)."""
    info = np.zeros(lu.shape[0], np.int32)
    with np.errstate(divide="ignore", invalid="ignore"):
        for j in range(min(lu.shape[1], lu.shape[2])):
            pivot = lu[:, j, j]
            info[(pivot == 0) & (info == 0)] = j + 1
            lu[:, j + 1:, j] /= pivot[:, None]
            lu[:, j + 1:, j + 1:] -= lu[:, j + 1:, j:j + 1] * lu[:, j:j + 1, j + 1:]
    return info


def getrf(a, pivot):
    """(LU, pivots, info) of a (..., m, n) as LAPACK's getrf: pivots 1-based int32 (..., k) (row i
    was swapped with row pivots[i] - 1 at step i), info int32 (...): the first j with U[j-1, j-1]
    exactly 0, else 0. pivot=False: no row exchanges, pivots 1..k."""
    xp = array_module(a)
    flat, batch = _per_matrix(a)
    m, n = flat.shape[-2:]
    k = min(m, n)
    lu = flat.copy()
    piv = np.broadcast_to(np.arange(1, k + 1, dtype=np.int32), (flat.shape[0], k)).copy()
    info = np.zeros(flat.shape[0], np.int32)
    if not pivot:
        info = _doolittle(lu)
    elif k:
        lapack_getrf = _lapack_funcs("getrf", flat.dtype)
        for b in range(flat.shape[0]):
            lu[b], p, info[b] = lapack_getrf(flat[b])
            piv[b] = p + 1                                   # SciPy's pivots are 0-based
    return (xp.asarray(lu.reshape(a.shape)), xp.asarray(piv.reshape(batch + (k,))),
            xp.asarray(info.reshape(batch)))


def permutation(pivots, m):
    """perm (..., m) with row i of P^T A = row perm[i] of A, from LAPACK's 1-based row swaps."""
    xp = array_module(pivots)
    piv = to_host(pivots).astype(np.int64) - 1
    batch, k = piv.shape[:-1], piv.shape[-1]
    flat = piv.reshape(math.prod(batch), k)
    perm = np.broadcast_to(np.arange(m), (flat.shape[0], m)).copy()
    rows = np.arange(flat.shape[0])
    for i in range(k):
        j = flat[:, i]
        perm[rows, i], perm[rows, j] = perm[rows, j], perm[rows, i].copy()
    return xp.asarray(perm.reshape(batch + (m,)))


def permutation_matrix(pivots, m, dtype):
    """P (..., m, m) with A = P L U (a constant Tensor)."""
    xp = array_module(pivots._data)
    perm = permutation(pivots._data, m)
    return wrap(xp.eye(m, dtype=dtype)[perm].swapaxes(-1, -2))          # eye[perm] is P^T


def unpack_lu(lu, k):
    """(L (..., m, k) unit lower, U (..., k, n) upper) read from the compact LU (differentiable)."""
    m = lu.shape[-2]
    eye = wrap_constant(lu.device.xp.eye(m, k, dtype=lu._data.dtype))
    return lu.narrow(-1, 0, k).tril(-1) + eye, lu.narrow(-2, 0, k).triu()


def _right_solve_transposed(x, upper_factor):
    """x U^{-T} for upper triangular U."""
    return _mT(SolveTriangular.apply(upper_factor, _mT(x), True))


def lu_backward(gl, gu, low, up):
    """PyTorch's linalg_lu_backward without P: gA with P gA the gradient (see the module doc)."""
    m, k, n = low.shape[-2], low.shape[-1], up.shape[-1]
    low_t = _mT(low)
    if m == n:
        inner = (low_t @ gl).tril(-1) + (gu @ _mT(up)).triu()
        return SolveTriangular.apply(low_t, _right_solve_transposed(inner, up), True)
    if m < n:
        u1 = up.narrow(-1, 0, k)
        x = (low_t @ gl - gu.triu() @ _mT(up)).tril(-1)
        x = _right_solve_transposed(x, u1)
        x = cat([x + gu.narrow(-1, 0, k).triu(), gu.narrow(-1, k, n - k)], -1)
        return SolveTriangular.apply(low_t, x, True)
    l1 = low.narrow(-2, 0, k)
    y = (gu @ _mT(up) - low_t @ gl.tril(-1)).triu()
    y = SolveTriangular.apply(_mT(l1), y, True)
    y = cat([y + gl.narrow(-2, 0, k).tril(-1), gl.narrow(-2, k, m - k)], -2)
    return _right_solve_transposed(y, up)


class LUFactor(_Factorisation):
    """(LU, pivots, info) of A (..., m, n): the compact LU factorisation (L's strict lower part
    and U in one matrix), getrf's pivots and info. Only LU has a gradient (PyTorch's
    lu_factor_ex_backward), finite where A has full rank."""

    n_factors = 1
    n_differentiable = 1

    def forward(self, a, pivot):
        self.pivot = pivot
        lu, piv, info = getrf(a, pivot)
        self._keep(a, lu)
        self.pivots = piv
        return lu, piv, info

    def backward(self, glu, _gpivots, _ginfo):
        lu = self._factors(self.pivot)[0]
        m, n = lu.shape[-2], lu.shape[-1]
        k = min(m, n)
        low, up = unpack_lu(lu, k)
        ga = lu_backward(glu.narrow(-1, 0, k), glu.narrow(-2, 0, k), low, up)
        if self.pivot:
            ga = permutation_matrix(wrap(self.pivots), m, lu._data.dtype) @ ga
        return ga, None


def lu_solve(lu, pivots, b, adjoint):
    """X with A X = B (A^T X = B for adjoint), A = P L U given as (LU, pivots); B (..., n, k)."""
    n = lu.shape[-1]
    low, up = unpack_lu(lu, n)
    p = permutation_matrix(pivots, n, lu._data.dtype)
    if not adjoint:                                     # X = U^{-1} L^{-1} P^T B
        y = SolveTriangular.apply(low, _mT(p) @ b, False)
        return SolveTriangular.apply(up, y, True)
    y = SolveTriangular.apply(_mT(up), b, False)        # X = P L^{-T} U^{-T} B
    return p @ SolveTriangular.apply(_mT(low), y, True)


# ---- the info codes of cholesky_ex --------------------------------------------------------------
def potrf(a):
    """(L, info) of a (..., n, n) as LAPACK's potrf (lower): where a matrix is not
    positive-definite, info is the order of the first leading minor that is not, and L its
    partial factor; None for L where every matrix factors (the caller's Cholesky computes it)."""
    xp = array_module(a)
    if xp is np:                     # the fast path: (CuPy's cholesky gives NaN, not an error)
        try:
            np.linalg.cholesky(a)
            return None, np.zeros(a.shape[:-2], np.int32)
        except np.linalg.LinAlgError:
            pass
    flat, batch = _per_matrix(a)
    low, info = np.zeros_like(flat), np.zeros(flat.shape[0], np.int32)
    lapack_potrf = _lapack_funcs("potrf", flat.dtype)
    for b in range(flat.shape[0] if flat.shape[-1] else 0):
        low[b], info[b] = lapack_potrf(flat[b], lower=1, clean=1)
    return xp.asarray(np.tril(low).reshape(a.shape)), xp.asarray(info.reshape(batch))


# ---- LDL ----------------------------------------------------------------------------------------
class _NoDerivative(Function):
    """A Function PyTorch does not differentiate: its backward raises, naming it."""

    torch_name = ""

    def backward(self, *grads):
        raise RuntimeError(f"derivative for {self.torch_name} is not implemented (as in PyTorch)")


class LDLFactor(_NoDerivative):
    """(LD, pivots, info) of symmetric A (..., n, n), read from its lower triangle: LAPACK's sytrf
    (Bunch-Kaufman), D's 1x1 and 2x2 blocks and L's strict lower part in LD (upper part 0)."""

    torch_name = "linalg.ldl_factor_ex"
    n_differentiable = 1

    def forward(self, a):
        flat, batch = _per_matrix(a)
        ld, info = np.zeros_like(flat), np.zeros(flat.shape[0], np.int32)
        piv = np.zeros(flat.shape[:2], np.int32)
        if flat.shape[-1]:
            sytrf = _lapack_funcs("sytrf", flat.dtype)
            for b in range(flat.shape[0]):
                ld[b], piv[b], info[b] = sytrf(flat[b], lower=1)
        xp = self.xp
        return (xp.asarray(np.tril(ld).reshape(a.shape)),
                xp.asarray(piv.reshape(batch + (flat.shape[-1],))), xp.asarray(info.reshape(batch)))


class LDLSolve(_NoDerivative):
    """X with A X = B from A's (LD, pivots) (LAPACK's sytrs); batch dims broadcast."""

    torch_name = "linalg.ldl_solve"

    def forward(self, ld, pivots, b):
        batch = np.broadcast_shapes(ld.shape[:-2], pivots.shape[:-1], b.shape[:-2])
        n, k = ld.shape[-1], b.shape[-1]
        lds = np.broadcast_to(to_host(ld), batch + (n, n)).reshape(-1, n, n)
        pivs = np.broadcast_to(to_host(pivots), batch + (n,)).reshape(-1, n)
        bs = np.broadcast_to(to_host(b), batch + (n, k)).reshape(-1, n, k)
        out = np.empty(bs.shape, np.result_type(ld.dtype, b.dtype))
        if n and k:
            sytrs = _lapack_funcs("sytrs", out.dtype)
            for i in range(out.shape[0]):
                out[i], _ = sytrs(lds[i], pivs[i], bs[i], lower=1)
        else:
            out[...] = 0
        return self.xp.asarray(out.reshape(batch + (n, k)))


class Geqrf(_NoDerivative):
    """(a, tau) of A (..., m, n): LAPACK's geqrf, R above the diagonal of a and the Householder
    vectors below it."""

    torch_name = "geqrf"

    def forward(self, a):
        flat, batch = _per_matrix(a)
        k = min(flat.shape[-2:])
        qr, tau = flat.copy(), np.zeros(flat.shape[:1] + (k,), flat.dtype)
        if k:
            lapack_geqrf = _lapack_funcs("geqrf", flat.dtype)
            for b in range(flat.shape[0]):
                qr[b], tau[b] = lapack_geqrf(flat[b])[:2]
        xp = self.xp
        return xp.asarray(qr.reshape(a.shape)), xp.asarray(tau.reshape(batch + (k,)))


def apply_householder(a, tau, x, transpose=False):
    """Q x (Q^T x for transpose) with Q = H_1 ... H_k, H_i = I - tau_i v_i v_i^T, v_i column i of
    a (..., m, n) below the diagonal with a 1 on it; tau (..., k), x (..., m, p). Tensor ops:
    differentiable to any order."""
    m, k = a.shape[-2], tau.shape[-1]
    eye = wrap_constant(a.device.xp.eye(m, k, dtype=a._data.dtype))
    vectors = a.narrow(-1, 0, k).tril(-1) + eye
    order = range(k) if transpose else reversed(range(k))     # H_i symmetric: Q^T = H_k ... H_1
    for i in order:
        v = vectors.narrow(-1, i, 1)                                  # (..., m, 1)
        t = tau.narrow(-1, i, 1).unsqueeze(-1)                        # (..., 1, 1)
        x = x - (t * v) @ (_mT(v) @ x)
    return x


def householder_product(a, tau):
    """The first n columns of H_1 ... H_k for a (..., m, n) (LAPACK's orgqr)."""
    m, n = a.shape[-2], a.shape[-1]
    eye = wrap_constant(a.device.xp.eye(m, n, dtype=a._data.dtype))
    return apply_householder(a, tau, eye.expand(tuple(a.shape)))       # (..., m, n) even for k 0


# ---- the matrix exponential ---------------------------------------------------------------------
_PADE13 = (64764752532480000.0, 32382376266240000.0, 7771770303897600.0, 1187353796428800.0,
           129060195264000.0, 10559470521600.0, 670442572800.0, 33522128640.0, 1323241920.0,
           40840800.0, 960960.0, 16380.0, 182.0, 1.0)
# the largest 1-norm where [13/13] Pade errs below float64 eps (Higham 2005)
_THETA13 = 5.371920351148152


def _squarings(xp, a):
    """Per matrix, how many halvings bring its 1-norm to _THETA13 (0 for inf / NaN)."""
    norm1 = to_host(xp.abs(a).sum(axis=-2).max(axis=-1))
    with np.errstate(divide="ignore", invalid="ignore"):
        s = np.ceil(np.log2(norm1 / _THETA13))
    return np.where(np.isfinite(s) & (s > 0), s, 0).astype(np.int64)


def expm(xp, a):
    """exp(a) for a (..., n, n): scaling and squaring with the [13/13] Pade approximant (Higham
    2005), each matrix scaled by its own power of 2."""
    if a.size == 0:
        return a.copy()
    if a.dtype.itemsize < 4:                      # half: LAPACK's solve takes float32 and up
        return expm(xp, a.astype(np.float32)).astype(a.dtype)
    s = _squarings(xp, a)
    x = a * xp.asarray(0.5 ** s, dtype=a.dtype)[..., None, None]
    b = _PADE13
    eye = xp.eye(a.shape[-1], dtype=a.dtype)
    x2 = x @ x
    x4 = x2 @ x2
    x6 = x4 @ x2
    u = x @ (x6 @ (b[13] * x6 + b[11] * x4 + b[9] * x2) + b[7] * x6 + b[5] * x4 + b[3] * x2
             + b[1] * eye)
    v = x6 @ (b[12] * x6 + b[10] * x4 + b[8] * x2) + b[6] * x6 + b[4] * x4 + b[2] * x2 + b[0] * eye
    r = xp.linalg.solve(v - u, v + u)                               # (V - U)^{-1} (V + U)
    s = xp.asarray(s)[..., None, None]
    for i in range(int(s.max()) if s.size else 0):
        r = xp.where(i < s, r @ r, r)
    return r.astype(a.dtype, copy=False)


class MatrixExp(Function):
    """exp(A) for square A (..., n, n); gA = exp([[A^T, G], [0, A^T]])[:n, n:]."""

    def forward(self, a):
        self.save_for_backward(a)
        try:
            return expm(self.xp, a)
        except np.linalg.LinAlgError:                # NaN / inf input: no Pade solve
            return self.xp.full(a.shape, math.nan, a.dtype)

    def backward(self, g):
        (a,) = self.saved_tensors
        n = a.shape[-1]
        a_t = _mT(a)
        zeros = wrap_constant(a.device.xp.zeros(tuple(g.shape), dtype=g._data.dtype))
        block = cat([cat([a_t.expand(tuple(g.shape)), g], -1),
                     cat([zeros, a_t.expand(tuple(g.shape))], -1)], -2)   # (..., 2n, 2n)
        return MatrixExp.apply(block).narrow(-2, 0, n).narrow(-1, n, n)
