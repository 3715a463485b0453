"""Triangular solves and the Cholesky factorisation (batched) against PyTorch in float64:
values, first and second gradients (the inputs pass through tril / triu, so both libraries
differentiate the same triangle), gradchecks; errors name the op."""
import numpy as np
import pytest
from helpers import TORCH, check_op

import tinygen as tg
from tinygen.ops.decomp import solve

RNG = np.random.default_rng(0)
M = RNG.standard_normal((2, 3, 3))
L = np.linalg.cholesky(M @ M.transpose(0, 2, 1) + 3 * np.eye(3))
B = RNG.standard_normal((2, 3, 2))

CASES = {
    "cholesky": (lambda m, a: m.cholesky(a @ a.mT + 3 * _eye(m)), [M]),
    "cholesky_upper": (lambda m, a: m.cholesky(a @ a.mT + 3 * _eye(m), upper=True), [M]),
    "solve_lower": (lambda m, low, b: _solve(m)(low.tril(), b, upper=False), [L, B]),
    "solve_upper": (lambda m, low, b: _solve(m)(low.mT.triu(), b, upper=True), [L, B]),
    "solve_right": (lambda m, low, b: _solve(m)(low.tril(), b.mT, upper=False, left=False), [L, B]),
    "solve_unit": (lambda m, low, b: _solve(m)(low.tril(), b, upper=False, unitriangular=True),
                   [L, B]),
    "solve_broadcast": (lambda m, low, b: _solve(m)(low[0].tril(), b, upper=False), [L, B]),
    "cholesky_solve": (lambda m, low, b: m.cholesky_solve(b, low.tril()), [L, B]),
    "cholesky_inverse": (lambda m, low: m.cholesky_inverse(low[0].tril()), [L]),
}


def _eye(m):
    return m.eye(3, dtype=m.float64)


def _solve(m):
    return m.linalg.solve_triangular if m is TORCH else tg.solve_triangular


@pytest.mark.filterwarnings("ignore:torch.cholesky is deprecated")
@pytest.mark.parametrize("name", sorted(CASES))
def test_decompositions(name):
    fn, inputs = CASES[name]
    check_op(lambda *a: fn(tg, *a), (lambda *a: fn(TORCH, *a)) if TORCH else None, inputs,
             gradcheck_max_numel=20)


def test_errors_name_the_op():
    with pytest.raises(RuntimeError, match="cholesky: the input of shape"):
        tg.cholesky(tg.tensor([[1.0, 2.0], [2.0, 1.0]]))
    with pytest.raises(RuntimeError, match="cholesky: expected square matrices"):
        tg.cholesky(tg.ones(2, 3))
    with pytest.raises(RuntimeError, match="solve_triangular: expected B"):
        tg.solve_triangular(tg.eye(3), tg.ones(2, 2), upper=False)


A_GENERAL = RNG.standard_normal((2, 3, 3)) + 2 * np.eye(3)      # well conditioned

LINALG = {
    "inverse": (lambda m, a: m.inverse(a), [A_GENERAL]),
    "inverse_method": (lambda m, a: a.inverse(), [A_GENERAL[0]]),
    "det": (lambda m, a: m.det(a), [A_GENERAL]),
    "slogdet": (lambda m, a: m.slogdet(a)[1], [A_GENERAL]),     # the sign: no gradient
    "logdet": (lambda m, a: m.logdet(a @ a.mT), [A_GENERAL]),
    "solve": (lambda m, a, b: m.linalg.solve(a, b) if m is TORCH else solve(a, b),
              [A_GENERAL, B]),
    "matrix_power_negative": (lambda m, a: m.linalg.matrix_power(a, -2) if m is TORCH else
                              tg.matrix_power(a, -2), [A_GENERAL]),
}


@pytest.mark.parametrize("name", sorted(LINALG))
def test_inverse_and_determinants(name):
    fn, inputs = LINALG[name]
    check_op(lambda *a: fn(tg, *a), (lambda *a: fn(TORCH, *a)) if TORCH else None, inputs,
             gradcheck_max_numel=18)


def test_det_gradient_at_exactly_singular_matrices_is_the_cofactor_matrix():
    # rank n - 1 (a zero pivot) and rank n - 2: the cofactors by the SVD, against central
    # differences of the determinant (a polynomial: smooth there). torch gives 0 at the first
    # (not the derivative: the (0, 0) cofactor is 4); a second derivative there is refused
    rank2 = np.array([[1.0, 2, 3], [2, 4, 6], [1, 0, 1]])
    batch = np.stack([rank2, np.diag([1.0, 0, 0]), A_GENERAL[0]])
    a = tg.tensor(batch, requires_grad=True)
    (g,) = tg.autograd.grad(tg.det(a).sum(), a)
    eps, fd = 1e-6, np.zeros_like(batch)
    for idx in np.ndindex(*batch.shape):
        step = np.zeros_like(batch)
        step[idx] = eps
        fd[idx] = (np.linalg.det(batch + step) - np.linalg.det(batch - step))[idx[0]] / (2 * eps)
    np.testing.assert_allclose(g.numpy(), fd, atol=1e-8)
    assert g.numpy()[0, 0, 0] == pytest.approx(4.0)
    with pytest.raises(RuntimeError, match="second derivative at a singular matrix"):
        tg.autograd.grad(tg.det(a).sum(), a, create_graph=True)


def test_solve_vector_right_and_errors():
    a, b = tg.tensor(A_GENERAL[0]), tg.tensor(B[0, :, 0])
    np.testing.assert_allclose((a @ solve(a, b)).numpy(), b.numpy(), atol=1e-12)
    x = solve(a, tg.tensor(B[0].T), left=False)                       # X A = B
    np.testing.assert_allclose((x @ a).numpy(), B[0].T, atol=1e-12)
    sign, logabs = tg.slogdet(tg.tensor(A_GENERAL))
    ref = np.linalg.slogdet(A_GENERAL)
    np.testing.assert_array_equal(sign.numpy(), ref[0])
    np.testing.assert_allclose(logabs.numpy(), ref[1])
    with pytest.raises(RuntimeError, match="inverse: the input of shape"):
        tg.inverse(tg.zeros(2, 2))
