"""GANs on images: an MLP GAN (Goodfellow et al. 2014), DCGAN (Radford et al. 2016) and WGAN-GP
(Gulrajani et al. 2017), sharing one recipe.

- `gan`: MLP generator and discriminator, non-saturating loss (BCE with logits).
- `dcgan`: transposed convolutions + batch norm + ReLU in the generator, strided convolutions +
  LeakyReLU(0.2) in the discriminator (batch norm after the first layer), Adam(2e-4, 0.5, 0.999).
- `wgan-gp`: the DCGAN shapes with a critic without batch norm, the Wasserstein loss, and the
  gradient penalty lambda * (||grad_x D(x_hat)|| - 1)^2 on random interpolates: a double backward
  through the critic's convolutions. n_critic = 5, Adam(1e-4, 0.5, 0.9).
Images are in [0, 1]: the generator ends in a sigmoid. The training recipes (the losses, the
alternating updates) are in tinygen/train/recipes/gan.py.
"""
from __future__ import annotations

from dataclasses import dataclass

import tinygen as tg
from .. import nn


@dataclass(frozen=True)
class GANConfig:
    in_channels: int = 1
    image_size: int = 28
    latent: int = 64
    width: int = 64          # base channels (conv) or hidden units / 4 (MLP)
    conv: bool = True
    critic_batchnorm: bool = True


class MLPGenerator(nn.Module):
    def __init__(self, c: GANConfig):
        super().__init__()
        d = c.in_channels * c.image_size * c.image_size
        h = 4 * c.width
        self.net = nn.Sequential(
            nn.Linear(c.latent, h), nn.LeakyReLU(0.2), nn.Linear(h, 2 * h), nn.LeakyReLU(0.2),
            nn.Linear(2 * h, d), nn.Sigmoid(), nn.Unflatten(1, (c.in_channels, c.image_size, c.image_size)))

    def forward(self, z):
        return self.net(z)                       # (B, latent) -> (B, C, H, W)


class MLPDiscriminator(nn.Module):
    def __init__(self, c: GANConfig):
        super().__init__()
        d = c.in_channels * c.image_size * c.image_size
        h = 4 * c.width
        self.net = nn.Sequential(
            nn.Flatten(), nn.Linear(d, 2 * h), nn.LeakyReLU(0.2), nn.Linear(2 * h, h),
            nn.LeakyReLU(0.2), nn.Linear(h, 1))

    def forward(self, x):
        return self.net(x).squeeze(1)            # (B, C, H, W) -> (B,) logits


class ConvGenerator(nn.Module):
    """z -> (2w, H/4, W/4) -> (w, H/2, W/2) -> (C, H, W); H divisible by 4 (28 or 8)."""

    def __init__(self, c: GANConfig):
        super().__init__()
        w, side = c.width, c.image_size // 4
        self.net = nn.Sequential(
            nn.Unflatten(1, (c.latent, 1, 1)),
            nn.ConvTranspose2d(c.latent, 2 * w, side, 1, 0, bias=False),   # (B, 2w, H/4, W/4)
            nn.BatchNorm2d(2 * w), nn.ReLU(),
            nn.ConvTranspose2d(2 * w, w, 4, 2, 1, bias=False),             # (B, w, H/2, W/2)
            nn.BatchNorm2d(w), nn.ReLU(),
            nn.ConvTranspose2d(w, c.in_channels, 4, 2, 1),                 # (B, C, H, W)
            nn.Sigmoid())

    def forward(self, z):
        return self.net(z)


class ConvDiscriminator(nn.Module):
    def __init__(self, c: GANConfig):
        super().__init__()
        w, side = c.width, c.image_size // 4
        norm = nn.BatchNorm2d(2 * w) if c.critic_batchnorm else nn.Identity()
        self.net = nn.Sequential(
            nn.Conv2d(c.in_channels, w, 4, 2, 1), nn.LeakyReLU(0.2),        # (B, w, H/2, W/2)
            nn.Conv2d(w, 2 * w, 4, 2, 1, bias=not c.critic_batchnorm),      # (B, 2w, H/4, W/4)
            norm, nn.LeakyReLU(0.2),
            nn.Conv2d(2 * w, 1, side, 1, 0), nn.Flatten())                  # (B, 1)

    def forward(self, x):
        return self.net(x).squeeze(1)            # (B,) logits or critic values


def init_dcgan_(module):
    """Radford et al.: conv weights N(0, 0.02), batch-norm weights N(1, 0.02), biases 0."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.normal_(m.weight, 0.0, 0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)


def gradient_penalty(critic, real, fake):
    """E[(||grad D(x_hat)||_2 - 1)^2] with x_hat on random lines between real and fake samples
    (Gulrajani et al. 2017). real, fake: (B, C, H, W); the penalty is differentiable again
    (create_graph), so the critic's step backpropagates through its own input gradient."""
    alpha = tg.rand(real.shape[0], 1, 1, 1, device=real.device)                  # (B, 1, 1, 1)
    x_hat = (alpha * real + (1 - alpha) * fake).detach().requires_grad_(True)
    (grad,) = tg.autograd.grad(critic(x_hat).sum(), x_hat, create_graph=True)
    norm = (grad.flatten(1).square().sum(1) + 1e-12).sqrt()
    return ((norm - 1) ** 2).mean()
