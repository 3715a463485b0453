"""The LU and LDL families, the *_ex variants, householder_product / geqrf / orgqr / ormqr,
matrix_exp and PyTorch's older top-level names (svd, qr, lu, lu_solve, triangular_solve, ...)
against PyTorch in float64: values, first and second gradients (check_op), finite-difference
gradchecks, batch shapes, pivot=False, singular inputs and their info codes, dtype rules, the
legacy argument orders and the removed names' errors.

Where PyTorch's result is not unique (singular vectors, a random sketch), the tests compare what
does not depend on the choice: reconstructions, projectors, singular values."""
import warnings

import numpy as np
import pytest
from helpers import assert_close, check_fn, check_op

import tinygen as tg
import tinygen.linalg as tl

torch = pytest.importorskip("torch")

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")   # torch's deprecation notes

RNG = np.random.default_rng(11)
SQUARE = RNG.standard_normal((2, 3, 3))
TALL = RNG.standard_normal((2, 4, 3))
WIDE = RNG.standard_normal((2, 3, 5))
MAT = RNG.standard_normal((3, 3))
RHS = RNG.standard_normal((2, 3, 2))
SYM = SQUARE + SQUARE.transpose(0, 2, 1)                       # symmetric, indefinite
SPD = SQUARE @ SQUARE.transpose(0, 2, 1) + 3 * np.eye(3)
SINGULAR = np.stack([np.eye(3), [[1.0, 2, 3], [2, 4, 6], [1, 0, 1]], np.zeros((3, 3))])


def _run(fn, inputs, **kw):
    """check_op of fn(L, *tensors) with L = tinygen.linalg and torch.linalg."""
    return check_op(lambda *a: fn(tl, *a), lambda *a: fn(torch.linalg, *a), inputs, **kw)


def _lib(module):
    """(linalg namespace, tensor constructor) of tinygen or torch, from either top module."""
    if module in (tg, tl):
        return tl, tg.tensor
    return torch.linalg, torch.tensor


# ---- LU: values, pivots, info -------------------------------------------------------------------
@pytest.mark.parametrize("shape", [(3, 3), (2, 4, 3), (2, 3, 5), (2, 1, 4, 4), (0, 3, 3),
                                   (3, 0), (1, 1)])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_lu_factor_matches_torch(shape, dtype):
    a = RNG.standard_normal(shape).astype(dtype)
    LU, piv, info = tl.lu_factor_ex(tg.tensor(a))
    ref = torch.linalg.lu_factor_ex(torch.tensor(a))
    tol = 1e-5 if dtype == "float32" else 1e-12
    assert_close(LU, ref.LU, rtol=tol, atol=tol, what="LU")
    assert_close(piv, ref.pivots, what="pivots")
    assert_close(info, ref.info, what="info")
    assert LU.dtype == getattr(tg, dtype) and piv.dtype == tg.int32 and info.dtype == tg.int32
    P, L, U = tl.lu(tg.tensor(a))
    tP, tL, tU = torch.linalg.lu(torch.tensor(a))
    for mine, theirs, what in ((P, tP, "P"), (L, tL, "L"), (U, tU, "U")):
        assert_close(mine, theirs, rtol=tol, atol=tol, what=what)
    assert_close(P @ L @ U, a, rtol=tol, atol=10 * tol, what="P L U")


def test_lu_factor_names_and_legacy_lu():
    out = tl.lu_factor(tg.tensor(SQUARE))
    assert type(out).__name__ == "linalg_lu_factor" and out._fields == ("LU", "pivots")
    assert tl.lu(tg.tensor(MAT))._fields == ("P", "L", "U")
    LU, piv = tg.lu(tg.tensor(SQUARE))
    tLU, tpiv = torch.lu(torch.tensor(SQUARE))
    assert_close(LU, tLU)
    assert_close(piv, tpiv)
    LU, piv, infos = tg.tensor(SINGULAR).lu(get_infos=True)        # Tensor.lu; never raises
    assert_close(infos, torch.lu(torch.tensor(SINGULAR), get_infos=True)[2])
    assert tg.lu(tg.tensor(SINGULAR))[1].shape == (3, 3)


def test_lu_singular_info_and_errors():
    ex = tl.lu_factor_ex(tg.tensor(SINGULAR))
    ref = torch.linalg.lu_factor_ex(torch.tensor(SINGULAR))
    assert_close(ex.info, ref.info)
    assert ex.info.tolist() == [0, 3, 1]
    with pytest.raises(RuntimeError, match=r"\(Batch element 1\): U\[3,3\] is zero"):
        tl.lu_factor(tg.tensor(SINGULAR))
    with pytest.raises(RuntimeError, match=r"lu_factor_ex: \(Batch element 1\)"):
        tl.lu_factor_ex(tg.tensor(SINGULAR), check_errors=True)
    with pytest.raises(RuntimeError, match=r"^torch.linalg.lu_factor: U\[2,2\] is zero"):
        tl.lu_factor(tg.tensor([[1.0, 2.0], [2.0, 4.0]]))
    with pytest.raises(RuntimeError):
        torch.linalg.lu_factor(torch.tensor(SINGULAR))
    P, L, U = tl.lu(tg.tensor(SINGULAR))                              # lu itself never raises
    assert_close(P @ L @ U, SINGULAR, atol=1e-12)


def test_lu_dtype_and_shape_errors():
    for bad, torch_bad in ((tg.ones(3, 3, dtype=tg.int64), torch.ones(3, 3, dtype=torch.int64)),
                           (tg.ones(3, 3, dtype=tg.float16), torch.ones(3, 3, dtype=torch.half))):
        with pytest.raises(NotImplementedError, match="lu_factor"):
            tl.lu_factor(bad)
        with pytest.raises(NotImplementedError):
            torch.linalg.lu_factor(torch_bad)
    with pytest.raises(RuntimeError, match=r"Expected tensor with 2 or more dimensions. Got "
                                           r"size: \[3\]"):
        tl.lu_factor(tg.ones(3))
    with pytest.raises(RuntimeError):
        torch.linalg.lu_factor(torch.ones(3))


# ---- LU: gradients ------------------------------------------------------------------------------
LU_GRADS = {
    "square": (lambda L, a: L.lu(a)[1:], [SQUARE]),
    "tall": (lambda L, a: L.lu(a)[1:], [TALL]),
    "wide": (lambda L, a: L.lu(a)[1:], [WIDE]),
    "single": (lambda L, a: L.lu(a)[1:], [MAT]),
    "L_only": (lambda L, a: L.lu(a).L, [TALL]),
    "U_only": (lambda L, a: L.lu(a).U, [WIDE]),
    "factor": (lambda L, a: L.lu_factor(a).LU, [SQUARE]),
    "factor_tall": (lambda L, a: L.lu_factor_ex(a).LU, [TALL]),
    "factor_wide": (lambda L, a: L.lu_factor_ex(a).LU, [WIDE[0]]),
}


@pytest.mark.parametrize("name", sorted(LU_GRADS))
def test_lu_gradients(name):
    fn, inputs = LU_GRADS[name]
    _run(fn, inputs, rtol=1e-6, atol=1e-8, gradcheck_max_numel=30)


def _diagonally_dominant(shape):
    n = shape[-1]
    return RNG.standard_normal(shape) + 2 * n * np.eye(*shape[-2:])


@pytest.mark.parametrize("shape", [(3, 3), (2, 4, 3), (2, 3, 4)])
def test_lu_without_pivoting(shape):
    a = _diagonally_dominant(shape)
    P, L, U = tl.lu(tg.tensor(a), pivot=False)
    assert tuple(P.shape) == (0,)                                      # as PyTorch's CUDA
    k = min(shape[-2:])
    assert tuple(L.shape) == shape[:-1] + (k,) and tuple(U.shape) == shape[:-2] + (k, shape[-1])
    assert_close(L @ U, a, atol=1e-12, what="L U")
    np.testing.assert_array_equal(np.triu(L.numpy(), 1), 0)
    np.testing.assert_array_equal(np.diagonal(L.numpy(), 0, -2, -1), 1)
    LU, piv, info = tl.lu_factor_ex(tg.tensor(a), pivot=False)
    np.testing.assert_array_equal(piv.numpy(), np.broadcast_to(np.arange(1, k + 1), piv.shape))
    assert not info.numpy().any()
    if shape[-1] == shape[-2]:
        b = RNG.standard_normal(shape[:-1] + (2,))
        assert_close(tg.tensor(a) @ tl.lu_solve(LU, piv, tg.tensor(b)), b, atol=1e-12)
    x = tg.tensor(a, requires_grad=True)
    tg.autograd.gradcheck(lambda t: tuple(tl.lu(t, pivot=False)[1:]), (x,))
    tg.autograd.gradgradcheck(lambda t: tl.lu_factor(t, pivot=False).LU, (x,))
    with pytest.raises(RuntimeError, match="not implemented on the CPU"):
        torch.linalg.lu(torch.tensor(a), pivot=False)                  # PyTorch: CUDA only


def test_lu_without_pivoting_zero_pivot():
    ex = tl.lu_factor_ex(tg.tensor([[0.0, 1.0], [1.0, 0.0]]), pivot=False)
    assert ex.info.item() == 1
    assert not np.isfinite(ex.LU.numpy()).all()        # PyTorch documents inf / NaN here
    assert tl.lu_factor_ex(tg.tensor([[0.0, 1.0], [1.0, 0.0]])).info.item() == 0


# ---- lu_solve and lu_unpack ---------------------------------------------------------------------
LU_SOLVES = {
    f"{'left' if left else 'right'}{'_adjoint' if adjoint else ''}": (left, adjoint)
    for left in (True, False) for adjoint in (False, True)
}


@pytest.mark.parametrize("name", sorted(LU_SOLVES))
def test_lu_solve_through_factor(name):
    left, adjoint = LU_SOLVES[name]

    def fn(L, a, b):
        return L.lu_solve(*L.lu_factor(a), b if left else b.mT, left=left, adjoint=adjoint)

    _run(fn, [SQUARE, RHS])


@pytest.mark.parametrize("adjoint", [False, True])
def test_lu_solve_gradient_in_lu_and_broadcast(adjoint):
    LU, piv = torch.linalg.lu_factor(torch.tensor(MAT + 3 * np.eye(3)))

    def fn(L, lu, b):
        pivots = (tg.tensor(piv.numpy()) if L is tl else piv)
        return L.lu_solve(lu, pivots, b, adjoint=adjoint)              # LU (3, 3), B (2, 3, 2)

    _run(fn, [LU.numpy(), RHS])


def test_lu_solve_values_and_legacy_order():
    a, b = SQUARE, RHS
    LU, piv = tl.lu_factor(tg.tensor(a))
    x = tl.lu_solve(LU, piv, tg.tensor(b))
    assert_close(tg.tensor(a) @ x, b, atol=1e-12)
    assert_close(tg.lu_solve(tg.tensor(b), LU, piv), x)                # b first
    assert_close(tg.tensor(b).lu_solve(LU, piv), x)                    # Tensor.lu_solve
    tLU, tpiv = torch.lu(torch.tensor(a))
    assert_close(x, torch.lu_solve(torch.tensor(b), tLU, tpiv), atol=1e-12)


def test_lu_solve_errors():
    LU, piv = tl.lu_factor(tg.tensor(MAT))
    b = tg.tensor(RHS[0])
    with pytest.raises(RuntimeError, match="pivots should be a Tensor of scalar type torch.int32"):
        tl.lu_solve(LU, piv.long(), b)
    with pytest.raises(RuntimeError, match="same dtype"):
        tl.lu_solve(LU, piv, b.float())
    with pytest.raises(RuntimeError, match=r"equation AX = B \(3x3 and 4x2\)"):
        tl.lu_solve(LU, piv, tg.ones(4, 2, dtype=tg.float64))
    with pytest.raises(RuntimeError, match=r"equation XA = B"):
        tl.lu_solve(LU, piv, tg.ones(4, 2, dtype=tg.float64), left=False)
    with pytest.raises(RuntimeError, match="at least 2 dimensions"):
        tl.lu_solve(LU, piv, tg.ones(3, dtype=tg.float64))
    with pytest.raises(RuntimeError, match=r"LU.shape\[:-1\] and pivots.shape"):
        tl.lu_solve(LU, piv[:2], b)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")     # NumPy's on inf - inf in the gradient
@pytest.mark.parametrize("upper", [False, True])
def test_singular_triangular_solves_give_inf_and_nan_as_torch(upper):
    # a zero on the diagonal: no error, the rows from there on inf / NaN exactly where torch's
    # are (its trsm divides by the zero); batched, B broadcast over A's batch; and the gradient
    # of lu_solve after lu_factor_ex of a singular matrix, NaN as torch's
    a = np.tril(RNG.standard_normal((2, 4, 4)) + 2 * np.eye(4))
    a[0, 1, 1] = a[1, 3, 3] = 0.0
    a = a.transpose(0, 2, 1) if upper else a
    b = RNG.standard_normal((4, 3))
    got = tl.solve_triangular(tg.tensor(a), tg.tensor(b), upper=upper).numpy()
    want = torch.linalg.solve_triangular(torch.tensor(a), torch.tensor(b), upper=upper).numpy()
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    np.testing.assert_array_equal(np.isposinf(got), np.isposinf(want))
    finite = np.isfinite(want)
    assert not finite.all() and finite.any()
    assert_close(got[finite], want[finite], atol=1e-12)
    grads = []
    for L, lib in ((tl, tg), (torch.linalg, torch)):
        A = lib.tensor(SINGULAR[1], requires_grad=True)
        LU, piv, info = L.lu_factor_ex(A)
        assert int(info) == 3
        x = L.lu_solve(LU, piv, lib.tensor(RHS[0]))
        grads.append(np.asarray(lib.autograd.grad(x.sum(), A)[0].detach().numpy()))
    np.testing.assert_array_equal(np.isnan(grads[0]), np.isnan(grads[1]))


def test_lu_unpack():
    LU, piv = torch.linalg.lu_factor(torch.tensor(TALL))
    mine = tg.lu_unpack(tg.tensor(LU.numpy()), tg.tensor(piv.numpy()))
    for m, t in zip(mine, torch.lu_unpack(LU, piv)):
        assert_close(m, t)
    P, L, U = tg.lu_unpack(tg.tensor(LU.numpy()), tg.tensor(piv.numpy()), unpack_data=False)
    assert tuple(L.shape) == tuple(U.shape) == (0,) and tuple(P.shape) == (2, 4, 4)
    P, L, U = tg.lu_unpack(tg.tensor(LU.numpy()), tg.tensor(piv.numpy()), unpack_pivots=False)
    assert tuple(P.shape) == (0,) and tuple(L.shape) == (2, 4, 3)
    with pytest.raises(RuntimeError, match="torch.int32"):
        tg.lu_unpack(tg.tensor(LU.numpy()), tg.tensor(piv.numpy()).long())
    with pytest.raises(RuntimeError, match="between 1 and LU.size"):
        tg.lu_unpack(tg.tensor(LU.numpy()), tg.tensor(piv.numpy()) * 5)
    check_fn(lambda m, lu: m.lu_unpack(lu, _pivots(m, piv))[1:], [LU.numpy()])


def _pivots(module, piv):
    return tg.tensor(piv.numpy()) if module is tg else piv


# ---- LDL ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("a", [SYM, SPD[0], np.array([[0.0, 1.0], [1.0, 0.0]]),
                               np.array([[1.0, 2, 0], [2, 1, 3], [0, 3, 0]])],
                         ids=["batch", "spd", "two_by_two_block", "indefinite"])
def test_ldl_matches_torch(a):
    LD, piv, info = tl.ldl_factor_ex(tg.tensor(a))
    ref = torch.linalg.ldl_factor_ex(torch.tensor(a))
    assert_close(LD, ref.LD, atol=1e-12)
    assert_close(piv, ref.pivots)
    assert_close(info, ref.info)
    b = RNG.standard_normal(a.shape[:-1] + (2,))
    x = tl.ldl_solve(LD, piv, tg.tensor(b))
    assert_close(x, torch.linalg.ldl_solve(ref.LD, ref.pivots, torch.tensor(b)), atol=1e-10)
    assert_close(tg.tensor(a) @ x, b, atol=1e-10)
    assert tl.ldl_factor(tg.tensor(a), hermitian=True)._fields == ("LD", "pivots")


def test_ldl_singular_dtypes_and_no_gradient():
    ex = tl.ldl_factor_ex(tg.zeros(2, 2, dtype=tg.float64))
    assert ex.info.item() == torch.linalg.ldl_factor_ex(torch.zeros(2, 2)).info.item() == 1
    with pytest.raises(RuntimeError, match=r"D\[1,1\] is zero"):
        tl.ldl_factor(tg.zeros(2, 2))
    with pytest.raises(RuntimeError, match=r"ldl_factor_ex: D\[1,1\] is zero"):
        tl.ldl_factor_ex(tg.zeros(2, 2), check_errors=True)
    with pytest.raises(RuntimeError, match="square matrices, but they are 2 by 3"):
        tl.ldl_factor(tg.ones(2, 3))
    LD, piv = tl.ldl_factor(tg.tensor(SPD[0].astype(np.float32)))
    assert LD.dtype == tg.float32 and piv.dtype == tg.int32
    a = tg.tensor(SPD[0], requires_grad=True)
    with pytest.raises(RuntimeError, match="derivative for linalg.ldl_factor_ex is not "
                                           "implemented"):
        tl.ldl_factor(a).LD.sum().backward()
    ta = torch.tensor(SPD[0], requires_grad=True)
    with pytest.raises(RuntimeError, match="derivative for aten::linalg_ldl_factor_ex"):
        torch.linalg.ldl_factor(ta).LD.sum().backward()
    LD, piv = tl.ldl_factor(tg.tensor(SPD[0]))
    b = tg.tensor(RHS[0], requires_grad=True)
    with pytest.raises(RuntimeError, match="derivative for linalg.ldl_solve is not implemented"):
        tl.ldl_solve(LD, piv, b).sum().backward()


# ---- matrix_exp ---------------------------------------------------------------------------------
MIXED_NORMS = np.stack([0.01 * MAT, MAT, 6 * MAT])           # 0, a few and many squarings


@pytest.mark.parametrize("a", [MIXED_NORMS, SQUARE[0] * 0.3, np.zeros((2, 2))],
                         ids=["mixed_norms", "small", "zero"])
def test_matrix_exp(a):
    _run(lambda L, x: L.matrix_exp(x), [a], rtol=1e-9, atol=1e-9)


def test_matrix_exp_legacy_dtypes_and_errors():
    x = tg.tensor(MIXED_NORMS.astype(np.float32))
    for out in (tg.matrix_exp(x), x.matrix_exp()):
        assert out.dtype == tg.float32
        assert_close(out, torch.matrix_exp(torch.tensor(MIXED_NORMS.astype(np.float32))),
                     rtol=1e-4, atol=1e-3)
    rot = tl.matrix_exp(tg.tensor([[0.0, np.pi / 3], [-np.pi / 3, 0.0]]))
    assert_close(rot, [[0.5, np.sqrt(3) / 2], [-np.sqrt(3) / 2, 0.5]], atol=1e-14)
    with pytest.raises(RuntimeError, match="square matrices, but they are 2 by 3"):
        tl.matrix_exp(tg.ones(2, 3))
    with pytest.raises(RuntimeError, match="Expected a floating point"):
        tl.matrix_exp(tg.ones(2, 2, dtype=tg.int64))


def test_matrix_exp_backward_is_the_block_exponential():
    a = tg.tensor(MAT, requires_grad=True)
    g = RNG.standard_normal((3, 3))
    (grad,) = tg.autograd.grad(tl.matrix_exp(a), a, tg.tensor(g))
    block = np.block([[MAT.T, g], [np.zeros((3, 3)), MAT.T]])
    expected = torch.linalg.matrix_exp(torch.tensor(block))[:3, 3:]
    assert_close(grad, expected, rtol=1e-10, atol=1e-12)
    x = tg.tensor(SQUARE * 0.5, requires_grad=True)
    assert tg.autograd.gradgradcheck(tl.matrix_exp, (x,))


# ---- householder_product, geqrf, orgqr, ormqr ---------------------------------------------------
H = RNG.standard_normal((2, 4, 3))
TAU = RNG.uniform(0.2, 1.5, (2, 3))


@pytest.mark.parametrize("k", [3, 2, 0])
def test_householder_product(k):
    _run(lambda L, h, t: L.householder_product(h, t), [H, TAU[:, :k]])


def test_householder_product_errors():
    with pytest.raises(RuntimeError, match=r"input.shape\[-2\] must be greater than or equal"):
        tl.householder_product(tg.ones(3, 4), tg.ones(2))
    with pytest.raises(RuntimeError, match=r"input.shape\[-1\] must be greater than or equal"):
        tl.householder_product(tg.ones(4, 3), tg.ones(4))
    with pytest.raises(RuntimeError, match="batch dimensions of tau"):
        tl.householder_product(tg.ones(2, 4, 3), tg.ones(3, 2))
    with pytest.raises(RuntimeError, match="one dimension less"):
        tl.householder_product(tg.ones(2, 4, 3), tg.ones(2))


def test_geqrf_orgqr_give_qr():
    a, tau = tg.geqrf(tg.tensor(TALL))
    ta, ttau = torch.geqrf(torch.tensor(TALL))
    assert_close(a, ta, atol=1e-12)
    assert_close(tau, ttau, atol=1e-12)
    q = tg.orgqr(a, tau)
    assert_close(q @ a.triu()[..., :3, :], TALL, atol=1e-12)
    assert_close(tg.tensor(TALL).geqrf().tau, ttau, atol=1e-12)
    with pytest.raises(RuntimeError, match="derivative for geqrf is not implemented"):
        tg.geqrf(tg.tensor(TALL, requires_grad=True)).a.sum().backward()


@pytest.mark.parametrize("left", [True, False])
@pytest.mark.parametrize("transpose", [False, True])
def test_ormqr(left, transpose):
    other = RNG.standard_normal((2, 4, 2) if left else (2, 2, 4))
    check_fn(lambda m, h, t, o: m.ormqr(h, t, o, left, transpose), [H, TAU, other])
    assert_close(tg.tensor(H).ormqr(tg.tensor(TAU), tg.tensor(other), left, transpose),
                 torch.ormqr(torch.tensor(H), torch.tensor(TAU), torch.tensor(other), left,
                             transpose), atol=1e-12)


# ---- cholesky_ex, inv_ex, solve_ex --------------------------------------------------------------
NOT_PD = np.stack([np.eye(2), [[1.0, 2.0], [2.0, 4.0]], [[4.0, 2.0], [2.0, -4.0]]])


def test_ex_variants_values_and_gradients():
    _run(lambda L, a: L.cholesky_ex(a @ a.mT + 3 * _eye(L)).L, [SQUARE])
    _run(lambda L, a: L.cholesky_ex(a @ a.mT + 3 * _eye(L), upper=True)[0], [SQUARE])
    _run(lambda L, a: L.inv_ex(a + 3 * _eye(L)).inverse, [SQUARE])
    _run(lambda L, a, b: L.solve_ex(a + 3 * _eye(L), b).result, [SQUARE, RHS])
    _run(lambda L, a, b: L.solve_ex(a + 3 * _eye(L), b[..., 0]).result, [SQUARE, RHS])
    _run(lambda L, a, b: L.solve_ex(a + 3 * _eye(L), b.mT, left=False)[0], [SQUARE, RHS])
    info = tl.inv_ex(tg.tensor(SQUARE + 3 * np.eye(3))).info
    assert info.dtype == tg.int32 and info.tolist() == [0, 0]


def _eye(L):
    return tg.eye(3, dtype=tg.float64) if L is tl else torch.eye(3, dtype=torch.float64)


def test_ex_variants_info_codes():
    chol, ref = tl.cholesky_ex(tg.tensor(NOT_PD)), torch.linalg.cholesky_ex(torch.tensor(NOT_PD))
    assert_close(chol.info, ref.info)
    assert chol.info.tolist() == [0, 2, 2]
    assert_close(chol.L, ref.L)                               # LAPACK's partial factors
    inv, ref = tl.inv_ex(tg.tensor(NOT_PD)), torch.linalg.inv_ex(torch.tensor(NOT_PD))
    assert_close(inv.info, ref.info)
    assert_close(inv.inverse[0], np.eye(2))
    assert np.isnan(inv.inverse[1].numpy()).all()               # PyTorch: LAPACK's inf / NaN
    b = np.ones((3, 2, 1))
    sol, ref = tl.solve_ex(tg.tensor(NOT_PD), tg.tensor(b)), torch.linalg.solve_ex(
        torch.tensor(NOT_PD), torch.tensor(b))
    assert_close(sol.info, ref.info)
    assert_close(sol.result[2], ref.result[2], atol=1e-12)


def test_ex_variants_check_errors():
    with pytest.raises(tl.LinAlgError, match=r"\(Batch element 1\): The factorization could not "
                                             r"be completed .* leading minor of order 2"):
        tl.cholesky_ex(tg.tensor(NOT_PD), check_errors=True)
    with pytest.raises(tl.LinAlgError, match=r"\(Batch element 1\): The diagonal element 2 is "
                                             "zero"):
        tl.inv_ex(tg.tensor(NOT_PD), check_errors=True)
    with pytest.raises(tl.LinAlgError, match="input matrix is singular"):
        tl.solve_ex(tg.tensor(NOT_PD), tg.ones(3, 2, 1, dtype=tg.float64), check_errors=True)
    with pytest.raises(torch.linalg.LinAlgError):
        torch.linalg.inv_ex(torch.tensor(NOT_PD), check_errors=True)
    with pytest.raises(RuntimeError, match="floating"):
        tl.inv_ex(tg.ones(2, 2, dtype=tg.int64))
    with pytest.raises(NotImplementedError, match="cholesky_ex: not implemented for .*float16"):
        tl.cholesky_ex(tg.eye(2, dtype=tg.float16))


# ---- complex-only names, the namespace ----------------------------------------------------------
def test_eig_and_eigvals_say_no_complex():
    for fn in (tl.eig, tl.eigvals):
        with pytest.raises(NotImplementedError, match="no complex dtypes.*eigh"):
            fn(tg.eye(2))


def test_linalg_has_every_torch_linalg_function():
    names = [n for n in dir(torch.linalg) if not n.startswith("_")
             and callable(getattr(torch.linalg, n))]
    assert [n for n in names if not hasattr(tl, n)] == []
    assert sorted(set(tl.__all__) - set(dir(tl))) == []


# ---- legacy svd, qr, pinverse, norms ------------------------------------------------------------
def _usv(usv):
    u, s, v = usv
    k = s.shape[-1]
    u, v = u[..., :k], v[..., :k]
    return s, u * u, v * v, (u * s.unsqueeze(-2)) @ v.mT


@pytest.mark.parametrize("a", [TALL, WIDE, MAT], ids=["tall", "wide", "square"])
def test_legacy_svd(a):
    check_fn(lambda m, x: _usv(m.svd(x)), [a])
    check_fn(lambda m, x: _usv(m.svd(x, some=False)), [a], gradcheck=False)
    U, S, V = tg.svd(tg.tensor(a), some=False)
    tU, tS, tV = torch.svd(torch.tensor(a), some=False)
    assert U.shape == tU.shape and V.shape == tV.shape and type(tg.svd(tg.tensor(a))).__name__ \
        == "svd"
    U, S, V = tg.tensor(a).svd(compute_uv=False)
    tU, tS, tV = torch.svd(torch.tensor(a), compute_uv=False)
    assert U.shape == tU.shape and V.shape == tV.shape
    assert not U.numpy().any() and not V.numpy().any()
    check_fn(lambda m, x: m.svd(x, compute_uv=False)[1], [a])


@pytest.mark.parametrize("some", [True, False])
def test_legacy_qr(some):
    check_fn(lambda m, x: m.qr(x, some=some), [TALL if some else SQUARE])
    Q, R = tg.tensor(TALL).qr(some=some)
    assert tuple(Q.shape) == ((2, 4, 3) if some else (2, 4, 4))
    assert_close(Q @ R, TALL, atol=1e-12)


def test_pinverse_and_norms():
    check_fn(lambda m, x: m.pinverse(x), [TALL])
    # a singular value cut by rcond: both libraries give the constant-rank derivative (Golub &
    # Pereyra), which is not the truncated map's, so no finite differences here
    check_fn(lambda m, x: m.pinverse(x, rcond=0.3), [MAT], gradcheck=False)
    assert_close(tg.tensor(WIDE).pinverse(), torch.tensor(WIDE).pinverse(), atol=1e-12)
    check_fn(lambda m, x: m.nuclear_norm(x), [TALL])
    check_fn(lambda m, x: m.nuclear_norm(x, True), [MAT])                # the keepdim overload
    check_fn(lambda m, x: m.nuclear_norm(x, (0, 2), keepdim=True), [TALL])
    check_fn(lambda m, x: m.frobenius_norm(x, (0, 2)), [TALL])
    check_fn(lambda m, x: m.frobenius_norm(x, 1, True), [TALL])
    with pytest.raises(TypeError):
        tg.frobenius_norm(tg.tensor(MAT))
    with pytest.raises(TypeError):
        torch.frobenius_norm(torch.tensor(MAT))
    with pytest.raises(RuntimeError, match="at most 2 dimensions"):
        tg.frobenius_norm(tg.tensor(TALL), (0, 1, 2))


# ---- triangular_solve ---------------------------------------------------------------------------
@pytest.mark.parametrize("upper", [True, False])
@pytest.mark.parametrize("transpose", [False, True])
@pytest.mark.parametrize("unitriangular", [False, True])
def test_triangular_solve(upper, transpose, unitriangular):
    a = SQUARE + 3 * np.eye(3)

    def fn(m, b, A):
        return m.triangular_solve(b, A, upper, transpose, unitriangular)

    check_fn(fn, [RHS, a])
    check_fn(fn, [RNG.standard_normal((2, 1, 3, 2)), a[0]], gradcheck=False)   # batch broadcast


def test_triangular_solve_shapes_and_errors():
    b, A = tg.tensor(RNG.standard_normal((2, 1, 3, 2))), tg.tensor(RNG.standard_normal((4, 3, 3)))
    x, clone = tg.triangular_solve(b, A)
    assert tuple(x.shape) == (2, 4, 3, 2) and tuple(clone.shape) == (2, 4, 3, 3)
    assert type(tg.triangular_solve(b, A)).__name__ == "triangular_solve"
    x2, _ = b.triangular_solve(A, upper=False)
    assert_close(A.tril() @ x2, b.expand(2, 4, 3, 2), atol=1e-10)
    with pytest.raises(RuntimeError, match="each A matrix is 4 by 4 but each b matrix is 3 by 2"):
        tg.triangular_solve(tg.ones(3, 2), tg.ones(4, 4))


# ---- svd_lowrank, pca_lowrank -------------------------------------------------------------------
LOW_RANK = RNG.standard_normal((2, 12, 3)) @ RNG.standard_normal((2, 3, 8))     # rank 3


@pytest.mark.parametrize("a", [LOW_RANK, LOW_RANK.transpose(0, 2, 1), LOW_RANK[0]],
                         ids=["tall", "wide", "single"])
def test_svd_lowrank_reconstructs(a):
    tg.manual_seed(0)
    U, S, V = tg.svd_lowrank(tg.tensor(a), q=5)
    tU, tS, tV = torch.svd_lowrank(torch.tensor(a), q=5)
    assert U.shape == tU.shape and S.shape == tS.shape and V.shape == tV.shape
    assert_close((U * S.unsqueeze(-2)) @ V.mT, a, atol=1e-10, what="U S V^T")
    assert_close(S[..., :3], tS[..., :3], rtol=1e-9, what="the rank-3 singular values")
    assert_close(U.mT @ U, np.broadcast_to(np.eye(5), U.shape[:-2] + (5, 5)), atol=1e-10)


def test_svd_lowrank_with_mean_and_gradient():
    tg.manual_seed(1)
    mean = RNG.standard_normal((1, 8))
    U, S, V = tg.svd_lowrank(tg.tensor(LOW_RANK[0] + mean), q=5, M=tg.tensor(mean))
    assert_close((U * S) @ V.mT, LOW_RANK[0], atol=1e-10)
    x = tg.tensor(LOW_RANK[0], requires_grad=True)
    tg.manual_seed(2)
    tg.svd_lowrank(x, q=3)[1].sum().backward()
    u, s, vh = np.linalg.svd(LOW_RANK[0], full_matrices=False)
    assert_close(x.grad, u[:, :3] @ vh[:3], atol=1e-8, what="d(sum of top-3 S)/dA")


def test_pca_lowrank():
    tg.manual_seed(3)
    data = LOW_RANK[0] + 5.0                                     # not centred
    U, S, V = tg.pca_lowrank(tg.tensor(data), q=4)
    centred = data - data.mean(0)
    variances = np.linalg.eigvalsh(centred.T @ centred / 11)[::-1][:3]
    assert_close((S ** 2 / 11)[:3], variances, rtol=1e-9)
    assert_close((U * S) @ V.mT, centred, atol=1e-10)
    tU, tS, tV = torch.pca_lowrank(torch.tensor(data))
    U, S, V = tg.pca_lowrank(tg.tensor(data))                    # q defaults to min(6, m, n)
    assert U.shape == tU.shape and V.shape == tV.shape
    U, S, V = tg.pca_lowrank(tg.tensor(centred), q=3, center=False)
    assert_close(S, np.sqrt(variances * 11), rtol=1e-9)
    with pytest.raises(ValueError, match=r"q\(=9\) must be non-negative integer and not greater "
                                         r"than min\(m, n\)=8"):
        tg.pca_lowrank(tg.tensor(data), q=9)


# ---- removed names, Tensor methods --------------------------------------------------------------
@pytest.mark.parametrize("name", ["lstsq", "eig", "symeig", "matrix_rank", "solve"])
def test_removed_names_raise_torchs_error(name):
    a = np.eye(3)
    args = (a, a) if name in ("lstsq", "solve") else (a,)
    with pytest.raises(RuntimeError) as theirs:
        getattr(torch, name)(*(torch.tensor(x) for x in args))
    with pytest.raises(RuntimeError) as mine:
        getattr(tg, name)(*(tg.tensor(x) for x in args))
    assert str(mine.value) == str(theirs.value)
    if name in ("lstsq", "eig", "symeig"):
        with pytest.raises(RuntimeError, match="deprecated since version 1.9"):
            getattr(tg.tensor(a), name)(*(tg.tensor(x) for x in args[1:]))


def test_tensor_methods_exist_where_torch_has_them():
    names = ["pinverse", "matrix_exp", "svd", "qr", "lu", "lu_solve", "triangular_solve",
             "cholesky", "cholesky_solve", "cholesky_inverse", "geqrf", "orgqr", "ormqr",
             "lstsq", "eig", "symeig", "det", "logdet", "slogdet", "inverse", "matrix_power"]
    assert [n for n in names if hasattr(torch.Tensor, n) and not hasattr(tg.Tensor, n)] == []
    a = tg.tensor(SPD[0])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = torch.tensor(SPD[0]).qr()[1]
    assert_close(a.qr()[1], expected, atol=1e-12)
    assert_close(a.pinverse() @ a, np.eye(3), atol=1e-12)
    h, tau = a.geqrf()
    assert_close(h.orgqr(tau) @ h.triu(), SPD[0], atol=1e-12)
