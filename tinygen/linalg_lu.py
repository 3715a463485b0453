"""torch.linalg's LU and LDL families, the *_ex variants (cholesky_ex, inv_ex, solve_ex),
householder_product and the complex-only names, for real float32 / float64 tensors batched over
leading dims; tinygen.linalg re-exports them (and torch.lu_unpack lives here, for both).

    LU, pivots = tg.linalg.lu_factor(A)              # A (..., n, n)
    X = tg.linalg.lu_solve(LU, pivots, B)            # A X = B, differentiable in LU and B
    P, L, U = tg.linalg.lu(A)                        # A = P L U, A (..., m, n)

What differs from PyTorch:
- pivot=False works on the CPU (PyTorch's CPU raises: LU without pivoting is CUDA-only there).
- inv_ex / solve_ex give NaN for a singular matrix (PyTorch: whatever LAPACK left, often inf);
  cholesky_ex gives LAPACK's partial factor as PyTorch does, but from SciPy's LAPACK, whose
  numbers past the failing minor may differ from PyTorch's MKL.
- ldl_factor(_ex) with a zero in D: a clear RuntimeError with check_errors (PyTorch 2.13 raises an
  internal assert), and LDL has no gradient (as in PyTorch).
- eig and eigvals raise NotImplementedError: tinygen has no complex dtypes.
"""
from __future__ import annotations

import collections

import numpy as np

from .autograd.function import Function, wrap, wrap_constant
from .backend import dtypes as _dtypes
from .ops import decomp as _decomp
from .ops.binary import where
from .ops.decomp import Cholesky, LinAlgError, _check_square
from .ops.decomp3 import LDLFactor, LDLSolve, LUFactor, getrf, permutation_matrix, potrf
from .ops.decomp3 import householder_product as _householder_product
from .ops.decomp3 import lu_solve as _lu_solve
from .ops.decomp3 import unpack_lu

LUFactorResult = collections.namedtuple("linalg_lu_factor", ["LU", "pivots"])
LUFactorExResult = collections.namedtuple("linalg_lu_factor_ex", ["LU", "pivots", "info"])
LUResult = collections.namedtuple("linalg_lu", ["P", "L", "U"])
LUUnpackResult = collections.namedtuple("lu_unpack", ["P", "L", "U"])
LDLFactorResult = collections.namedtuple("linalg_ldl_factor", ["LD", "pivots"])
LDLFactorExResult = collections.namedtuple("linalg_ldl_factor_ex", ["LD", "pivots", "info"])
CholeskyExResult = collections.namedtuple("linalg_cholesky_ex", ["L", "info"])
InvExResult = collections.namedtuple("linalg_inv_ex", ["inverse", "info"])
SolveExResult = collections.namedtuple("linalg_solve_ex", ["result", "info"])


def _shape(t):
    return list(t.shape)


def _check_lapack(op, A, square=False):
    """A: float32 / float64 matrices (..., m, n) (square ones if asked), as LAPACK takes them."""
    if A.ndim < 2:
        raise RuntimeError(f"torch.{op}: Expected tensor with 2 or more dimensions. Got size: "
                           f"{_shape(A)} instead")
    if square and A.shape[-1] != A.shape[-2]:
        raise RuntimeError(f"torch.{op}: A must be batches of square matrices, but they are "
                           f"{A.shape[-2]} by {A.shape[-1]} matrices")
    if A.dtype not in (_dtypes.float32, _dtypes.float64):
        raise NotImplementedError(f"torch.{op}: not implemented for {A.dtype} (LAPACK takes "
                                  "float32 and float64)")


def _first_failure(info):
    """(prefix naming the batch element, info value) of the first matrix with info > 0, or None."""
    codes = np.asarray(info.detach().cpu().numpy()).reshape(-1)
    bad = np.flatnonzero(codes > 0)
    if not bad.size:
        return None
    prefix = f"(Batch element {bad[0]}): " if info.ndim else ""
    return prefix, int(codes[bad[0]])


def _identity_where_failed(A, ok):
    """A with every matrix whose info is nonzero replaced by I (so a solver cannot fail), and the
    (..., 1, 1) mask of the good ones."""
    good = wrap(ok[..., None, None])
    eye = wrap_constant(A.device.xp.eye(A.shape[-1], dtype=A._data.dtype))
    return where(good, A, eye), good


# ---- LU -----------------------------------------------------------------------------------------
def _check_lu_info(op, info):
    failure = _first_failure(info)
    if failure is not None:
        prefix, i = failure
        raise RuntimeError(f"torch.{op}: {prefix}U[{i},{i}] is zero and using it on lu_solve "
                           "would result in a division by zero. If you still want to perform the "
                           "factorization, consider calling linalg.lu(A, pivot) or "
                           "linalg.lu_factor_ex(A, pivot)")


def lu_factor_ex(A, *, pivot=True, check_errors=False):
    """(LU, pivots, info): the compact LU factorisation of A (..., m, n) with LAPACK's 1-based
    int32 pivots (..., min(m, n)) and info (...) (j > 0: U[j-1, j-1] is exactly 0). LU has a
    gradient (PyTorch's rule; finite for full-rank A). pivot=False: no row exchanges (runs on
    the CPU here; PyTorch's CPU raises)."""
    _check_lapack("linalg.lu_factor_ex", A)
    lu, pivots, info = LUFactor.apply(A, bool(pivot))
    if check_errors:
        _check_lu_info("linalg.lu_factor_ex", info)
    return LUFactorExResult(lu, pivots, info)


def lu_factor(A, *, pivot=True):
    """(LU, pivots) as lu_factor_ex, raising RuntimeError where a U has a zero on its diagonal."""
    _check_lapack("linalg.lu_factor", A)
    lu, pivots, info = LUFactor.apply(A, bool(pivot))
    _check_lu_info("linalg.lu_factor", info)
    return LUFactorResult(lu, pivots)


def lu_unpack(LU_data, LU_pivots, unpack_data=True, unpack_pivots=True):
    """(P, L, U) with A = P L U from lu_factor's (LU, pivots): P (..., m, m), L (..., m, k) unit
    lower, U (..., k, n) upper; L and U are empty (0,) without unpack_data, P without
    unpack_pivots. L and U are differentiable in LU_data."""
    if LU_data.ndim < 2:
        raise RuntimeError(f"torch.lu_unpack: expected LU_data (..., m, n), got shape "
                           f"{_shape(LU_data)}")
    if LU_pivots.dtype != _dtypes.int32:
        raise RuntimeError("torch.lu_unpack: LU_pivots is expected to be a contiguous tensor of "
                           f"torch.int32 dtype (got {LU_pivots.dtype}).\nNote: this function is "
                           "intended to be used with the output produced by torch.linalg.lu_factor")
    m, n = LU_data.shape[-2], LU_data.shape[-1]
    empty = LU_data.new_zeros((0,))
    low, up = unpack_lu(LU_data, min(m, n)) if unpack_data else (empty, empty)
    p = empty
    if unpack_pivots:
        piv = LU_pivots.detach().cpu().numpy()
        if piv.size and (piv.min() < 1 or piv.max() > m):
            raise RuntimeError("torch.lu_unpack: pivots passed to lu_unpack must be between 1 and "
                               f"LU.size(-2) = {m} inclusive. Did you properly pass the result of "
                               "lu_factor?")
        p = permutation_matrix(LU_pivots, m, LU_data._data.dtype)
    return LUUnpackResult(p, low, up)


def lu(A, *, pivot=True):
    """(P, L, U) with A = P L U for A (..., m, n), k = min(m, n): P (..., m, m) a permutation,
    L (..., m, k) unit lower triangular, U (..., k, n) upper triangular; pivot=False: P empty,
    A = L U (no row exchanges; the CPU runs it here, PyTorch's does not). Differentiable (for
    full-rank A) and twice differentiable."""
    _check_lapack("linalg.lu", A)
    lu_data, pivots, _ = LUFactor.apply(A, bool(pivot))
    return LUResult(*lu_unpack(lu_data, pivots, unpack_pivots=bool(pivot)))


def lu_solve(LU, pivots, B, *, left=True, adjoint=False):
    """X with A X = B (left), X A = B (left=False), or A^T in place of A (adjoint), A given as
    lu_factor's (LU, pivots); B (..., n, k), batch dims broadcast. Differentiable in LU and B."""
    op = "linalg.lu_solve"
    _check_lapack(op, LU, square=True)
    n = LU.shape[-1]
    if B.ndim < 2:
        raise RuntimeError(f"{op}: The input tensor B must have at least 2 dimensions (got shape "
                           f"{_shape(B)}).")
    if pivots.dtype != _dtypes.int32:
        raise RuntimeError(f"{op}: pivots should be a Tensor of scalar type torch.int32 (got "
                           f"{pivots.dtype})")
    if tuple(pivots.shape) != tuple(LU.shape[:-1]):
        raise RuntimeError(f"{op}: Expected LU.shape[:-1] and pivots.shape to be the same, but "
                           f"got pivots with shape {_shape(pivots)} instead (LU {_shape(LU)})")
    if B.dtype != LU.dtype:
        raise RuntimeError(f"{op}: Expected LU and B to have the same dtype, but found LU of type "
                           f"{LU.dtype} and B of type {B.dtype} instead")
    rows = B.shape[-2] if left else B.shape[-1]
    if rows != n:
        equation = "AX = B" if left else "XA = B"
        raise RuntimeError(f"{op}: Incompatible shapes of A and B for the equation {equation} "
                           f"({n}x{n} and {B.shape[-2]}x{B.shape[-1]})")
    if not left:                        # X A = B  <=>  A^T X^T = B^T
        return _lu_solve(LU, pivots, B.mT, not adjoint).mT
    return _lu_solve(LU, pivots, B, bool(adjoint))


# ---- LDL ----------------------------------------------------------------------------------------
def _check_ldl_info(op, info):
    failure = _first_failure(info)
    if failure is not None:
        prefix, i = failure
        raise RuntimeError(f"torch.{op}: {prefix}D[{i},{i}] is zero: the input is singular, and "
                           "solving with this factorization would divide by zero")


def ldl_factor_ex(A, *, hermitian=False, check_errors=False):
    """(LD, pivots, info): the LDL^T factorisation of symmetric A (..., n, n) (its lower triangle
    is read) by LAPACK's sytrf (Bunch-Kaufman): pivots (..., n) int32, 1-based, negative for a
    2x2 block of D; info j > 0: D[j-1, j-1] is 0. hermitian is the same thing for real A. No
    gradient (as PyTorch)."""
    _check_lapack("linalg.ldl_factor_ex", A, square=True)
    ld, pivots, info = LDLFactor.apply(A)
    if check_errors:
        _check_ldl_info("linalg.ldl_factor_ex", info)
    return LDLFactorExResult(ld, pivots, info)


def ldl_factor(A, *, hermitian=False):
    """(LD, pivots) as ldl_factor_ex, raising RuntimeError where D has a zero."""
    _check_lapack("linalg.ldl_factor", A, square=True)
    ld, pivots, info = LDLFactor.apply(A)
    _check_ldl_info("linalg.ldl_factor", info)
    return LDLFactorResult(ld, pivots)


def ldl_solve(LD, pivots, B, *, hermitian=False):
    """X with A X = B from ldl_factor's (LD, pivots) (LAPACK's sytrs); B (..., n, k), batch dims
    broadcast. No gradient (as PyTorch)."""
    op = "linalg.ldl_solve"
    _check_lapack(op, LD, square=True)
    n = LD.shape[-1]
    if B.ndim < 2 or B.shape[-2] != n:
        raise RuntimeError(f"Incompatible matrix sizes for torch.{op}: each A matrix is {n} by {n} "
                           f"but each b matrix is {' by '.join(map(str, B.shape[-2:]))} (B "
                           f"{_shape(B)}; expected (..., {n}, k))")
    if pivots.dtype not in (_dtypes.int32, _dtypes.int64) or tuple(pivots.shape[-1:]) != (n,):
        raise RuntimeError(f"torch.{op}: expected pivots (..., {n}) of an integer dtype, as "
                           f"ldl_factor returns, got {_shape(pivots)} {pivots.dtype}")
    if B.dtype != LD.dtype:
        raise RuntimeError(f"torch.{op}: Expected LD and B to have the same dtype, but got LD "
                           f"{LD.dtype} and B {B.dtype}")
    return LDLSolve.apply(LD, pivots.to(_dtypes.int32), B)


# ---- the *_ex variants --------------------------------------------------------------------------
def cholesky_ex(A, *, upper=False, check_errors=False):
    """(L, info): the Cholesky factor (upper=True: L^T) and LAPACK's potrf info (j > 0: the
    leading minor of order j is not positive-definite; L then holds the partial factor). The
    gradient is cholesky's (where info is 0)."""
    _check_square("linalg.cholesky_ex", A)
    _check_lapack("linalg.cholesky_ex", A, square=True)              # float16: LAPACK has none
    partial, info = potrf(A._data)
    if partial is None:
        low = Cholesky.apply(A)
    else:
        safe, good = _identity_where_failed(A, info == 0)
        low = where(good, Cholesky.apply(safe), wrap(partial))
    info = wrap(info)
    if check_errors:
        failure = _first_failure(info)
        if failure is not None:
            raise LinAlgError(f"linalg.cholesky_ex: {failure[0]}The factorization could not be "
                              "completed because the input is not positive-definite (the leading "
                              f"minor of order {failure[1]} is not positive-definite).")
    return CholeskyExResult(low.mT if upper else low, info)


def inv_ex(A, *, check_errors=False):
    """(inverse, info): A^{-1} and getrf's info (j > 0: U[j-1, j-1] of A's LU is 0, and that
    inverse is NaN here; PyTorch's holds what LAPACK left). Differentiable as inv."""
    _check_square("linalg.inv_ex", A)
    _check_lapack("linalg.inv_ex", A, square=True)              # float16: LAPACK has none
    info = getrf(A._data, True)[2]
    failure = _first_failure(wrap(info))
    if failure is not None and check_errors:
        raise LinAlgError(f"linalg.inv_ex: {failure[0]}The diagonal element {failure[1]} is zero, "
                          "the inversion could not be completed because the input matrix is "
                          "singular.")
    if failure is None:
        return InvExResult(_decomp.inverse(A), wrap(info))
    safe, good = _identity_where_failed(A, info == 0)
    return InvExResult(where(good, _decomp.inverse(safe), float("nan")), wrap(info))


def solve_ex(A, B, *, left=True, check_errors=False):
    """(result, info): linalg.solve's X and getrf's info for A (NaN results where A is singular;
    PyTorch's hold what LAPACK left). Differentiable as solve."""
    _check_square("linalg.solve_ex", A)
    _check_lapack("linalg.solve_ex", A, square=True)              # float16: LAPACK has none
    info = getrf(A._data, True)[2]
    failure = _first_failure(wrap(info))
    if failure is not None and check_errors:
        raise LinAlgError("torch.linalg.solve_ex: The solver failed because the input matrix is "
                          f"singular ({failure[0]}U[{failure[1]},{failure[1]}] is zero).")
    if failure is None:
        return SolveExResult(_decomp.solve(A, B, left=left), wrap(info))
    safe, good = _identity_where_failed(A, info == 0)
    x = _decomp.solve(safe, B, left=left)
    vector = B.ndim == 1 or (B.ndim == A.ndim - 1 and tuple(B.shape) == tuple(A.shape[:-1]))
    if vector and left:                                  # x (..., n): the mask (..., 1)
        good = good.squeeze(-1)
    return SolveExResult(where(good, x, float("nan")), wrap(info))


# ---- Householder, complex-only ------------------------------------------------------------------
def householder_product(A, tau):
    """The first n columns of H_1 ... H_k, H_i = I - tau_i v_i v_i^T with v_i column i of A
    (..., m, n) below the diagonal and 1 on it (geqrf's form); tau (..., k), m >= n >= k.
    Differentiable (twice) in A (its strict lower part) and tau."""
    op = "torch.linalg.householder_product"
    if A.ndim < 2:
        raise RuntimeError(f"{op}: input must have at least 2 dimensions (got {_shape(A)}).")
    if tau.ndim != A.ndim - 1:
        raise RuntimeError(f"{op}: Expected tau to have one dimension less than input, but got "
                           f"tau.ndim equal to {tau.ndim} and input.ndim is equal to {A.ndim}")
    if A.shape[-2] < A.shape[-1]:
        raise RuntimeError(f"{op}: input.shape[-2] must be greater than or equal to "
                           f"input.shape[-1] (got {_shape(A)})")
    if A.shape[-1] < tau.shape[-1]:
        raise RuntimeError(f"{op}: input.shape[-1] must be greater than or equal to "
                           f"tau.shape[-1] (got input {_shape(A)}, tau {_shape(tau)})")
    if tuple(tau.shape[:-1]) != tuple(A.shape[:-2]):
        raise RuntimeError(f"{op}: Expected batch dimensions of tau to be equal to "
                           f"input.shape[:-2], but got {_shape(tau)[:-1]}")
    if not A.dtype.is_floating_point or tau.dtype != A.dtype:
        raise RuntimeError(f"{op}: tau dtype {tau.dtype} does not match input dtype {A.dtype} "
                           "(expected one floating dtype)")
    if A.dtype not in (_dtypes.float32, _dtypes.float64):
        raise NotImplementedError(f'"orgqr_cpu" not implemented for \'Half\' ({op}: LAPACK '
                                  "takes float32 and float64)")
    out = _householder_product(A, tau)
    if tau.shape[-1] == 0:               # no reflector: I, which requires grad as PyTorch's does
        out = _Tied.apply(out, A, tau)   # (with no gradient to A or tau, as there)
    return out


class _Tied(Function):
    """x, in the graph of the anchors but giving them no gradient (None)."""

    def forward(self, x, *anchors):
        return x.copy()

    def backward(self, gy):
        return (None,) * len(self.inputs)


def _complex_only(name):
    raise NotImplementedError(
        f"tinygen.linalg.{name}: the eigenvalues of a general real matrix are complex, and "
        "tinygen has no complex dtypes. For symmetric matrices use linalg.eigh / "
        "linalg.eigvalsh (real eigenvalues); otherwise compute with PyTorch or NumPy.")


def eig(A, *, out=None):
    """Not available: PyTorch returns complex eigenvalues and eigenvectors, and tinygen has no
    complex dtypes (raises NotImplementedError; use eigh for symmetric A)."""
    _complex_only("eig")


def eigvals(A, *, out=None):
    """Not available: complex results (raises NotImplementedError; eigvalsh for symmetric A)."""
    _complex_only("eigvals")
