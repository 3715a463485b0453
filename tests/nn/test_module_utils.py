"""tinygen.nn.utils against torch.nn.utils: gradient clipping and flat parameter vectors."""
from __future__ import annotations

import numpy as np
import pytest

import tinygen as tg
from tinygen import nn


def _pair(torch, seed=0, scale=1.0):
    torch.manual_seed(seed)
    th = torch.nn.Sequential(torch.nn.Linear(4, 5), torch.nn.Tanh(), torch.nn.Linear(5, 3))
    tgm = nn.Sequential(nn.Linear(4, 5), nn.Tanh(), nn.Linear(5, 3))
    tgm.load_state_dict({k: v.detach().numpy() for k, v in th.state_dict().items()})
    x = np.random.default_rng(seed).standard_normal((6, 4)).astype(np.float32) * scale
    (th(torch.tensor(x)) ** 2).sum().backward()
    (tgm(tg.tensor(x)) ** 2).sum().backward()
    return th, tgm


@pytest.mark.parametrize("norm_type", [2.0, 1.0, float("inf"), 3.0])
@pytest.mark.parametrize("max_norm", [0.5, 1e6])
def test_clip_grad_norm_matches_torch(norm_type, max_norm):
    torch = pytest.importorskip("torch")
    th, tgm = _pair(torch)
    total_th = torch.nn.utils.clip_grad_norm_(th.parameters(), max_norm, norm_type)
    total_tg = nn.utils.clip_grad_norm_(tgm.parameters(), max_norm, norm_type)
    np.testing.assert_allclose(total_tg.item(), total_th.item(), rtol=1e-5)
    for p, q in zip(tgm.parameters(), th.parameters()):
        np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), rtol=1e-5, atol=1e-6)


def test_clip_grad_value_matches_torch():
    torch = pytest.importorskip("torch")
    th, tgm = _pair(torch)
    torch.nn.utils.clip_grad_value_(th.parameters(), 0.3)
    nn.utils.clip_grad_value_(tgm.parameters(), 0.3)
    for p, q in zip(tgm.parameters(), th.parameters()):
        np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), rtol=1e-5, atol=1e-6)
    assert max(float(p.grad.abs().max().item()) for p in tgm.parameters()) <= 0.3 + 1e-7


def test_clip_grad_norm_edge_cases():
    p = nn.Parameter(tg.ones(3))
    assert nn.utils.clip_grad_norm_([p], 1.0).item() == 0.0          # no gradients at all
    p.grad = tg.tensor([float("nan"), 1.0, 1.0])
    with pytest.raises(RuntimeError, match="non-finite"):
        nn.utils.clip_grad_norm_(p, 1.0, error_if_nonfinite=True)
    p.grad = tg.tensor([3.0, 4.0, 0.0])
    total = nn.utils.clip_grad_norm_(p, 1.0)
    assert abs(total.item() - 5.0) < 1e-6
    np.testing.assert_allclose(p.grad.numpy(), [0.6, 0.8, 0.0], rtol=1e-5)


def test_parameters_to_vector_and_back():
    net = nn.Sequential(nn.Linear(3, 2), nn.Linear(2, 1))
    vec = nn.utils.parameters_to_vector(net.parameters())
    assert vec.shape == (3 * 2 + 2 + 2 + 1,)
    np.testing.assert_array_equal(vec.numpy()[:6], net[0].weight.numpy().reshape(-1))
    nn.utils.vector_to_parameters(tg.arange(11).float(), net.parameters())
    np.testing.assert_array_equal(net[0].weight.numpy(), np.arange(6).reshape(2, 3))
    np.testing.assert_array_equal(net[1].bias.numpy(), [10.0])
    assert isinstance(net[0].weight, nn.Parameter) and net[0].weight.requires_grad
    vec = nn.utils.parameters_to_vector(net.parameters())
    (vec * vec).sum().backward()                                   # stays in the graph
    np.testing.assert_array_equal(net[0].weight.grad.numpy(), 2 * np.arange(6).reshape(2, 3))
    with pytest.raises(ValueError, match="11"):
        nn.utils.vector_to_parameters(tg.zeros(5), net.parameters())
    with pytest.raises(TypeError):
        nn.utils.vector_to_parameters(np.zeros(11), net.parameters())
