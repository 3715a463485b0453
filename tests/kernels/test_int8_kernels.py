"""The int8 kernels (tinygen_kernels.int8): each CPU version (numba_v1 everywhere, numba_vnni_v2
where the CPU has AVX-512 VNNI) equals the reference exactly, and the reference equals an
independent definition exactly, over drawn shapes and the whole int8 range.

- int8_gemm against int64 NumPy products (no overflow possible there), including K = MAX_K with
  every entry -128 (the largest sum the kernels allow: 2^31 - 2^14);
- int8_conv2d against kernels/conv.py's float64 convolution (itself checked against PyTorch in
  test_conv_reference.py): with padding read as p, conv(x, w) = conv_0(x - p, w) + p * sum(w[o]),
  where conv_0 pads with zeros; float64 is exact on these integers (|sums| < 2^31 < 2^53);
- both on the serial and the forced parallel path, with the batch in chunks of 1, 2 and as in use;
- errors name the op, the shapes and the dtypes; numba_v1 declines what is not int8 NumPy.
"""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tinygen_kernels import _numba, conv, int8, int8_vnni, registry

from test_conv_reference import conv_cases
from test_kernel_table import parallel_threshold

pytestmark = pytest.mark.skipif(not _numba.HAVE_NUMBA, reason="numba is not installed")
DRAWN = settings(max_examples=60, deadline=None, derandomize=True, database=None)
# (name, gemm, conv) of every CPU version this machine runs
VERSIONS = [("numba_v1", int8.int8_gemm_numba, int8.int8_conv2d_numba)]
if int8_vnni.has_vnni():
    VERSIONS.append(("numba_vnni_v2", int8_vnni.int8_gemm_vnni, int8_vnni.int8_conv2d_vnni))


def _int8(rng, shape):
    return rng.integers(-128, 128, size=shape).astype(np.int8)


def _both_paths(fn, *args, **kwargs):
    """fn's results on the serial path and on the parallel path forced from 0 elements."""
    serial = fn(*args, **kwargs)
    with parallel_threshold(0):
        parallel = fn(*args, **kwargs)
    return serial, parallel


@DRAWN
@given(m=st.integers(0, 70), k=st.integers(0, 300), n=st.integers(1, 70),
       seed=st.integers(0, 2**16))
def test_gemm_drawn(m, k, n, seed):
    rng = np.random.default_rng(seed)
    a, b = _int8(rng, (m, k)), _int8(rng, (n, k))
    want = a.astype(np.int64) @ b.astype(np.int64).T
    ref = int8.int8_gemm(a, b)
    assert ref.dtype == np.int32 and ref.shape == (m, n)
    np.testing.assert_array_equal(ref, want)
    for name, gemm, _ in VERSIONS:
        for got in _both_paths(gemm, a, b):
            assert got.dtype == np.int32 and got.shape == (m, n), name
            np.testing.assert_array_equal(got, want, err_msg=name)


def test_gemm_largest_sum_does_not_overflow():
    k = int8.MAX_K
    a = np.full((3, k), -128, np.int8)
    b = np.full((2, k), -128, np.int8)
    b[1] = 127
    want = np.array([[k * 16384, -k * 16256]] * 3)
    assert want.max() < 2**31 and want.min() >= -2**31
    np.testing.assert_array_equal(int8.int8_gemm(a, b), want)
    for name, gemm, _ in VERSIONS:
        for got in _both_paths(gemm, a, b):
            np.testing.assert_array_equal(got, want, err_msg=name)


def test_gemm_strided_operands():
    rng = np.random.default_rng(1)
    a, b = _int8(rng, (40, 64))[::2, 1::3], _int8(rng, (9, 64))[:, 1::3]   # views, not copies
    want = a.astype(np.int64) @ b.astype(np.int64).T
    np.testing.assert_array_equal(int8.int8_gemm(a, b), want)
    for name, gemm, _ in VERSIONS:
        np.testing.assert_array_equal(gemm(a, b), want, err_msg=name)


def _conv_by_float64(x, w, stride, padding, dilation, groups, pad_value):
    shifted = x.astype(np.float64) - pad_value
    y = conv.conv2d_fwd(shifted, w.astype(np.float64), stride, padding, dilation, groups)
    return y + pad_value * w.astype(np.float64).sum(axis=(1, 2, 3))[None, :, None, None]


@DRAWN
@given(case=conv_cases(), seed=st.integers(0, 2**16), pad_value=st.integers(-128, 127))
def test_conv_drawn(case, seed, pad_value):
    x_shape, w_shape, stride, padding, dilation, groups = case
    rng = np.random.default_rng(seed)
    x, w = _int8(rng, x_shape), _int8(rng, w_shape)
    args = (stride, padding, dilation, groups)
    want = _conv_by_float64(x, w, *args, pad_value)
    ref = int8.int8_conv2d(x, w, *args, pad_value=pad_value)
    assert ref.dtype == np.int32 and ref.shape == want.shape
    np.testing.assert_array_equal(ref, want)
    for name, _, conv2d in VERSIONS:
        for got in _both_paths(conv2d, x, w, *args, pad_value=pad_value):
            assert got.dtype == np.int32, name
            np.testing.assert_array_equal(got, want, err_msg=name)


@DRAWN
@given(seed=st.integers(0, 2**16), groups=st.integers(1, 2), channels=st.integers(4, 16),
       kernel=st.integers(1, 3), stride=st.integers(1, 2), padding=st.integers(0, 2),
       size=st.integers(3, 9), batch=st.integers(1, 3), pad_value=st.integers(-128, 127))
def test_conv_drawn_wide(seed, groups, channels, kernel, stride, padding, size, batch, pad_value):
    """Up to 16 channels per group, so that K = channels * kernel^2 reaches numba_vnni_v2's
    vpdpbusd path (K >= 64), which conv_cases' narrow layers do not."""
    rng = np.random.default_rng(seed)
    x = _int8(rng, (batch, groups * channels, size, size))
    w = _int8(rng, (groups * 3, channels, kernel, kernel))
    args = ((stride, stride), (padding, padding), (1, 1), groups)
    want = _conv_by_float64(x, w, *args, pad_value)
    for name, _, conv2d in VERSIONS:
        for got in _both_paths(conv2d, x, w, *args, pad_value=pad_value):
            np.testing.assert_array_equal(got, want, err_msg=name)


@pytest.mark.parametrize("case", [
    ((4, 6, 14, 14), (8, 6, 4, 4), (2, 2), (1, 1), (1, 1), 1),
    ((3, 1, 28, 28), (32, 1, 3, 3), (1, 1), (1, 1), (1, 1), 1),    # the classifier's first conv
    ((2, 4, 1, 1), (6, 2, 7, 7), (1, 1), (6, 6), (1, 1), 2),      # 1x1 input, all padding
    ((2, 6, 9, 19), (6, 2, 3, 2), (1, 2), (2, 1), (2, 1), 3),
    ((0, 2, 5, 5), (3, 2, 3, 3), (1, 1), (1, 1), (1, 1), 1),      # an empty batch
    ((3, 16, 3, 3), (5, 16, 3, 3), (1, 1), (0, 0), (1, 1), 1),    # one output per image, K 144
])
@pytest.mark.parametrize("chunk", [1, 2, None])
def test_conv_in_chunks(monkeypatch, case, chunk):
    if chunk is not None:             # None: the batch chunked as in use
        monkeypatch.setattr(int8, "_batch_chunk", lambda xp, n, item_bytes: max(min(chunk, n), 1))
    x_shape, w_shape, *args = case
    rng = np.random.default_rng(0)
    x, w = _int8(rng, x_shape), _int8(rng, w_shape)
    want = _conv_by_float64(x, w, *args, 5)
    np.testing.assert_array_equal(int8.int8_conv2d(x, w, *args, pad_value=5), want)
    for name, _, conv2d in VERSIONS:
        np.testing.assert_array_equal(conv2d(x, w, *args, pad_value=5), want, err_msg=name)


def test_the_versions_decline_other_arrays():
    a = np.ones((2, 3), np.int16)
    x = np.ones((1, 1, 3, 3), np.float32)
    for name, gemm, conv2d in VERSIONS:
        assert gemm(a, a) is NotImplemented, name
        assert conv2d(x, x, (1, 1), (0, 0), (1, 1), 1) is NotImplemented, name


def test_vnni_is_registered_exactly_where_the_cpu_has_it():
    impls = {impl for _, impl in registry.kernels_for("int8_gemm")}
    assert ("numba_vnni_v2" in impls) == int8_vnni.has_vnni()
    assert "numba_v1" in impls


@pytest.mark.parametrize("impl", [None, "reference"])
def test_errors_name_the_op_shapes_and_dtypes(impl):
    gemm = registry.dispatch("int8_gemm", "cpu", impl=impl)
    a = np.ones((2, 3), np.int8)
    with pytest.raises(ValueError, match=r"int8_gemm: expected a \(M, K\) and b \(N, K\).*"
                                         r"\(2, 3\) and \(3, 2\)"):
        gemm(a, a.T.copy())
    with pytest.raises(TypeError, match="int8_gemm: expected int8 matrices, got int8 and int16"):
        gemm(a, a.astype(np.int16))
    too_long = np.ones((1, int8.MAX_K + 1), np.int8)
    with pytest.raises(ValueError, match="int8_gemm: K = 131072 products could overflow"):
        gemm(too_long, too_long)
    conv2d = registry.dispatch("int8_conv2d", "cpu", impl=impl)
    x = np.ones((1, 4, 5, 5), np.int8)
    with pytest.raises(ValueError, match=r"int8_conv2d: expected x \(N, C, H, W\).*groups = 2"):
        conv2d(x, np.ones((3, 2, 3, 3), np.int8), (1, 1), (0, 0), (1, 1), 2)
    with pytest.raises(TypeError, match="int8_conv2d: expected int8 input and weight"):
        conv2d(x.astype(np.float32), np.ones((2, 4, 3, 3), np.int8), (1, 1), (0, 0), (1, 1), 1)
    with pytest.raises(ValueError, match="int8_conv2d: pad_value must be an int8 value, got 200"):
        conv2d(x, np.ones((2, 4, 3, 3), np.int8), (1, 1), (1, 1), (1, 1), 1, pad_value=200)


@DRAWN
@given(shape=st.lists(st.integers(0, 40), min_size=1, max_size=3), seed=st.integers(0, 2**16),
       scale=st.floats(1e-4, 10), zero_point=st.integers(-128, 127),
       dtype=st.sampled_from([np.float32, np.float64]))
def test_quantize_drawn(shape, seed, scale, zero_point, dtype):
    """int8_quantize: numba_v1 equals the reference exactly, ties (x / scale = k + 0.5) and
    values far outside the int8 range included; the reference equals the formula in float64."""
    rng = np.random.default_rng(seed)
    x = (rng.standard_normal(shape) * scale * rng.choice([1, 50, 1e4])).astype(dtype)
    if x.size >= 2:
        x.flat[0] = dtype(scale) * dtype(2.5)                     # a tie: rounds to even
        x.flat[1] = -dtype(scale) * dtype(300.0)                  # clamped to -128
    want = int8.int8_quantize(x, scale, zero_point)
    assert want.dtype == np.int8 and want.shape == x.shape
    exact = np.clip(np.rint(x / np.asarray(scale, dtype)) + zero_point, -128, 127)
    np.testing.assert_array_equal(want, exact)
    for got in _both_paths(int8.int8_quantize_numba, x, scale, zero_point):
        np.testing.assert_array_equal(got, want)


@DRAWN
@given(shape=st.tuples(st.integers(0, 9), st.integers(1, 20), st.integers(1, 30)),
       seed=st.integers(0, 2**16), bias=st.booleans(),
       dtype=st.sampled_from([np.float32, np.float64]))
def test_dequantize_drawn(shape, seed, bias, dtype):
    """int8_dequantize: numba_v1 equals the reference exactly (the same operations in the same
    order, no FMA), and the reference equals the formula computed in exact integers first."""
    rng = np.random.default_rng(seed)
    acc = rng.integers(-2**31, 2**31, size=shape, dtype=np.int64).astype(np.int32)
    offsets = rng.integers(-2**31, 2**31, size=shape[1])
    scales = (rng.random(shape[1]) * 1e-3).astype(dtype)
    b = rng.standard_normal(shape[1]).astype(np.float32) if bias else None
    want = int8.int8_dequantize(acc, offsets, scales, b)
    assert want.dtype == dtype and want.shape == acc.shape
    exact = (acc.astype(np.int64) - offsets[None, :, None]).astype(dtype) * scales[None, :, None]
    if bias:
        exact = exact + b.astype(dtype)[None, :, None]
    np.testing.assert_array_equal(want, exact)
    for got in _both_paths(int8.int8_dequantize_numba, acc, offsets, scales, b):
        np.testing.assert_array_equal(got, want)
