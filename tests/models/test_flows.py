"""Every flow layer is invertible and its log-determinant is the true one (brute-force Jacobian)."""
import numpy as np
import pytest

import tinygen as tg
from tinygen.models.flow_layers import (ActNorm, AffineCoupling, FlowSequence, InvertibleLinearLU,
                                        Squeeze, channel_mask, checkerboard_mask, conv_net, mlp)
from tinygen.models.flows import FlowConfig, MultiScaleFlow, VectorFlow


def _randomise(module, seed=0):
    """Replace every parameter with random values (zero-initialised nets are the identity)."""
    rng = np.random.default_rng(seed)
    with tg.no_grad():
        for p in module.parameters():
            p.copy_(tg.tensor(0.3 * rng.standard_normal(p.shape)))
    return module


def _layers():
    d, img = 4, (2, 4, 4)
    return {
        "coupling-vector-checkerboard": (AffineCoupling(checkerboard_mask((d,), 0), mlp(d, 2 * d, 8)), (d,)),
        "coupling-vector-half": (AffineCoupling(channel_mask((d,), 1), mlp(d, 2 * d, 8)), (d,)),
        "coupling-image-checkerboard": (AffineCoupling(checkerboard_mask(img, 1), conv_net(2, 4, 4)), img),
        "coupling-image-channel": (AffineCoupling(channel_mask(img, 0), conv_net(2, 4, 4)), img),
        "actnorm-vector": (ActNorm(d, ndim=2), (d,)),
        "actnorm-image": (ActNorm(2), img),
        "invertible-linear-vector": (InvertibleLinearLU(d), (d,)),
        "invertible-1x1-conv": (InvertibleLinearLU(2), img),
        "squeeze": (Squeeze(), img),
        "sequence": (FlowSequence([ActNorm(d, ndim=2), InvertibleLinearLU(d),
                                   AffineCoupling(channel_mask((d,), 0), mlp(d, 2 * d, 8))]), (d,)),
    }


def _prepare(layer, shape):
    layer = _randomise(layer).to(tg.float64)
    if isinstance(layer, ActNorm):
        layer.initialized.fill_(1)          # keep the random affine (skip data-dependent init)
    x = tg.tensor(np.random.default_rng(1).standard_normal((3,) + shape), dtype=tg.float64)
    return layer, x


@pytest.mark.parametrize("name", list(_layers()))
def test_inverse_of_forward_is_identity(name):
    layer, x = _prepare(*_layers()[name])
    y, _ = layer(x)
    np.testing.assert_allclose(layer.inverse(y).numpy(), x.numpy(), atol=1e-10)


@pytest.mark.parametrize("name", list(_layers()))
def test_logdet_equals_brute_force_jacobian(name):
    layer, x = _prepare(*_layers()[name])
    _, logdet = layer(x)
    for b in range(x.shape[0]):
        xb = x[b:b + 1].detach().requires_grad_(True)
        y, _ = layer(xb)
        y = y.reshape(-1)
        rows = []
        for i in range(y.shape[0]):
            (g,) = tg.autograd.grad(y[i], xb, retain_graph=True)
            rows.append(g.reshape(-1).numpy())
        sign, brute = np.linalg.slogdet(np.stack(rows))
        assert sign != 0
        np.testing.assert_allclose(logdet[b].item(), brute, rtol=1e-8, atol=1e-8)


@pytest.mark.parametrize("glow", [False, True])
def test_multiscale_flow_inverts_and_has_exact_logdet(glow):
    flow = _randomise(MultiScaleFlow(FlowConfig(shape=(1, 4, 4), glow=glow, couplings=2, hidden=4,
                                                levels=2))).to(tg.float64)
    for m in flow.modules():
        if isinstance(m, ActNorm):
            m.initialized.fill_(1)
    x = tg.tensor(np.random.default_rng(2).standard_normal((1, 1, 4, 4)), dtype=tg.float64,
                  requires_grad=True)
    zs, logdet = flow(x)
    z = tg.cat([t.reshape(1, -1) for t in zs], dim=1).reshape(-1)
    rows = [tg.autograd.grad(z[i], x, retain_graph=True)[0].reshape(-1).numpy() for i in range(16)]
    np.testing.assert_allclose(logdet.item(), np.linalg.slogdet(np.stack(rows))[1], rtol=1e-8)
    # sampling inverts the flow: feed the latents back through the inverse
    with tg.no_grad():
        x_back = zs[-1]
        for k in reversed(range(len(flow.levels))):
            if k < len(flow.levels) - 1:
                x_back = tg.cat([zs[k], x_back], dim=1)
            x_back = flow.levels[k].inverse(x_back)
    np.testing.assert_allclose(x_back.numpy(), x.detach().numpy(), atol=1e-10)


def test_vector_flow_log_prob_integrates_to_one_in_2d():
    """exp(log p) of a random 2-D flow sums to ~1 over a fine grid (a density, not just a score)."""
    flow = _randomise(VectorFlow(FlowConfig(shape=(2,), couplings=4, hidden=8)), seed=3)
    xs = np.linspace(-8, 8, 401)
    grid = np.stack(np.meshgrid(xs, xs), -1).reshape(-1, 2)
    with tg.no_grad():
        p = np.exp(flow.log_prob(tg.tensor(grid, dtype=tg.float32)).numpy())
    assert abs(p.sum() * (xs[1] - xs[0]) ** 2 - 1) < 0.02
