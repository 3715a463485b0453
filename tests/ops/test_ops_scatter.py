"""Writing at and reading from indices (scatter with src / value / reduce, scatter_reduce,
index_reduce, index_add, index_copy, index_fill, index_put, masked_scatter, masked_select, take,
take_along_dim, put, and their in-place forms) and the searching ops (nonzero, argwhere, unique,
unique_consecutive, bincount, histc, histogram, searchsorted, bucketize, isin) against PyTorch in
float64."""
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
    (lambda: tg.ones(2, 3).scatter(1, tg.tensor([[3]]), 1.0), IndexError,
     "scatter: index 3 is out of bounds for dim 1 of size 3"),
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


# ---- repeated indices, value gradients, broadcasting ---------------------------------------------
def test_index_copy_and_put_keep_the_last_write():
    # values: the last write per slot (PyTorch's CPU result). Gradients: PyTorch's, which give
    # every source slice gy at its index, the overwritten ones too, so finite differences (which
    # see the forward) disagree for those: compared with torch only (gradcheck=False)
    dup = np.array([1, 1, 0, 1])
    check_op(lambda x, s: x.index_copy(0, tg.tensor(dup), s),
             (lambda x, s: x.index_copy(0, TORCH.tensor(dup), s)) if TORCH else None,
             [(3, 2), (4, 2)], gradcheck=False)
    check_op(lambda x, s: x.index_copy(1, tg.tensor(dup), s),
             (lambda x, s: x.index_copy(1, TORCH.tensor(dup), s)) if TORCH else None,
             [(2, 3), (2, 4)], gradcheck=False)
    check_op(lambda x, s: x.put(tg.tensor(np.array([4, -2, 0, 4])), s),
             (lambda x, s: x.put(TORCH.tensor(np.array([4, -2, 0, 4])), s)) if TORCH else None,
             [(2, 3), (4,)], gradcheck=False)
    check_op(lambda x, s: x.index_put((tg.tensor(dup),), s),
             (lambda x, s: x.index_put((TORCH.tensor(dup),), s)) if TORCH else None,
             [(3, 2), (4, 2)], gradcheck=False)
    out = tg.zeros(3).index_copy(0, tg.tensor([1, 1]), tg.tensor([5.0, 7.0]))
    assert out.tolist() == [0.0, 7.0, 0.0]
    assert tg.zeros(4).put_(tg.tensor([1, 1]), tg.tensor([5.0, 7.0])).tolist() == [0, 7, 0, 0]


def test_index_fill_tensor_value_gets_a_gradient():
    # the value's gradient is gy summed over the filled slots (a repeated index counts once)
    check_op(lambda x, v: x.index_fill(1, tg.tensor(np.array([2, 0, 2])), v),
             (lambda x, v: x.index_fill(1, TORCH.tensor(np.array([2, 0, 2])), v))
             if TORCH else None, [(2, 3), ()])
    check_op(lambda v: tg.zeros(4, dtype=tg.float64).index_fill(0, tg.tensor([-1, 1]), v * v),
             (lambda v: TORCH.zeros(4, dtype=TORCH.float64).index_fill(0, TORCH.tensor([3, 1]),
                                                                     v * v))
             if TORCH else None, [()])
    with pytest.raises(RuntimeError, match=r"index_fill: expected a number or a 0-d value"):
        tg.ones(2, 3).index_fill(0, tg.tensor([0]), tg.tensor([1.0]))


def test_masked_scatter_broadcasts_input_and_mask():
    # PyTorch broadcasts the two: a mask with more dims than input gives the larger shape
    big = np.ones((2, 3, 4), dtype=bool)
    big[0, 1] = False
    check_op(lambda x, s: x.masked_scatter(tg.tensor(big), s),
             (lambda x, s: x.masked_scatter(TORCH.tensor(big), s)) if TORCH else None,
             [(3, 4), (24,)])
    column = np.array([[True], [False], [True]])
    check_op(lambda x, s: x.masked_scatter(tg.tensor(column), s),
             (lambda x, s: x.masked_scatter(TORCH.tensor(column), s)) if TORCH else None,
             [(4,), (9,)])
    with pytest.raises(RuntimeError, match=r"masked_scatter: mask \(2, 4\) and input \(3, 4\)"):
        tg.zeros(3, 4).masked_scatter(tg.ones(2, 4, dtype=tg.bool), tg.ones(24))
    with pytest.raises(RuntimeError, match="shape"):       # in place: no change of shape
        tg.zeros(3, 4).masked_scatter_(tg.tensor(big), tg.ones(24))


# ---- indices out of range: each op as PyTorch, with an error naming op, dim, size, index --------
X34 = np.arange(12.0).reshape(3, 4)


def _ones(m, *shape):
    return m.ones(shape).double()


REFUSED = {
    "index_add_negative": (lambda m, x: x.index_add(0, m.tensor([-1]), _ones(m, 1, 4)),
                           "index_add: index -1 is out of bounds for dim 0 of size 3"),
    "index_add_too_large": (lambda m, x: x.index_add(1, m.tensor([4]), _ones(m, 3, 1)),
                            "index_add: index 4 is out of bounds for dim 1 of size 4"),
    "index_add_2d_index": (lambda m, x: x.index_add(0, m.tensor([[0]]), _ones(m, 1, 4)),
                           r"index_add: index must be a vector \(0-d or 1-D\)"),
    "index_copy_negative": (lambda m, x: x.index_copy(0, m.tensor([-1]), _ones(m, 1, 4)),
                            "index_copy: index -1 is out of bounds for dim 0 of size 3"),
    "index_copy_2d_index": (lambda m, x: x.index_copy(0, m.tensor([[0]]), _ones(m, 1, 4)),
                            "index_copy: index must be a vector"),
    "index_fill_too_large": (lambda m, x: x.index_fill(0, m.tensor([3]), 1.0),
                             "index_fill: index 3 is out of bounds for dim 0 of size 3"),
    "index_fill_too_negative": (lambda m, x: x.index_fill(0, m.tensor([-4]), 1.0),
                                "index_fill: index -4 is out of bounds for dim 0 of size 3"),
    "index_fill_2d_index": (lambda m, x: x.index_fill(0, m.tensor([[1]]), 1.0),
                            "index_fill: index must be a vector"),
    "scatter_negative": (lambda m, x: x.scatter(1, m.tensor([[-1]]), 1.0),
                         "scatter: index -1 is out of bounds for dim 1 of size 4"),
    "put_too_large": (lambda m, x: x.put(m.tensor([12]), _ones(m, 1)),
                      "put: index 12 is out of range for a tensor of 12 elements"),
    "put_too_negative": (lambda m, x: x.put(m.tensor([-13]), _ones(m, 1)),
                         "put: index -13 is out of range"),
    "put_sizes": (lambda m, x: x.put(m.tensor([0, 1]), _ones(m, 3)),
                  "put: expected source and index to have the same number of elements"),
    "index_put_too_large": (lambda m, x: x.index_put((m.tensor([3]),), _ones(m)),
                            "index_put: index 3 is out of bounds for dim 0 of size 3"),
    "index_put_second_dim": (lambda m, x: x.index_put((m.tensor([0]), m.tensor([-5])),
                                                      _ones(m)),
                             "index_put: index -5 is out of bounds for dim 1 of size 4"),
    "index_put_too_many": (lambda m, x: x.index_put((m.tensor([0]),) * 3, _ones(m)),
                           "index_put: too many indices for a tensor of 2 dims"),
}
ACCEPTED = {  # negative indices that PyTorch counts from the end, 0-d indices
    "index_fill_negative": lambda m, x: x.index_fill(0, m.tensor([-1, 0]), -1.0),
    "index_fill_0d_index": lambda m, x: x.index_fill(1, m.tensor(-2), -1.0),
    "index_put_negative": lambda m, x: x.index_put((m.tensor([-1]), m.tensor([-4])), _ones(m)),
    "index_put_bool": lambda m, x: x.index_put((m.tensor([True, False, True]),), _ones(m)),
    "put_negative": lambda m, x: x.put(m.tensor([-1, -12]), _ones(m, 2)),
    "index_add_0d_index": lambda m, x: x.index_add(0, m.tensor(2), _ones(m, 1, 4)),
    "index_copy_0d_index": lambda m, x: x.index_copy(1, m.tensor(3), _ones(m, 3, 1)),
}


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_out_of_range_indices_are_refused_as_in_torch(name):
    fn, match = REFUSED[name]
    if TORCH is not None:
        with pytest.raises((IndexError, RuntimeError)):
            fn(TORCH, TORCH.tensor(X34))
    with pytest.raises(IndexError, match=match):
        fn(tg, tg.tensor(X34))


@pytest.mark.parametrize("name", sorted(ACCEPTED))
def test_indices_torch_accepts(name):
    torch = pytest.importorskip("torch")
    fn = ACCEPTED[name]
    assert_close(fn(tg, tg.tensor(X34)), fn(torch, torch.tensor(X34)))


# ---- scatter_reduce and index_reduce -------------------------------------------------------------
def _scatter_reduce(m):
    return m.scatter_reduce


def _index_reduce(m):
    """x.index_reduce(...) as a function of x."""
    return lambda x, *a, **k: x.index_reduce(*a, **k)


SCATTER_REDUCTIONS = ["sum", "prod", "mean", "amax", "amin"]
REDUCE_INDEX = np.array([[0, 1, 0], [3, 3, 2], [1, 0, 1]])      # repeats in every row


@pytest.mark.parametrize("include_self", [True, False])
@pytest.mark.parametrize("reduce", SCATTER_REDUCTIONS)
def test_scatter_reduce(reduce, include_self):
    # values, first and second gradients against PyTorch; gradcheck and gradgradcheck (random
    # values: no ties, no zeros)
    def fn(m, dim, index):
        return lambda x, s: _scatter_reduce(m)(x, dim, m.tensor(index), s, reduce,
                                               include_self=include_self)
    for dim, index, shapes in [(1, REDUCE_INDEX, [(3, 4), (3, 3)]),
                               (0, REDUCE_INDEX[:, :2] % 3, [(3, 2), (3, 2)]),
                               (-1, np.array([1, 1, 0, 1]), [(3,), (4,)])]:
        check_op(fn(tg, dim, index), fn(TORCH, dim, index) if TORCH else None, shapes)


@pytest.mark.filterwarnings("ignore:index_reduce\\(\\) is in beta")
@pytest.mark.parametrize("include_self", [True, False])
@pytest.mark.parametrize("reduce", SCATTER_REDUCTIONS[1:])
def test_index_reduce(reduce, include_self):
    def fn(m, dim, index):
        return lambda x, s: _index_reduce(m)(x, dim, m.tensor(index), s, reduce,
                                             include_self=include_self)
    for dim, index, shapes in [(0, np.array([2, 0, 2]), [(3, 2), (3, 2)]),
                               (1, np.array([1, 1, 3, 1, 0]), [(2, 4), (2, 5)])]:
        check_op(fn(tg, dim, index), fn(TORCH, dim, index) if TORCH else None, shapes)


@pytest.mark.parametrize("include_self", [True, False])
def test_scatter_reduce_prod_with_zeros(include_self):
    # PyTorch's formula for zeros: a single zero sent to a slot gets the product of the others
    x = np.array([0.0, 2.0, 3.0, 4.0])
    src = np.array([2.0, 5.0, 0.0, 1.5, 0.0, 3.0])
    index = np.array([0, 0, 1, 1, 2, 3])

    def fn(m):
        return lambda a, b: _scatter_reduce(m)(a, 0, m.tensor(index), b, "prod",
                                               include_self=include_self)
    check_op(fn(tg), fn(TORCH) if TORCH else None, [x, src])
    # two zeros sent to one slot: first gradients as PyTorch, double backward refused (as it)
    two = np.array([0.0, 0.0, 5.0, 1.5, 1.0, 3.0])
    check_op(fn(tg), fn(TORCH) if TORCH else None, [x, two], gradgrad=False)
    a, b = tg.tensor(x, requires_grad=True), tg.tensor(two, requires_grad=True)
    (gb,) = tg.autograd.grad(fn(tg)(a, b).sum(), [b], create_graph=True)
    with pytest.raises(RuntimeError, match="double backward is not supported"):
        gb.sum().backward()


def test_scatter_reduce_ties_split_evenly():
    # amax / amin: the gradient is shared among the values equal to the result, as PyTorch
    x = np.array([3.0, 5.0, 1.0])
    src = np.array([3.0, 1.0, 5.0, 5.0, 1.0])
    index = np.array([0, 0, 1, 1, 2])
    for reduce in ("amax", "amin"):
        def fn(m):
            return lambda a, b: _scatter_reduce(m)(a, 0, m.tensor(index), b, reduce)
        check_op(fn(tg), fn(TORCH) if TORCH else None, [x, src], gradcheck=False)


def test_scatter_reduce_excluded_self_takes_no_share():
    # include_self=False with x[0] equal to the result: out[0] = max(src[0], src[1]) = src[0],
    # a unique maximum, so d out[0] / d src[0] = 1. PyTorch 2.13 gives 0.5 (it counts the
    # excluded x[0] as a tie, then zeroes it): a PyTorch bug we do not copy
    x = tg.tensor([3.0, 5.0], dtype=tg.float64, requires_grad=True)
    src = tg.tensor([3.0, 1.0], dtype=tg.float64, requires_grad=True)
    out = _scatter_reduce(tg)(x, 0, tg.tensor([0, 0]), src, "amax", include_self=False)
    out.backward(tg.ones(2, dtype=tg.float64))
    assert out.tolist() == [3.0, 5.0]
    assert x.grad.tolist() == [0.0, 1.0]
    assert src.grad.tolist() == [1.0, 0.0]


def test_scatter_reduce_src_larger_than_index():
    # only src's part that index reads takes part; the rest gets a zero gradient (PyTorch's
    # values; its backward refuses a src larger than index for sum and mean)
    index = np.array([[0, 2], [1, 1]])
    for reduce in SCATTER_REDUCTIONS:
        def fn(m):
            return lambda x, s: _scatter_reduce(m)(x, 1, m.tensor(index), s, reduce)
        check_op(fn(tg), fn(TORCH) if TORCH else None, [(3, 3), (3, 4)], grad=False)


@pytest.mark.filterwarnings("ignore:index_reduce\\(\\) is in beta")
def test_reduce_integer_mean_floors_and_0d_input():
    torch = pytest.importorskip("torch")
    for m_include in (True, False):
        def fn(m):
            return _scatter_reduce(m)(m.tensor([1, 2, 3]), 0, m.tensor([0, 0, 1]),
                                      m.tensor([-2, -3, -8]), "mean", include_self=m_include)
        assert_close(fn(tg), fn(torch))
        def fn_index(m):
            return _index_reduce(m)(m.tensor([[1, 2], [3, 4]]), 1, m.tensor([0, 0, 1]),
                                    m.tensor([[5, -6, 7], [-8, 9, 1]]), "mean",
                                    include_self=m_include)
        assert_close(fn_index(tg), fn_index(torch))
    zero_d = _scatter_reduce(tg)(tg.tensor(3.0), 0, tg.tensor([0, 0]), tg.tensor([2.0, 5.0]),
                                 "sum")
    assert_close(zero_d, torch.tensor(3.0).scatter_reduce(0, torch.tensor([0, 0]),
                                                          torch.tensor([2.0, 5.0]), "sum"))


@pytest.mark.filterwarnings("ignore:index_reduce\\(\\) is in beta")
@pytest.mark.parametrize("call, match", [
    (lambda m: _scatter_reduce(m)(_ones(m, 3, 4), 1, m.tensor([[-1]]), _ones(m, 1, 1), "sum"),
     "scatter_reduce: index -1 is out of bounds for dim 1 of size 4"),
    (lambda m: _scatter_reduce(m)(_ones(m, 3, 4), 1, m.tensor([[4]]), _ones(m, 1, 1), "sum"),
     "scatter_reduce: index 4 is out of bounds"),
    (lambda m: _index_reduce(m)(_ones(m, 3, 4), 0, m.tensor([-1]), _ones(m, 1, 4), "prod"),
     "index_reduce: index -1 is out of bounds for dim 0 of size 3"),
    (lambda m: _index_reduce(m)(_ones(m, 3, 4), 0, m.tensor([[0]]), _ones(m, 1, 4), "prod"),
     "index_reduce: index must be a vector"),
])
def test_reduce_index_errors(call, match):
    if TORCH is not None:
        with pytest.raises((IndexError, RuntimeError)):
            call(TORCH)
    with pytest.raises(IndexError, match=match):
        call(tg)


@pytest.mark.filterwarnings("ignore:index_reduce\\(\\) is in beta")
@pytest.mark.parametrize("call, match", [
    (lambda m: _scatter_reduce(m)(_ones(m, 3), 0, m.tensor([0]), _ones(m, 1), "add"),
     "scatter_reduce: reduce must be one of sum, prod, mean, amax, amin"),
    (lambda m: _index_reduce(m)(_ones(m, 3), 0, m.tensor([0]), _ones(m, 1), "sum"),
     "index_reduce: reduce must be one of prod, mean, amax, amin"),
    (lambda m: _scatter_reduce(m)(_ones(m, 3), 0, m.tensor([0]), m.ones(1), "sum"),
     "scatter_reduce: expected src of the input's dtype"),
    (lambda m: _index_reduce(m)(_ones(m, 3), 0, m.tensor([0]), m.ones(1), "amax"),
     "index_reduce: expected source of the input's dtype"),
    (lambda m: _scatter_reduce(m)(_ones(m, 3, 4), 1, m.tensor([0]), _ones(m, 1), "sum"),
     "scatter_reduce: index has 1 dims but the input has 2"),
])
def test_reduce_argument_errors(call, match):
    if TORCH is not None:
        with pytest.raises(RuntimeError):
            call(TORCH)
    with pytest.raises(RuntimeError, match=match):
        call(tg)


@pytest.mark.filterwarnings("ignore:index_reduce\\(\\) is in beta")
def test_reduce_methods_and_in_place_forms():
    torch = pytest.importorskip("torch")
    x, s = np.arange(12.0).reshape(3, 4), -np.arange(1.0, 7.0).reshape(3, 2)
    index = np.array([[0, 0], [3, 1], [2, 2]])
    for m, t in ((tg, tg.tensor), (torch, torch.tensor)):
        out = t(x).scatter_reduce(1, t(index), t(s), "amax", include_self=False)
        fn = m.scatter_reduce(t(x), 1, t(index), t(s), reduce="amin")
        a = t(x)
        assert a.scatter_reduce_(1, t(index), t(s), "prod") is a
        b = t(x)
        assert b.index_reduce_(1, t(np.array([3, 3])), t(s), "mean", include_self=False) is b
        c = t(x).index_reduce(0, t(np.array([1, 1, 0])), t(s.T.reshape(3, 2).repeat(2, 1)),
                              "prod")
        if m is tg:
            ours = (out, fn, a, b, c)
        else:
            for o, r in zip(ours, (out, fn, a, b, c)):
                assert_close(o, r)


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


def test_index_put_refuses_what_torch_refuses():
    # a bare tensor as indices wrote garbage before (read as a sequence of 0-d indices); None,
    # float indices and another dtype's values: torch's errors
    torch = pytest.importorskip("torch")
    rows, one = [0, 2], 1.0
    cases = [(lambda m, x: x.index_put_(m.tensor(rows), m.tensor(one)), TypeError),
             (lambda m, x: x.index_put_((None, m.tensor([1])), m.tensor(one)), TypeError),
             (lambda m, x: x.index_put((m.tensor([0.0]),), m.tensor(one)), IndexError),
             (lambda m, x: x.index_put_((m.tensor(rows),), m.tensor(one, dtype=m.float64)),
              RuntimeError)]
    for fn, error in cases:
        for m in (tg, torch):
            x = m.zeros(3, 4)
            with pytest.raises(error):
                fn(m, x)
            assert not x.any()                  # nothing written before the error
    x = tg.zeros(3, 4)
    assert x.index_put_([tg.tensor(rows)], 2.0) is x and x.sum().item() == 16.0   # a number


@pytest.mark.parametrize("value", [5.0, 0.0])
def test_nonzero_of_a_0d_tensor_as_torch(value):
    # (1, 0) or (0, 0): no index columns for no dims; as_tuple reads it as one element
    torch = pytest.importorskip("torch")
    x, tx = tg.tensor(value), torch.tensor(value)
    for ours, ref in ((tg.nonzero(x), torch.nonzero(tx)), (x.argwhere(), tx.argwhere())):
        assert tuple(ours.shape) == tuple(ref.shape) and ours.dtype == tg.int64
    (ours,), (ref,) = tg.nonzero(x, as_tuple=True), torch.nonzero(tx, as_tuple=True)
    np.testing.assert_array_equal(ours.numpy(), ref.numpy())


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
