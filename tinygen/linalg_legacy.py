"""PyTorch's older linear-algebra names at the top level (tg.svd, tg.qr, tg.lu, tg.lu_solve,
tg.triangular_solve, tg.pinverse, ...), their Tensor methods (attached here by assignment, so
tensor.py stays thin), the randomized low-rank SVD and PCA, and the names PyTorch removed, which
raise PyTorch's own messages (torch.lstsq, eig, symeig, matrix_rank, solve).

    U, S, V = tg.svd(A)                          # V, not Vh: A = U diag(S) V^T
    LU, pivots = tg.lu(A)                        # then tg.lu_solve(b, LU, pivots)
    X, _ = tg.triangular_solve(b, A, upper=True)  # b first, as in torch

Each is a thin wrapper over tinygen.linalg, so values, gradients and errors are those of the
linalg function it names. What differs from PyTorch: no deprecation warnings; svd_lowrank and
pca_lowrank are PyTorch's algorithm (Halko et al. 2009) on tinygen's random stream, so their
random test matrix, and with it the last digits of a low-rank result, differ; sparse inputs are
not supported.
"""
from __future__ import annotations

import collections

from . import linalg as _linalg
from .backend import dtypes as _dtypes
from .creation import randn
from .linalg_lu import lu_factor_ex, lu_unpack
from .ops.decomp3 import Geqrf, apply_householder
from .tensor import Tensor

__all__ = [
    "eig", "frobenius_norm", "geqrf", "lstsq", "lu", "lu_solve", "lu_unpack", "matrix_exp",
    "matrix_rank", "nuclear_norm", "orgqr", "ormqr", "pca_lowrank", "pinverse", "qr", "solve",
    "svd", "svd_lowrank", "symeig", "triangular_solve",
]

SVDResult = collections.namedtuple("svd", ["U", "S", "V"])
QRResult = collections.namedtuple("qr", ["Q", "R"])
GeqrfResult = collections.namedtuple("geqrf", ["a", "tau"])
TriangularSolveResult = collections.namedtuple("triangular_solve",
                                               ["solution", "cloned_coefficient"])


def pinverse(input, rcond=1e-15):
    """The pseudo-inverse, singular values at or below rcond * the largest counting as 0
    (linalg.pinv(input, rtol=rcond))."""
    return _linalg.pinv(input, rcond=rcond)


def matrix_exp(input):
    """exp(input) for square matrices (..., n, n) (linalg.matrix_exp)."""
    return _linalg.matrix_exp(input)


def svd(input, some=True, compute_uv=True):
    """(U, S, V) with input = U diag(S) V^T: V, not linalg.svd's Vh. some=False: U (..., m, m),
    V (..., n, n); compute_uv=False: U and V zeros of those shapes (S keeps its gradient)."""
    if not compute_uv:
        s = _linalg.svdvals(input)
        m, n, batch = input.shape[-2], input.shape[-1], tuple(input.shape[:-2])
        return SVDResult(input.new_zeros(batch + (m, m)), s, input.new_zeros(batch + (n, n)))
    u, s, vh = _linalg.svd(input, full_matrices=not some)
    return SVDResult(u, s, vh.mT)


def qr(input, some=True):
    """(Q, R): linalg.qr with mode 'reduced' (some=True) or 'complete'."""
    return QRResult(*_linalg.qr(input, "reduced" if some else "complete"))


def lu(A, pivot=True, get_infos=False):
    """(LU, pivots), or (LU, pivots, infos) with get_infos: linalg.lu_factor_ex's outputs. As in
    PyTorch 2.13, a singular A raises nothing either way (check infos)."""
    out = lu_factor_ex(A, pivot=pivot)
    return tuple(out) if get_infos else (out.LU, out.pivots)


def lu_solve(b, LU_data, LU_pivots):
    """X with A X = b from torch.lu's (LU_data, LU_pivots): b comes first (linalg.lu_solve takes
    it last)."""
    return _linalg.lu_solve(LU_data, LU_pivots, b)


def triangular_solve(b, A, upper=True, transpose=False, unitriangular=False):
    """(solution, cloned_coefficient): X with op(A) X = b, op(A) = A^T with transpose, A upper
    (default) or lower triangular (only that triangle is read); b first, as in torch. The clone
    is A broadcast to the batch shape of the solution (its gradient reaches A)."""
    if A.ndim < 2 or b.ndim < 2 or A.shape[-1] != A.shape[-2] or b.shape[-2] != A.shape[-1]:
        raise RuntimeError(f"Incompatible matrix sizes for triangular_solve: each A matrix is "
                           f"{' by '.join(map(str, A.shape[-2:]))} but each b matrix is "
                           f"{' by '.join(map(str, b.shape[-2:]))} (expected A (..., n, n) and "
                           "b (..., n, k))")
    if b.dtype != A.dtype:
        raise RuntimeError(f"Expected b and A to have the same dtype, but found b of type "
                           f"{b.dtype} and A of type {A.dtype} instead.")
    a = A.mT if transpose else A
    x = _linalg.solve_triangular(a, b, upper=upper != bool(transpose),
                                 unitriangular=unitriangular)
    batch = tuple(x.shape[:-2])
    return TriangularSolveResult(x, A.expand(batch + tuple(A.shape[-2:])).clone())


def nuclear_norm(input, dim=None, keepdim=False):
    """The sum of the singular values over dims `dim` (default the last two);
    nuclear_norm(input, keepdim) also works, as torch's overload."""
    if isinstance(dim, bool):                       # torch.nuclear_norm(input, keepdim)
        dim, keepdim = None, dim
    return _linalg.matrix_norm(input, "nuc", (-2, -1) if dim is None else dim, keepdim)


def frobenius_norm(input, dim, keepdim=False):
    """The 2-norm of the elements over dims `dim` (one or two of them), as linalg.vector_norm."""
    dims = (dim,) if isinstance(dim, int) else tuple(dim)
    if len(dims) > 2:
        raise RuntimeError(f"frobenius_norm: Expected at most 2 dimensions, but got {len(dims)} "
                           "dimensions instead.")
    return _linalg.vector_norm(input, 2, dims, keepdim)


# ---- QR in LAPACK's Householder form ----------------------------------------------------------
def geqrf(input):
    """(a, tau): LAPACK's geqrf, R on and above a's diagonal, the Householder vectors below it,
    for orgqr / ormqr (linalg.householder_product). No gradient (as PyTorch)."""
    op = "geqrf"
    if input.ndim < 2:
        raise RuntimeError(f"torch.{op}: input must have at least 2 dimensions (got "
                           f"{list(input.shape)}).")
    if input.dtype not in (_dtypes.float32, _dtypes.float64):
        raise NotImplementedError(f"torch.{op}: not implemented for {input.dtype} (LAPACK takes "
                                  "float32 and float64)")
    return GeqrfResult(*Geqrf.apply(input))


def orgqr(input, tau):
    """Q's first n columns from geqrf's (a, tau): linalg.householder_product."""
    return _linalg.householder_product(input, tau)


def ormqr(input, tau, other, left=True, transpose=False):
    """op(Q) @ other (left) or other @ op(Q), op(Q) = Q^T with transpose, Q = H_1 ... H_k the
    (mn, mn) product of geqrf's reflectors; input (..., mn, k), tau (..., min(mn, k)),
    other (..., m, n) with mn = m (left) or n. Differentiable (twice) in all three."""
    op = "torch.ormqr"
    mn = other.shape[-2] if left else other.shape[-1]
    if input.ndim < 2 or other.ndim != input.ndim or input.shape[-2] != mn:
        raise RuntimeError(f"{op}: expected input (..., {mn}, k) and other with as many dims "
                           f"(left={left}), got input {list(input.shape)} and other "
                           f"{list(other.shape)}")
    if tau.shape[-1] > min(mn, input.shape[-1]) or tau.ndim != input.ndim - 1:
        raise RuntimeError(f"{op}: expected tau (..., k) with k <= {min(mn, input.shape[-1])}, "
                           f"got {list(tau.shape)}")
    if not (input.dtype == tau.dtype == other.dtype) or not input.dtype.is_floating_point:
        raise RuntimeError(f"{op}: expected one floating dtype, got input {input.dtype}, tau "
                           f"{tau.dtype}, other {other.dtype}")
    if left:
        return apply_householder(input, tau, other, bool(transpose))
    # other @ Q = (Q^T other^T)^T, other @ Q^T = (Q other^T)^T
    return apply_householder(input, tau, other.mT, not transpose).mT


# ---- randomized low rank (torch/_lowrank.py, Halko, Martinsson & Tropp 2009) --------------------
def _floating_dtype(A):
    return A.dtype if A.dtype in (_dtypes.float16, _dtypes.float32, _dtypes.float64) \
        else _dtypes.float32


def _approximate_basis(A, q, niter, M):
    """Q (..., m, q) with orthonormal columns such that Q Q^T (A - M) approximates A - M
    (Halko et al., Algorithm 4.4: subspace iteration with a QR after every product)."""
    R = randn(A.shape[-1], q, dtype=_floating_dtype(A), device=A.device)
    X = A @ R if M is None else A @ R - M @ R                          # (..., m, q)
    Q = _linalg.qr(X).Q
    for _ in range(niter):
        X = A.mT @ Q if M is None else A.mT @ Q - M.mT @ Q
        Q = _linalg.qr(X).Q
        X = A @ Q if M is None else A @ Q - M @ Q
        Q = _linalg.qr(X).Q
    return Q


def svd_lowrank(A, q=6, niter=2, M=None):
    """(U, S, V) with A - M ~ U diag(S) V^T, for a matrix of rank about q or less (PyTorch's
    randomized algorithm, Halko et al. 2009, Algorithm 5.1); differentiable through its QRs and
    SVD. Random: set tg.manual_seed for repeatable results."""
    q = 6 if q is None else q
    niter = 2 if niter is None else niter
    m, n = A.shape[-2], A.shape[-1]
    if M is not None:
        M = M.broadcast_to(tuple(A.shape))
    if m < n:
        A = A.mT
        M = None if M is None else M.mT
    Q = _approximate_basis(A, q, niter, M)
    B = Q.mT @ A if M is None else Q.mT @ A - Q.mT @ M
    U, S, Vh = _linalg.svd(B, full_matrices=False)
    U, V = Q @ U, Vh.mT
    return (V, S, U) if m < n else (U, S, V)


def pca_lowrank(A, q=None, center=True, niter=2):
    """(U, S, V): svd_lowrank of A centred over its rows (center=True): V's columns are the
    principal directions, S ** 2 / (m - 1) the variances along them. q defaults to
    min(6, m, n)."""
    m, n = A.shape[-2], A.shape[-1]
    if q is None:
        q = min(6, m, n)
    elif not (0 <= q <= min(m, n)):
        raise ValueError(f"q(={q}) must be non-negative integer and not greater than min(m, n)="
                         f"{min(m, n)}")
    if not niter >= 0:
        raise ValueError(f"niter(={niter}) must be non-negative integer")
    if not center:
        return svd_lowrank(A, q, niter=niter)
    return svd_lowrank(A - A.mean(dim=-2, keepdim=True), q, niter=niter)


# ---- removed in PyTorch 1.9: the same errors (torch/_linalg_utils.py) ---------------------------
def matrix_rank(input, tol=None, symmetric=False, *, out=None):
    """Removed from PyTorch (1.9): raises its RuntimeError. Use linalg.matrix_rank."""
    raise RuntimeError(
        "This function was deprecated since version 1.9 and is now removed.\n"
        "Please use the `torch.linalg.matrix_rank` function instead. "
        "The parameter 'symmetric' was renamed in `torch.linalg.matrix_rank()` to 'hermitian'.")


def solve(input, A, *, out=None):
    """Removed from PyTorch (1.9): raises its RuntimeError. Use linalg.solve(A, B)."""
    raise RuntimeError(
        "This function was deprecated since version 1.9 and is now removed. "
        "`torch.solve` is deprecated in favor of `torch.linalg.solve`. "
        "`torch.linalg.solve` has its arguments reversed and does not return the LU "
        "factorization.\n\nTo get the LU factorization see `torch.lu`, which can be used with "
        "`torch.lu_solve` or `torch.lu_unpack`.\nX = torch.solve(B, A).solution should be "
        "replaced with:\nX = torch.linalg.solve(A, B)")


def lstsq(input, A, *, out=None):
    """Removed from PyTorch (1.9): raises its RuntimeError. Use linalg.lstsq(A, B)."""
    raise RuntimeError(
        "This function was deprecated since version 1.9 and is now removed. `torch.lstsq` is "
        "deprecated in favor of `torch.linalg.lstsq`.\n`torch.linalg.lstsq` has reversed "
        "arguments and does not return the QR decomposition in the returned tuple (although it "
        "returns other information about the problem).\n\nTo get the QR decomposition consider "
        "using `torch.linalg.qr`.\n\nThe returned solution in `torch.lstsq` stored the residuals "
        "of the solution in the last m - n columns of the returned value whenever m > n. In "
        "torch.linalg.lstsq, the residuals are in the field 'residuals' of the returned named "
        "tuple.\n\nThe unpacking of the solution, as in\nX, _ = "
        "torch.lstsq(B, A).solution[:A.size(1)]\nshould be replaced with:\n"
        "X = torch.linalg.lstsq(A, B).solution")


def symeig(input, eigenvectors=False, upper=True, *, out=None):
    """Removed from PyTorch (1.9): raises its RuntimeError. Use linalg.eigh / eigvalsh."""
    raise RuntimeError(
        "This function was deprecated since version 1.9 and is now removed. The default behavior "
        "has changed from using the upper triangular portion of the matrix by default to using "
        "the lower triangular portion.\n\nL, _ = torch.symeig(A, upper=upper) should be replaced "
        "with:\nL = torch.linalg.eigvalsh(A, UPLO='U' if upper else 'L')\n\nand\n\nL, V = "
        "torch.symeig(A, eigenvectors=True) should be replaced with:\nL, V = torch.linalg.eigh(A, "
        "UPLO='U' if upper else 'L')")


def eig(input, eigenvectors=False, *, e=None, v=None):
    """Removed from PyTorch (1.9): raises its RuntimeError (and tinygen.linalg.eig is not
    available either: no complex dtypes)."""
    raise RuntimeError(
        "This function was deprecated since version 1.9 and is now removed. `torch.linalg.eig` "
        "returns complex tensors of dtype `cfloat` or `cdouble` rather than real tensors "
        "mimicking complex tensors.\n\nL, _ = torch.eig(A) should be replaced with:\nL_complex = "
        "torch.linalg.eigvals(A)\n\nand\n\nL, V = torch.eig(A, eigenvectors=True) should be "
        "replaced with:\nL_complex, V_complex = torch.linalg.eig(A)")


# ---- Tensor methods -----------------------------------------------------------------------------
def _tensor_lstsq(self, other):
    return lstsq(self, other)


def _tensor_eig(self, eigenvectors=False):
    return eig(self, eigenvectors)


def _tensor_symeig(self, eigenvectors=False):
    return symeig(self, eigenvectors)


Tensor.pinverse = pinverse
Tensor.matrix_exp = matrix_exp
Tensor.svd = svd
Tensor.qr = qr
Tensor.lu = lu
Tensor.lu_solve = lu_solve
Tensor.triangular_solve = triangular_solve
Tensor.geqrf = geqrf
Tensor.orgqr = orgqr
Tensor.ormqr = ormqr
Tensor.lstsq = _tensor_lstsq
Tensor.eig = _tensor_eig
Tensor.symeig = _tensor_symeig
