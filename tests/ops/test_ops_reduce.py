"""Reductions, the softmax family and cumsum against PyTorch in float64.

`dim` is drawn as None, an int or a tuple (negative dims included) with keepdim both ways; shapes
have size-1 dims and, where the reduction is defined on empty input, size-0 dims.
"""
import numpy as np
import pytest
from helpers import (
    FAST,
    TORCH,
    assert_close,
    check_op,
    make_arrays,
    shape_and_dim,
    shape_and_dims,
)
from hypothesis import given
from hypothesis import strategies as st

import tinygen as tg


def _dim_args(dim, keepdim):
    """kwargs for a reduction over `dim` (None: all dims)."""
    return {"dim": dim, "keepdim": keepdim}


@pytest.mark.parametrize("name", ["sum", "mean"])
@FAST
@given(sd=shape_and_dims(max_dims=3, min_side=0, max_side=3), keepdim=st.booleans())
def test_sum_mean(name, sd, keepdim):
    shape, dim = sd
    kw = _dim_args(dim, keepdim)
    check_op(lambda x: getattr(x, name)(**kw), None, [shape], gradcheck_max_numel=8)


@pytest.mark.parametrize("name", ["var", "std"])
@FAST
@given(sd=shape_and_dims(min_dims=1, max_dims=3, min_side=2, max_side=3), keepdim=st.booleans(),
       unbiased=st.booleans())
def test_var_std(name, sd, keepdim, unbiased):
    shape, dim = sd
    kw = _dim_args(dim, keepdim)
    check_op(lambda x: getattr(x, name)(unbiased=unbiased, **kw), None, [shape],
             gradcheck_max_numel=8)


def test_var_std_default_is_unbiased():
    torch = pytest.importorskip("torch")
    x = make_arrays([(3, 4)])[0]
    assert_close(tg.tensor(x).var(), torch.tensor(x).var())
    assert_close(tg.tensor(x).std(dim=1), torch.tensor(x).std(dim=1))
    assert_close(tg.tensor(x).var(0, keepdim=True), torch.tensor(x).var(0, keepdim=True))


@pytest.mark.parametrize("name", ["amax", "amin", "logsumexp"])
@FAST
@given(sd=shape_and_dims(min_dims=1, max_dims=3, min_side=1, max_side=3), keepdim=st.booleans())
def test_amax_amin_logsumexp(name, sd, keepdim):
    shape, dim = sd
    if dim is None:
        dim = tuple(range(len(shape)))        # torch's logsumexp needs a dim
    check_op(lambda x: getattr(x, name)(dim=dim, keepdim=keepdim), None, [shape],
             gradcheck_max_numel=8)


def test_amax_amin_ties_share_gradient():
    x = np.array([[1.0, 3.0, 3.0], [2.0, 2.0, 2.0]])
    check_op(lambda t: t.amax(dim=1), None, [x], gradcheck=False)
    check_op(lambda t: t.amin(dim=(0, 1)), None, [x], gradcheck=False)
    check_op(lambda t: t.max(), None, [x], gradcheck=False)


@pytest.mark.parametrize("name", ["max", "min"])
@FAST
@given(sd=shape_and_dim(min_dims=1, max_dims=3, min_side=1, max_side=3), keepdim=st.booleans())
def test_max_min_dim_values_indices(name, sd, keepdim):
    shape, dim = sd
    _, (_values, indices) = check_op(lambda x: getattr(x, name)(dim, keepdim=keepdim), None,
                                    [shape], gradcheck_max_numel=8)
    assert indices.dtype == tg.int64
    out = getattr(tg.tensor(make_arrays([shape])[0]), name)(dim, keepdim)
    assert out.values is out[0] and out.indices is out[1]


@pytest.mark.parametrize("name", ["max", "min"])
def test_max_min_full_and_twins(name):
    check_op(lambda x: getattr(x, name)(), None, [(2, 3)])
    check_op(lambda x: getattr(tg, name)(x, 1), lambda x: getattr(TORCH, name)(x, 1),
             [(2, 3)])


@pytest.mark.parametrize("name", ["argmax", "argmin"])
@FAST
@given(sd=shape_and_dims(min_dims=1, max_dims=3, min_side=1, max_side=3), keepdim=st.booleans())
def test_argmax_argmin(name, sd, keepdim):
    torch = pytest.importorskip("torch")
    shape, dim = sd
    if isinstance(dim, tuple):
        dim = dim[0]
    x = make_arrays([shape])[0]
    kw = {} if dim is None else {"dim": dim, "keepdim": keepdim}
    out = getattr(tg.tensor(x), name)(**kw)
    assert out.dtype == tg.int64 and not out.requires_grad
    assert_close(out, getattr(torch.tensor(x), name)(**kw))
    assert_close(tg.argmax(tg.tensor(x)), torch.argmax(torch.tensor(x)))


@FAST
@given(sd=shape_and_dim(min_dims=1, max_dims=3, min_side=1, max_side=3), keepdim=st.booleans())
def test_prod_dim(sd, keepdim):
    shape, dim = sd
    check_op(lambda x: x.prod(dim, keepdim=keepdim), None, [shape], gradcheck_max_numel=8)


@pytest.mark.parametrize("x", [
    np.array([[1.5, 0.0, 2.0], [0.5, -1.0, 3.0]]),           # one zero in a row
    np.array([[0.0, 0.0, 2.0], [0.5, 0.0, 3.0]]),            # two zeros in a row
    np.array([[1.5, -0.7, 2.0], [0.5, -1.0, 3.0]]),          # no zeros
])
def test_prod_with_zeros(x):
    check_op(lambda t: t.prod(dim=1), None, [x], gradcheck=False)
    check_op(lambda t: t.prod(), None, [x], gradcheck=False)
    check_op(lambda t: t.prod(0, keepdim=True), None, [x], gradcheck=False)


@pytest.mark.parametrize("p", ["fro", 2, 1, float("inf")])
@pytest.mark.parametrize("dim", [None, 1, -1, (0, 1)])
@pytest.mark.parametrize("keepdim", [False, True])
def test_norm(p, dim, keepdim):
    if dim is None and keepdim:
        pytest.skip("torch.norm ignores keepdim without dim")
    if p == float("inf") and dim is None:
        dim = (0, 1)
    check_op(lambda x: x.norm(p=p, dim=dim, keepdim=keepdim), None, [(2, 3)],
             gradcheck=p != 1)


def test_norm_at_zero_has_zero_gradient():
    x = tg.zeros(3, dtype=tg.float64, requires_grad=True)
    x.norm().backward()
    assert np.all(x.grad.numpy() == 0)


@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
@FAST
@given(sd=shape_and_dim(min_dims=1, max_dims=3, min_side=0, max_side=3))
def test_softmax_family(name, sd):
    shape, dim = sd
    check_op(lambda x: getattr(x, name)(dim), None, [shape], gradcheck_max_numel=8)
    check_op(lambda x: getattr(tg, name)(x, dim=dim),
             lambda x: getattr(TORCH, name)(x, dim=dim) if TORCH else None, [shape],
             gradcheck=False)


def test_softmax_large_inputs_are_stable():
    x = np.array([[1000.0, 1001.0, 999.0], [-1000.0, -1001.0, -1002.0]])
    check_op(lambda t: t.softmax(-1), None, [x], gradcheck=False)
    check_op(lambda t: t.log_softmax(-1), None, [x], gradcheck=False)
    check_op(lambda t: t.logsumexp(-1), None, [x], gradcheck=False)


@FAST
@given(sd=shape_and_dim(min_dims=1, max_dims=3, min_side=0, max_side=3))
def test_cumsum(sd):
    shape, dim = sd
    check_op(lambda x: x.cumsum(dim), None, [shape], gradcheck_max_numel=8)
    check_op(lambda x: tg.cumsum(x, dim=dim),
             lambda x: TORCH.cumsum(x, dim=dim) if TORCH else None, [shape], gradcheck=False)


def test_reduction_of_empty_tensor():
    torch = pytest.importorskip("torch")
    for fn in (lambda x: x.sum(), lambda x: x.sum(dim=0), lambda x: x.sum(dim=1),
               lambda x: x.mean(dim=0), lambda x: x.prod(dim=1), lambda x: x.amax(dim=1)):
        x = np.zeros((0, 3))
        assert_close(fn(tg.tensor(x)), fn(torch.tensor(x)))


def test_max_of_empty_tensor_raises():
    with pytest.raises((RuntimeError, ValueError, IndexError), match="max"):
        tg.zeros(0, 3).max()


def test_reductions_of_int_and_bool():
    torch = pytest.importorskip("torch")
    i = np.array([[1, 2, 3], [4, 5, 6]])
    b = np.array([[True, False, True], [True, True, True]])
    for fn in (lambda x: x.sum(), lambda x: x.sum(dim=1), lambda x: x.amax(dim=0),
               lambda x: x.argmax(dim=1), lambda x: x.prod(dim=1)):
        out, ref = fn(tg.tensor(i)), fn(torch.tensor(i))
        assert out.dtype == tg.int64
        assert_close(out, ref)
    assert tg.tensor(b).sum().dtype == tg.int64
    assert tg.tensor(b).sum().item() == 5
    assert tg.tensor(i).mean(dtype=tg.float64).item() == 3.5


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("keepdim", [False, True])
def test_sum_over_all_but_the_channels(dtype, keepdim):
    """The sum over every axis but 1 (a bias gradient) runs the channel_sum kernel: float64
    accumulation, so a float32 result is the float64 sum rounded (within one float32 step)."""
    x = np.random.default_rng(0).standard_normal((64, 7, 24, 24)).astype(dtype)
    got = tg.tensor(x).sum(dim=(0, -2, -1), keepdim=keepdim).numpy()
    want = x.astype(np.float64).sum(axis=(0, 2, 3), keepdims=keepdim)
    assert got.dtype == np.dtype(dtype) and got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=1e-6 if dtype == "float32" else 1e-12, atol=0)
