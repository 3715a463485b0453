"""Variational autoencoders with a Bernoulli decoder (Kingma & Welling 2014).

`vae` is the classic MLP of pytorch/examples (784-400-20-400-784); `conv-vae` swaps the MLPs for
stride-2 convolutions and their transposes (two at 8 and 28 px, three at 32, four at 64; 1 or 3
channels; tinygen/models/image_shapes.py). Loss and metric follow pytorch/examples: the
negative ELBO, reconstruction summed over pixels plus the KL, in nats per image. The decoder
returns logits and the reconstruction term is binary_cross_entropy_with_logits: the same number as
sigmoid + binary_cross_entropy, without the log(0) clamp. The training recipe is
tinygen/train/recipes/vae.py.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import tinygen as tg
from .. import nn
from ..nn import functional as F
from .image_shapes import strided_levels


@dataclass(frozen=True)
class VAEConfig:
    in_channels: int = 1
    image_size: int = 28
    hidden: int = 400
    latent: int = 20
    conv: bool = False
    width: int = 32


class VAE(nn.Module):
    """x (B, C, H, W) in [0, 1] -> (reconstruction logits (B, C, H, W), mu, logvar (B, latent));
    `decode(z).sigmoid()` of z ~ N(0, I) samples images."""

    def __init__(self, config: VAEConfig):
        super().__init__()
        c = config
        self.config = c
        d = c.in_channels * c.image_size * c.image_size
        if c.conv:
            # L stride-2 convolutions down and L transposed ones up (no pooling), the channels
            # doubling at each level: 28 px -> 7 x 7 with L = 2, 32 -> 4 x 4 (3), 64 -> 4 x 4 (4)
            levels, side = strided_levels(c.image_size)
            w, top = c.width, c.width * 2 ** (levels - 1)
            down = []
            for k in range(levels):                                      # (B, w 2^k, H/2^(k+1), ..)
                down += [nn.Conv2d(c.in_channels if k == 0 else w * 2 ** (k - 1), w * 2 ** k,
                                   4, 2, 1), nn.ReLU()]
            self.encoder = nn.Sequential(
                *down, nn.Flatten(), nn.Linear(top * side * side, c.hidden), nn.ReLU())
            layers = [nn.Linear(c.latent, c.hidden), nn.ReLU(),          # made in order: the
                      nn.Linear(c.hidden, top * side * side), nn.ReLU(),   # same draws as before
                      nn.Unflatten(1, (top, side, side))]
            for k in range(levels - 1, 0, -1):                           # (B, w 2^(k-1), 2x, 2x)
                layers += [nn.ConvTranspose2d(w * 2 ** k, w * 2 ** (k - 1), 4, 2, 1), nn.ReLU()]
            layers.append(nn.ConvTranspose2d(w, c.in_channels, 4, 2, 1))  # (B, C, H, W) logits
            self.decoder = nn.Sequential(*layers)
        else:
            self.encoder = nn.Sequential(nn.Flatten(), nn.Linear(d, c.hidden), nn.ReLU())
            self.decoder = nn.Sequential(
                nn.Linear(c.latent, c.hidden), nn.ReLU(), nn.Linear(c.hidden, d),
                nn.Unflatten(1, (c.in_channels, c.image_size, c.image_size)))
        self.mu = nn.Linear(c.hidden, c.latent)
        self.logvar = nn.Linear(c.hidden, c.latent)

    def encode(self, x):
        h = self.encoder(x)
        return self.mu(h), self.logvar(h)                              # (B, latent) each

    def reparameterize(self, mu, logvar):
        """z = mu + sigma * eps, eps ~ N(0, I) drawn on mu's device: (B, latent)."""
        return mu + tg.randn_like(mu) * (0.5 * logvar).exp()

    def decode(self, z):
        return self.decoder(z)                                         # (B, C, H, W) logits

    def forward(self, x):
        mu, logvar = self.encode(x)
        return self.decode(self.reparameterize(mu, logvar)), mu, logvar


def negative_elbo(recon_logits, x, mu, logvar):
    """Per-image negative ELBO in nats, (B,): reconstruction summed over pixels plus KL.
    x, recon_logits: (B, C, H, W); mu, logvar: (B, latent)."""
    rec = F.binary_cross_entropy_with_logits(recon_logits, x, reduction="none").flatten(1).sum(1)
    # KL(q(z|x) || N(0, I)) in closed form: Kingma & Welling 2014, appendix B
    kl = -0.5 * (1 + logvar - mu * mu - logvar.exp()).sum(dim=1)
    return rec + kl


def importance_log_weights(model, x, samples=64, chunk=256):
    """log w_k = log p(x | z_k) + log p(z_k) - log q(z_k | x) for `samples` draws z_k ~ q(z | x),
    per image: (B, K), in nats (Burda et al. 2016). The draws go through the decoder `chunk` at
    a time (K = 5000 needs B * K decoder passes)."""
    mu, logvar = model.encode(x)                                         # (B, L) each
    std = (0.5 * logvar).exp()
    b = x.shape[0]
    parts = []
    for start in range(0, samples, chunk):
        k = min(chunk, samples - start)
        eps = tg.randn(b, k, mu.shape[1], device=mu.device)              # (B, k, L)
        z = mu.unsqueeze(1) + eps * std.unsqueeze(1)                     # (B, k, L)
        logits = model.decode(z.reshape(b * k, -1))                      # (B*k, C, H, W)
        xk = x.unsqueeze(1).expand(b, k, *x.shape[1:]).reshape(b * k, *x.shape[1:])
        log_px_z = -F.binary_cross_entropy_with_logits(
            logits, xk, reduction="none").flatten(1).sum(1).reshape(b, k)
        log_pz = (-0.5 * (z * z) - 0.5 * math.log(2 * math.pi)).sum(-1)                     # (B, k)
        log_qz = (-0.5 * eps * eps - 0.5 * logvar.unsqueeze(1)
                  - 0.5 * math.log(2 * math.pi)).sum(-1)
        parts.append(log_px_z + log_pz - log_qz)
    return tg.cat(parts, dim=1)


def importance_weighted_nll(model, x, samples=64):
    """The IWAE bound on -log p(x) with `samples` importance samples, per image (B,), in nats
    (the log-sum-exp in the model's dtype; tinygen.metrics.iwae_bound does it in float64)."""
    log_w = importance_log_weights(model, x, samples)
    return -(log_w.logsumexp(dim=1) - math.log(samples))
