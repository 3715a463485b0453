"""Denoising diffusion (Ho et al. 2020) with DDIM sampling (Song et al. 2021) and classifier-free
guidance (Ho & Salimans 2022): the noise schedule, the forward process, the loss and the
samplers. The network that predicts the noise is tinygen/models/unet.py; the training recipe is
tinygen/train/recipes/diffusion.py.

    schedule = NoiseSchedule("linear", 1000)                 # beta 1e-4 .. 0.02 (Ho et al.)
    loss = denoising_loss(unet, schedule, x0, labels)        # E ||eps - eps_theta(x_t, t, y)||^2
    x = ddim_sample(unet, schedule, (16, 1, 28, 28), steps=50, labels=y, guidance=3.0)

Images live in [-1, 1] inside the diffusion ((x - 0.5) * 2 of the data's [0, 1] pixels).

Forward process: q(x_t | x_0) = N(sqrt(ab_t) x_0, (1 - ab_t) I), ab_t = prod_{s<=t} (1 - beta_s).
The network predicts the noise eps of x_t = sqrt(ab_t) x_0 + sqrt(1 - ab_t) eps.

Guidance (the convention of Ho & Salimans' eq. 6 rewritten as in most libraries):
eps = eps(x, t, null) + w (eps(x, t, y) - eps(x, t, null)): w = 0 is the unconditional model,
w = 1 the conditional one, w > 1 pushes samples towards their class.
"""
from __future__ import annotations

import math

import numpy as np

import tinygen as tg
from ..nn import functional as F


class NoiseSchedule:
    """betas (T,) and the derived alpha_bar_t = prod (1 - beta_s), as float64 NumPy arrays.

    kind "linear": beta from 1e-4 to 0.02 (Ho et al. 2020); "cosine": alpha_bar_t =
    f(t) / f(0), f(t) = cos((t / T + s) / (1 + s) * pi / 2)^2, s = 0.008, betas clipped at 0.999
    (Nichol & Dhariwal 2021). Step t = 0 .. T-1 (t = 0 is the first noising step)."""

    def __init__(self, kind="linear", steps=1000):
        if kind == "linear":
            betas = np.linspace(1e-4, 0.02, steps, dtype=np.float64)
        elif kind == "cosine":
            s = 0.008
            grid = np.arange(steps + 1, dtype=np.float64) / steps
            f = np.cos((grid + s) / (1 + s) * math.pi / 2) ** 2
            betas = np.clip(1 - f[1:] / f[:-1], 0, 0.999)
        else:
            raise ValueError(f"NoiseSchedule: kind must be 'linear' or 'cosine', got {kind!r}")
        self.kind, self.steps, self.betas = kind, steps, betas
        self.alpha_bars = np.cumprod(1 - betas)
        # the coefficient tables (float64, CPU), gathered with tensor ops: a training step that
        # draws its own t stays a captured step (tg.compile)
        self._sqrt_ab = tg.tensor(np.sqrt(self.alpha_bars))
        self._sqrt_one_minus_ab = tg.tensor(np.sqrt(1 - self.alpha_bars))

    def coefficients(self, t, like):
        """sqrt(ab_t) and sqrt(1 - ab_t) for integer steps t (B,) (a tensor or array-like),
        shaped (B, 1, 1, 1) as like's dtype on like's device."""
        t = t if isinstance(t, tg.Tensor) else tg.as_tensor(np.asarray(t, dtype=np.int64))
        t = t.to(like.device)
        shape = (t.shape[0],) + (1,) * (like.ndim - 1)
        return tuple(table.to(like.device, like.dtype).index_select(0, t).reshape(shape)
                     for table in (self._sqrt_ab, self._sqrt_one_minus_ab))

    def q_sample(self, x0, t, noise):
        """x_t = sqrt(ab_t) x_0 + sqrt(1 - ab_t) noise: q(x_t | x_0) in closed form."""
        a, s = self.coefficients(t, x0)
        return a * x0 + s * noise


def denoising_loss(model, schedule, x0, labels=None, p_uncond=0.0, null_label=None, t=None,
                   noise=None):
    """The epsilon-prediction loss of Ho et al.: mean over pixels and batch of
    (eps - model(x_t, t, y))^2, t uniform over the T steps (or the given (B,) steps) and eps
    standard normal (or the given noise). With labels, each is replaced by `null_label` with
    probability p_uncond (label dropout: one model learns both the conditional and the
    unconditional prediction, for guidance). x0 (B, C, H, W) in [-1, 1]."""
    b = x0.shape[0]
    t = tg.randint(0, schedule.steps, (b,)) if t is None else t
    t = (t if isinstance(t, tg.Tensor) else tg.as_tensor(np.asarray(t))).to(x0.device)
    noise = tg.randn_like(x0) if noise is None else noise
    if labels is not None and p_uncond > 0:
        drop = tg.rand(b, device=labels.device) < p_uncond
        labels = tg.where(drop, tg.full_like(labels, null_label), labels)
    prediction = model(schedule.q_sample(x0, t, noise), t, labels)
    return F.mse_loss(prediction, noise)


def guided_noise(model, x, t, labels, guidance, null_label):
    """eps at (x, t): unconditional (labels None), or eps_null + w (eps_y - eps_null)."""
    steps = tg.full((x.shape[0],), int(t), dtype=tg.int64, device=x.device)
    if labels is None:
        return model(x, steps, None)
    if guidance == 1.0:
        return model(x, steps, labels)
    null = tg.full_like(labels, null_label)
    both = model(tg.cat([x, x]), tg.cat([steps, steps]), tg.cat([labels, null]))  # one batch
    eps_y, eps_null = both.chunk(2)
    return eps_null + (eps_y - eps_null) * guidance


def ddim_step(schedule, x, eps, t, t_prev, eta, noise_fn, clip_x0=False):
    """One DDIM update from step t to t_prev (-1: to the data), eq. 12 of Song et al.:
    x0 = (x - sqrt(1 - ab_t) eps) / sqrt(ab_t);  sigma = eta sqrt((1 - ab_prev) / (1 - ab_t))
    sqrt(1 - ab_t / ab_prev);  x_prev = sqrt(ab_prev) x0 + sqrt(1 - ab_prev - sigma^2) eps
    + sigma noise (noise_fn(shape), drawn only when sigma > 0). eta = 1 over every step is the
    DDPM ancestral sampler with the posterior variance beta~_t; eta = 0 is deterministic.
    clip_x0: clamp the predicted x0 to the data's [-1, 1] (Ho et al.'s code clips it, as does
    diffusers' clip_sample): at large t, 1 / sqrt(ab_t) (157 at t = T with the linear schedule)
    magnifies the noise prediction's error, and a model early in training sends x off to
    saturated pictures without it. The noise is then recomputed from the clipped x0 (as
    guided-diffusion's DDIM does: `_predict_eps_from_xstart`), so that the step direction agrees
    with the x0 it moves to: kept unclipped, a guided eps (w > 1 amplifies it) carried the
    clipped-away part into x_prev; on MNIST after 4 epochs, 200 samples with w = 2 were labelled
    as asked 43% of the time that way (w = 4: 1%), against 91.5% unguided."""
    ab = float(schedule.alpha_bars[t])
    ab_prev = float(schedule.alpha_bars[t_prev]) if t_prev >= 0 else 1.0
    x0 = (x - eps * math.sqrt(1 - ab)) * (1 / math.sqrt(ab))
    if clip_x0:
        x0 = x0.clamp(-1, 1)
        eps = (x - x0 * math.sqrt(ab)) * (1 / math.sqrt(1 - ab))     # the noise that x0 implies
    sigma = eta * math.sqrt((1 - ab_prev) / (1 - ab)) * math.sqrt(1 - ab / ab_prev)
    out = x0 * math.sqrt(ab_prev) + eps * math.sqrt(max(1 - ab_prev - sigma * sigma, 0.0))
    return out + noise_fn(tuple(x.shape)) * sigma if sigma > 0 else out


def ddim_sample(model, schedule, shape, steps=50, eta=0.0, labels=None, guidance=1.0,
                null_label=None, device="cpu", chain=None, noise_fn=None, clip_x0=False):
    """Samples (shape: (B, C, H, W), in [-1, 1]) after `steps` DDIM updates over an evenly
    spaced subsequence of the T steps. chain: a list to append the intermediate x's to (for the
    figure of the denoising chain). noise_fn(shape): the sampler's noise (default tg.randn).
    clip_x0: clamp each predicted x0 to [-1, 1] (see ddim_step)."""
    noise_fn = noise_fn or (lambda s: tg.randn(*s, device=device))
    times = np.linspace(0, schedule.steps - 1, steps).round().astype(int)[::-1]
    x = noise_fn(shape)
    for i, t in enumerate(times):
        t_prev = int(times[i + 1]) if i + 1 < len(times) else -1
        eps = guided_noise(model, x, int(t), labels, guidance, null_label)
        x = ddim_step(schedule, x, eps, int(t), t_prev, eta, noise_fn, clip_x0)
        if chain is not None:
            chain.append(x)
    return x


def ddpm_sample(model, schedule, shape, labels=None, guidance=1.0, null_label=None,
                device="cpu", noise_fn=None):
    """Ancestral sampling over all T steps (Ho et al. algorithm 2) with the posterior variance
    beta~_t = (1 - ab_{t-1}) / (1 - ab_t) beta_t: the same as DDIM with eta = 1 and S = T."""
    noise_fn = noise_fn or (lambda s: tg.randn(*s, device=device))
    x = noise_fn(shape)
    for t in range(schedule.steps - 1, -1, -1):
        eps = guided_noise(model, x, t, labels, guidance, null_label)
        beta, ab = float(schedule.betas[t]), float(schedule.alpha_bars[t])
        ab_prev = float(schedule.alpha_bars[t - 1]) if t > 0 else 1.0
        mean = (x - eps * (beta / math.sqrt(1 - ab))) * (1 / math.sqrt(1 - beta))
        var = (1 - ab_prev) / (1 - ab) * beta
        x = mean + noise_fn(shape) * math.sqrt(var) if t > 0 else mean
    return x


class EMA:
    """An exponential moving average of a module's parameters (and a copy of its buffers):
    shadow = d * shadow + (1 - d) * param after each step, used for sampling. The shadow is a
    module of the same class (`self.module`), saved with the run.

    update(step) warms the decay up: d = min(decay, (1 + step) / (10 + step)), as TensorFlow's
    ExponentialMovingAverage with num_updates. Without it a short run samples from a shadow
    that is still mostly the random initialisation (0.999 ** 938 = 39% of it after one MNIST
    epoch: its samples were noise while the trained weights already drew digits). update()
    with no step uses `decay` as it is.
    """

    def __init__(self, module, shadow, decay=0.999):
        self.source, self.module, self.decay = module, shadow, decay
        self.module.load_state_dict(module.state_dict())
        self.module.eval()

    def decay_at(self, step=None):
        return self.decay if step is None else min(self.decay, (1 + step) / (10 + step))

    @tg.no_grad()
    def update(self, step=None):
        d = self.decay_at(step)
        for p, s in zip(self.source.parameters(), self.module.parameters()):
            s.mul_(d).add_(p.detach() * (1 - d))
        for b, s in zip(self.source.buffers(), self.module.buffers()):
            s.copy_(b)
