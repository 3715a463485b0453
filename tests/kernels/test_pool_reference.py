"""The pooling references (tinygen_kernels.pool) against PyTorch (float64, 1e-10; indices
exactly) and against naive loops written from PyTorch's CPU kernels."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tinygen_kernels import pool

TOL64 = {"rtol": 1e-10, "atol": 1e-10}
TOL32 = {"rtol": 1e-5, "atol": 1e-5}


@pytest.fixture(scope="module")
def torch():
    return pytest.importorskip("torch")


def test_pool_output_size():
    assert pool.pool_output_size(7, 3, 2, 1) == 4                        # (7 + 2 - 3) // 2 + 1
    assert pool.pool_output_size(8, 3, 2, 1, 1, ceil_mode=False) == 4
    assert pool.pool_output_size(8, 3, 2, 1, 1, ceil_mode=True) == 5     # partial window kept
    assert pool.pool_output_size(5, 2, 2, 0, 1, ceil_mode=False) == 2
    assert pool.pool_output_size(5, 2, 2, 0, 1, ceil_mode=True) == 3     # starts at 4 < 5: kept
    # ceil would give 4, but the 4th window would start at 6, in the right padding: dropped
    assert pool.pool_output_size(5, 2, 2, 1, 1, ceil_mode=True) == 3
    assert pool.pool_output_size(9, 3, 2, 0, 2) == 3                     # dilated span 5


def naive_maxpool2d(x, kernel, stride, padding, dilation, ceil_mode):
    """PyTorch's CPU max-pool loop, transcribed (aten/src/ATen/native/cpu/MaxPoolKernel.cpp),
    except that a window holding no input element gets index -1."""
    N, C, H, W = x.shape
    oh = pool.pool_output_size(H, kernel[0], stride[0], padding[0], dilation[0], ceil_mode)
    ow = pool.pool_output_size(W, kernel[1], stride[1], padding[1], dilation[1], ceil_mode)
    y = np.empty((N, C, oh, ow), x.dtype)
    idx = np.empty((N, C, oh, ow), np.int64)
    for n in range(N):
        for c in range(C):
            for r in range(oh):
                for q in range(ow):
                    h0, w0 = r * stride[0] - padding[0], q * stride[1] - padding[1]
                    h1 = min(h0 + (kernel[0] - 1) * dilation[0] + 1, H)
                    w1 = min(w0 + (kernel[1] - 1) * dilation[1] + 1, W)
                    while h0 < 0:
                        h0 += dilation[0]
                    while w0 < 0:
                        w0 += dilation[1]
                    best, where = -np.inf, h0 * W + w0
                    if h0 >= h1 or w0 >= w1:
                        where = -1
                    for h in range(h0, h1, dilation[0]):
                        for w in range(w0, w1, dilation[1]):
                            v = x[n, c, h, w]
                            if v > best or np.isnan(v):
                                best, where = v, h * W + w
                    y[n, c, r, q], idx[n, c, r, q] = best, where
    return y, idx


def naive_avgpool2d(x, kernel, stride, padding, ceil_mode, count_include_pad, divisor_override):
    """PyTorch's CPU avg-pool loop, transcribed (aten/src/ATen/native/cpu/AvgPoolKernel.cpp)."""
    N, C, H, W = x.shape
    oh = pool.pool_output_size(H, kernel[0], stride[0], padding[0], 1, ceil_mode)
    ow = pool.pool_output_size(W, kernel[1], stride[1], padding[1], 1, ceil_mode)
    y = np.zeros((N, C, oh, ow), x.dtype)
    for r in range(oh):
        for q in range(ow):
            h0, w0 = r * stride[0] - padding[0], q * stride[1] - padding[1]
            h1, w1 = min(h0 + kernel[0], H + padding[0]), min(w0 + kernel[1], W + padding[1])
            pool_size = (h1 - h0) * (w1 - w0)
            h0, w0, h1, w1 = max(h0, 0), max(w0, 0), min(h1, H), min(w1, W)
            if h0 >= h1 or w0 >= w1:
                continue
            if divisor_override is not None:
                divisor = divisor_override
            elif count_include_pad:
                divisor = pool_size
            else:
                divisor = (h1 - h0) * (w1 - w0)
            y[:, :, r, q] = x[:, :, h0:h1, w0:w1].sum(axis=(2, 3)) / divisor
    return y


# (x_shape, kernel, stride, padding, dilation, ceil_mode)
MAX_CASES = {
    "2x2_stride2": ((2, 3, 8, 8), (2, 2), (2, 2), (0, 0), (1, 1), False),
    "3x3_stride2_pad_ceil": ((2, 2, 8, 7), (3, 3), (2, 2), (1, 1), (1, 1), True),
    "overlapping_stride1": ((1, 2, 5, 6), (3, 3), (1, 1), (1, 1), (1, 1), False),
    "dilation2": ((2, 2, 9, 8), (3, 2), (1, 2), (1, 1), (2, 2), False),
    "dilation2_ceil": ((1, 3, 10, 9), (2, 3), (3, 2), (1, 1), (2, 2), True),
    "non_square_ceil": ((1, 2, 7, 11), (3, 2), (3, 2), (1, 0), (1, 1), True),
    "1x1_stride2": ((2, 2, 5, 5), (1, 1), (2, 2), (0, 0), (1, 1), True),
    "N1_kernel_is_input": ((1, 1, 4, 4), (4, 4), (4, 4), (2, 2), (1, 1), True),
}

# (x_shape, kernel, stride, padding, ceil_mode, count_include_pad, divisor_override)
AVG_CASES = {
    "2x2_stride2": ((2, 3, 8, 8), (2, 2), (2, 2), (0, 0), False, True, None),
    "3x3_pad_include": ((2, 2, 7, 7), (3, 3), (2, 2), (1, 1), False, True, None),
    "3x3_pad_exclude": ((2, 2, 7, 7), (3, 3), (2, 2), (1, 1), False, False, None),
    "ceil_overhang_include": ((1, 2, 8, 7), (3, 3), (2, 2), (1, 1), True, True, None),
    "ceil_overhang_exclude": ((1, 2, 8, 7), (3, 3), (2, 2), (1, 1), True, False, None),
    "ceil_no_pad": ((2, 2, 5, 6), (2, 4), (2, 3), (0, 0), True, True, None),
    "divisor_override": ((1, 2, 7, 6), (3, 2), (2, 2), (1, 1), True, True, 5),
    "overlapping_stride1": ((1, 3, 5, 6), (3, 3), (1, 1), (1, 1), False, False, None),
}


def _torch_maxpool(torch, x, gy, kernel, stride, padding, dilation, ceil_mode, backward=True):
    tx = torch.tensor(x, requires_grad=backward)
    y, idx = torch.nn.functional.max_pool2d(tx, kernel, stride, padding, dilation, ceil_mode,
                                            return_indices=True)
    if not backward:
        return y.detach().numpy(), idx.numpy(), None
    y.backward(torch.tensor(gy))
    return y.detach().numpy(), idx.numpy(), tx.grad.numpy()


def scatter_maxpool_grad(gy, idx, x_shape):
    """gx[n, c].flat[idx] += gy, one element at a time, skipping idx -1."""
    gx = np.zeros(x_shape, gy.dtype)
    for n, c, r, q in np.ndindex(*gy.shape):
        if idx[n, c, r, q] >= 0:
            gx[n, c].flat[idx[n, c, r, q]] += gy[n, c, r, q]
    return gx


def _torch_avgpool(torch, x, gy, *options):
    tx = torch.tensor(x, requires_grad=True)
    y = torch.nn.functional.avg_pool2d(tx, *options)
    y.backward(torch.tensor(gy))
    return y.detach().numpy(), tx.grad.numpy()


def _check_max(torch, x, kernel, stride, padding, dilation, ceil_mode, tol=TOL64, seed=0):
    y, idx = pool.maxpool2d_fwd(x, kernel, stride, padding, dilation, ceil_mode)
    gy = np.random.default_rng(seed).standard_normal(y.shape).astype(x.dtype)
    gx = pool.maxpool2d_bwd(gy, idx, x.shape)
    assert y.dtype == x.dtype and gx.dtype == x.dtype and idx.dtype == np.int64
    # A window holding no input: PyTorch returns an index outside the window, possibly outside
    # the input, and its backward writes through it (heap corruption, then an abort). There,
    # compare the forward only, and the gradient with a plain scatter.
    empty = idx == -1
    y_t, idx_t, gx_t = _torch_maxpool(torch, x, gy, kernel, stride, padding, dilation, ceil_mode,
                                      backward=not empty.any())
    np.testing.assert_allclose(y, y_t, **tol)
    np.testing.assert_array_equal(idx[~empty], idx_t[~empty])
    if empty.any():
        assert np.all(y[empty] == -np.inf)
        gx_t = scatter_maxpool_grad(gy, idx, x.shape)
    np.testing.assert_allclose(gx, gx_t, **tol)


def _check_avg(torch, x, kernel, stride, padding, ceil_mode, include_pad, divisor, tol=TOL64,
               seed=0):
    options = (kernel, stride, padding, ceil_mode, include_pad, divisor)
    y = pool.avgpool2d_fwd(x, *options)
    gy = np.random.default_rng(seed).standard_normal(y.shape).astype(x.dtype)
    y_t, gx_t = _torch_avgpool(torch, x, gy, *options)
    gx = pool.avgpool2d_bwd(gy, x.shape, *options)
    assert y.dtype == x.dtype and gx.dtype == x.dtype
    np.testing.assert_allclose(y, y_t, **tol)
    np.testing.assert_allclose(gx, gx_t, **tol)


@pytest.mark.parametrize("name", sorted(MAX_CASES))
def test_maxpool_matches_torch(torch, name):
    shape, *options = MAX_CASES[name]
    _check_max(torch, np.random.default_rng(0).standard_normal(shape), *options)


@pytest.mark.parametrize("name", sorted(AVG_CASES))
def test_avgpool_matches_torch(torch, name):
    shape, *options = AVG_CASES[name]
    _check_avg(torch, np.random.default_rng(0).standard_normal(shape), *options)


def test_float32_matches_torch(torch):
    rng = np.random.default_rng(1)
    shape, *options = MAX_CASES["3x3_stride2_pad_ceil"]
    _check_max(torch, rng.standard_normal(shape).astype(np.float32), *options, tol=TOL32)
    shape, *options = AVG_CASES["ceil_overhang_exclude"]
    _check_avg(torch, rng.standard_normal(shape).astype(np.float32), *options, tol=TOL32)


def test_maxpool_ties_nan_and_minus_inf_match_torch(torch):
    """Ties (small integers), NaNs and -inf: the same winner and index as PyTorch's CPU kernel
    (first maximum in window order; a NaN wins; an all -inf window points at its first input)."""
    rng = np.random.default_rng(2)
    x = rng.integers(0, 3, size=(2, 3, 9, 9)).astype(np.float64)
    x[0, 0, 1, 2] = x[1, 2, 4, 4] = x[1, 2, 4, 6] = np.nan
    x[0, 1] = -np.inf
    x[1, 0, :3, :3] = -np.inf
    for options in [((3, 3), (2, 2), (1, 1), (1, 1), True), ((2, 2), (1, 1), (0, 0), (1, 1), False),
                    ((3, 2), (2, 1), (1, 1), (2, 2), False)]:
        y, idx = pool.maxpool2d_fwd(x, *options)
        tx = torch.tensor(x)
        y_t, idx_t = torch.nn.functional.max_pool2d(tx, *options, return_indices=True)
        np.testing.assert_array_equal(idx, idx_t.numpy())
        np.testing.assert_array_equal(y, y_t.numpy())     # NaN == NaN for assert_array_equal


@st.composite
def maxpool_cases(draw):
    kernel = (draw(st.integers(1, 4)), draw(st.integers(1, 4)))
    dilation = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    stride = (draw(st.integers(1, 4)), draw(st.integers(1, 4)))
    padding = tuple(draw(st.integers(0, k // 2)) for k in kernel)   # PyTorch: at most half kernel
    hw = tuple(max(1, d * (k - 1) + 1 - 2 * p) + draw(st.integers(0, 6))
               for k, d, p in zip(kernel, dilation, padding))
    shape = (draw(st.integers(1, 2)), draw(st.integers(1, 3)), *hw)
    return shape, kernel, stride, padding, dilation, draw(st.booleans())


@st.composite
def avgpool_cases(draw):
    kernel = (draw(st.integers(1, 4)), draw(st.integers(1, 4)))
    stride = (draw(st.integers(1, 4)), draw(st.integers(1, 4)))
    padding = tuple(draw(st.integers(0, k // 2)) for k in kernel)
    hw = tuple(max(1, k - 2 * p) + draw(st.integers(0, 6)) for k, p in zip(kernel, padding))
    shape = (draw(st.integers(1, 2)), draw(st.integers(1, 3)), *hw)
    divisor = draw(st.sampled_from([None, None, 1, 3]))
    return shape, kernel, stride, padding, draw(st.booleans()), draw(st.booleans()), divisor


@settings(max_examples=60, deadline=None)
@given(case=maxpool_cases(), seed=st.integers(0, 2**16))
def test_maxpool_matches_torch_drawn(torch, case, seed):
    shape, *options = case
    _check_max(torch, np.random.default_rng(seed).standard_normal(shape), *options, seed=seed)


@settings(max_examples=60, deadline=None)
@given(case=avgpool_cases(), seed=st.integers(0, 2**16))
def test_avgpool_matches_torch_drawn(torch, case, seed):
    shape, *options = case
    _check_avg(torch, np.random.default_rng(seed).standard_normal(shape), *options, seed=seed)


@pytest.mark.parametrize("name", ["3x3_stride2_pad_ceil", "dilation2_ceil", "non_square_ceil",
                                  "N1_kernel_is_input"])
def test_maxpool_matches_naive_loops(name):
    shape, *options = MAX_CASES[name]
    x = np.random.default_rng(3).integers(0, 4, size=shape).astype(np.float64)    # with ties
    y, idx = pool.maxpool2d_fwd(x, *options)
    y_naive, idx_naive = naive_maxpool2d(x, *options)
    np.testing.assert_array_equal(idx, idx_naive)
    np.testing.assert_array_equal(y, y_naive)


@pytest.mark.parametrize("name", ["ceil_overhang_include", "ceil_overhang_exclude",
                                  "divisor_override", "3x3_pad_exclude"])
def test_avgpool_matches_naive_loops(name):
    shape, *options = AVG_CASES[name]
    x = np.random.default_rng(4).standard_normal(shape)
    np.testing.assert_allclose(pool.avgpool2d_fwd(x, *options), naive_avgpool2d(x, *options),
                               **TOL64)


@pytest.mark.parametrize("name", ["ceil_overhang_include", "divisor_override",
                                  "overlapping_stride1"])
def test_avgpool_bwd_is_adjoint_of_fwd(name):
    """<avgpool(x), gy> = <x, avgpool_bwd(gy)>: checks the backward without torch."""
    shape, *options = AVG_CASES[name]
    rng = np.random.default_rng(5)
    x = rng.standard_normal(shape)
    y = naive_avgpool2d(x, *options)
    gy = rng.standard_normal(y.shape)
    gx = pool.avgpool2d_bwd(gy, x.shape, *options)
    np.testing.assert_allclose(np.sum(x * gx), np.sum(y * gy), **TOL64)


def test_maxpool_window_without_input():
    # H = W = 1, kernel 2, dilation 2, padding 1: the window holds rows -1 and 1, neither inside
    x = np.ones((1, 1, 1, 1))
    y, idx = pool.maxpool2d_fwd(x, (2, 2), (1, 1), (1, 1), (2, 2), False)
    np.testing.assert_array_equal(y, np.full((1, 1, 1, 1), -np.inf))
    np.testing.assert_array_equal(idx, [[[[-1]]]])
    np.testing.assert_array_equal(pool.maxpool2d_bwd(np.ones_like(y), idx, x.shape), [[[[0.0]]]])
    np.testing.assert_array_equal(naive_maxpool2d(x, (2, 2), (1, 1), (1, 1), (2, 2), False)[1],
                                  idx)


def test_maxpool_bwd_sums_overlapping_windows():
    # stride 1, 2x2 windows over a 1x3 row whose middle is the max: both windows pick it
    x = np.array([[[[0.0, 5.0, 1.0]]]])
    _, idx = pool.maxpool2d_fwd(x, (1, 2), (1, 1), (0, 0), (1, 1), False)
    np.testing.assert_array_equal(idx, [[[[1, 1]]]])
    gx = pool.maxpool2d_bwd(np.array([[[[2.0, 3.0]]]]), idx, x.shape)
    np.testing.assert_array_equal(gx, [[[[0.0, 5.0, 0.0]]]])


def test_registry_examples_run():
    from tinygen_kernels import registry
    rng = np.random.default_rng(6)
    for name in ("maxpool2d_fwd", "maxpool2d_bwd", "avgpool2d_fwd", "avgpool2d_bwd"):
        entry = registry.references()[name]
        args, kwargs = entry.example(rng, "test")
        out = entry.reference(*args, **kwargs)
        out = out[0] if isinstance(out, tuple) else out
        assert out.dtype == np.float32 and np.all(np.isfinite(out))


def test_empty_batch():
    x = np.zeros((0, 2, 5, 5))
    y, idx = pool.maxpool2d_fwd(x, (2, 2), (2, 2), (1, 1), (1, 1), True)
    assert y.shape == idx.shape == (0, 2, 3, 3)
    assert pool.maxpool2d_bwd(y, idx, x.shape).shape == x.shape
    options = ((2, 2), (2, 2), (1, 1), True, False, None)
    y = pool.avgpool2d_fwd(x, *options)
    assert y.shape == (0, 2, 3, 3)
    assert pool.avgpool2d_bwd(y, x.shape, *options).shape == x.shape
