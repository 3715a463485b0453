"""tinygen.nn.init: bounds, moments and fans as PyTorch's, and the layers' default inits."""
from __future__ import annotations

import math

import numpy as np
import pytest

import tinygen as tg
from tinygen import nn
from tinygen.nn import init


@pytest.fixture(autouse=True)
def _seed():
    tg.manual_seed(1234)


def test_fans_and_gains():
    assert init._calculate_fan_in_and_fan_out(tg.empty(5, 3)) == (3, 5)
    assert init._calculate_fan_in_and_fan_out(tg.empty(8, 4, 3, 3)) == (36, 72)
    with pytest.raises(ValueError, match="fewer than 2"):
        init._calculate_fan_in_and_fan_out(tg.empty(5))
    assert init.calculate_gain("relu") == math.sqrt(2)
    assert init.calculate_gain("tanh") == 5 / 3
    assert init.calculate_gain("conv2d") == 1
    assert init.calculate_gain("leaky_relu", 0.2) == math.sqrt(2 / 1.04)
    assert init.calculate_gain("selu") == 0.75
    with pytest.raises(ValueError):
        init.calculate_gain("swish")


def test_gains_equal_torch():
    torch = pytest.importorskip("torch")
    for name, param in [("relu", None), ("tanh", None), ("leaky_relu", None),
                        ("leaky_relu", 0.3), ("sigmoid", None), ("selu", None)]:
        assert init.calculate_gain(name, param) == torch.nn.init.calculate_gain(name, param)


def test_uniform_normal_constant():
    t = tg.empty(200, 100)
    assert init.uniform_(t, -2.0, 3.0) is t
    a = t.numpy()
    assert a.min() >= -2.0 and a.max() <= 3.0 and abs(a.mean() - 0.5) < 0.05
    init.normal_(t, 1.0, 2.0)
    assert abs(t.numpy().mean() - 1.0) < 0.05 and abs(t.numpy().std() - 2.0) < 0.05
    init.constant_(t, 0.25)
    assert (t.numpy() == 0.25).all()
    init.zeros_(t)
    assert not t.numpy().any()
    init.ones_(t)
    assert (t.numpy() == 1).all()
    init.eye_(t)
    np.testing.assert_array_equal(t.numpy(), np.eye(200, 100))


def test_init_works_on_parameters_that_require_grad():
    p = nn.Parameter(tg.empty(10, 10))
    init.kaiming_normal_(p)
    assert p.requires_grad and p.is_leaf and p.grad_fn is None


def test_kaiming_uniform_bounds():
    w = tg.empty(256, 128)
    init.kaiming_uniform_(w, a=math.sqrt(5))
    bound = 1 / math.sqrt(128)                     # gain sqrt(2/6) * sqrt(3/fan_in)
    a = w.numpy()
    assert a.max() <= bound and a.min() >= -bound and a.max() > 0.95 * bound
    init.kaiming_uniform_(w, mode="fan_out", nonlinearity="relu")
    bound = math.sqrt(6 / 256)
    assert np.abs(w.numpy()).max() <= bound and np.abs(w.numpy()).max() > 0.95 * bound


def test_kaiming_normal_and_xavier_std():
    w = tg.empty(300, 200)
    init.kaiming_normal_(w, nonlinearity="relu")
    assert abs(w.numpy().std() - math.sqrt(2 / 200)) < 0.05 * math.sqrt(2 / 200)
    init.xavier_normal_(w, gain=2.0)
    assert abs(w.numpy().std() - 2 * math.sqrt(2 / 500)) < 0.05 * 2 * math.sqrt(2 / 500)
    init.xavier_uniform_(w)
    bound = math.sqrt(6 / 500)
    assert np.abs(w.numpy()).max() <= bound and np.abs(w.numpy()).max() > 0.95 * bound


def test_trunc_normal_stays_in_bounds():
    w = tg.empty(100, 100)
    init.trunc_normal_(w, mean=0.5, std=1.0, a=-0.5, b=1.0)
    a = w.numpy()
    assert a.min() >= -0.5 and a.max() <= 1.0 and len(np.unique(a)) > 9000
    init.trunc_normal_(w, std=0.02)
    assert abs(w.numpy().std() - 0.02) < 0.002


@pytest.mark.parametrize("shape", [(6, 10), (10, 6), (4, 2, 3)])
def test_orthogonal(shape):
    w = tg.empty(*shape)
    init.orthogonal_(w, gain=2.0)
    m = w.numpy().reshape(shape[0], -1).astype(np.float64) / 2.0
    if m.shape[0] <= m.shape[1]:
        np.testing.assert_allclose(m @ m.T, np.eye(m.shape[0]), atol=1e-5)
    else:
        np.testing.assert_allclose(m.T @ m, np.eye(m.shape[1]), atol=1e-5)


def test_sparse():
    w = tg.empty(10, 6)
    init.sparse_(w, 0.3)
    assert ((w.numpy() == 0).sum(axis=0) >= 3).all()


def _bound_ok(t, bound):
    a = np.abs(t.numpy())
    return a.max() <= bound * (1 + 1e-6) and a.max() > 0.8 * bound


def test_layer_default_inits_match_pytorch_rules():
    lin = nn.Linear(64, 32)
    assert _bound_ok(lin.weight, 1 / 8) and _bound_ok(lin.bias, 1 / 8)
    conv = nn.Conv2d(4, 16, 3, groups=2)             # fan_in = 2 * 9
    assert _bound_ok(conv.weight, 1 / math.sqrt(18)) and _bound_ok(conv.bias, 1 / math.sqrt(18))
    convt = nn.ConvTranspose2d(8, 40, 3)             # weight (8, 40, 3, 3): fan_in = 40 * 9
    bound = 1 / math.sqrt(360)
    assert _bound_ok(convt.weight, bound) and _bound_ok(convt.bias, bound)
    emb = nn.Embedding(500, 40, padding_idx=3)
    assert abs(emb.weight.numpy().std() - 1) < 0.05 and not emb.weight.numpy()[3].any()
    for norm in (nn.LayerNorm(7), nn.BatchNorm2d(7), nn.GroupNorm(7, 7)):
        assert (norm.weight.numpy() == 1).all() and not norm.bias.numpy().any()
    mha = nn.MultiheadAttention(32, 4)
    assert _bound_ok(mha.in_proj_weight, math.sqrt(6 / (32 + 96)))
    assert not mha.in_proj_bias.numpy().any() and not mha.out_proj.bias.numpy().any()
    for rnn in (nn.RNN(5, 16), nn.GRU(5, 16, num_layers=2), nn.LSTM(5, 16)):
        assert all(_bound_ok(p, 0.25) for p in rnn.parameters())


def test_layer_init_statistics_close_to_torch():
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    for build in (lambda m: m.Linear(200, 100), lambda m: m.Conv2d(16, 32, 3),
                  lambda m: m.Embedding(300, 20), lambda m: m.LSTM(30, 40)):
        ours, theirs = build(nn), build(torch.nn)
        for (name, p), (_, q) in zip(ours.named_parameters(), theirs.named_parameters()):
            a, b = p.numpy(), q.detach().numpy()
            assert abs(a.std() - b.std()) < 0.1 * b.std() + 1e-8, name
            assert abs(np.abs(a).max() - np.abs(b).max()) < 0.35 * np.abs(b).max() + 1e-8, name
