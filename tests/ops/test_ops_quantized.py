"""tinygen/ops/quantized.py: the int8 round trip and the int8 Linear and Conv2d ops.

- quantise then dequantise errs by at most scale / 2 per element, for activations (affine, per
  tensor, on drawn ranges that need not contain 0) and for weights (symmetric, per channel); 0
  is exact (padding and pruned weights rely on that);
- the int8 ops compute exactly the float64 Linear / conv2d of their dequantised operands: the
  only difference allowed is float32's rounding of the result (rtol 1e-6 of the largest output),
  because the integer part (int8_gemm, int8_conv2d) is exact. So every error of a quantised model
  is the quantisation of its operands, nothing else;
- dynamic qparams are the batch's own; static qparams clip what lies outside them;
- no backward: the error names the op; bad input: errors name the op, shapes and dtypes.
"""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tinygen as tg
import tinygen.nn.functional as F
from tinygen.ops import quantized as Q

DRAWN = settings(max_examples=40, deadline=None, derandomize=True, database=None)


def _rounding_slack(scale, values):
    """float32 arithmetic on top of the exact bound: a few ulp of the largest magnitude."""
    return 4 * np.finfo(np.float32).eps * (np.abs(values).max() + scale * 128)


@DRAWN
@given(lo=st.floats(-50, 50), width=st.floats(1e-3, 100), shape=st.tuples(
    st.integers(1, 6), st.integers(1, 40)), seed=st.integers(0, 2**16))
def test_activation_round_trip_error_is_at_most_half_a_step(lo, width, shape, seed):
    rng = np.random.default_rng(seed)
    x = (lo + width * rng.random(shape)).astype(np.float32)
    x.flat[0], x.flat[-1] = lo, lo + width                         # the range's ends are hit
    scale, zero_point = Q.affine_qparams(x.min(), x.max())
    assert -128 <= zero_point <= 127 and scale > 0
    q = Q.quantize_per_tensor(tg.tensor(x), scale, zero_point)
    assert q.dtype == tg.int8
    back = Q.dequantize(q, scale, zero_point).numpy()
    assert np.abs(back - x).max() <= scale / 2 + _rounding_slack(scale, x)
    # 0 is representable exactly: q = zero_point dequantises to 0
    assert Q.dequantize(tg.tensor([zero_point], dtype=tg.int8), scale, zero_point).item() == 0


@DRAWN
@given(shape=st.tuples(st.integers(1, 9), st.integers(1, 5), st.integers(1, 4)),
       seed=st.integers(0, 2**16), pruned=st.floats(0, 0.9))
def test_weight_round_trip_per_channel(shape, seed, pruned):
    rng = np.random.default_rng(seed)
    w = rng.standard_normal(shape).astype(np.float32) * rng.random((shape[0], 1, 1)) * 3
    w[rng.random(shape) < pruned] = 0.0
    w[0] = 0.0                                                     # an all-zero channel
    q, scale = Q.quantize_weight(tg.tensor(w))
    assert q.dtype == tg.int8 and tuple(scale.shape) == (shape[0],)
    assert np.abs(q.numpy()).max() <= 127                          # symmetric: no -128
    back = Q.dequantize(q, scale).numpy()
    bound = scale.numpy().reshape(-1, 1, 1) / 2 + _rounding_slack(1.0, w)
    assert np.all(np.abs(back - w) <= bound)
    assert np.all(q.numpy()[w == 0] == 0)                          # zeros stay exactly 0
    amax = np.abs(w).reshape(shape[0], -1).max(1)
    np.testing.assert_allclose(scale.numpy(), np.where(amax == 0, 1.0, amax / 127), rtol=1e-6)


def test_affine_qparams_examples_and_errors():
    assert Q.affine_qparams(0.0, 2.55) == (pytest.approx(0.01), -128)
    scale, zero_point = Q.affine_qparams(-1.0, 1.0)
    assert scale == pytest.approx(2 / 255) and zero_point in (-1, 0)
    assert Q.affine_qparams(3.0, 5.0)[1] == -128                   # widened to contain 0
    assert Q.affine_qparams(0.0, 0.0) == (1.0, 0)
    with pytest.raises(ValueError, match="not finite"):
        Q.affine_qparams(float("nan"), 1.0)


def _dequantised_operands(x, w, input_scale=None, input_zero_point=0):
    """float64 Tensors of what the int8 op multiplies: the dequantised input and weight."""
    if input_scale is None:
        input_scale, input_zero_point = Q.affine_qparams(x.numpy().min(), x.numpy().max())
    x_q = Q.quantize_per_tensor(x, input_scale, input_zero_point)
    w_q, w_scale = Q.quantize_weight(w)
    return (Q.dequantize(x_q, input_scale, input_zero_point).double(),
            Q.dequantize(w_q, w_scale).double(), w_q, w_scale)


def _assert_float32_rounding_of(got, want):
    assert got.dtype == tg.float32 and got.shape == want.shape
    np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=0,
                               atol=1e-6 * max(np.abs(want.numpy()).max(), 1.0))


@DRAWN
@given(lead=st.lists(st.integers(1, 5), min_size=1, max_size=2), k=st.integers(1, 70),
       n=st.integers(1, 20), seed=st.integers(0, 2**16), static=st.booleans(),
       bias=st.booleans())
def test_linear_is_the_float_linear_of_its_dequantised_operands(lead, k, n, seed, static, bias):
    rng = np.random.default_rng(seed)
    x = tg.tensor(rng.standard_normal(lead + [k]).astype(np.float32) + 0.5)
    w = tg.tensor(rng.standard_normal((n, k)).astype(np.float32))
    b = tg.tensor(rng.standard_normal(n).astype(np.float32)) if bias else None
    qparams = (0.02, -5) if static else (None, 0)                  # static: clips the tails
    x_d, w_d, w_q, w_scale = _dequantised_operands(x, w, *qparams)
    got = Q.quantized_linear(x, w_q, w_scale, b, *qparams)
    _assert_float32_rounding_of(got, F.linear(x_d, w_d, None if b is None else b.double()))


@DRAWN
@given(seed=st.integers(0, 2**16), groups=st.integers(1, 2), stride=st.integers(1, 2),
       padding=st.integers(0, 2), dilation=st.integers(1, 2), static=st.booleans())
def test_conv2d_is_the_float_conv_of_its_dequantised_operands(seed, groups, stride, padding,
                                                              dilation, static):
    rng = np.random.default_rng(seed)
    x = tg.tensor(rng.random((2, 2 * groups, 7, 6)).astype(np.float32) * 3)   # ReLU-like: >= 0
    w = tg.tensor(rng.standard_normal((3 * groups, 2, 3, 2)).astype(np.float32))
    b = tg.tensor(rng.standard_normal(3 * groups).astype(np.float32))
    qparams = (0.01, -128) if static else (None, 0)                # static: [0, 2.55] clips
    x_d, w_d, w_q, w_scale = _dequantised_operands(x, w, *qparams)
    args = dict(stride=stride, padding=padding, dilation=dilation, groups=groups)
    got = Q.quantized_conv2d(x, w_q, w_scale, b, **args, input_scale=qparams[0],
                             input_zero_point=qparams[1])
    # the zero padding of the float conv is the zero point of the int8 one
    _assert_float32_rounding_of(got, F.conv2d(x_d, w_d, b.double(), **args))


def test_int8_ops_are_close_to_the_float_ops():
    """The size of the error, for scale: relative to the output's range, about 1% here."""
    rng = np.random.default_rng(0)
    x = tg.tensor(rng.standard_normal((64, 200)).astype(np.float32))
    w = tg.tensor(rng.standard_normal((30, 200)).astype(np.float32) / 14)
    w_q, w_scale = Q.quantize_weight(w)
    y, want = Q.quantized_linear(x, w_q, w_scale), F.linear(x, w)
    err = np.abs(y.numpy() - want.numpy()).max() / np.abs(want.numpy()).max()
    assert 1e-4 < err < 0.02


def test_float64_input_gives_float64():
    w_q, w_scale = Q.quantize_weight(tg.randn(4, 3))
    assert Q.quantized_linear(tg.randn(2, 3, dtype=tg.float64), w_q, w_scale).dtype == tg.float64


@pytest.mark.parametrize("op", ["linear", "conv2d"])
def test_backward_raises_naming_the_op(op):
    x = tg.randn(2, 3, 5, 5, requires_grad=True)
    w_q, w_scale = Q.quantize_weight(tg.randn(4, 3, 3, 3) if op == "conv2d" else tg.randn(4, 5))
    fn = Q.quantized_conv2d if op == "conv2d" else Q.quantized_linear
    y = fn(x, w_q, w_scale)
    assert y.requires_grad
    with pytest.raises(RuntimeError, match=f"quantized_{op} has no backward"):
        y.sum().backward()
    with tg.no_grad():
        assert not fn(x, w_q, w_scale).requires_grad


def test_bad_input_errors():
    w_q, w_scale = Q.quantize_weight(tg.randn(4, 5))
    with pytest.raises(ValueError, match=r"quantized_linear: expected input \(\.\.\., 5\) for "
                                         r"weight \(4, 5\), got input of shape \(2, 6\)"):
        Q.quantized_linear(tg.randn(2, 6), w_q, w_scale)
    with pytest.raises(TypeError, match="quantized_linear: expected an int8 weight"):
        Q.quantized_linear(tg.randn(2, 5), tg.randn(4, 5), w_scale)
    with pytest.raises(TypeError, match="quantized_linear: expected a floating-point Tensor, "
                                        "got a tinygen.int64 tensor"):
        Q.quantized_linear(tg.ones(2, 5, dtype=tg.long), w_q, w_scale)
    with pytest.raises(ValueError, match=r"weight_scale of shape \(4,\)"):
        Q.quantized_linear(tg.randn(2, 5), w_q, w_scale[:2])
    with pytest.raises(ValueError, match=r"input_zero_point in \[-128, 127\]"):
        Q.quantized_linear(tg.randn(2, 5), w_q, w_scale, input_scale=0.1, input_zero_point=300)
    c_q, c_scale = Q.quantize_weight(tg.randn(4, 3, 3, 3))
    with pytest.raises(ValueError, match=r"quantized_conv2d: expected input \(N, 3, H, W\)"):
        Q.quantized_conv2d(tg.randn(1, 2, 5, 5), c_q, c_scale)
    with pytest.raises(ValueError, match="smaller than the kernel"):
        Q.quantized_conv2d(tg.randn(1, 3, 2, 2), c_q, c_scale)
    with pytest.raises(ValueError, match="not finite"):
        Q.quantized_linear(tg.tensor([[np.nan] * 5]), w_q, w_scale)
