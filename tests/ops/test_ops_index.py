"""Indexing against PyTorch in float64: __getitem__ (ints, slices, None, Ellipsis, integer arrays
with repeats, boolean masks), gather, scatter_add, index_select, masked_fill, topk, sort, argsort."""
import numpy as np
import pytest
from helpers import (
    FAST,
    TORCH,
    assert_close,
    check_op,
    make_arrays,
    shape_and_dim,
    shapes,
)
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import tinygen as tg

IDX_REPEAT = np.array([0, 2, 0, 0])
MASK = np.array([[True, False, True, False], [False, False, True, True], [True, True, True, False]])

GETITEM = {
    "int": lambda x: x[1],
    "neg_int": lambda x: x[-1, -2],
    "scalar": lambda x: x[1, 2],
    "slice": lambda x: x[1:],
    "slice_step": lambda x: x[::2, 1::2],
    "slice_neg": lambda x: x[:, -3:-1],
    "none": lambda x: x[None, :, None],
    "ellipsis": lambda x: x[..., 1],
    "ellipsis_none": lambda x: x[..., None],
    "int_array_repeats": lambda x: x[IDX_REPEAT],
    "int_array_list": lambda x: x[[2, 2, 1]],
    "int_array_2d": lambda x: x[:, np.array([[0, 1], [3, 3]])],
    "two_int_arrays": lambda x: x[np.array([0, 0, 2]), np.array([1, 1, 3])],
    "bool_mask": lambda x: x[MASK],
    "bool_rows": lambda x: x[np.array([True, False, True])],
    "mixed": lambda x: x[1:, IDX_REPEAT[:2]],
    "empty_slice": lambda x: x[2:2],
}


def _torch_index(idx):
    if isinstance(idx, np.ndarray):
        return TORCH.tensor(idx)
    if isinstance(idx, tuple):
        return tuple(_torch_index(i) for i in idx)
    return idx


class _Recorder:
    """Records the index passed to [] so one lambda serves both libraries."""

    def __getitem__(self, idx):
        return idx


@pytest.mark.parametrize("name", sorted(GETITEM))
def test_getitem(name):
    idx = GETITEM[name](_Recorder())
    check_op(lambda x: x[idx], lambda x: x[_torch_index(idx)] if TORCH else None, [(3, 4)])


def test_getitem_with_tensor_indices():
    idx, mask = tg.tensor(IDX_REPEAT), tg.tensor(MASK)
    check_op(lambda x: x[idx], lambda x: x[TORCH.tensor(IDX_REPEAT)], [(3, 4)])
    check_op(lambda x: x[mask], lambda x: x[TORCH.tensor(MASK)], [(3, 4)])
    check_op(lambda x: x[tg.tensor(1)], lambda x: x[TORCH.tensor(1)], [(3, 4)])
    check_op(lambda x: x[x > 0], lambda x: x[x > 0], [(3, 4)], gradcheck=False)


def test_getitem_repeated_indices_accumulate():
    x = tg.zeros(3, dtype=tg.float64, requires_grad=True)
    x[np.array([0, 0, 0, 2])].sum().backward()
    assert_close(x.grad, np.array([3.0, 0.0, 1.0]))


@FAST
@given(sd=shape_and_dim(min_dims=1, max_dims=3, min_side=1, max_side=3), data=st.data())
def test_gather_hypothesis(sd, data):
    shape, dim = sd
    d = dim % len(shape)
    idx_shape = tuple(data.draw(st.integers(0 if i == d else 1, s if i != d else 4))
                      for i, s in enumerate(shape))
    index = np.random.default_rng(0).integers(0, shape[d], size=idx_shape)
    check_op(lambda x: x.gather(dim, tg.tensor(index)),
             lambda x: x.gather(dim, TORCH.tensor(index)) if TORCH else None, [shape],
             gradcheck_max_numel=8)
    check_op(lambda x: tg.gather(x, dim, tg.tensor(index)),
             lambda x: TORCH.gather(x, dim, TORCH.tensor(index)) if TORCH else None, [shape],
             gradcheck=False)


@pytest.mark.parametrize("dim", [0, 1, -1])
def test_scatter_add(dim):
    index = np.array([[0, 1, 0], [2, 0, 0]]) if dim == 0 else np.array([[0, 0, 3], [1, 1, 1]])
    check_op(lambda x, src: x.scatter_add(dim, tg.tensor(index), src),
             lambda x, src: x.scatter_add(dim, TORCH.tensor(index), src), [(3, 4), (2, 3)])
    # src larger than index: only the leading part is used (PyTorch's rule; torch's own
    # backward fails on this case, so compare the forward and check gradients numerically)
    check_op(lambda x, src: x.scatter_add(dim, tg.tensor(index), src),
             lambda x, src: x.scatter_add(dim, TORCH.tensor(index), src), [(3, 4), (3, 4)],
             grad=False)
    check_op(lambda x, src: tg.scatter_add(x, dim, tg.tensor(index), src),
             lambda x, src: TORCH.scatter_add(x, dim, TORCH.tensor(index), src),
             [(3, 4), (2, 3)], gradcheck=False)


@pytest.mark.parametrize("dim", [0, 1, -1])
@pytest.mark.parametrize("index", [np.array([2, 0, 2]), np.array([1]), np.array([], np.int64)])
def test_index_select(dim, index):
    check_op(lambda x: x.index_select(dim, tg.tensor(index)),
             lambda x: x.index_select(dim, TORCH.tensor(index)), [(3, 3)])
    check_op(lambda x: tg.index_select(x, dim, tg.tensor(index)),
             lambda x: TORCH.index_select(x, dim, TORCH.tensor(index)), [(3, 3)],
             gradcheck=False)


@pytest.mark.parametrize("value", [0.0, -1e9, 2.5, float("-inf")])
def test_masked_fill(value):
    mask = np.array([[True, False, False], [False, True, False]])
    grad_ok = np.isfinite(value)
    check_op(lambda x: x.masked_fill(tg.tensor(mask), value),
             lambda x: x.masked_fill(TORCH.tensor(mask), value), [(2, 3)], gradcheck=grad_ok)
    # a broadcast mask
    row = np.array([True, False, True])
    check_op(lambda x: tg.masked_fill(x, tg.tensor(row), value),
             lambda x: TORCH.masked_fill(x, TORCH.tensor(row), value), [(2, 3)],
             gradcheck=grad_ok)


def test_masked_fill_with_tensor_value():
    mask = np.array([True, False, True])
    check_op(lambda x: x.masked_fill(tg.tensor(mask), tg.tensor(3.0)),
             lambda x: x.masked_fill(TORCH.tensor(mask), TORCH.tensor(3.0)), [(2, 3)])


@pytest.mark.parametrize("descending", [False, True])
@FAST
@given(sd=shape_and_dim(min_dims=1, max_dims=3, min_side=0, max_side=4))
def test_sort_argsort(descending, sd):
    shape, dim = sd
    _, (_values, indices) = check_op(
        lambda x: tg.sort(x, dim=dim, descending=descending),
        lambda x: TORCH.sort(x, dim=dim, descending=descending) if TORCH else None, [shape],
        gradcheck_max_numel=8)
    assert indices.dtype == tg.int64
    check_op(lambda x: x.sort(dim, descending), None, [shape], gradcheck=False)
    check_op(lambda x: tg.argsort(x, dim=dim, descending=descending),
             lambda x: TORCH.argsort(x, dim=dim, descending=descending) if TORCH else None,
             [shape], gradcheck=False)
    check_op(lambda x: x.argsort(dim, descending), None, [shape], gradcheck=False)


@pytest.mark.parametrize("largest", [True, False])
@FAST
@given(sd=shape_and_dim(min_dims=1, max_dims=3, min_side=1, max_side=4), data=st.data())
def test_topk(largest, sd, data):
    shape, dim = sd
    k = data.draw(st.integers(0, shape[dim]))
    _, (values, indices) = check_op(
        lambda x: tg.topk(x, k, dim=dim, largest=largest),
        lambda x: TORCH.topk(x, k, dim=dim, largest=largest) if TORCH else None, [shape],
        gradcheck_max_numel=8)
    assert values.shape == indices.shape
    check_op(lambda x: x.topk(k, dim, largest), None, [shape], gradcheck=False)


def test_topk_default_last_dim_and_errors():
    x = make_arrays([(2, 5)])[0]
    check_op(lambda t: t.topk(2), None, [x])
    with pytest.raises(RuntimeError, match="topk"):
        tg.tensor(x).topk(6)


def test_sort_stable_with_ties():
    torch = pytest.importorskip("torch")
    x = np.array([[2.0, 1.0, 2.0, 1.0, 3.0]])
    v, i = tg.sort(tg.tensor(x), stable=True)
    tv, ti = torch.sort(torch.tensor(x), stable=True)
    assert_close(v, tv)
    assert_close(i, ti)


def test_index_errors():
    x = tg.zeros(3, 4)
    with pytest.raises(IndexError):
        x[5]
    with pytest.raises((IndexError, RuntimeError), match="gather"):
        x.gather(1, tg.tensor([0, 1]))
    with pytest.raises(IndexError, match="index_select"):
        x.index_select(0, tg.tensor([0.5]))
    with pytest.raises(RuntimeError, match="masked_fill"):
        x.masked_fill(tg.ones(3, 4), 0.0)


def _no_negative_steps(idx):
    items = idx if isinstance(idx, tuple) else (idx,)
    return not any(isinstance(i, slice) and i.step is not None and i.step < 0 for i in items)


@FAST
@given(data=st.data(), shape=shapes(min_dims=1, max_dims=3, min_side=1, max_side=3))
def test_getitem_basic_hypothesis(data, shape):
    """Random basic indices (ints, slices with steps, None, Ellipsis); torch has no negative steps."""
    idx = data.draw(hnp.basic_indices(shape, allow_newaxis=True, allow_ellipsis=True)
                    .filter(_no_negative_steps))
    check_op(lambda x: x[idx], None, [shape], gradcheck_max_numel=8)


@FAST
@given(data=st.data(), shape=shapes(min_dims=1, max_dims=3, min_side=1, max_side=3))
def test_getitem_advanced_hypothesis(data, shape):
    """An integer array (repeats allowed) along one dim or a boolean mask over the leading dims."""
    rng = np.random.default_rng(len(shape))
    if data.draw(st.booleans()):
        dim = data.draw(st.integers(0, len(shape) - 1))
        index = rng.integers(0, shape[dim], size=data.draw(st.integers(0, 4)))
        idx = (slice(None),) * dim + (index,)
    else:
        lead = data.draw(st.integers(1, len(shape)))
        idx = rng.random(shape[:lead]) > 0.5
    check_op(lambda x: x[idx], lambda x: x[_torch_index(idx)] if TORCH else None, [shape],
             gradcheck_max_numel=8)
