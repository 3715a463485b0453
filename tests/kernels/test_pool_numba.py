"""The numba pooling kernels (tinygen_kernels.pool, numba_v1) against the NumPy references on drawn
shapes: max pooling exactly (values and indices, with ties, NaN, -inf and windows that hold no
input), average pooling within float rounding, float32 and float64."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tinygen_kernels import _numba, pool

from test_pool_reference import avgpool_cases, maxpool_cases

pytestmark = pytest.mark.skipif(not _numba.HAVE_NUMBA, reason="numba is not installed")


def _with_specials(x, rng, specials):
    """x with ties (a rounded copy), and where asked a few NaN and -inf entries."""
    x = np.round(x * 2) / 2                                  # many equal values: ties
    if specials:
        flat = x.reshape(-1)
        flat[rng.random(flat.size) < 0.1] = -np.inf
        flat[rng.random(flat.size) < 0.05] = np.nan
    return x


@settings(max_examples=80, deadline=None)
@given(case=maxpool_cases(), seed=st.integers(0, 2**16), specials=st.booleans(),
       dtype=st.sampled_from([np.float32, np.float64]))
def test_maxpool_numba_equals_reference(case, seed, specials, dtype):
    shape, kernel, stride, padding, dilation, ceil_mode = case
    rng = np.random.default_rng(seed)
    x = _with_specials(rng.standard_normal(shape), rng, specials).astype(dtype)
    want_y, want_idx = pool.maxpool2d_fwd(x, kernel, stride, padding, dilation, ceil_mode)
    got_y, got_idx = pool.maxpool2d_fwd_numba(x, kernel, stride, padding, dilation, ceil_mode)
    assert got_y.dtype == want_y.dtype and got_idx.dtype == want_idx.dtype
    np.testing.assert_array_equal(got_idx, want_idx)
    np.testing.assert_array_equal(got_y, want_y)              # NaN == NaN here


def test_maxpool_numba_window_without_input():
    # H = 1, kernel 2, padding 1, dilation 2: the window at row 0 reads rows -1 and 1, neither inside
    x = np.ones((1, 1, 1, 3))
    y, idx = pool.maxpool2d_fwd_numba(x, (2, 1), (1, 1), (1, 0), (2, 1), False)
    want_y, want_idx = pool.maxpool2d_fwd(x, (2, 1), (1, 1), (1, 0), (2, 1), False)
    np.testing.assert_array_equal(idx, want_idx)
    np.testing.assert_array_equal(y, want_y)
    assert (idx == -1).any() and np.isneginf(y[idx == -1]).all()


@settings(max_examples=80, deadline=None)
@given(case=avgpool_cases(), seed=st.integers(0, 2**16),
       dtype=st.sampled_from([np.float32, np.float64]))
def test_avgpool_numba_equals_reference(case, seed, dtype):
    shape, kernel, stride, padding, *options = case
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape).astype(dtype)
    tol = {"rtol": 1e-5, "atol": 1e-6} if dtype == np.float32 else {"rtol": 1e-12, "atol": 1e-12}
    y = pool.avgpool2d_fwd_numba(x, kernel, stride, padding, *options)
    want = pool.avgpool2d_fwd(x, kernel, stride, padding, *options)
    if y is NotImplemented:              # windows that tile the input: left to the reference
        assert tuple(kernel) == tuple(stride) and tuple(padding) == (0, 0)
    else:
        assert y.dtype == want.dtype
        np.testing.assert_allclose(y, want, **tol)
    gy = rng.standard_normal(want.shape).astype(dtype)
    gx = pool.avgpool2d_bwd_numba(gy, shape, kernel, stride, padding, *options)
    want_gx = pool.avgpool2d_bwd(gy, shape, kernel, stride, padding, *options)
    assert gx.dtype == want_gx.dtype and gx.shape == tuple(shape)
    np.testing.assert_allclose(gx, want_gx, **tol)


def test_numba_pool_declines_integers():
    x = np.ones((1, 1, 4, 4), dtype=np.int64)
    assert pool.maxpool2d_fwd_numba(x, (2, 2), (2, 2), (0, 0), (1, 1), False) is NotImplemented
    assert pool.avgpool2d_fwd_numba(x, (2, 2), (2, 2), (0, 0), False, True, None) is NotImplemented


@settings(max_examples=60, deadline=None)
@given(h=st.integers(2, 9), w=st.integers(2, 9), seed=st.integers(0, 2**16),
       specials=st.booleans(), ceil_mode=st.booleans(),
       dtype=st.sampled_from([np.float32, np.float64]))
def test_maxpool_2x2_stride_2_equals_reference(h, w, seed, specials, ceil_mode, dtype):
    """The branch-free 2x2 loop (odd sides too: the last row or column is left out, or with
    ceil_mode a partial window sends the call to the general loop)."""
    rng = np.random.default_rng(seed)
    x = _with_specials(rng.standard_normal((2, 3, h, w)), rng, specials).astype(dtype)
    args = ((2, 2), (2, 2), (0, 0), (1, 1), ceil_mode)
    want_y, want_idx = pool.maxpool2d_fwd(x, *args)
    got_y, got_idx = pool.maxpool2d_fwd_numba(x, *args)
    np.testing.assert_array_equal(got_idx, want_idx)
    np.testing.assert_array_equal(got_y, want_y)
