"""tinygen.linalg against torch.linalg in float64: values, first and second gradients (check_op),
and finite-difference gradchecks on the small cases. Without PyTorch only the gradchecks run.

Eigenvectors and singular vectors are unique up to sign, so the eigh / svd cases compare
quantities that do not depend on it (eigenvalues, V * V, U diag(S) Vh, ...), on random matrices
whose spectra are well separated."""
import subprocess
import sys

import numpy as np
import pytest
from helpers import TORCH, assert_close, check_op, requires_torch

import tinygen as tg
import tinygen.linalg as tl

RNG = np.random.default_rng(7)
SQUARE = RNG.standard_normal((2, 3, 3)) + 2 * np.eye(3)          # well conditioned
TALL = RNG.standard_normal((2, 4, 3))
WIDE = RNG.standard_normal((2, 3, 4))
MAT = RNG.standard_normal((3, 3))
RHS = RNG.standard_normal((2, 3, 2))
VEC = RNG.standard_normal((2, 3))
CUBE = RNG.standard_normal((2, 3, 4))
FOUR = RNG.standard_normal((4, 4)) + 3 * np.eye(4)
INF = float("inf")


def _sym(a):
    return a + a.mT


def _run(fn, inputs, **kw):
    """check_op of fn(L, *tensors) with L = tinygen.linalg and torch.linalg."""
    torch_fn = (lambda *a: fn(TORCH.linalg, *a)) if TORCH is not None else None
    return check_op(lambda *a: fn(tl, *a), torch_fn, inputs, **kw)


# ---- norms --------------------------------------------------------------------------------------
VECTOR_NORMS = [(2, None, False), (1, 1, False), (INF, (0, 2), True), (-INF, -1, False),
                (0, None, False), (3.5, (1, 2), False), (-1.5, 0, True)]


@pytest.mark.parametrize("ord,dim,keepdim", VECTOR_NORMS, ids=str)
def test_vector_norm(ord, dim, keepdim):
    _run(lambda L, x: L.vector_norm(x, ord, dim, keepdim), [CUBE])


@pytest.mark.parametrize("ord", ["fro", "nuc", INF, -INF, 1, -1, 2, -2], ids=str)
def test_matrix_norm(ord):
    _run(lambda L, a: L.matrix_norm(a, ord), [CUBE])
    _run(lambda L, a: L.matrix_norm(a, ord, dim=(2, 0), keepdim=True), [CUBE], gradcheck=False)
    _run(lambda L, a: L.matrix_norm(a, ord), [MAT], gradcheck=False)


NORMS = {
    "all": (lambda L, x: L.norm(x), [CUBE]),
    "all_keepdim": (lambda L, x: L.norm(x, keepdim=True), [CUBE]),
    "matrix_fro": (lambda L, x: L.norm(x, "fro"), [MAT]),
    "matrix_inf": (lambda L, x: L.norm(x, INF), [MAT]),
    "vector_inf": (lambda L, x: L.norm(x[0], INF), [MAT]),
    "vector_dim": (lambda L, x: L.norm(x, 3, dim=1), [CUBE]),
    "matrix_dim": (lambda L, x: L.norm(x, "nuc", dim=(0, 2)), [CUBE]),
    "cond": (lambda L, a: L.cond(a), [SQUARE]),
    "cond_wide": (lambda L, a: L.cond(a, -2), [WIDE]),
    # torch.linalg.cond has no gradient for these orders (an in-place op inside); finite
    # differences check tinygen's
    "cond_fro": (lambda L, a: L.cond(a, "fro"), [SQUARE], {"grad": False}),
    "cond_1": (lambda L, a: L.cond(a, 1), [SQUARE], {"grad": False}),
}


@pytest.mark.parametrize("name", sorted(NORMS))
def test_norm_dispatch_and_cond(name):
    fn, inputs, *kw = NORMS[name]
    _run(fn, inputs, **(kw[0] if kw else {}))


def test_vector_norm_dtype():
    x = tg.tensor(CUBE.astype(np.float32))
    assert tl.vector_norm(x, dtype=tg.float64).dtype == tg.float64
    with pytest.raises(RuntimeError, match="without narrowing"):
        tl.vector_norm(tg.tensor(CUBE), dtype=tg.float32)


# ---- solvers and products -----------------------------------------------------------------------
SOLVERS = {
    "det": (lambda L, a: L.det(a), [SQUARE]),
    "det_single": (lambda L, a: L.det(a), [SQUARE[0]]),
    "slogdet": (lambda L, a: L.slogdet(a).logabsdet, [SQUARE]),    # sign: no gradient
    "inv": (lambda L, a: L.inv(a), [SQUARE]),
    "solve": (lambda L, a, b: L.solve(a, b), [SQUARE, RHS]),
    "solve_vector": (lambda L, a, b: L.solve(a, b), [SQUARE, VEC]),
    "solve_right": (lambda L, a, b: L.solve(a, b.mT, left=False), [SQUARE, RHS]),
    "solve_broadcast": (lambda L, a, b: L.solve(a, b), [SQUARE, RHS[0]]),
    "solve_triangular": (lambda L, a, b: L.solve_triangular(a.triu(), b, upper=True),
                         [SQUARE, RHS]),
    "cholesky": (lambda L, a: L.cholesky(a @ a.mT), [SQUARE]),
    "cholesky_upper": (lambda L, a: L.cholesky(a @ a.mT, upper=True), [SQUARE]),
}


@pytest.mark.parametrize("name", sorted(SOLVERS))
def test_solvers(name):
    fn, inputs = SOLVERS[name]
    _run(fn, inputs, gradcheck_max_numel=18)


PRODUCTS = {
    "cross": (lambda L, a, b: L.cross(a, b), [VEC, VEC[::-1].copy()]),
    "cross_broadcast": (lambda L, a, b: L.cross(a, b), [VEC, VEC[:1]]),
    "matmul": (lambda L, a, b: L.matmul(a, b), [SQUARE, RHS]),
    "vecdot": (lambda L, a, b: L.vecdot(a, b), [CUBE, CUBE[0, 0]]),
    "vecdot_dim": (lambda L, a, b: L.vecdot(a, b, dim=1), [CUBE, CUBE[1]]),
    "multi_dot": (lambda L, a, b, c: L.multi_dot([a, b, c, a.mT]),
                  [MAT, TALL[0].T.copy(), TALL[1]]),
    "multi_dot_vectors": (lambda L, v, a, b: L.multi_dot([v, a, b, v]),
                          [MAT[0], MAT, MAT.T.copy()]),
    "multi_dot_two": (lambda L, a, b: L.multi_dot([a, b]), [MAT, TALL[0].T.copy()]),
    "matrix_power": (lambda L, a: L.matrix_power(a, 3), [SQUARE]),
    "matrix_power_zero": (lambda L, a: L.matrix_power(a, 0), [SQUARE]),
    "matrix_power_neg": (lambda L, a: L.matrix_power(a, -2), [SQUARE]),
    "diagonal": (lambda L, a: L.diagonal(a, offset=1), [CUBE]),
    "diagonal_dims": (lambda L, a: L.diagonal(a, offset=-1, dim1=0, dim2=2), [CUBE]),
    "vander": (lambda L, x: L.vander(x), [VEC]),
    "vander_n": (lambda L, x: L.vander(x, N=4), [VEC[0]]),
    "matrix_exp": (lambda L, a: L.matrix_exp(a), [SQUARE * 0.5]),
    "matrix_exp_squared": (lambda L, a: L.matrix_exp(a), [3 * MAT]),     # 1-norm > 5.4
    "tensorinv": (lambda L, a: L.tensorinv(a, ind=1), [FOUR.reshape(4, 2, 2)]),
    "tensorsolve": (lambda L, a, b: L.tensorsolve(a, b), [FOUR.reshape(2, 2, 4), MAT[:2, :2]]),
    "tensorsolve_dims": (lambda L, a, b: L.tensorsolve(a, b, dims=(0,)),
                         [FOUR.reshape(2, 2, 2, 2), MAT[:2, :2]]),
}


@pytest.mark.parametrize("name", sorted(PRODUCTS))
def test_products(name):
    fn, inputs = PRODUCTS[name]
    _run(fn, inputs)


def test_multi_dot_order_and_errors():
    a, b, c = tg.ones(10, 2), tg.ones(2, 10), tg.ones(10, 3)
    assert tl._chain_order([10, 2, 10, 3])[0][2] == 0           # a @ (b @ c): 2*10*3 + 10*2*3
    np.testing.assert_allclose(tl.multi_dot([a, b, c]).numpy(), np.full((10, 3), 20.0))
    with pytest.raises(RuntimeError, match="expected at least 2 tensors but got 1"):
        tl.multi_dot([a])
    with pytest.raises(RuntimeError, match=r"tensors 0 and 1 with shapes \[10, 2\] and \[10, 3\]"):
        tl.multi_dot([a, c])
    with pytest.raises(RuntimeError, match="the first tensor must be 1D or 2D but got 3D"):
        tl.multi_dot([tg.ones(2, 2, 2), a])


# ---- decompositions -----------------------------------------------------------------------------
def _svd_invariants(usv):
    """What does not depend on the singular vectors' signs: S, U * U, Vh * Vh, U diag(S) Vh."""
    u, s, vh = usv
    k = s.shape[-1]
    u, vh = u[..., :k], vh[..., :k, :]                 # full_matrices: the rest is arbitrary
    return s, u * u, vh * vh, (u * s.unsqueeze(-2)) @ vh


def _eigh_invariants(wv):
    w, v = wv
    return w, v * v, (v * (w * w).unsqueeze(-2)) @ v.mT


DECOMPOSITIONS = {
    "qr_tall": (lambda L, a: L.qr(a), [TALL]),
    "qr_wide": (lambda L, a: L.qr(a), [WIDE]),
    "qr_square": (lambda L, a: L.qr(a), [SQUARE[0]]),
    "qr_complete_square": (lambda L, a: L.qr(a, mode="complete"), [SQUARE]),
    "qr_complete_wide": (lambda L, a: L.qr(a, mode="complete"), [WIDE]),
    "eigh": (lambda L, a: _eigh_invariants(L.eigh(_sym(a))), [SQUARE]),
    "eigh_single": (lambda L, a: _eigh_invariants(L.eigh(_sym(a))), [MAT]),
    "eigh_upper": (lambda L, a: _eigh_invariants(L.eigh(_sym(a), UPLO="U")), [SQUARE]),
    "eigvalsh": (lambda L, a: L.eigvalsh(_sym(a)), [SQUARE]),
    "eigvalsh_upper": (lambda L, a: L.eigvalsh(_sym(a), UPLO="U"), [MAT]),
    "svd_tall": (lambda L, a: _svd_invariants(L.svd(a, full_matrices=False)), [TALL]),
    "svd_wide": (lambda L, a: _svd_invariants(L.svd(a, full_matrices=False)), [WIDE]),
    "svd_square": (lambda L, a: _svd_invariants(L.svd(a)), [MAT]),
    "svd_full_tall": (lambda L, a: _svd_invariants(L.svd(a)), [TALL]),
    "svd_full_wide": (lambda L, a: _svd_invariants(L.svd(a)), [WIDE[0]]),
    "svd_u_only": (lambda L, a: L.svd(a, full_matrices=False).U ** 2, [TALL]),
    "svd_vh_only": (lambda L, a: L.svd(a, full_matrices=False).Vh ** 2, [WIDE]),
    "svdvals_tall": (lambda L, a: L.svdvals(a), [TALL]),
    "svdvals_wide": (lambda L, a: L.svdvals(a), [WIDE[0]]),
    "pinv_tall": (lambda L, a: L.pinv(a), [TALL]),
    "pinv_wide": (lambda L, a: L.pinv(a), [WIDE]),
    "pinv_hermitian": (lambda L, a: L.pinv(_sym(a), hermitian=True), [SQUARE]),
    "pinv_rtol": (lambda L, a: L.pinv(a, rtol=0.05), [MAT]),
    "lstsq_tall": (lambda L, a, b: L.lstsq(a, b).solution, [TALL, RNG.standard_normal((2, 4, 2))]),
    "lstsq_vector": (lambda L, a, b: L.lstsq(a, b).solution, [TALL, RNG.standard_normal((2, 4))]),
    "lstsq_wide": (lambda L, a, b: L.lstsq(a, b).solution, [WIDE, RHS]),
    "lstsq_gelsd": (lambda L, a, b: L.lstsq(a, b, driver="gelsd")[:2],
                    [TALL[0], RNG.standard_normal((4, 2))]),
}


@pytest.mark.parametrize("name", sorted(DECOMPOSITIONS))
def test_decompositions(name):
    fn, inputs = DECOMPOSITIONS[name]
    _run(fn, inputs)


LSTSQ_DRIVERS = [None, "gelsy", "gelsd", "gelss", "gels"]


@pytest.mark.parametrize("driver", LSTSQ_DRIVERS)
@pytest.mark.parametrize("shapes", [((2, 4, 3), (2, 4, 2)), ((2, 4, 3), (2, 4)), ((3, 4), (3, 2)),
                                    ((1, 5, 2), (2, 5, 3))], ids=str)
def test_lstsq_outputs(driver, shapes):
    torch = requires_torch()
    a, b = RNG.standard_normal(shapes[0]), RNG.standard_normal(shapes[1])
    ours = tl.lstsq(tg.tensor(a), tg.tensor(b), driver=driver)
    theirs = torch.linalg.lstsq(torch.tensor(a), torch.tensor(b), driver=driver)
    for name in ours._fields:
        assert_close(getattr(ours, name), getattr(theirs, name), 1e-8, 1e-10, name)


def test_lstsq_rank_deficient():
    torch = requires_torch()
    a = RNG.standard_normal((5, 2)) @ RNG.standard_normal((2, 3))       # rank 2
    b = RNG.standard_normal((5, 2))
    for driver in ("gelsy", "gelsd"):
        ours = tl.lstsq(tg.tensor(a), tg.tensor(b), driver=driver)
        theirs = torch.linalg.lstsq(torch.tensor(a), torch.tensor(b), driver=driver)
        for name in ours._fields:
            assert_close(getattr(ours, name), getattr(theirs, name), 1e-7, 1e-9, name)


def test_matrix_rank():
    torch = requires_torch()
    low = RNG.standard_normal((2, 4, 2)) @ RNG.standard_normal((2, 2, 3))   # rank 2
    sym = low[0] @ low[0].T                                                 # (4, 4), rank 2
    cases = [((low,), {}), ((low,), {"atol": 1.0}), ((low,), {"rtol": 0.5}), ((sym,), {}),
             ((sym,), {"hermitian": True}), ((low, 1.0), {}), ((SQUARE,), {})]
    for args, kw in cases:
        ours = tl.matrix_rank(tg.tensor(args[0]), *args[1:], **kw)
        theirs = torch.linalg.matrix_rank(torch.tensor(args[0]), *args[1:], **kw)
        assert ours.dtype == tg.int64
        assert_close(ours, theirs, what=f"{args[0].shape} {kw}")
    atol = np.array([0.1, 100.0])
    assert_close(tl.matrix_rank(tg.tensor(low), atol=tg.tensor(atol)),
                 torch.linalg.matrix_rank(torch.tensor(low), atol=torch.tensor(atol)))
    assert_close(tl.pinv(tg.tensor(low), atol=tg.tensor(atol)),
                 torch.linalg.pinv(torch.tensor(low), atol=torch.tensor(atol)))


def test_qr_modes():
    a = tg.tensor(TALL, requires_grad=True)
    q, r = tl.qr(a, mode="complete")
    assert tuple(q.shape) == (2, 4, 4) and tuple(r.shape) == (2, 4, 3)
    np.testing.assert_allclose((q @ r).detach().numpy(), TALL, atol=1e-12)
    with pytest.raises(RuntimeError, match="not differentiable when mode='complete'"):
        (q.sum() + r.sum()).backward()
    q, r = tl.qr(a, mode="r")
    assert tuple(q.shape) == (0,)
    np.testing.assert_allclose(r.detach().numpy(), tl.qr(a).R.detach().numpy(), atol=1e-12)
    with pytest.raises(RuntimeError, match="mode='r'"):
        r.sum().backward()


def test_repeated_eigenvalues():
    """Exactly equal eigenvalues: where only the eigenvalues matter the gradient is finite (as
    PyTorch's); where the loss reads the eigenvectors PyTorch gives NaN and tinygen leaves the
    ill-defined terms out (0), so the gradient is finite."""
    eye = tg.eye(3, dtype=tg.float64, requires_grad=True)
    w, v = tl.eigh(eye)
    w.sum().backward()
    np.testing.assert_allclose(eye.grad.numpy(), np.eye(3))
    eye.grad = None
    tl.svdvals(eye).sum().backward()
    np.testing.assert_allclose(eye.grad.numpy(), np.eye(3))
    eye.grad = None
    u, s, vh = tl.svd(eye)
    (u @ vh).sum().backward()                                        # torch: NaN
    assert np.isfinite(eye.grad.numpy()).all()


def test_gradients_are_symmetric_for_eigh():
    a = tg.tensor(_sym(tg.tensor(MAT)).numpy(), requires_grad=True)
    w, v = tl.eigh(a)
    ((v ** 3).sum() + (w ** 2).sum()).backward()
    np.testing.assert_allclose(a.grad.numpy(), a.grad.numpy().T, atol=1e-12)


# ---- errors and the namespace -------------------------------------------------------------------
def test_errors_name_the_op_and_shapes():
    with pytest.raises(RuntimeError, match=r"linalg.det: expected square matrices .* \(2, 3\)"):
        tl.det(tg.ones(2, 3))
    with pytest.raises(RuntimeError, match=r"linalg.eigh: expected square matrices"):
        tl.eigh(tg.ones(2, 3))
    with pytest.raises(RuntimeError, match=r"linalg.svd: expected a matrix .* got shape \(3,\)"):
        tl.svd(tg.ones(3))
    with pytest.raises(RuntimeError, match="linalg.qr: expected a floating-point tensor"):
        tl.qr(tg.ones(3, 3, dtype=tg.int64))
    with pytest.raises(RuntimeError, match="unrecognized mode 'x'"):
        tl.qr(tg.ones(3, 3), mode="x")
    with pytest.raises(RuntimeError, match="UPLO"):
        tl.eigh(tg.eye(2), UPLO="X")
    with pytest.raises(RuntimeError, match="linalg.matrix_norm: expected a tensor of matrices"):
        tl.matrix_norm(tg.ones(3))
    with pytest.raises(RuntimeError, match="order 3 not supported"):
        tl.matrix_norm(tg.ones(2, 2), 3)
    with pytest.raises(RuntimeError, match="must be 1D or 2D. Got 3D"):
        tl.norm(tg.ones(2, 2, 2), 2)
    with pytest.raises(TypeError, match="ord must be a number"):
        tl.vector_norm(tg.ones(3), "fro")
    with pytest.raises(RuntimeError, match="empty dim"):
        tl.vector_norm(tg.ones(0, 3), INF)
    with pytest.raises(RuntimeError, match="linalg.lstsq: expected B"):
        tl.lstsq(tg.ones(4, 3), tg.ones(3, 2))
    with pytest.raises(RuntimeError, match=r"linalg.cross: inputs dimension -1 must have length 3, "
                                           r"got shapes \(2, 3\) and \(2, 2\)"):
        tl.cross(tg.ones(2, 3), tg.ones(2, 2))
    with pytest.raises(RuntimeError, match="linalg.cross: inputs must have the same number"):
        tl.cross(tg.ones(2, 3), tg.ones(3))


def test_linalg_errors_are_runtime_errors():
    with pytest.raises(tl.LinAlgError, match="singular"):
        tl.inv(tg.zeros(2, 2))
    with pytest.raises(tl.LinAlgError, match="not positive-definite"):
        tl.cholesky(-tg.eye(2))
    assert issubclass(tl.LinAlgError, RuntimeError)
    sign, logabs = tl.slogdet(tg.tensor(SQUARE * [[1], [-1], [1]]))
    ref = np.linalg.slogdet(SQUARE * [[1], [-1], [1]])
    np.testing.assert_array_equal(sign.numpy(), ref[0])
    np.testing.assert_allclose(logabs.numpy(), ref[1])
    with pytest.raises(NotImplementedError, match="no complex dtypes"):
        tl.eig(tg.eye(2))
    with pytest.raises(AttributeError, match="has no attribute 'nothing'"):
        tl.nothing


def test_empty_and_float32():
    assert tuple(tl.eigh(tg.zeros(0, 0)).eigenvectors.shape) == (0, 0)
    assert tuple(tl.qr(tg.zeros(3, 0)).Q.shape) == (3, 0)
    assert tuple(tl.svdvals(tg.zeros(2, 0, 3)).shape) == (2, 0)
    a = tg.tensor(SQUARE.astype(np.float32))
    for out in (tl.qr(a).Q, tl.eigh(a).eigenvalues, tl.svd(a).S, tl.pinv(a), tl.matrix_exp(a)):
        assert out.dtype == tg.float32


def test_imports_no_torch():
    code = "import sys, tinygen.linalg; assert 'torch' not in sys.modules"
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0


def test_solve_on_the_right_refuses_a_vector_as_torch():
    A = tg.tensor(np.eye(3) * 2)
    with pytest.raises(RuntimeError, match="Incompatible shapes of A and B for the equation XA = B"):
        tg.linalg.solve(A, tg.tensor(np.ones(3)), left=False)
    np.testing.assert_allclose(tg.linalg.solve(A, tg.tensor(np.ones((2, 3))), left=False).numpy(),
                               np.full((2, 3), 0.5))
