"""FractionalMaxPool2d/3d (tinygen/ops/pool_fractional.py) and AdaptiveLogSoftmaxWithLoss
(tinygen/nn/modules/adaptive.py) against PyTorch: the same _random_samples give the same
windows, values, indices and input gradients; the same weights give the same outputs, losses,
log-probabilities, predictions and parameter gradients."""
import numpy as np
import pytest

import tinygen as tg
from tinygen import nn
import tinygen.nn.functional as F

torch = pytest.importorskip("torch")

# (input shape, kernel_size, output_size, output_ratio)
CASES_2D = [
    ((2, 3, 9, 11), (2, 3), (5, 4), None),
    ((3, 10, 10), 3, 4, None),
    ((1, 2, 7, 8), 2, None, (0.5, 0.7)),
    ((2, 13, 6), (3, 2), None, (0.4, 0.5)),
    ((2, 1, 5, 5), 2, (4, 4), None),
    ((1, 1, 6, 6), 1, (6, 1), None),
]
CASES_3D = [
    ((2, 3, 7, 9, 8), (2, 3, 2), None, (0.5, 0.5, 0.5)),
    ((2, 6, 6, 6), 2, 3, None),
    ((1, 2, 5, 8, 9), (1, 2, 3), (4, 5, 3), None),
]


def _pool_pair(nd, shape, kernel, output_size, output_ratio, dtype, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape).astype(dtype)
    batch = shape[0] if len(shape) == nd + 2 else 1
    u = rng.random((batch, shape[-nd - 1], nd)).astype(dtype)
    fn_tg = F.fractional_max_pool2d if nd == 2 else F.fractional_max_pool3d
    fn_t = torch.nn.functional.fractional_max_pool2d if nd == 2 else \
        torch.nn.functional.fractional_max_pool3d
    xt, xg = torch.tensor(x, requires_grad=True), tg.tensor(x, requires_grad=True)
    yt, it = fn_t(xt, kernel, output_size, output_ratio, True, _random_samples=torch.tensor(u))
    yg, ig = fn_tg(xg, kernel, output_size, output_ratio, True, _random_samples=tg.tensor(u))
    gy = rng.standard_normal(tuple(yt.shape)).astype(dtype)
    yt.backward(torch.tensor(gy))
    yg.backward(tg.tensor(gy))
    return (yt, it, xt.grad), (yg, ig, xg.grad)


@pytest.mark.parametrize("nd, case", [(2, c) for c in CASES_2D] + [(3, c) for c in CASES_3D])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_fractional_max_pool_matches_torch(nd, case, dtype):
    for seed in range(3):
        (yt, it, gt), (yg, ig, gg) = _pool_pair(nd, *case, dtype, seed)
        assert tuple(yg.shape) == tuple(yt.shape)
        np.testing.assert_array_equal(ig.numpy(), it.numpy())
        assert ig.dtype == tg.int64
        np.testing.assert_array_equal(yg.detach().numpy(), yt.detach().numpy())
        np.testing.assert_allclose(gg.numpy(), gt.numpy(), rtol=1e-6, atol=1e-6)


def test_fractional_max_pool_ties_and_nan_pick_torchs_index():
    x = np.zeros((1, 2, 6, 6), np.float32)
    x[0, 1, 2, 3] = np.nan
    x[0, 1, 4, 4] = np.nan
    u = np.array([[[0.3, 0.6], [0.1, 0.9]]], np.float32)
    yt, it = torch.nn.functional.fractional_max_pool2d(
        torch.tensor(x), 3, (3, 3), return_indices=True, _random_samples=torch.tensor(u))
    yg, ig = F.fractional_max_pool2d(tg.tensor(x), 3, (3, 3), return_indices=True,
                                     _random_samples=tg.tensor(u))
    np.testing.assert_array_equal(ig.numpy(), it.numpy())
    np.testing.assert_array_equal(yg.numpy(), yt.numpy())       # NaNs in the same places


def test_fractional_max_pool_modules_match_torch():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 3, 10, 12)).astype(np.float32)
    u = rng.random((2, 3, 2)).astype(np.float32)
    mt = torch.nn.FractionalMaxPool2d(3, output_ratio=0.5, _random_samples=torch.tensor(u))
    mg = nn.FractionalMaxPool2d(3, output_ratio=0.5, _random_samples=tg.tensor(u))
    np.testing.assert_array_equal(mg(tg.tensor(x)).numpy(), mt(torch.tensor(x)).numpy())
    x3 = rng.standard_normal((3, 7, 8, 9)).astype(np.float32)
    u3 = rng.random((1, 3, 3)).astype(np.float32)
    mt = torch.nn.FractionalMaxPool3d(2, output_size=(4, 5, 6), return_indices=True,
                                      _random_samples=torch.tensor(u3))
    mg = nn.FractionalMaxPool3d(2, output_size=(4, 5, 6), return_indices=True,
                                _random_samples=tg.tensor(u3))
    (yt, it), (yg, ig) = mt(torch.tensor(x3)), mg(tg.tensor(x3))
    np.testing.assert_array_equal(ig.numpy(), it.numpy())
    np.testing.assert_array_equal(yg.numpy(), yt.numpy())
    assert mg.kernel_size == mt.kernel_size and mg.output_size == mt.output_size


def test_fractional_max_pool_draws_samples_from_tinygens_generator():
    x = tg.randn(2, 3, 11, 11)
    tg.manual_seed(5)
    a = F.fractional_max_pool2d(x, 2, output_size=5, return_indices=True)[1]
    tg.manual_seed(5)
    b = F.fractional_max_pool2d(x, 2, output_size=5, return_indices=True)[1]
    np.testing.assert_array_equal(a.numpy(), b.numpy())
    assert tuple(a.shape) == (2, 3, 5, 5)
    assert nn.FractionalMaxPool3d(2, output_ratio=0.5)(tg.randn(3, 8, 8, 8)).shape == (3, 4, 4, 4)


def test_fractional_max_pool_extra_sample_rows_are_ignored():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 3, 9, 9)).astype(np.float32)
    u = rng.random((4, 3, 2)).astype(np.float32)
    yt = torch.nn.functional.fractional_max_pool2d(torch.tensor(x), 2, 4,
                                                   _random_samples=torch.tensor(u))
    yg = F.fractional_max_pool2d(tg.tensor(x), 2, 4, _random_samples=tg.tensor(u))
    np.testing.assert_array_equal(yg.numpy(), yt.numpy())


def _raises_like_torch(call_torch, call_tg):
    with pytest.raises(Exception) as et:
        call_torch()
    with pytest.raises(type(et.value)) as eg:
        call_tg()
    return eg.value


@pytest.mark.parametrize("call", [
    lambda F_, m, x: F_.fractional_max_pool2d(x, 3, output_size=(8, 4)),
    lambda F_, m, x: F_.fractional_max_pool2d(x, 3),
    lambda F_, m, x: F_.fractional_max_pool2d(x, 3, output_ratio=(0.5, 0.5, 0.5)),
    lambda F_, m, x: F_.fractional_max_pool2d(x, 3, 2, _random_samples=m.rand(2, 3, 3)),
    lambda F_, m, x: F_.fractional_max_pool2d(x, 3, 2, _random_samples=m.rand(1, 3, 2)),
    lambda F_, m, x: F_.fractional_max_pool2d(x, 3, 2, _random_samples=m.rand(2, 4, 2)),
    lambda F_, m, x: F_.fractional_max_pool2d(x[0, 0], 3, 2, _random_samples=m.rand(1, 9, 2)),
    lambda F_, m, x: F_.fractional_max_pool3d(x, 3, output_size=(3, 3, 3)),
    lambda F_, m, x: F_.fractional_max_pool3d(x, 3),
    lambda F_, m, x: m.nn.FractionalMaxPool2d(3, output_ratio=1.5),
    lambda F_, m, x: m.nn.FractionalMaxPool2d(3),
    lambda F_, m, x: m.nn.FractionalMaxPool3d(3, output_size=2, output_ratio=0.5),
    lambda F_, m, x: m.nn.FractionalMaxPool3d(3, output_ratio=(0.5, 0.5, 1.0)),
])
def test_fractional_max_pool_errors_match_torch(call):
    x = np.random.default_rng(0).standard_normal((2, 3, 9, 11)).astype(np.float32)
    err = _raises_like_torch(lambda: call(torch.nn.functional, torch, torch.tensor(x)),
                             lambda: call(F, tg, tg.tensor(x)))
    assert str(err)


def _asm_pair(in_features, n_classes, cutoffs, div_value, head_bias):
    torch.manual_seed(0)
    mt = torch.nn.AdaptiveLogSoftmaxWithLoss(in_features, n_classes, cutoffs, div_value,
                                             head_bias).double()
    mg = nn.AdaptiveLogSoftmaxWithLoss(in_features, n_classes, cutoffs, div_value, head_bias,
                                       dtype=tg.float64)
    state = {k: tg.tensor(v.detach().numpy()) for k, v in mt.state_dict().items()}
    mg.load_state_dict(state)
    assert sorted(dict(mg.named_parameters())) == sorted(dict(mt.named_parameters()))
    return mt, mg


ASM_CASES = [
    (16, 20, [5, 12], 2.0, False),
    (8, 10, [3], 4.0, True),
    (32, 50, [4, 10, 30], 2.0, True),
]


@pytest.mark.parametrize("case", ASM_CASES)
def test_adaptive_log_softmax_forward_and_grads_match_torch(case):
    in_features, n_classes = case[0], case[1]
    mt, mg = _asm_pair(*case)
    rng = np.random.default_rng(3)
    x = rng.standard_normal((13, in_features))
    target = rng.integers(0, n_classes, 13)
    target[:3] = [0, n_classes - 1, case[2][0]]          # the shortlist and the last cluster
    xt, xg = torch.tensor(x, requires_grad=True), tg.tensor(x, requires_grad=True)
    out_t, loss_t = mt(xt, torch.tensor(target))
    out_g, loss_g = mg(xg, tg.tensor(target))
    np.testing.assert_allclose(out_g.detach().numpy(), out_t.detach().numpy(), rtol=1e-10)
    np.testing.assert_allclose(float(loss_g.item()), loss_t.item(), rtol=1e-10)
    loss_t.backward()
    loss_g.backward()
    np.testing.assert_allclose(xg.grad.numpy(), xt.grad.numpy(), rtol=1e-9, atol=1e-12)
    params_t = dict(mt.named_parameters())
    for name, p in mg.named_parameters():
        np.testing.assert_allclose(p.grad.numpy(), params_t[name].grad.numpy(), rtol=1e-9,
                                   atol=1e-12, err_msg=name)


@pytest.mark.parametrize("case", ASM_CASES)
def test_adaptive_log_softmax_log_prob_and_predict_match_torch(case):
    mt, mg = _asm_pair(*case)
    x = np.random.default_rng(4).standard_normal((40, case[0])) * 3.0
    lp_t = mt.log_prob(torch.tensor(x))
    lp_g = mg.log_prob(tg.tensor(x))
    np.testing.assert_allclose(lp_g.detach().numpy(), lp_t.detach().numpy(), rtol=1e-10)
    np.testing.assert_allclose(np.exp(lp_g.detach().numpy()).sum(1), 1.0, rtol=1e-10)
    np.testing.assert_array_equal(mg.predict(tg.tensor(x)).numpy(),
                                  mt.predict(torch.tensor(x)).numpy())
    with torch.no_grad():                # all rows predicted from the tail clusters
        mt.head.weight[:mt.shortlist_size] = -1.0
    mg.load_state_dict({k: tg.tensor(v.numpy()) for k, v in mt.state_dict().items()})
    x = np.abs(x)
    predicted = mg.predict(tg.tensor(x)).numpy()
    np.testing.assert_array_equal(predicted, mt.predict(torch.tensor(x)).numpy())
    assert (predicted >= mt.shortlist_size).all()


def test_adaptive_log_softmax_unbatched_matches_torch():
    mt, mg = _asm_pair(*ASM_CASES[0])
    x = np.random.default_rng(5).standard_normal(16)
    for label in (2, 7, 19):
        out_t, loss_t = mt(torch.tensor(x), torch.tensor(label))
        out_g, loss_g = mg(tg.tensor(x), tg.tensor(label))
        assert tuple(out_g.shape) == () and tuple(loss_g.shape) == ()
        np.testing.assert_allclose(float(out_g.item()), out_t.item(), rtol=1e-10)
        np.testing.assert_allclose(float(loss_g.item()), loss_t.item(), rtol=1e-10)


@pytest.mark.parametrize("call", [
    lambda m, mod, x: m.nn.AdaptiveLogSoftmaxWithLoss(16, 20, []),
    lambda m, mod, x: m.nn.AdaptiveLogSoftmaxWithLoss(16, 20, [12, 5]),
    lambda m, mod, x: m.nn.AdaptiveLogSoftmaxWithLoss(16, 20, [5, 20]),
    lambda m, mod, x: m.nn.AdaptiveLogSoftmaxWithLoss(16, 20, [5, 5]),
    lambda m, mod, x: m.nn.AdaptiveLogSoftmaxWithLoss(16, 20, [0, 5]),
    lambda m, mod, x: mod(x, m.tensor([1, 2])),
    lambda m, mod, x: mod(x, m.tensor([[1, 2, 3, 4]])),
    lambda m, mod, x: mod(x, m.tensor([1, 2, 3, 20])),
    lambda m, mod, x: mod(x, m.tensor([1, -1, 3, 4])),
    lambda m, mod, x: mod(x[0], m.tensor([1, 2, 3, 4])),
    lambda m, mod, x: mod(x, m.tensor(3)),
])
def test_adaptive_log_softmax_errors_match_torch(call):
    mt, mg = _asm_pair(*ASM_CASES[0])
    x = np.random.default_rng(6).standard_normal((4, 16))
    err = _raises_like_torch(lambda: call(torch, mt, torch.tensor(x)),
                             lambda: call(tg, mg, tg.tensor(x)))
    assert str(err)
