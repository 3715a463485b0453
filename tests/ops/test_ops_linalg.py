"""matmul (1-D, 2-D, batched with broadcasting, @ and its reflected form) and einsum against
PyTorch in float64."""
import numpy as np
import pytest
from helpers import FAST, TORCH, assert_close, check_op
from hypothesis import given
from hypothesis import strategies as st

import tinygen as tg

MATMUL_SHAPES = [
    ((3,), (3,)),            # dot
    ((3,), (3, 2)),          # vector @ matrix
    ((2, 3), (3,)),          # matrix @ vector
    ((2, 3), (3, 4)),
    ((2, 2, 3), (3, 4)),     # batched @ matrix
    ((3,), (2, 3, 4)),       # vector @ batched
    ((2, 2, 3), (3,)),
    ((2, 1, 2, 3), (3, 3, 2)),   # batch dims broadcast
    ((0, 3), (3, 2)),        # empty rows
    ((2, 0), (0, 3)),        # empty inner dim: zeros
    ((1, 1), (1, 1)),
]


@pytest.mark.parametrize("shapes", MATMUL_SHAPES, ids=str)
def test_matmul(shapes):
    check_op(lambda a, b: a @ b, None, list(shapes), gradcheck_max_numel=30)
    check_op(lambda a, b: tg.matmul(a, b), lambda a, b: TORCH.matmul(a, b), list(shapes),
             gradcheck=False)
    check_op(lambda a, b: a.matmul(b), None, list(shapes), gradcheck=False)


@FAST
@given(batch=st.lists(st.integers(1, 2), max_size=2), n=st.integers(0, 3), k=st.integers(1, 3),
       m=st.integers(1, 3), data=st.data())
def test_matmul_hypothesis(batch, n, k, m, data):
    # broadcast the batch dims: each side keeps a dim or replaces it by 1 or drops leading ones
    a_batch = tuple(data.draw(st.sampled_from([b, 1])) for b in batch)
    b_batch = tuple(data.draw(st.sampled_from([b, 1])) for b in batch)
    b_batch = b_batch[data.draw(st.integers(0, len(b_batch))):]
    check_op(lambda a, b: a @ b, None, [a_batch + (n, k), b_batch + (k, m)],
             gradcheck_max_numel=12)


def test_rmatmul_with_numpy():
    w = np.arange(6.0).reshape(3, 2)
    check_op(lambda x: w.T @ x, lambda x: TORCH.tensor(w.T) @ x, [(3, 4)])
    check_op(lambda x: x @ w, lambda x: x @ TORCH.tensor(w), [(4, 3)])


def test_matmul_float32_stays_float32():
    a, b = tg.ones(2, 3), tg.ones(3, 4)
    assert (a @ b).dtype == tg.float32
    assert tg.matmul(a.double(), b.double()).dtype == tg.float64


EINSUM = [
    ("ij,jk->ik", [(2, 3), (3, 4)]),
    ("ij,jk", [(2, 3), (3, 4)]),                 # implicit output
    ("bij,bjk->bik", [(2, 2, 3), (2, 3, 2)]),
    ("i,i->", [(3,), (3,)]),
    ("i,j->ij", [(2,), (3,)]),
    ("ij->ji", [(2, 3)]),
    ("ij->", [(2, 3)]),
    ("ij->j", [(2, 3)]),
    ("...ij,...jk->...ik", [(2, 2, 3), (2, 3, 2)]),
    ("bhqd,bhkd->bhqk", [(1, 2, 2, 3), (1, 2, 3, 3)]),
    ("i,ij,j->", [(2,), (2, 3), (3,)]),
]


@pytest.mark.parametrize("eq,shapes", EINSUM, ids=[e for e, _ in EINSUM])
def test_einsum(eq, shapes):
    check_op(lambda *xs: tg.einsum(eq, *xs), lambda *xs: TORCH.einsum(eq, *xs), shapes,
             gradcheck_max_numel=30)


def test_einsum_list_operands():
    check_op(lambda a, b: tg.einsum("ij,jk->ik", [a, b]),
             lambda a, b: TORCH.einsum("ij,jk->ik", [a, b]), [(2, 3), (3, 2)])


def test_matmul_errors_name_shapes_and_dtypes():
    with pytest.raises(RuntimeError, match=r"matmul.*\(2, 3\).*\(4, 5\)"):
        tg.ones(2, 3) @ tg.ones(4, 5)
    with pytest.raises(RuntimeError, match=r"matmul.*float32.*float64"):
        tg.ones(2, 3) @ tg.ones(3, 4, dtype=tg.float64)
    with pytest.raises(RuntimeError, match=r"matmul.*\(2, 2, 3\).*\(3, 3, 2\)"):
        tg.ones(2, 2, 3) @ tg.ones(3, 3, 2)
    with pytest.raises(RuntimeError, match="matmul"):
        tg.ones(()) @ tg.ones(3)
    with pytest.raises(ValueError, match="einsum"):
        tg.einsum("ij,jk->ik", tg.ones(2, 3))


def test_matmul_values_against_numpy():
    a = np.random.default_rng(0).standard_normal((3, 2, 4))
    b = np.random.default_rng(1).standard_normal((4, 5))
    assert_close(tg.tensor(a) @ tg.tensor(b), a @ b, rtol=1e-12)


@pytest.mark.parametrize("x_shape", [(4, 3), (2, 4, 3), (0, 3)])
@pytest.mark.parametrize("requires", [(True, True, True), (False, True, True), (True, False, False),
                                      (False, False, True)])
def test_linear_gradients_with_and_without_a_graph_of_the_backward(x_shape, requires):
    # Linear's backward computes on the arrays under create_graph=False (LinearGrad's arrays; one
    # op in a captured step) and with differentiable ops under create_graph=True: the same
    # gradients, each against PyTorch and finite differences
    rng = np.random.default_rng(0)
    arrays = [rng.standard_normal(s) for s in (x_shape, (5, 3), (5,))]
    gy = tg.tensor(rng.standard_normal(x_shape[:-1] + (5,)))
    grads = {}
    for create_graph in (False, True):
        x, w, b = (tg.tensor(a, requires_grad=r) for a, r in zip(arrays, requires))
        out = tg.nn.functional.linear(x, w, b)
        wanted = [t for t, r in zip((x, w, b), requires) if r]
        grads[create_graph] = tg.autograd.grad(out, wanted, gy, create_graph=create_graph)
        if not create_graph:
            assert all(not g.requires_grad for g in grads[False])
    for a, b_ in zip(grads[False], grads[True]):
        assert_close(a, b_, rtol=1e-12, atol=1e-12)
    check_op(lambda x, w, b: tg.nn.functional.linear(x, w, b),
             TORCH and (lambda x, w, b: TORCH.nn.functional.linear(x, w, b)),
             [x_shape, (5, 3), (5,)], requires_grad=list(requires))
