"""Normalizing flows with exact likelihood: RealNVP (Dinh et al. 2017) and Glow (Kingma &
Dhariwal 2018), on 2-D toy densities and on images.

log p(x) = log N(f(x); 0, I) + log|det df/dx|, the flow f a stack of flow_layers.

Images: pixels x in {0, ..., 255}/255 are dequantised, u = (255 x + U[0, 1)) / 256, and mapped
to the real line by the logit transform y = logit(a + (1 - 2a) u) (a = 1e-6). Bits per dimension
are reported in data space (256 levels): bpd = (-log p(u) + D log 256) / (D log 2), where
-log p(u) counts the logit transform's log-determinant too.

- realnvp, arch "mlp" (the default): a flattened image or a vector through K affine couplings with
  alternating checkerboard masks, MLP coupling nets, tanh-bounded scales.
- realnvp, arch "multiscale": per level, checkerboard couplings, squeeze, channel couplings, then
  half the channels leave for the prior (conv coupling nets).
- glow: per step actnorm, invertible 1x1 convolution (LU), affine coupling on half the channels;
  images multi-scale (squeeze, K steps, split), vectors a single scale.
The training recipes are in tinygen/train/recipes/flows.py.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

import tinygen as tg
from .. import nn
from .flow_layers import (ActNorm, AffineCoupling, FlowSequence, InvertibleLinearLU, Squeeze,
                          channel_mask, checkerboard_mask, conv_net, mlp)

LOG2PI = math.log(2 * math.pi)


@dataclass(frozen=True)
class FlowConfig:
    shape: tuple                  # one sample: (D,) or (C, H, W)
    glow: bool = False
    arch: str = "mlp"             # realnvp: mlp | multiscale (glow on images is always multiscale)
    couplings: int = 6            # mlp: couplings; multiscale: steps per level
    hidden: int = 512
    hidden_layers: int = 2
    levels: int = 2
    alpha: float = 1e-6


def _gaussian_logp(z):
    return (-0.5 * (z * z) - 0.5 * LOG2PI).flatten(1).sum(1)


class VectorFlow(nn.Module):
    """A flow on vectors (B, D): RealNVP couplings, or Glow steps (actnorm, LU mixing, coupling)."""

    def __init__(self, c: FlowConfig):
        super().__init__()
        d = int(np.prod(c.shape))
        layers = []
        for k in range(c.couplings):
            if c.glow:
                layers += [ActNorm(d, ndim=2), InvertibleLinearLU(d, seed=k),
                           AffineCoupling(channel_mask((d,), k % 2), mlp(d, 2 * d, c.hidden, c.hidden_layers))]
            else:
                mask = checkerboard_mask(c.shape, k % 2).reshape(-1)
                layers.append(AffineCoupling(mask, mlp(d, 2 * d, c.hidden, c.hidden_layers)))
        self.flow = FlowSequence(layers)

    def forward(self, x):
        """x (B, ...) -> (z (B, D), logdet (B,))."""
        return self.flow(x.flatten(1))

    def log_prob(self, x):
        z, logdet = self(x)
        return _gaussian_logp(z) + logdet

    def sample(self, n, temperature=1.0):
        """n samples (n, D), drawn from the prior (scaled by temperature) on the flow's device."""
        mask = self.flow.layers[-1].mask
        return self.flow.inverse(tg.randn(n, mask.shape[0], device=mask.device) * temperature)


class MultiScaleFlow(nn.Module):
    """Images: levels of (squeeze, steps), each but the last sending half its channels to the prior."""

    def __init__(self, c: FlowConfig):
        super().__init__()
        if len(c.shape) != 3:
            raise ValueError(f"the multi-scale flow takes images (C, H, W), not data of shape "
                             f"{tuple(c.shape)}: arch=mlp for vectors")
        ch, h, w = c.shape
        if h % 2 ** c.levels or w % 2 ** c.levels:
            raise ValueError(f"levels={c.levels}: each level halves the image, and {h}x{w} is not "
                             f"divisible by 2^{c.levels}")
        self.levels = nn.ModuleList()
        self.shapes = []
        for level in range(c.levels):
            steps = []
            if not c.glow:                                     # RealNVP: checkerboard first
                for k in range(c.couplings // 2):
                    steps.append(AffineCoupling(checkerboard_mask((ch, h, w), k % 2),
                                                conv_net(ch, 2 * ch, c.hidden)))
            steps.append(Squeeze())
            ch, h, w = ch * 4, h // 2, w // 2
            n_steps = c.couplings if c.glow else c.couplings - c.couplings // 2
            for k in range(n_steps):
                if c.glow:
                    steps += [ActNorm(ch), InvertibleLinearLU(ch, seed=10 * level + k)]
                steps.append(AffineCoupling(channel_mask((ch, h, w), k % 2),
                                            conv_net(ch, 2 * ch, c.hidden)))
            self.levels.append(FlowSequence(steps))
            last = level == c.levels - 1
            self.shapes.append((ch if last else ch // 2, h, w))
            if not last:
                ch //= 2

    def forward(self, x):
        """x (B, C, H, W) -> (list of z per level, logdet (B,))."""
        zs, logdet = [], 0
        for k, level in enumerate(self.levels):
            x, ld = level(x)
            logdet = logdet + ld
            if k < len(self.levels) - 1:
                z, x = x.chunk(2, dim=1)                       # half leaves for the prior
                zs.append(z)
        zs.append(x)
        return zs, logdet

    def log_prob(self, x):
        zs, logdet = self(x)
        return sum(_gaussian_logp(z) for z in zs) + logdet

    def sample(self, n, temperature=1.0):
        """n images (n, C, H, W) on the logit scale, from the prior of every level."""
        device = next(self.parameters()).device
        zs = [tg.randn(n, *s, device=device) * temperature for s in self.shapes]
        x = zs[-1]
        for k in reversed(range(len(self.levels))):
            if k < len(self.levels) - 1:
                x = tg.cat([zs[k], x], dim=1)
            x = self.levels[k].inverse(x)
        return x


def dequantize_logit(x, alpha):
    """Pixels in [0, 1] -> (y on the real line, log|det dy/du| (B,)) with uniform dequantisation.
    x: (B, C, H, W); the noise is drawn on x's device."""
    u = (x * 255 + tg.rand_like(x)) / 256
    p = alpha + (1 - 2 * alpha) * u
    y = p.log() - (1 - p).log()
    logdet = (math.log(1 - 2 * alpha) - p.log() - (1 - p).log()).flatten(1).sum(1)
    return y, logdet


def logit_inverse(y, alpha):
    return ((y.sigmoid() - alpha) / (1 - 2 * alpha)).clamp(0, 1)
