"""The rest of PyTorch's Tensor and torch.* dialect: in-place twins of the math ops (exp_,
relu_, clamp_min_...), in-place view changes (squeeze_, t_...), random fills (bernoulli_,
exponential_, random_...), dtype conversions and type queries, tg.inference_mode,
tg.set_printoptions and the creation functions added with them."""
import numpy as np
import pytest
from helpers import TORCH, assert_close, check_op

import tinygen as tg
import tinygen.distributions as D
import tinygen.nn.functional as F

TWINS = ["abs", "neg", "exp", "exp2", "expm1", "reciprocal", "square",
         "sin", "cos", "tan", "atan", "sinh", "cosh", "asinh", "tanh", "sigmoid", "relu", "floor",
         "ceil", "round", "trunc", "frac", "sign", "sgn", "erf", "erfc", "deg2rad", "sinc",
         "nan_to_num"]
POSITIVE = ["log", "log2", "log10", "log1p", "sqrt", "rsqrt", "lgamma", "digamma", "acosh"]
UNIT = ["asin", "acos", "atanh", "erfinv", "logit"]


def _data(name):
    if name in POSITIVE:
        return np.array([[1.5, 2.0, 3.5], [1.2, 4.0, 2.5]])
    if name in UNIT:
        return np.array([[0.1, 0.3, 0.7], [0.45, 0.2, 0.9]])
    return np.array([[-1.7, 0.3, 2.2], [0.6, -0.4, 1.1]])


@pytest.mark.parametrize("name", TWINS + POSITIVE + UNIT)
def test_unary_twins(name):
    torch = pytest.importorskip("torch")
    data = _data(name)
    ours, ref = tg.tensor(data), torch.tensor(data)
    storage, version = ours.numpy(), ours._version[0]
    assert getattr(ours, name + "_")() is ours
    getattr(ref, name + "_")()
    assert_close(ours, ref, rtol=1e-12)
    assert ours.numpy() is storage and ours._version[0] > version
    # inside a graph: recorded, differentiable twice (against torch's out-of-place op: torch
    # lacks some in-place derivatives, asinh_'s for one)
    check_op(lambda x: getattr(x * 1, name + "_")(),
             (lambda x: getattr(x * 1, name)()) if TORCH else None, [data])


@pytest.mark.parametrize("call", [
    lambda m, x, y: x.clamp_min_(0.2), lambda m, x, y: x.clamp_max_(0.2),
    lambda m, x, y: x.clip_(-0.5, 0.5), lambda m, x, y: x.pow_(2), lambda m, x, y: x.fmod_(0.7),
    lambda m, x, y: x.remainder_(0.7), lambda m, x, y: x.atan2_(y), lambda m, x, y: x.hypot_(y),
    lambda m, x, y: x.copysign_(y), lambda m, x, y: x.lerp_(y, 0.3),
    lambda m, x, y: x.addcmul_(y, y, value=2), lambda m, x, y: x.addcdiv_(y, y * y + 1),
    lambda m, x, y: x.addmm_(y, y.t() @ y, beta=0.5),
    lambda m, x, y: x.xlogy_(y.abs() + 1), lambda m, x, y: x.cumsum_(1),
    lambda m, x, y: x.cumprod_(0), lambda m, x, y: x.tril_(), lambda m, x, y: x.triu_(1),
    lambda m, x, y: x.true_divide_(y + 3), lambda m, x, y: x.subtract_(y, alpha=2),
])
def test_binary_and_other_twins(call):
    torch = pytest.importorskip("torch")
    a = np.array([[-1.7, 0.3, 2.2], [0.6, -0.4, 1.1]])
    b = np.array([[0.5, -1.3, 0.8], [1.9, 0.2, -0.6]])
    ours, ref = tg.tensor(a), torch.tensor(a)
    assert call(tg, ours, tg.tensor(b)) is ours
    call(torch, ref, torch.tensor(b))
    assert_close(ours, ref)
    check_op(lambda x, y: call(tg, x * 1, y), lambda x, y: call(torch, x * 1, y), [a, b])


def test_comparison_twins_write_zeros_and_ones():
    torch = pytest.importorskip("torch")
    a = np.array([1.0, 2.0, 3.0])
    for name in ("eq_", "ne_", "lt_", "le_", "gt_", "ge_"):
        ours, ref = tg.tensor(a), torch.tensor(a)
        getattr(ours, name)(2.0)
        getattr(ref, name)(2.0)
        assert_close(ours, ref)
        assert ours.dtype == tg.float64


def test_twin_refuses_float_result_in_int_tensor():
    with pytest.raises(RuntimeError, match="exp_: result type"):
        tg.tensor([1, 2]).exp_()


def test_twin_on_leaf_needs_no_grad():
    w = tg.tensor([0.5, 1.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf Variable"):
        w.exp_()
    with tg.no_grad():
        w.relu_()


def test_top_level_twins():
    x = tg.tensor([-1.0, 4.0])
    assert tg.relu_(x) is x and x.tolist() == [0.0, 4.0]
    assert tg.sqrt_(x).tolist() == [0.0, 2.0]


@pytest.mark.parametrize("call", [
    lambda x: x.squeeze_(), lambda x: x.squeeze_(1), lambda x: x.unsqueeze_(0),
    lambda x: x.unsqueeze_(-1), lambda x: x[0].t_(), lambda x: x.transpose_(0, 2),
    lambda x: x.swapaxes_(0, 1), lambda x: x.swapdims_(2, 1),
])
def test_view_changes_in_place(call):
    torch = pytest.importorskip("torch")
    data = np.arange(6.0).reshape(2, 1, 3)
    ours, ref = tg.tensor(data), torch.tensor(data)
    out = call(ours)
    call(ref)
    assert_close(out, call(torch.tensor(data)))
    check_op(lambda x: call(x * 1), lambda x: call(x * 1), [data])


def test_random_fills():
    tg.manual_seed(0)
    x = tg.empty(20000, dtype=tg.float64)
    assert abs(x.bernoulli_(0.3).numpy().mean() - 0.3) < 0.02
    assert set(np.unique(x.numpy())) <= {0.0, 1.0}
    assert abs(x.exponential_(2.0).numpy().mean() - 0.5) < 0.02
    assert abs(np.median(x.cauchy_(1.0, 2.0).numpy()) - 1.0) < 0.1
    assert abs(np.log(x.log_normal_(0.5, 0.25).numpy()).mean() - 0.5) < 0.02
    assert abs(x.geometric_(0.25).numpy().mean() - 4.0) < 0.15
    values = x.random_(3, 7).numpy()
    assert set(np.unique(values)) == {3.0, 4.0, 5.0, 6.0}
    assert set(np.unique(x.random_(2).numpy())) == {0.0, 1.0}
    ints = tg.empty(1000, dtype=tg.int8).random_()
    assert ints.numpy().min() >= 0 and ints.numpy().max() <= 127
    probs = tg.tensor([0.0, 1.0, 0.0, 1.0])
    assert x[:4].bernoulli_(probs).tolist() == [0.0, 1.0, 0.0, 1.0]


def test_bernoulli_and_poisson_functions():
    tg.manual_seed(1)
    p = tg.full((10000,), 0.25, dtype=tg.float64)
    draws = tg.bernoulli(p)
    assert draws.dtype == tg.float64 and abs(draws.numpy().mean() - 0.25) < 0.02
    assert abs(tg.poisson(p * 12).numpy().mean() - 3.0) < 0.1
    with pytest.raises(RuntimeError, match="bernoulli"):
        tg.bernoulli(tg.tensor([1.5]))


@pytest.mark.parametrize("name, dtype", [("byte", "uint8"), ("char", "int8"), ("short", "int16"),
                                         ("int", "int32"), ("long", "int64"),
                                         ("half", "float16"), ("float", "float32"),
                                         ("double", "float64"), ("bool", "bool")])
def test_dtype_conversions(name, dtype):
    x = tg.tensor([1.7, -0.0, 3.0])
    out = getattr(x, name)()
    assert out.dtype == getattr(tg, dtype)
    if TORCH is not None:
        assert_close(out, getattr(TORCH.tensor([1.7, -0.0, 3.0]), name)())


def test_type_queries():
    x = tg.tensor([1.5, 2.0])
    assert x.type() == "tinygen.FloatTensor" and x.long().type() == "tinygen.LongTensor"
    assert x.type(tg.float64).dtype == tg.float64
    assert x.type("torch.IntTensor").dtype == tg.int32
    assert x.is_cpu and x.get_device() == -1 and not x.is_complex() and x.is_signed()
    assert not tg.tensor([1], dtype=tg.uint8).is_signed()
    assert x.ndimension() == 1 and x.nelement() == 2 and x.itemsize == 4 and x.nbytes == 8
    assert tg.is_floating_point(x) and not tg.is_floating_point(x.long())
    assert tg.is_nonzero(tg.tensor([3])) and tg.is_same_size(x, x * 2)
    assert tg.promote_types(tg.int64, tg.float32) == tg.float32
    e = x.new_empty(2, 3)
    assert e.shape == (2, 3) and e.dtype == tg.float32
    z = x.new_zeros((2,), dtype=tg.int64)
    assert z.dtype == tg.int64 and z.tolist() == [0, 0]
    assert x.new_ones(3, requires_grad=True).requires_grad
    assert tg.ones(4, 2, 3).mH.shape == (4, 3, 2) and tg.ones(2, 3).H.shape == (3, 2)
    assert tg.ones(2, 3, 4).adjoint().shape == (2, 4, 3)


def test_inference_mode():
    x = tg.ones(2, requires_grad=True)
    with tg.inference_mode():
        assert not tg.is_grad_enabled() and tg.is_inference_mode_enabled()
        assert not (x * 2).requires_grad
    assert tg.is_grad_enabled() and not tg.is_inference_mode_enabled()
    with tg.inference_mode(False):
        assert (x * 2).requires_grad

    @tg.inference_mode
    def bare():
        return x * 2

    @tg.inference_mode()
    def called():
        return x * 2

    assert not bare().requires_grad and not called().requires_grad
    assert tg.autograd.inference_mode is tg.inference_mode


def test_set_printoptions():
    x = tg.tensor([1.23456789, 2.5])
    try:
        tg.set_printoptions(precision=2)
        assert "1.23," in repr(x) and "1.2346" not in repr(x)
        tg.set_printoptions(sci_mode=True)
        assert "e+00" in repr(x)
        tg.set_printoptions(threshold=5, edgeitems=1, sci_mode=False)
        assert "..." in repr(tg.arange(10.0))
    finally:
        tg.set_printoptions(profile="default")
    assert "1.2346" in repr(x)


def test_creation_additions():
    torch = pytest.importorskip("torch")
    assert_close(tg.logspace(0, 2, 3), torch.logspace(0, 2, 3))
    assert_close(tg.logspace(0, 3, 4, base=2.0), torch.logspace(0, 3, 4, base=2.0))
    assert_close(tg.tril_indices(3, 4, 1), torch.tril_indices(3, 4, 1))
    assert_close(tg.triu_indices(4, 3, -1), torch.triu_indices(4, 3, -1))
    s = tg.scalar_tensor(2.5)
    assert s.shape == () and s.dtype == tg.float32
    x = tg.zeros(500, 2, dtype=tg.int32)
    r = tg.randint_like(x, 3, 6)
    assert r.shape == (500, 2) and r.dtype == tg.int32 and set(np.unique(r.numpy())) == {3, 4, 5}
    tg.manual_seed(0)
    mean, std = tg.tensor([0.0, 100.0]), tg.tensor([1.0, 0.001])
    draws = tg.normal(mean.expand(4000, 2), std)
    assert draws.shape == (4000, 2)
    assert abs(draws[:, 0].mean().item()) < 0.1 and abs(draws[:, 1].mean().item() - 100) < 0.01
    assert tg.normal(2.0, 0.5, size=(3,)).shape == (3,)


def test_small_tensor_methods():
    torch = pytest.importorskip("torch")
    data = np.array([[1.5, -2.0, 3.0], [0.5, 4.0, -1.0]])
    x, t = tg.tensor(data), torch.tensor(data)
    assert x.stride() == t.stride() and x.t().stride() == t.t().stride() and x.stride(1) == 1
    assert x.data_ptr() != 0 and x.conj() is x and x.real is x and not x.is_conj()
    assert_close(x.nextafter(tg.tensor(10.0, dtype=tg.float64)), t.nextafter(torch.tensor(10.0,
                                                                                          dtype=t.dtype)))
    assert_close(x.floor_divide(2), t.floor_divide(2))
    check_op(lambda a: a.renorm(2, 0, 3.0), lambda a: a.renorm(2, 0, 3.0), [data * 2])
    check_op(lambda a: a.renorm(1, 1, 2.5), lambda a: a.renorm(1, 1, 2.5), [data])
    check_op(lambda a, b: a.dist(b, 3), lambda a, b: a.dist(b, 3), [data, data[::-1].copy()])
    for accumulate, idx in ((False, ([0, 1, 1], [2, 0, 1])), (True, ([0, 1, 1], [2, 0, 0]))):
        check_op(lambda a, v: a.index_put(tuple(tg.tensor(i) for i in idx), v, accumulate),
                 lambda a, v: a.index_put(tuple(torch.tensor(i) for i in idx), v, accumulate),
                 [data, np.array([7.0, 8.0, 9.0])])      # repeats only when accumulating
    y = tg.tensor(data)
    assert y.index_put_((tg.tensor([0]), tg.tensor([1])), tg.tensor(5.0, dtype=y.dtype)) is y
    assert y[0, 1].item() == 5.0


TEST_DEVICE_CASES = {
    "interpolate_bilinear": lambda F, D, x: F.interpolate(x, scale_factor=2, mode="bilinear"),
    "unfold": lambda F, D, x: F.unfold(x, 2),
    "adaptive_max_pool2d": lambda F, D, x: F.adaptive_max_pool2d(x, (2, 3)),
    "local_response_norm": lambda F, D, x: F.local_response_norm(x, 3),
    "conv3d": lambda F, D, x: F.conv3d(x.unsqueeze(0), x[0, :2, :2, :2].unsqueeze(1).expand(
        2, 2, 2, 2, 2) * 1),
    "median": lambda F, D, x: x.median(dim=1).values,
    "quantile": lambda F, D, x: x.quantile(0.3, dim=1),
    "cumprod": lambda F, D, x: x.cumprod(1),
    "index_add": lambda F, D, x: x.index_add(1, tg.tensor([0, 0], device="test"), x[:, :2]),
    "repeat_interleave": lambda F, D, x: x.repeat_interleave(2, dim=1),
    "diag_embed": lambda F, D, x: x.diag_embed(),
    "inverse": lambda F, D, x: (x[0, 0, :3, :3] * 0.1 + tg.eye(3, device="test")).inverse(),
    "normal_rsample": lambda F, D, x: D.Normal(x, 1.0).rsample((2,)),
    "gamma_rsample": lambda F, D, x: D.Gamma(x.abs() + 0.5, 1.0).rsample(),
    "kl_normal": lambda F, D, x: D.kl_divergence(D.Normal(x, 1.0), D.Normal(x * 0, 2.0)),
}


@pytest.mark.parametrize("name", sorted(TEST_DEVICE_CASES))
def test_new_ops_stay_on_the_test_device(name):
    """CI's test device (a distinct array type) catches a result or gradient made on the CPU."""
    x = tg.randn(2, 3, 5, 4, device="test", requires_grad=True)
    out = TEST_DEVICE_CASES[name](F, D, x)
    assert out.device.type == "test"
    out.sum().backward()
    assert x.grad.device.type == "test"
