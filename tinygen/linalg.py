"""tinygen.linalg: torch.linalg's functions for real (float32 / float64) tensors, batched over
leading dims, differentiable (twice, where the ops below allow).

    import tinygen as tg
    A = tg.randn(4, 3, 3, dtype=tg.float64, requires_grad=True)
    Q, R = tg.linalg.qr(A)
    w, V = tg.linalg.eigh(A @ A.mT)
    tg.linalg.matrix_norm(A, ord="nuc").sum().backward()

The Functions live in ops/decomp.py (solve_triangular, cholesky, inverse, slogdet, solve),
ops/decomp2.py (QR, Eigh, SVD, Pinv) and ops/decomp3.py (LU, LDL, matrix_exp, the Householder
product); their docstrings give the backward rules and what tinygen does where a gradient is
ill-defined (repeated eigenvalues). The LU and LDL families, the *_ex variants and
householder_product are written in linalg_lu.py and re-exported here. What differs from PyTorch:
no complex dtypes (eig and eigvals raise NotImplementedError); LU without pivoting runs on the
CPU (PyTorch's CPU refuses it); `driver` of svd is ignored; lstsq solves through the
pseudo-inverse whatever the driver (the minimum-norm solution, as gelsy, gelsd and gelss give;
gels's result on rank-deficient A differs), with PyTorch's outputs per driver.
"""
from __future__ import annotations

import collections
import math

import numpy as np

from .autograd.grad_mode import is_grad_enabled
from .backend import dtypes as _dtypes
from .ops import decomp as _decomp
from .ops.args import norm_dim
from .ops.arrange import movedim
from .ops.decomp import LinAlgError, _check_square
from .ops.decomp2 import QR, SVD, EigenValues, Eigh, Pinv, Rank, SingularValues
from .ops.decomp3 import MatrixExp
from .ops.diagonal import diagonal as _diagonal
from .ops.linalg import cross as _cross
from .ops.binary import where
from .ops.linalg import matmul, matrix_power
from .ops.reduce import norm as _norm
from .ops.shape import cat
from .ops.stats import cumprod
from .linalg_lu import (
    cholesky_ex, eig, eigvals, householder_product, inv_ex, ldl_factor, ldl_factor_ex, ldl_solve,
    lu, lu_factor, lu_factor_ex, lu_solve, solve_ex,
)

__all__ = [
    "LinAlgError", "cholesky", "cholesky_ex", "cond", "cross", "det", "diagonal", "eig", "eigh",
    "eigvals", "eigvalsh", "householder_product", "inv", "inv_ex", "ldl_factor", "ldl_factor_ex",
    "ldl_solve", "lstsq", "lu", "lu_factor", "lu_factor_ex", "lu_solve", "matmul", "matrix_exp",
    "matrix_norm", "matrix_power", "matrix_rank", "multi_dot", "norm", "pinv", "qr", "slogdet",
    "solve", "solve_ex", "solve_triangular", "svd", "svdvals", "tensorinv", "tensorsolve", "vander",
    "vecdot", "vector_norm",
]

QRResult = collections.namedtuple("linalg_qr", ["Q", "R"])
EighResult = collections.namedtuple("linalg_eigh", ["eigenvalues", "eigenvectors"])
SVDResult = collections.namedtuple("linalg_svd", ["U", "S", "Vh"])
SlogdetResult = collections.namedtuple("linalg_slogdet", ["sign", "logabsdet"])
LstsqResult = collections.namedtuple("linalg_lstsq",
                                     ["solution", "residuals", "rank", "singular_values"])



def __getattr__(name):
    raise AttributeError(f"module 'tinygen.linalg' has no attribute {name!r}")


def matrix_exp(A):
    """exp(A) = sum_k A^k / k! for square A (..., n, n): scaling and squaring with the [13/13]
    Pade approximant (Higham 2005; PyTorch picks its degree per matrix, so values agree to
    rounding). Gradient: exp([[A^T, G], [0, A^T]])[:n, n:] as PyTorch, differentiable again."""
    op = "linalg.matrix_exp"
    if A.ndim < 2 or A.shape[-1] != A.shape[-2]:
        shape = f"{A.shape[-2]} by {A.shape[-1]}" if A.ndim >= 2 else f"shape {tuple(A.shape)}"
        raise RuntimeError(f"{op}: A must be batches of square matrices, but they are {shape} "
                           "matrices")
    if not A.dtype.is_floating_point:
        raise RuntimeError(f"{op}: Expected a floating point or complex tensor as input. Got "
                           f"{A.dtype}")
    return MatrixExp.apply(A)


def _check_matrix(op, A):
    """A must be a floating tensor of matrices (..., m, n)."""
    if A.ndim < 2:
        raise RuntimeError(f"{op}: expected a matrix or a batch of matrices (..., m, n), got "
                           f"shape {tuple(A.shape)}")
    if not A.dtype.is_floating_point:
        raise RuntimeError(f"{op}: expected a floating-point tensor, got {A.dtype}")


def _needs_grad(A):
    return A.requires_grad and is_grad_enabled()


# ---- norms --------------------------------------------------------------------------------------
def vector_norm(x, ord=2, dim=None, keepdim=False, *, dtype=None):
    """The ord-norm of x over dim (None: all dims, as one vector): any number, inf, -inf (0
    counts the nonzeros). dtype= computes in that dtype, which must not narrow x's."""
    op = "linalg.vector_norm"
    if isinstance(ord, str):
        raise TypeError(f"{op}: ord must be a number, got {ord!r} (matrix_norm takes 'fro' "
                        "and 'nuc')")
    if dtype is not None and x.dtype.is_floating_point:
        wide = _dtypes.promote_types(_dtypes.to_np_dtype(x.dtype), _dtypes.to_np_dtype(dtype))
        if wide != _dtypes.to_np_dtype(dtype):
            raise RuntimeError(f"{op}: the dtype of the input ({x.dtype}) should be convertible "
                               f"without narrowing to the specified dtype ({dtype})")
    if ord < 0 or math.isinf(ord):                         # no identity: min / max of nothing
        dims = range(x.ndim) if dim is None else ([dim] if isinstance(dim, int) else dim)
        if x.ndim and any(x.shape[norm_dim(d, x.ndim, op)] == 0 for d in dims):
            raise RuntimeError(f"{op} cannot compute the {ord} norm over an empty dim (input "
                               f"shape {tuple(x.shape)}, dim {dim})")
    return _norm(x, ord, dim, keepdim, dtype)


def _matrix_dims(op, A, dim):
    if A.ndim < 2:
        raise RuntimeError(f"{op}: expected a tensor of matrices (..., m, n), got shape "
                           f"{tuple(A.shape)}")
    if not isinstance(dim, (tuple, list)) or len(dim) != 2:
        raise RuntimeError(f"{op}: dim must be a 2-tuple, got {dim!r}")
    d0, d1 = (norm_dim(d, A.ndim, op) for d in dim)
    if d0 == d1:
        raise RuntimeError(f"{op}: dims must be different, got {dim!r}")
    return d0, d1


def matrix_norm(A, ord="fro", dim=(-2, -1), keepdim=False, *, dtype=None):
    """The ord-norm of the matrices in the dims `dim` of A: 'fro', 'nuc' (the sum of the
    singular values), 2 / -2 (the largest / smallest), inf / -inf (max / min row sum of |A|),
    1 / -1 (column sums)."""
    op = "linalg.matrix_norm"
    d0, d1 = _matrix_dims(op, A, dim)
    if ord not in ("fro", "nuc", 2, -2, 1, -1, math.inf, -math.inf):
        raise RuntimeError(f"{op}: order {ord!r} not supported (expected 'fro', 'nuc', inf, "
                           "-inf, 1, -1, 2 or -2)")
    if not A.dtype.is_floating_point:
        raise RuntimeError(f"{op}: expected a floating-point tensor, got {A.dtype}")
    x = A if dtype is None else A.to(dtype)
    if ord == "fro":
        return vector_norm(x, 2, (d0, d1), keepdim)
    if ord in ("nuc", 2, -2):
        s = svdvals(movedim(x, (d0, d1), (-2, -1)))                  # (..., k)
        nothing = ord == 2 and s.shape[-1] == 0   # the max of nothing: PyTorch's constant 0
        out = s.sum(-1) if ord == "nuc" or nothing else (s.amax(-1) if ord == 2 else s.amin(-1))
        out = out.detach() if nothing else out
        if keepdim:
            out = out.unsqueeze(min(d0, d1)).unsqueeze(max(d0, d1))
        return out
    summed, extreme = (d1, d0) if math.isinf(ord) else (d0, d1)       # rows (inf) or columns (1)
    sums = x.abs().sum(summed, keepdim=True)
    if ord > 0 and x.shape[extreme] == 0:       # the max of nothing: PyTorch's constant 0
        out = sums.sum(extreme, keepdim=True).detach()      # (the min of nothing raises, as
    else:                                                    # PyTorch's amin)
        out = sums.amax(extreme, keepdim=True) if ord > 0 else sums.amin(extreme, keepdim=True)
    return out if keepdim else out.squeeze(max(d0, d1)).squeeze(min(d0, d1))


def norm(A, ord=None, dim=None, keepdim=False, *, dtype=None):
    """torch.linalg.norm: a vector norm for an int (or 1-tuple) dim, a matrix norm for a 2-tuple;
    with dim None, the 2-norm of all elements (ord None), else A must be 1-D or 2-D."""
    if dim is not None:
        dims = (dim,) if isinstance(dim, int) else tuple(dim)
        if len(dims) == 1 and not isinstance(ord, str):
            return vector_norm(A, 2 if ord is None else ord, dims, keepdim, dtype=dtype)
        if len(dims) in (1, 2):
            return matrix_norm(A, "fro" if ord is None else ord, dims, keepdim, dtype=dtype)
        raise RuntimeError(f"linalg.norm: If dim is specified, it must be of length 1 or 2. "
                           f"Got {dim}")
    if ord is None:
        return vector_norm(A, 2, None, keepdim, dtype=dtype)
    if A.ndim not in (1, 2):
        raise RuntimeError(f"linalg.norm: If dim is not specified but ord is, the input must be "
                           f"1D or 2D. Got {A.ndim}D (shape {tuple(A.shape)}).")
    if A.ndim == 2 or isinstance(ord, str):
        return matrix_norm(A, ord, (-2, -1), keepdim, dtype=dtype)
    if A.ndim == 1:
        return vector_norm(A, ord, None, keepdim, dtype=dtype)
    raise RuntimeError(f"linalg.norm: If dim is not specified but ord is, the input must be 1D "
                       f"or 2D. Got {A.ndim}D (shape {tuple(A.shape)}).")


def cond(A, p=None):
    """The condition number in the p-norm: the ratio of the extreme singular values for p None,
    2, -2 (any shape), else matrix_norm(A, p) * matrix_norm(inv(A), p) (square A)."""
    if A.ndim >= 2 and 0 in tuple(A.shape[-2:]):
        return A.abs().sum((-2, -1)).detach()     # PyTorch: zeros for empty matrices, any p
    if p in (None, 2, -2):
        s = svdvals(A)
        big, small = s.amax(-1), s.amin(-1)
        return small / big if p == -2 else big / small
    _check_square("linalg.cond", A)
    inverse, info = inv_ex(A)          # a singular A: its inverse counts as all inf, as PyTorch's
    bad = info > 0                     # (so the result is inf, or NaN for A = 0)
    eye = A.new_ones(A.shape[-1]).diag_embed()
    safe = where(bad.unsqueeze(-1).unsqueeze(-1), eye, inverse)
    out = matrix_norm(A, p) * where(bad, math.inf, matrix_norm(safe, p))
    return out if p == "nuc" else where(out != out, math.inf, out)    # 0 * inf: inf (PyTorch)


# ---- the existing solvers, under torch.linalg's names -------------------------------------------
def det(A):
    """det(A) for square matrices (..., n, n); its gradient needs an invertible A."""
    _check_square("linalg.det", A)
    return _decomp.det(A)


def slogdet(A):
    """(sign, logabsdet) of det(A); logabsdet alone has a gradient."""
    _check_square("linalg.slogdet", A)
    return SlogdetResult(*_decomp.slogdet(A))


def inv(A):
    """A^{-1} for square matrices (..., n, n); a singular one raises LinAlgError."""
    _check_square("linalg.inv", A)
    return _decomp.inverse(A)


def solve(A, B, *, left=True):
    """X with A X = B (left) or X A = B; B (..., n, k), or a vector (n,) or (..., n)."""
    _check_square("linalg.solve", A)
    return _decomp.solve(A, B, left=left)


def solve_triangular(A, B, *, upper, left=True, unitriangular=False):
    """X with A X = B (left) or X A = B for triangular A (only its triangle is read)."""
    return _decomp.solve_triangular(A, B, upper=upper, left=left, unitriangular=unitriangular)


def cholesky(A, *, upper=False):
    """L (lower) with L L^T = A, or L^T for upper=True; LinAlgError if A is not
    positive-definite."""
    _check_square("linalg.cholesky", A)
    return _decomp.cholesky(A, upper)


# ---- products -----------------------------------------------------------------------------------
def cross(input, other, *, dim=-1):
    """The cross product of 3-vectors along dim (default -1, unlike torch.cross); input and
    other have the same number of dims and broadcast."""
    op = "linalg.cross"
    shapes = f"shapes {tuple(input.shape)} and {tuple(other.shape)}"
    if input.ndim != other.ndim:
        raise RuntimeError(f"{op}: inputs must have the same number of dimensions, got {shapes}")
    d = norm_dim(dim, input.ndim, op)
    if input.shape[d] != 3 or other.shape[d] != 3:
        raise RuntimeError(f"{op}: inputs dimension {dim} must have length 3, got {shapes}")
    try:
        np.broadcast_shapes(tuple(input.shape), tuple(other.shape))
    except ValueError:
        raise RuntimeError(f"{op}: {shapes} do not broadcast") from None
    return _cross(input, other, dim=d)


def vecdot(x, y, *, dim=-1):
    """sum(x * y) along dim, x and y broadcast."""
    return (x * y).sum(dim)


def diagonal(A, *, offset=0, dim1=-2, dim2=-1):
    """The diagonal `offset` of the matrices in dims (dim1, dim2), as a last dim."""
    return _diagonal(A, offset, dim1, dim2)


def multi_dot(tensors):
    """tensors[0] @ tensors[1] @ ... in the cheapest order; the first may be a row vector (k,)
    and the last a column (k,), the others 2-D."""
    n = len(tensors)
    if n < 2:
        raise RuntimeError(f"multi_dot(): expected at least 2 tensors but got {n}")
    mats = list(tensors)
    for i, t in enumerate(mats):
        end = i in (0, n - 1)
        if t.ndim != 2 and not (end and t.ndim == 1):
            which = "first" if i == 0 else ("last" if i == n - 1 else f"{i}th")
            wanted = "1D or 2D" if end else "2D"
            raise RuntimeError(f"multi_dot(): the {which} tensor must be {wanted} but got "
                               f"{t.ndim}D")
    row, column = mats[0].ndim == 1, mats[-1].ndim == 1
    if row:
        mats[0] = mats[0].unsqueeze(0)
    if column:
        mats[-1] = mats[-1].unsqueeze(-1)
    for i in range(n - 1):
        if mats[i].shape[1] != mats[i + 1].shape[0]:
            raise RuntimeError(f"multi_dot(): tensors {i} and {i + 1} with shapes "
                               f"{list(tensors[i].shape)} and {list(tensors[i + 1].shape)} "
                               "cannot be multiplied")
    sizes = [m.shape[0] for m in mats] + [mats[-1].shape[1]]
    out = _chain(mats, _chain_order(sizes), 0, n - 1)
    if row:
        out = out.squeeze(0)
    if column:
        out = out.squeeze(-1)
    return out


def _chain_order(sizes):
    """split[i][j]: where the cheapest product of matrices i..j splits (matrix i is sizes[i] x
    sizes[i + 1]; the textbook dynamic programme, O(n^3) in the number of matrices)."""
    n = len(sizes) - 1
    cost = [[0] * n for _ in range(n)]
    split = [[0] * n for _ in range(n)]
    for length in range(1, n):
        for i in range(n - length):
            j = i + length
            cost[i][j] = math.inf
            for k in range(i, j):
                c = cost[i][k] + cost[k + 1][j] + sizes[i] * sizes[k + 1] * sizes[j + 1]
                if c < cost[i][j]:
                    cost[i][j], split[i][j] = c, k
    return split


def _chain(mats, split, i, j):
    if i == j:
        return mats[i]
    k = split[i][j]
    return matmul(_chain(mats, split, i, k), _chain(mats, split, k + 1, j))


def vander(x, *, N=None):
    """The Vandermonde matrix (..., n, N) of x (..., n): columns x^0, x^1, ..., x^(N-1)."""
    if x.ndim < 1:
        raise RuntimeError(f"linalg.vander: expected x with at least 1 dim, got shape "
                           f"{tuple(x.shape)}")
    N = x.shape[-1] if N is None else N
    if N <= 1:
        raise RuntimeError(f"linalg.vander: N must be greater than 1, got {N}")
    powers = x.unsqueeze(-1).expand(tuple(x.shape) + (N - 1,))
    ones = x.new_ones(tuple(x.shape) + (1,))
    return cumprod(cat([ones, powers], -1), -1)                    # 1, x, x^2, ...


# ---- decompositions -----------------------------------------------------------------------------
def qr(A, mode="reduced"):
    """(Q, R) with A = Q R: mode 'reduced' (Q (..., m, k), R (..., k, n), k = min(m, n)),
    'complete' (Q (..., m, m)) or 'r' (Q empty). Differentiable except for mode 'r' and for
    'complete' with m > n (as PyTorch)."""
    _check_matrix("linalg.qr", A)
    if mode not in ("reduced", "complete", "r"):
        raise RuntimeError(f"qr received unrecognized mode {mode!r} but expected one of "
                           "'reduced' (default), 'r', or 'complete'")
    return QRResult(*QR.apply(A, mode))


def _check_uplo(op, A, UPLO):
    _check_square(op, A)
    if UPLO not in ("L", "U"):
        raise RuntimeError(f"{op}: expected UPLO to be 'L' or 'U', got {UPLO!r}")


def eigh(A, UPLO="L"):
    """(eigenvalues ascending, eigenvectors as columns) of symmetric A, read from its lower
    (UPLO='L') or upper triangle. Eigenvectors are unique up to sign (and to a rotation inside a
    repeated eigenvalue's space): differentiate losses that do not depend on that choice."""
    _check_uplo("linalg.eigh", A, UPLO)
    return EighResult(*Eigh.apply(A, UPLO))


def eigvalsh(A, UPLO="L"):
    """The eigenvalues of symmetric A, ascending (the gradient V diag(g) V^T is finite for
    repeated eigenvalues)."""
    _check_uplo("linalg.eigvalsh", A, UPLO)
    if _needs_grad(A):
        return Eigh.apply(A, UPLO)[0]
    return EigenValues.apply(A, UPLO)


def svd(A, full_matrices=True, *, driver=None):
    """(U, S, Vh) with A = U diag(S) Vh, S descending; U (..., m, m) and Vh (..., n, n) with
    full_matrices, else (..., m, k) and (..., k, n). `driver` (cuSOLVER's choice) is ignored.
    Singular vectors are unique up to sign: differentiate losses that do not depend on it."""
    _check_matrix("linalg.svd", A)
    return SVDResult(*SVD.apply(A, bool(full_matrices)))


def svdvals(A, *, driver=None):
    """The singular values of A, descending (gradient U diag(g) Vh)."""
    _check_matrix("linalg.svdvals", A)
    if _needs_grad(A):
        return SVD.apply(A, False)[1]
    return SingularValues.apply(A)


def _tolerance(t):
    """atol / rtol: None, a number, or a Tensor (one per matrix) as its array."""
    return t.detach()._data if hasattr(t, "_data") else t


def pinv(A, rcond=None, hermitian=False, *, atol=None, rtol=None):
    """The pseudo-inverse (..., n, m) of A (..., m, n); singular values at or below
    max(atol, rtol * largest) count as 0 (rtol defaults to eps * max(m, n), or 0 when atol > 0
    is given; rcond is the older name of rtol). hermitian=True uses eigh (A symmetric)."""
    _check_matrix("linalg.pinv", A)
    if rcond is not None:
        rtol = rcond
    return Pinv.apply(A, _tolerance(atol), _tolerance(rtol), bool(hermitian))[0]


def matrix_rank(A, tol=None, hermitian=False, *, atol=None, rtol=None):
    """The number of singular values above max(atol, rtol * largest) (int64; defaults as pinv;
    tol is the older spelling of atol with rtol 0)."""
    _check_matrix("linalg.matrix_rank", A)
    if tol is not None:
        atol, rtol = tol, 0.0
    return Rank.apply(A.detach(), _tolerance(atol), _tolerance(rtol), bool(hermitian))


def lstsq(A, B, rcond=None, *, driver=None):
    """(solution, residuals, rank, singular_values): the minimum-norm X minimising
    ||A X - B||_F, through the pseudo-inverse (rcond: its rtol; default eps * max(m, n)).
    B (..., m, k) or a vector (..., m). As PyTorch on the CPU: residuals (the squared column
    errors) only for drivers other than gelsy, m > n and every A of full rank, else empty;
    rank for all but gels; singular_values for gelsd and gelss. Gradients flow to solution and
    residuals."""
    op = "linalg.lstsq"
    _check_matrix(op, A)
    driver = "gelsy" if driver is None else driver
    if driver not in ("gels", "gelsy", "gelsd", "gelss"):
        raise RuntimeError(f"{op}: parameter `driver` should be one of (gels, gelsy, gelsd, "
                           f"gelss), got {driver!r}")
    m, n = A.shape[-2], A.shape[-1]
    if not (A.ndim >= B.ndim and A.ndim - B.ndim <= 1):
        raise RuntimeError(f"torch.linalg.lstsq: input.dim() must be greater or equal to "
                           f"other.dim() and (input.dim() - other.dim()) <= 1 (A of shape "
                           f"{tuple(A.shape)}, B of shape {tuple(B.shape)})")
    vector = B.ndim == 1 or (B.ndim == A.ndim - 1 and tuple(B.shape) == tuple(A.shape[:-1]))
    b = B.unsqueeze(-1) if vector else B
    if b.ndim < 2 or b.shape[-2] != m:
        raise RuntimeError(f"{op}: expected B (..., {m}, k) or (..., {m}) for A of shape "
                           f"{tuple(A.shape)}, got {tuple(B.shape)}")
    rtol = rcond if rcond is not None and rcond >= 0 else None
    p, s, rank = Pinv.apply(A, None if rtol is None else 0.0, rtol, False)
    x = matmul(p, b)                                                 # (..., n, k)
    empty = A.new_zeros((0,))
    residuals = x.reshape(-1)[:0]             # empty, but in the graph as PyTorch's
    if driver != "gelsy" and m > n and bool((rank == n).all()):
        residuals = ((matmul(A, x) - b) ** 2).sum(-2)                # (..., k)
    return LstsqResult(x.squeeze(-1) if vector else x, residuals,
                       rank if driver != "gels" else rank.new_zeros((0,)),
                       s if driver in ("gelsd", "gelss") else empty)


# ---- tensor inverses and solves -----------------------------------------------------------------
def tensorinv(A, ind=2):
    """The inverse of A as a map from its last dims to its first `ind`: shape A.shape[ind:] +
    A.shape[:ind] (their products must agree)."""
    if ind <= 0:
        raise RuntimeError(f"linalg.tensorinv: expected a strictly positive integer for ind, "
                           f"got {ind}")
    rows, cols = math.prod(A.shape[:ind]), math.prod(A.shape[ind:])
    if rows != cols:
        raise RuntimeError(f"linalg.tensorinv: expected prod(A.shape[:ind]) == "
                           f"prod(A.shape[ind:]), got {rows} and {cols} (shape "
                           f"{tuple(A.shape)}, ind {ind})")
    return inv(A.reshape(rows, cols)).reshape(tuple(A.shape[ind:]) + tuple(A.shape[:ind]))


def tensorsolve(A, B, dims=None):
    """X (shape A.shape[B.ndim:]) with tensordot(A, X, X.ndim) = B; dims: dims of A moved to
    the end first."""
    if dims is not None:
        dims = list(dims)
        A = movedim(A, dims, list(range(A.ndim - len(dims), A.ndim)))
    out_shape = tuple(A.shape[B.ndim:])
    rows, cols = B.numel(), math.prod(out_shape)
    if tuple(A.shape[:B.ndim]) != tuple(B.shape) or rows != cols:
        raise RuntimeError(f"linalg.tensorsolve: expected A of shape B.shape + X.shape with "
                           f"prod(B.shape) == prod(X.shape), got A {tuple(A.shape)} and B "
                           f"{tuple(B.shape)}")
    return solve(A.reshape(rows, cols), B.reshape(rows)).reshape(out_shape)
