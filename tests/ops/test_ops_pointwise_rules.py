"""PyTorch's rules for pointwise ops that the pointwise fuzzer (test_fuzz_pointwise.py) found
tinygen breaking, one test per rule; the expected values are PyTorch 2.13's."""
import inspect
import math
import warnings

import numpy as np
import pytest

import tinygen as tg


def values(t):
    return t.detach().numpy().tolist()


def test_round_with_decimals_as_pytorch():
    x = tg.tensor([1.2345, -2.5, 1250.0])
    assert values(tg.round(x, decimals=2)) == pytest.approx([1.23, -2.5, 1250.0])
    assert values(tg.round(tg.tensor([1250.0, 1350.0]), decimals=-2)) == [1200.0, 1400.0]
    with pytest.raises(NotImplementedError, match="round"):
        tg.round(tg.tensor([1, 2]), decimals=1)


def test_hypot_does_not_overflow_and_takes_floats_only():
    assert values(tg.hypot(tg.tensor([1e30]), tg.tensor([1e30]))) == pytest.approx([1.4142e30],
                                                                                   rel=1e-4)
    with pytest.raises(NotImplementedError, match="hypot"):
        tg.hypot(tg.tensor([3]), tg.tensor([4]))


def test_logit_eps_above_one_half_and_its_nan_gradient_outside_the_unit_interval():
    got = values(tg.logit(tg.tensor([0.2, 0.5, 0.9]), eps=0.7))
    assert got == pytest.approx([0.8473, 0.8473, -0.8473], abs=1e-4)
    x = tg.tensor([-0.5, 0.5, 1.5], dtype=tg.float64, requires_grad=True)
    tg.logit(x).sum().backward()
    g = values(x.grad)
    assert math.isnan(g[0]) and g[1] == 4.0 and math.isnan(g[2])


def test_lerp_by_pytorchs_two_sided_formula():
    assert values(tg.lerp(tg.tensor([1e8]), tg.tensor([1.0]), 1.0)) == [1.0]
    assert values(tg.lerp(tg.tensor([0.0]), tg.tensor([math.inf]), 0.25)) == [math.inf]


def test_a_number_first_in_the_function_forms():
    assert values(tg.add(2, tg.tensor([1, 2]), alpha=3)) == [5, 8]
    assert values(tg.div(3, tg.tensor([2, 4]))) == [1.5, 0.75]
    assert values(tg.sub(1.5, tg.tensor([1, 2]))) == [0.5, -0.5]
    assert values(tg.zeros(1).add_(tg.tensor([25], dtype=tg.uint8), alpha=-1)) == [-25.0]


def test_bool_tensors_as_pytorch_takes_and_refuses_them():
    assert tg.square(tg.tensor([True, False])).dtype == tg.int64
    assert values(tg.sign(tg.tensor([True, False]))) == [True, False]
    with pytest.raises(RuntimeError, match="relu"):
        tg.relu(tg.tensor([True]))
    for name in ("abs", "floor", "frac"):
        with pytest.raises(NotImplementedError, match=name):
            getattr(tg, name)(tg.tensor([True]))


def test_copysign_promotes_and_gives_other_a_zero_gradient():
    assert tg.copysign(tg.tensor([1.0]), tg.tensor([-1.0], dtype=tg.float64)).dtype == tg.float64
    a = tg.tensor([3.0], requires_grad=True)
    b = tg.tensor([-1.0], requires_grad=True)
    tg.copysign(a, b).sum().backward()
    assert values(a.grad) == [-1.0] and values(b.grad) == [0.0]


def test_rounding_divisions_require_grad_with_a_zero_gradient():
    a = tg.tensor([3.0], requires_grad=True)
    r = tg.div(a, 2, rounding_mode="trunc")
    assert r.requires_grad and tg.floor_divide(a, 2).requires_grad
    r.sum().backward()
    assert values(a.grad) == [0.0]


def test_promotion_of_xlogy_and_addcmul():
    assert tg.xlogy(tg.tensor(2.0, dtype=tg.float64), tg.tensor([3.0])).dtype == tg.float32
    assert tg.xlogy(tg.tensor([2]), tg.tensor([3.0])).dtype == tg.float32
    out = tg.addcmul(tg.tensor([1]), tg.tensor([2]), tg.tensor([3]), value=0.5)
    assert out.dtype == tg.int64 and values(out) == [1]


def test_clamp_integer_bounds_wrap_or_refuse_as_pytorch():
    assert values(tg.clamp(tg.tensor([0, 200], dtype=tg.uint8), min=-1)) == [255, 255]
    with pytest.raises(RuntimeError, match="overflow"):
        tg.clamp(tg.tensor([0], dtype=tg.int8), min=300)


def test_isclose_refuses_two_dtypes_and_zero_d_results_read_back():
    with pytest.raises(RuntimeError, match="isclose"):
        tg.isclose(tg.tensor([1.0]), tg.tensor([1.0], dtype=tg.float64))
    assert tg.isclose(tg.tensor(1.0), tg.tensor(1.0)).item() is True
    assert tg.sign(tg.tensor(-3)).item() == -1


def test_gelu_tanh_in_the_far_negative_tail():
    y = tg.nn.functional.gelu(tg.tensor([-1e30, -20.0]), approximate="tanh")
    assert values(y) == [0.0, 0.0] and np.all(np.signbit(y.numpy()))


def test_integer_division_of_an_empty_tensor_by_zero():
    assert tg.fmod(tg.tensor([], dtype=tg.int64), 0).shape == (0,)


# ---- out= --------------------------------------------------------------------------------------
def test_out_receives_the_result_and_is_returned():
    out = tg.empty(0)
    got = tg.add(tg.tensor([1.0, 2.0]), 1, out=out)
    assert got is out and values(out) == [2.0, 3.0]
    wide = tg.empty(0, dtype=tg.float64)
    assert values(tg.mul(tg.tensor([1, 2]), 3, out=wide)) == [3.0, 6.0] and wide.dtype == tg.float64
    assert values(tg.cat([tg.ones(2), tg.zeros(1)], out=tg.empty(0))) == [1.0, 1.0, 0.0]
    assert values(tg.cumsum(tg.tensor([0.5, 1.0]), 0, out=tg.empty(0, dtype=tg.int64))) == [0, 1]


def test_out_of_another_shape_is_resized_with_pytorchs_warning_where_it_held_elements():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        tg.exp(tg.zeros(2), out=tg.empty(0))
    with pytest.warns(UserWarning, match="resized"):
        out = tg.exp(tg.zeros(2), out=tg.empty(3))
    assert out.shape == (2,)


def test_out_refusals():
    with pytest.raises(RuntimeError, match="don't support automatic differentiation"):
        tg.add(tg.ones(2, requires_grad=True), 1, out=tg.empty(2))
    with pytest.raises(RuntimeError, match="can't be cast"):
        tg.add(tg.ones(2), 1, out=tg.empty(2, dtype=tg.int64))
    with pytest.raises(RuntimeError, match="expected the out= tensor to have dtype Float"):
        tg.matmul(tg.ones(2, 2), tg.ones(2, 2), out=tg.empty(0, dtype=tg.float64))
    with pytest.raises(TypeError, match="'out' must be a Tensor"):
        tg.exp(tg.ones(2), out=np.empty(2))
    with pytest.raises(RuntimeError, match="dtype Float"):
        tg.clamp(tg.ones(2), 0.0, 1.0, out=tg.empty(2, dtype=tg.float64))     # (number bounds)
    lo = tg.zeros(2, dtype=tg.float64)
    assert tg.clamp(tg.ones(2), lo, out=tg.empty(2)).dtype == tg.float32     # (tensor bounds)
    with tg.no_grad():
        assert values(tg.add(tg.ones(2, requires_grad=True), 1, out=tg.empty(2))) == [2.0, 2.0]


def test_the_signature_shows_out():
    assert inspect.signature(tg.add).parameters["out"].kind is inspect.Parameter.KEYWORD_ONLY
    assert "out" in inspect.signature(tg.matmul).parameters
