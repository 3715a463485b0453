"""Diffusion (issue #17): the forward process, the samplers and the loss against their
definitions, guidance's endpoints; the U-Net's shapes."""
import math

import numpy as np
import pytest

import tinygen as tg
from tinygen.models.diffusion import (EMA, NoiseSchedule, ddim_sample, ddim_step, ddpm_sample,
                                      denoising_loss, guided_noise)
from tinygen.models.unet import UNet, UNetConfig


@pytest.mark.parametrize("kind", ["linear", "cosine"])
def test_closed_form_matches_sequential_noising(kind):
    # x_t = sqrt(1 - beta_t) x_{t-1} + sqrt(beta_t) eps, step by step, against
    # q(x_t | x_0) = N(sqrt(ab_t) x_0, 1 - ab_t): the mean and variance over many draws
    schedule = NoiseSchedule(kind, 100)
    rng = np.random.default_rng(0)
    x0 = np.linspace(-1, 1, 5)
    x = np.tile(x0, (40000, 1))
    for t in range(60):
        beta = schedule.betas[t]
        x = math.sqrt(1 - beta) * x + math.sqrt(beta) * rng.standard_normal(x.shape)
    ab = schedule.alpha_bars[59]
    np.testing.assert_allclose(x.mean(0), math.sqrt(ab) * x0, atol=0.02)
    np.testing.assert_allclose(x.var(0), 1 - ab, rtol=0.03)
    # and q_sample is that closed form
    noise = tg.randn(3, 1, 2, 2, dtype=tg.float64)
    x0t = tg.randn(3, 1, 2, 2, dtype=tg.float64)
    t = np.array([0, 30, 99])
    out = schedule.q_sample(x0t, t, noise).numpy()
    ab = schedule.alpha_bars[t].reshape(3, 1, 1, 1)
    np.testing.assert_allclose(out, np.sqrt(ab) * x0t.numpy() + np.sqrt(1 - ab) * noise.numpy())


def test_schedules():
    linear = NoiseSchedule("linear", 1000)
    assert linear.betas[0] == pytest.approx(1e-4) and linear.betas[-1] == pytest.approx(0.02)
    cosine = NoiseSchedule("cosine", 1000)
    assert np.all(np.diff(cosine.alpha_bars) < 0) and cosine.alpha_bars[-1] < 1e-4
    with pytest.raises(ValueError, match="linear' or 'cosine"):
        NoiseSchedule("quadratic")


class LinearEps(tg.nn.Module):
    """A stand-in network: eps = a x + b t / T + c * (label + 1), deterministic and cheap."""

    def __init__(self, steps):
        super().__init__()
        self.steps = steps

    def forward(self, x, t, labels=None):
        shift = 0.0 if labels is None else (labels.double() + 1).reshape(-1, 1, 1, 1) * 0.01
        return x * 0.3 + (t.double() / self.steps).reshape(-1, 1, 1, 1) * 0.1 + shift


def test_ddim_with_eta_0_is_deterministic():
    schedule, model = NoiseSchedule("linear", 50), LinearEps(50)
    start = tg.randn(2, 1, 3, 3, dtype=tg.float64)

    def run():
        return ddim_sample(model, schedule, (2, 1, 3, 3), steps=10, eta=0.0,
                           noise_fn=lambda shape: start).numpy()
    first = run()
    tg.randn(100)                                    # the global stream moves: no effect
    np.testing.assert_array_equal(run(), first)


def test_ddim_with_every_step_and_eta_1_is_the_ddpm_update():
    T = 30
    schedule, model = NoiseSchedule("linear", T), LinearEps(T)
    rng = np.random.default_rng(1)
    draws = [tg.tensor(rng.standard_normal((2, 1, 3, 3))) for _ in range(T + 1)]

    def from_list():
        queue = list(draws)
        return lambda shape: queue.pop(0)
    ddpm = ddpm_sample(model, schedule, (2, 1, 3, 3), noise_fn=from_list()).numpy()
    ddim = ddim_sample(model, schedule, (2, 1, 3, 3), steps=T, eta=1.0,
                       noise_fn=from_list()).numpy()
    np.testing.assert_allclose(ddim, ddpm, rtol=1e-9, atol=1e-12)


def test_the_loss_of_a_one_step_model_by_hand():
    schedule, model = NoiseSchedule("linear", 1), LinearEps(1)
    rng = np.random.default_rng(2)
    x0, noise = rng.uniform(-1, 1, (4, 1, 2, 2)), rng.standard_normal((4, 1, 2, 2))
    loss = denoising_loss(model, schedule, tg.tensor(x0), noise=tg.tensor(noise)).item()
    ab = 1 - 1e-4                                     # T = 1: beta_0 = 1e-4
    x_t = math.sqrt(ab) * x0 + math.sqrt(1 - ab) * noise
    predicted = 0.3 * x_t                             # t = 0
    assert loss == pytest.approx(((noise - predicted) ** 2).mean(), rel=1e-12)


def test_guidance_endpoints():
    model = UNet(UNetConfig(1, 8, (8, 8), time_dim=16, groups=4, num_classes=3))
    x, labels = tg.randn(4, 1, 8, 8), tg.tensor([0, 1, 2, 1])
    null = tg.full((4,), 3, dtype=tg.int64)
    with tg.no_grad():
        unconditional = model(x, tg.full((4,), 7, dtype=tg.int64), null).numpy()
        conditional = model(x, tg.full((4,), 7, dtype=tg.int64), labels).numpy()
        np.testing.assert_allclose(guided_noise(model, x, 7, labels, 0.0, 3).numpy(),
                                   unconditional, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(guided_noise(model, x, 7, labels, 1.0, 3).numpy(),
                                   conditional, rtol=1e-5, atol=1e-6)
        w3 = guided_noise(model, x, 7, labels, 3.0, 3).numpy()
    np.testing.assert_allclose(w3, unconditional + 3 * (conditional - unconditional), rtol=1e-4,
                               atol=1e-5)


@pytest.mark.parametrize("size, channels", [(8, (8, 16)), (28, (8, 16, 16)), (25, (8, 8, 8))])
def test_unet_shapes_and_gradients(size, channels):
    model = UNet(UNetConfig(1, size, channels, time_dim=16, groups=4, num_classes=10))
    x = tg.randn(2, 1, size, size)
    out = model(x, tg.tensor([0, 999]), tg.tensor([3, 10]))
    assert out.shape == x.shape
    out.square().mean().backward()
    assert all(p.grad is not None for p in model.parameters())


def test_ddim_clips_the_predicted_x0_when_asked():
    schedule = NoiseSchedule("linear", 1000)
    x, eps = tg.zeros(2, 1, 3, 3), tg.full((2, 1, 3, 3), 0.5)
    no_noise = lambda shape: tg.zeros(*shape)  # noqa: E731
    # to the data from t = T - 1: the output is the predicted x0 itself
    raw = ddim_step(schedule, x, eps, 999, -1, 0.0, no_noise).numpy()
    ab = schedule.alpha_bars[999]
    np.testing.assert_allclose(raw, -0.5 * np.sqrt(1 - ab) / np.sqrt(ab), rtol=1e-5)   # -78
    clipped = ddim_step(schedule, x, eps, 999, -1, 0.0, no_noise, clip_x0=True).numpy()
    np.testing.assert_array_equal(clipped, -1.0)
    # an inner step moves towards the clipped x0 with the noise that x0 implies at x
    # (guided-diffusion's _predict_eps_from_xstart), not with the model's eps
    inner = ddim_step(schedule, x, eps, 999, 500, 0.0, no_noise, clip_x0=True).numpy()
    ab_prev = schedule.alpha_bars[500]
    implied = (0.0 - np.sqrt(ab) * -1.0) / np.sqrt(1 - ab)
    np.testing.assert_allclose(inner, -np.sqrt(ab_prev) + implied * np.sqrt(1 - ab_prev),
                               rtol=1e-5)
    # where the predicted x0 is inside [-1, 1], clipping changes nothing
    x = tg.full((2, 1, 3, 3), 0.3)
    small = tg.full((2, 1, 3, 3), 0.2)
    for t_prev in (100, -1):
        np.testing.assert_allclose(
            ddim_step(schedule, x, small, 500, t_prev, 0.0, no_noise, clip_x0=True).numpy(),
            ddim_step(schedule, x, small, 500, t_prev, 0.0, no_noise).numpy(), rtol=1e-5)


def test_ema_warms_its_decay_up_then_holds_it():
    source, shadow = tg.nn.Linear(2, 1), tg.nn.Linear(2, 1)
    ema = EMA(source, shadow, decay=0.999)
    start = shadow.weight.numpy().copy()
    with tg.no_grad():
        source.weight.add_(1.0)
    ema.update(step=0)                        # d = min(0.999, 1 / 10) = 0.1
    np.testing.assert_allclose(shadow.weight.numpy(), 0.1 * start + 0.9 * (start + 1), rtol=1e-6)
    assert ema.decay_at(90) == pytest.approx(91 / 100)
    assert ema.decay_at(10 ** 6) == 0.999 and ema.decay_at(None) == 0.999
