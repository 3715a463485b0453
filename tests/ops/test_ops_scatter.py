"""Writing at and reading from indices (scatter with src / value / reduce, index_add,
index_copy, index_fill, masked_scatter, masked_select, take, take_along_dim, put, and their
in-place forms) and the searching ops (nonzero, argwhere, unique, unique_consecutive, bincount,
histc, histogram, searchsorted, bucketize, isin) against PyTorch in float64."""
import numpy as np
import pytest
from helpers import TORCH, assert_close, check_op

import tinygen as tg

INDEX = np.array([[0, 2, 1], [1, 0, 0]])                   # a repeat in row 1 (adds accumulate)
DISTINCT = np.array([[0, 2, 1], [1, 0, 3]])                # no repeats in a row (scatter writes)
ROWS = np.array([2, 0])                                     # distinct (index_copy)
REPEATED = np.array([1, 1, 3, 0])                           # repeats accumulate (index_add)
MASK = np.array([[True, False, True, False], [False, True, True, True], [False] * 4])




WRITES = {
    "scatter_src": (lambda m, x, s: x.scatter(0, m.tensor(INDEX.T[:2]), s), [(3, 4), (2, 2)]),
    "scatter_dim1": (lambda m, x, s: m.scatter(x, 1, m.tensor(DISTINCT), s), [(2, 4), (2, 3)]),
    "scatter_value": (lambda m, x, s: x.scatter(1, m.tensor(INDEX), 2.5) * s.sum(),
                      [(2, 4), (1,)]),
    "scatter_add": (lambda m, x, s: x.scatter_add(1, m.tensor(INDEX), s), [(2, 4), (2, 3)]),
    "index_add": (lambda m, x, s: m.index_add(x, 0, m.tensor(REPEATED), s, alpha=2),
                  [(4, 3), (4, 3)]),
    "index_add_dim1": (lambda m, x, s: x.index_add(1, m.tensor(ROWS), s), [(2, 3), (2, 2)]),
    "index_copy": (lambda m, x, s: x.index_copy(0, m.tensor(ROWS), s), [(3, 2), (2, 2)]),
    "index_fill": (lambda m, x, s: m.index_fill(x, 1, m.tensor(ROWS), -1.0) * s, [(2, 3), (1,)]),
    "masked_scatter": (lambda m, x, s: x.masked_scatter(m.tensor(MASK), s), [(3, 4), (7,)]),
    "masked_scatter_broadcast": (lambda m, x, s: x.masked_scatter(m.tensor(MASK[1]), s),
                                 [(3, 4), (4, 4)]),
    "put": (lambda m, x, s: x.put(m.tensor(np.array([5, 0, 11])), s), [(3, 4), (3,)]),
    "put_accumulate": (lambda m, x, s: x.put(m.tensor(np.array([5, 5, -1])), s, accumulate=True),
                       [(3, 4), (3,)]),
}


@pytest.mark.parametrize("name", sorted(WRITES))
def test_writes(name):
    fn, shapes = WRITES[name]
    check_op(lambda *a: fn(tg, *a), (lambda *a: fn(TORCH, *a)) if TORCH else None, shapes)


READS = {
    "masked_select": (lambda m, x: x.masked_select(m.tensor(MASK)), (3, 4)),
    "masked_select_broadcast": (lambda m, x: m.masked_select(x, m.tensor(MASK[1])), (3, 4)),
    "take": (lambda m, x: m.take(x, m.tensor(np.array([[0, 5], [-1, 5]]))), (3, 4)),
    "take_along_dim": (lambda m, x: m.take_along_dim(x, m.tensor(INDEX), dim=1), (2, 4)),
    "take_along_dim_broadcast": (lambda m, x: x.take_along_dim(m.tensor(np.array([[1], [0]])),
                                                               dim=0), (2, 4)),
    "take_along_dim_flat": (lambda m, x: m.take_along_dim(x, m.tensor(np.array([7, 0]))), (2, 4)),
}


@pytest.mark.parametrize("name", sorted(READS))
def test_reads(name):
    fn, shape = READS[name]
    check_op(lambda x: fn(tg, x), (lambda x: fn(TORCH, x)) if TORCH else None, [shape])


IN_PLACE = {
    "scatter_": lambda m, x, s: x.scatter_(1, m.tensor(DISTINCT), s),
    "scatter_add_": lambda m, x, s: x.scatter_add_(1, m.tensor(INDEX), s),
    "index_add_": lambda m, x, s: x.index_add_(1, m.tensor(np.array([3, 3, 0])), s),
    "index_copy_": lambda m, x, s: x.index_copy_(1, m.tensor(np.array([3, 1, 0])), s),
    "index_fill_": lambda m, x, s: x.index_fill_(1, m.tensor(np.array([3])), 7.0),
    "masked_scatter_": lambda m, x, s: x.masked_scatter_(m.tensor(MASK[:2]), s),
}


@pytest.mark.parametrize("name", sorted(IN_PLACE))
def test_in_place_forms(name):
    torch = pytest.importorskip("torch")
    fn = IN_PLACE[name]
    x, s = np.arange(8.0).reshape(2, 4), -np.arange(1.0, 7.0).reshape(2, 3)
    ours, ref = tg.tensor(x), torch.tensor(x)
    assert fn(tg, ours, tg.tensor(s)) is ours
    fn(torch, ref, torch.tensor(s))
    assert_close(ours, ref)
    # and inside a graph: the in-place history is differentiable
    check_op(lambda a, b: fn(tg, a * 1, b), lambda a, b: fn(torch, a * 1, b), [(2, 4), (2, 3)])


@pytest.mark.filterwarnings("ignore:The reduce argument of torch.scatter")
def test_scatter_reduce_add():
    # PyTorch has no derivative for scatter(reduce=...): values against it, gradients by gradcheck
    check_op(lambda x, s: x.scatter(1, tg.tensor(INDEX), s, reduce="add"),
             (lambda x, s: x.scatter(1, TORCH.tensor(INDEX), s, reduce="add")) if TORCH else None,
             [(2, 4), (2, 3)], grad=False)
    check_op(lambda x: x.scatter(1, tg.tensor(INDEX), 0.5, reduce="add"),
             (lambda x: x.scatter(1, TORCH.tensor(INDEX), 0.5, reduce="add")) if TORCH else None,
             [(2, 4)], grad=False)


@pytest.mark.filterwarnings("ignore:The reduce argument of torch.scatter")
def test_scatter_multiply_forward_and_no_gradient():
    torch = pytest.importorskip("torch")
    x, s = np.arange(1.0, 9.0).reshape(2, 4), np.array([[2.0, 3.0, 4.0], [5.0, 6.0, 7.0]])
    idx = np.array([[0, 0, 1], [3, 3, 3]])
    out = tg.tensor(x).scatter(1, tg.tensor(idx), tg.tensor(s), reduce="multiply")
    assert_close(out, torch.tensor(x).scatter(1, torch.tensor(idx), torch.tensor(s),
                                              reduce="multiply"))
    with pytest.raises(RuntimeError, match="reduce='multiply'"):
        tg.tensor(x, requires_grad=True).scatter(1, tg.tensor(idx), 2.0, reduce="multiply")


@pytest.mark.parametrize("call, error, match", [
    (lambda: tg.ones(2, 3).scatter(1, tg.tensor([[3]]), 1.0), IndexError, "scatter: index out"),
    (lambda: tg.ones(2, 3).scatter(1, tg.tensor([0, 1]), 1.0), RuntimeError, "scatter: index has"),
    (lambda: tg.ones(2, 3).index_add(0, tg.tensor([0]), tg.ones(2, 3)), RuntimeError,
     "index_add: expected source of shape"),
    (lambda: tg.ones(2, 3).take(tg.tensor([6])), IndexError, "take"),
    (lambda: tg.ones(2).masked_scatter(tg.tensor([True, True]), tg.ones(1)), RuntimeError,
     "masked_scatter: source has 1 elements"),
    (lambda: tg.ones(2).index_fill(0, tg.tensor([0.5]), 1.0), IndexError, "index_fill"),
])
def test_errors_name_the_op(call, error, match):
    with pytest.raises(error, match=match):
        call()


# ---- searching and counting ----------------------------------------------------------------------
DATA = np.array([[3.0, 1.0, 0.0, 3.0], [0.0, 2.0, 1.0, 1.0]])


@pytest.mark.parametrize("kwargs", [{}, {"return_inverse": True}, {"return_counts": True},
                                    {"return_inverse": True, "return_counts": True},
                                    {"dim": 1, "return_inverse": True, "return_counts": True},
                                    {"dim": 0}])
def test_unique(kwargs):
    torch = pytest.importorskip("torch")
    ours, ref = tg.unique(tg.tensor(DATA), **kwargs), torch.unique(torch.tensor(DATA), **kwargs)
    for a, b in zip(ours if isinstance(ours, tuple) else [ours],
                    ref if isinstance(ref, tuple) else [ref]):
        assert_close(a, b)


def test_counting_and_searching_match_torch():
    torch = pytest.importorskip("torch")
    x, tx = tg.tensor(DATA), torch.tensor(DATA)
    assert_close(tg.nonzero(x), torch.nonzero(tx))
    for a, b in zip(tg.nonzero(x, as_tuple=True), torch.nonzero(tx, as_tuple=True)):
        assert_close(a, b)
    assert_close(x.argwhere(), tx.argwhere())
    for kw in ({}, {"return_inverse": True, "return_counts": True}):
        ours = tg.unique_consecutive(x.reshape(-1), **kw)
        ref = torch.unique_consecutive(tx.reshape(-1), **kw)
        for a, b in zip(ours if kw else [ours], ref if kw else [ref]):
            assert_close(a, b)
    ints = np.array([3, 0, 1, 3, 3, 5])
    w = np.linspace(0.5, 3.0, 6)
    assert_close(tg.bincount(tg.tensor(ints)), torch.bincount(torch.tensor(ints)))
    assert_close(tg.tensor(ints).bincount(tg.tensor(w), minlength=8),
                 torch.tensor(ints).bincount(torch.tensor(w), minlength=8))
    assert_close(tg.histc(x, bins=4), torch.histc(tx, bins=4))
    assert_close(tg.histc(x, bins=3, min=0.5, max=2.5), torch.histc(tx, bins=3, min=0.5, max=2.5))
    for a, b in zip(tg.histogram(x, bins=5), torch.histogram(tx, bins=5)):
        assert_close(a, b)
    edges = np.array([0.0, 1.0, 2.0, 3.0])
    for right in (False, True):
        assert_close(tg.searchsorted(tg.tensor(edges), x, right=right),
                     torch.searchsorted(torch.tensor(edges), tx, right=right))
        assert_close(tg.bucketize(x, tg.tensor(edges), right=right),
                     torch.bucketize(tx, torch.tensor(edges), right=right))
    rows = np.sort(DATA, axis=1)
    assert_close(tg.searchsorted(tg.tensor(rows), x, side="right"),
                 torch.searchsorted(torch.tensor(rows), tx, side="right"))
    assert_close(tg.isin(x, tg.tensor([1.0, 3.0])), torch.isin(tx, torch.tensor([1.0, 3.0])))
    assert_close(tg.isin(x, tg.tensor([1.0]), invert=True),
                 torch.isin(tx, torch.tensor([1.0]), invert=True))
