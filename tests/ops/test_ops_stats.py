"""Cumulative ops and order statistics (cumprod, cummax, cummin, logcumsumexp, median,
nanmedian, mode, kthvalue, quantile, nanquantile, aminmax, std_mean, var_mean, nansum, nanmean,
count_nonzero, msort) against PyTorch in float64: values, indices, first and second gradients.
Inputs have distinct values unless ties are the point (PyTorch's tie-breaking is its own)."""
import numpy as np
import pytest
from helpers import FAST, TORCH, assert_close, check_fn, check_op, shape_and_dim
from hypothesis import given

import tinygen as tg

OPS = {
    "cumprod": (lambda m, x: m.cumprod(x, dim=1), [(2, 4)]),
    "cumprod_dim0": (lambda m, x: x.cumprod(0), [(3, 2)]),
    "cummax": (lambda m, x: m.cummax(x, 1), [(2, 5)]),
    "cummin": (lambda m, x: x.cummin(dim=0), [(4, 2)]),
    "logcumsumexp": (lambda m, x: m.logcumsumexp(x, 1), [(2, 4)]),
    "median_all": (lambda m, x: m.median(x), [(3, 4)]),
    "median_dim": (lambda m, x: x.median(dim=1), [(3, 4)]),
    "median_keepdim": (lambda m, x: m.median(x, 0, keepdim=True), [(3, 4)]),
    "kthvalue": (lambda m, x: m.kthvalue(x, 2, dim=1), [(3, 4)]),
    "kthvalue_keepdim": (lambda m, x: x.kthvalue(3, 0, True), [(3, 4)]),
    "quantile": (lambda m, x: m.quantile(x, 0.3), [(3, 4)]),
    "quantile_dim": (lambda m, x: m.quantile(x, 0.75, dim=1, keepdim=True), [(3, 4)]),
    "aminmax": (lambda m, x: m.aminmax(x, dim=1), [(3, 4)]),
    "std_mean": (lambda m, x: m.std_mean(x, dim=1), [(3, 4)]),
    "var_mean": (lambda m, x: m.var_mean(x, dim=0, correction=0), [(3, 4)]),
    "nansum": (lambda m, x: m.nansum(x, dim=1), [(3, 4)]),
    "nanmean": (lambda m, x: x.nanmean(), [(3, 4)]),
    "msort": (lambda m, x: m.msort(x), [(3, 4)]),
}


@pytest.mark.parametrize("name", sorted(OPS))
def test_stats(name):
    fn, shapes = OPS[name]
    check_fn(fn, shapes)


@pytest.mark.parametrize("interpolation", ["linear", "lower", "higher", "midpoint", "nearest"])
def test_quantile_interpolations_and_tensor_q(interpolation):
    q = np.array([0.0, 0.25, 0.5, 0.9, 1.0])
    check_op(lambda x: tg.quantile(x, tg.tensor(q), dim=0, interpolation=interpolation),
             (lambda x: TORCH.quantile(x, TORCH.tensor(q), dim=0, interpolation=interpolation))
             if TORCH else None, [(5, 3)])


def test_cumprod_with_zeros():
    x = np.array([[1.5, 0.0, 2.0, -1.0], [0.0, 3.0, 0.0, 0.5]])
    check_fn(lambda m, t: m.cumprod(t, 1), [x])


def test_logcumsumexp_is_exact_over_a_wide_range():
    torch = pytest.importorskip("torch")
    x = np.array([-1000.0, 0.0, 1000.0, -5.0])
    assert_close(tg.logcumsumexp(tg.tensor(x), 0), torch.logcumsumexp(torch.tensor(x), 0))


def test_cummax_ties_take_the_later_index():
    torch = pytest.importorskip("torch")
    x = np.array([1.0, 1.0, 0.0, 2.0, 2.0])
    for name in ("cummax", "cummin"):
        ours, ref = getattr(tg, name)(tg.tensor(x), 0), getattr(torch, name)(torch.tensor(x), 0)
        assert_close(ours.values, ref.values)
        assert_close(ours.indices, ref.indices)


def test_mode_matches_torch():
    torch = pytest.importorskip("torch")
    x = np.array([[1.0, 3, 3, 2, 1, 3, 1], [5, 5, 4, 4, 4, 0, 0]])
    ours, ref = tg.mode(tg.tensor(x)), torch.mode(torch.tensor(x))
    assert_close(ours.values, ref.values)
    assert_close(ours.indices, ref.indices)
    t = tg.tensor(x, requires_grad=True)
    tg.mode(t).values.sum().backward()
    expected = np.zeros_like(x)
    expected[0, 6] = expected[1, 4] = 1.0
    assert_close(t.grad, expected)


def test_nan_handling_matches_torch():
    torch = pytest.importorskip("torch")
    x = np.array([[1.0, np.nan, 3.0, 2.0], [np.nan, np.nan, np.nan, np.nan], [4.0, 1.0, 2.0, 0.5]])
    for name, kw in [("nanmedian", {"dim": 1}), ("median", {"dim": 1}),
                     ("nanquantile", {"q": 0.4, "dim": 1}), ("quantile", {"q": 0.4, "dim": 1}),
                     ("nansum", {}), ("nanmean", {"dim": 1})]:
        ours = getattr(tg, name)(tg.tensor(x), **kw)
        ref = getattr(torch, name)(torch.tensor(x), **kw)
        ours, ref = (ours[0], ref[0]) if isinstance(ref, tuple) else (ours, ref)
        np.testing.assert_allclose(ours.numpy(), ref.numpy(), err_msg=name)


def test_count_nonzero():
    torch = pytest.importorskip("torch")
    x = np.array([[0.0, 1.0, 0.0], [2.0, -1.0, 0.0]])
    for dim in (None, 0, 1, (0, 1)):
        assert_close(tg.count_nonzero(tg.tensor(x), dim), torch.count_nonzero(torch.tensor(x),
                                                                              dim))


@FAST
@given(sd=shape_and_dim(min_dims=1, max_dims=3, min_side=1, max_side=4))
def test_median_and_cumulative_hypothesis(sd):
    shape, dim = sd
    check_op(lambda x: x.median(dim=dim), None, [shape], gradcheck_max_numel=8)
    check_op(lambda x: x.cumprod(dim), None, [shape], gradcheck_max_numel=8)
    check_op(lambda x: x.logcumsumexp(dim), None, [shape], gradcheck_max_numel=8)


def test_errors_name_the_op():
    with pytest.raises(RuntimeError, match="kthvalue"):
        tg.kthvalue(tg.ones(3), 4)
    with pytest.raises(RuntimeError, match="quantile"):
        tg.quantile(tg.ones(3), 1.5)
    with pytest.raises(ValueError, match="interpolation"):
        tg.quantile(tg.ones(3), 0.5, interpolation="cubic")


def test_cov_and_corrcoef():
    rng = np.random.default_rng(3)
    fw = rng.integers(1, 4, 5)
    aw = rng.uniform(0.5, 2.0, 5)
    check_fn(lambda m, x: m.cov(x), [(3, 5)])
    check_fn(lambda m, x: m.cov(x, correction=0), [(5,)])
    check_op(lambda x: tg.cov(x, fweights=tg.tensor(fw), aweights=tg.tensor(aw)),
             (lambda x: TORCH.cov(x, fweights=TORCH.tensor(fw), aweights=TORCH.tensor(aw)))
             if TORCH else None, [(3, 5)])
    check_fn(lambda m, x: m.corrcoef(x), [(3, 5)])
