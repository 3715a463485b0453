"""Matrix products beyond matmul (mm, bmm, mv, dot, addmm, addbmm, baddbmm, addmv, addr, outer,
inner, tensordot, kron, cross, matrix_power) and the diagonal family (diagonal, diag, diag_embed,
diagflat, trace, fill_diagonal_) against PyTorch in float64: values, first and second gradients,
gradchecks; shape errors name the op."""
import numpy as np
import pytest
from helpers import TORCH, assert_close, check_fn, check_op

import tinygen as tg

PRODUCTS = {
    "mm": (lambda m, a, b: m.mm(a, b), [(2, 3), (3, 4)]),
    "mm_method": (lambda m, a, b: a.mm(b), [(2, 3), (3, 4)]),
    "bmm": (lambda m, a, b: m.bmm(a, b), [(2, 2, 3), (2, 3, 4)]),
    "mv": (lambda m, a, b: m.mv(a, b), [(2, 3), (3,)]),
    "dot": (lambda m, a, b: m.dot(a, b), [(4,), (4,)]),
    "vdot": (lambda m, a, b: a.vdot(b), [(4,), (4,)]),
    "outer": (lambda m, a, b: m.outer(a, b), [(3,), (4,)]),
    "ger": (lambda m, a, b: a.ger(b), [(3,), (2,)]),
    "inner_1d": (lambda m, a, b: m.inner(a, b), [(4,), (4,)]),
    "inner_nd": (lambda m, a, b: m.inner(a, b), [(2, 3), (4, 1, 3)]),
    "kron": (lambda m, a, b: m.kron(a, b), [(2, 3), (2, 2)]),
    "kron_ranks": (lambda m, a, b: m.kron(a, b), [(3,), (2, 2)]),
    "cross": (lambda m, a, b: m.cross(a, b, dim=1), [(2, 3), (2, 3)]),
    "cross_broadcast": (lambda m, a, b: m.cross(a, b, dim=-1), [(4, 3), (1, 3)]),
    "tensordot_int": (lambda m, a, b: m.tensordot(a, b, dims=1), [(2, 3), (3, 4)]),
    "tensordot_pairs": (lambda m, a, b: m.tensordot(a, b, dims=([0, 2], [1, 0])),
                        [(2, 3, 4), (4, 2, 5)]),
    "chain_matmul": (lambda m, a, b: m.chain_matmul(a, b, b.t()), [(2, 3), (3, 3)]),
    "matrix_power": (lambda m, a, b: m.matrix_power(a, 3) + b, [(3, 3), (3, 3)]),
    "matrix_power_5": (lambda m, a, b: a.matrix_power(5) * 0.1 + b, [(2, 2, 2), (2, 2)]),
}


@pytest.mark.filterwarnings("ignore:torch.chain_matmul is deprecated")
@pytest.mark.parametrize("name", sorted(PRODUCTS))
def test_products(name):
    fn, shapes = PRODUCTS[name]
    check_fn(fn, shapes, gradcheck_max_numel=40)


SCALED = {
    "addmm": (lambda m, x, a, b: m.addmm(x, a, b, beta=0.5, alpha=2.0), [(2, 4), (2, 3), (3, 4)]),
    "addmm_broadcast": (lambda m, x, a, b: x.addmm(a, b), [(4,), (2, 3), (3, 4)]),
    "baddbmm": (lambda m, x, a, b: m.baddbmm(x, a, b, beta=-1, alpha=0.5),
                [(2, 2, 4), (2, 2, 3), (2, 3, 4)]),
    "addbmm": (lambda m, x, a, b: m.addbmm(x, a, b, alpha=3), [(2, 4), (3, 2, 3), (3, 3, 4)]),
    "addmv": (lambda m, x, a, b: m.addmv(x, a, b, beta=2), [(2,), (2, 3), (3,)]),
    "addr": (lambda m, x, a, b: m.addr(x, a, b, alpha=-1), [(3, 2), (3,), (2,)]),
}


@pytest.mark.parametrize("name", sorted(SCALED))
def test_scaled_products(name):
    fn, shapes = SCALED[name]
    check_fn(fn, shapes, gradcheck_max_numel=40)


def test_beta_zero_ignores_nan_in_input():
    torch = pytest.importorskip("torch")
    x = np.full((2, 2), np.nan)
    a, b = np.eye(2), np.arange(4.0).reshape(2, 2)
    out = tg.addmm(tg.tensor(x), tg.tensor(a), tg.tensor(b), beta=0)
    assert_close(out, torch.addmm(torch.tensor(x), torch.tensor(a), torch.tensor(b), beta=0))


def test_matrix_power_zero_is_identity():
    out = tg.matrix_power(tg.randn(2, 3, 3), 0)
    assert_close(out, np.broadcast_to(np.eye(3), (2, 3, 3)))


@pytest.mark.parametrize("call, match", [
    (lambda: tg.mm(tg.ones(2, 3, 4), tg.ones(4, 2)), "mm: expected input to be 2-D"),
    (lambda: tg.bmm(tg.ones(2, 3, 4), tg.ones(3, 4, 2)), "bmm: batch sizes differ"),
    (lambda: tg.dot(tg.ones(3), tg.ones(4)), "dot: expected 1-D tensors of the same size"),
    (lambda: tg.outer(tg.ones(3, 1), tg.ones(4)), "outer: expected input to be 1-D"),
    (lambda: tg.cross(tg.ones(2, 4), tg.ones(2, 4)), "cross: no dimension of size 3"),
    (lambda: tg.cross(tg.ones(2, 3), tg.ones(4, 3)), r"cross: input of shape \(2, 3\) and "
                                                      r"other of shape \(4, 3\) do not broadcast"),
    (lambda: tg.inner(tg.ones(2, 3), tg.ones(2, 4)), "inner: the last dims must agree"),
])
def test_shape_errors_name_the_op(call, match):
    with pytest.raises(RuntimeError, match=match):
        call()


DIAGONALS = {
    "diagonal": (lambda m, x: m.diagonal(x), [(3, 4)]),
    "diagonal_offset": (lambda m, x: x.diagonal(offset=1), [(3, 4)]),
    "diagonal_below": (lambda m, x: m.diagonal(x, -1, 0, 1), [(3, 4)]),
    "diagonal_dims": (lambda m, x: m.diagonal(x, 1, dim1=2, dim2=0), [(3, 2, 4)]),
    "diagonal_empty": (lambda m, x: m.diagonal(x, 5), [(3, 4)]),
    "diag_matrix": (lambda m, x: m.diag(x, 1), [(3, 4)]),
    "diag_vector": (lambda m, x: m.diag(x), [(3,)]),
    "diag_vector_offset": (lambda m, x: m.diag(x, -2), [(3,)]),
    "diag_embed": (lambda m, x: m.diag_embed(x), [(2, 3)]),
    "diag_embed_dims": (lambda m, x: m.diag_embed(x, offset=1, dim1=0, dim2=2), [(2, 3)]),
    "diagflat": (lambda m, x: m.diagflat(x, -1), [(2, 2)]),
    "trace": (lambda m, x: m.trace(x), [(3, 4)]),
    "trace_method": (lambda m, x: x.trace(), [(3, 3)]),
}


@pytest.mark.parametrize("name", sorted(DIAGONALS))
def test_diagonals(name):
    fn, shapes = DIAGONALS[name]
    check_fn(fn, shapes)


@pytest.mark.parametrize("shape, wrap", [((3, 4), False), ((5, 2), False), ((5, 2), True),
                                         ((3, 3, 3), False)])
def test_fill_diagonal_(shape, wrap):
    torch = pytest.importorskip("torch")
    data = np.arange(float(np.prod(shape))).reshape(shape)
    ours, ref = tg.tensor(data), torch.tensor(data)
    assert ours.fill_diagonal_(-1.0, wrap=wrap) is ours
    ref.fill_diagonal_(-1.0, wrap=wrap)
    assert_close(ours, ref)


def test_fill_diagonal_in_a_graph():
    check_op(lambda x: (x * 2).fill_diagonal_(0.5), lambda x: (x * 2).fill_diagonal_(0.5)
             if TORCH else None, [(3, 3)])
