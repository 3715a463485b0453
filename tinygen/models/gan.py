"""GANs on images: an MLP GAN (Goodfellow et al. 2014), DCGAN (Radford et al. 2016) and WGAN-GP
(Gulrajani et al. 2017), sharing one recipe.

- `gan`: MLP generator and discriminator, non-saturating loss (BCE with logits).
- `dcgan`: transposed convolutions + batch norm + ReLU in the generator, strided convolutions +
  LeakyReLU(0.2) in the discriminator (batch norm after the first layer), Adam(2e-4, 0.5, 0.999);
  1 or 3 channels, any side divisible by 4, with as many stride-2 layers as the side allows
  (8 and 28 px: two; 32: three; 64: four, the paper's 64x64 shapes).
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
from .image_shapes import strided_levels


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
    """z -> (2^(L-1) w, s, s) -> ... -> (2w, H/4, W/4) -> (w, H/2, W/2) -> (C, H, W), with L
    stride-2 transposed convolutions (L and the smallest side s from `strided_levels`: 28 -> 7,
    32 -> 4, 64 -> 4 with L = 4 as in the DCGAN paper's 64x64 generator). BatchNorm and ReLU
    after every layer but the last; no pooling, no fully connected layer. The paper ends in tanh
    on [-1, 1] data; here the data is in [0, 1] and the generator ends in a sigmoid,
    sigmoid(2a) = (tanh(a) + 1) / 2: the same function up to the scale of the last layer."""

    def __init__(self, c: GANConfig):
        super().__init__()
        levels, side = strided_levels(c.image_size)
        top = c.width * 2 ** (levels - 1)
        layers = [nn.Unflatten(1, (c.latent, 1, 1)),
                  nn.ConvTranspose2d(c.latent, top, side, 1, 0, bias=False),  # (B, top, s, s)
                  nn.BatchNorm2d(top), nn.ReLU()]
        for k in range(levels - 1, 0, -1):      # each doubles the side, halves the channels
            cin, cout = c.width * 2 ** k, c.width * 2 ** (k - 1)
            layers += [nn.ConvTranspose2d(cin, cout, 4, 2, 1, bias=False),    # (B, cout, 2x, 2x)
                       nn.BatchNorm2d(cout), nn.ReLU()]
        layers += [nn.ConvTranspose2d(c.width, c.in_channels, 4, 2, 1),      # (B, C, H, W)
                   nn.Sigmoid()]
        self.net = nn.Sequential(*layers)

    def forward(self, z):
        return self.net(z)                       # (B, latent) -> (B, C, H, W)


class ConvDiscriminator(nn.Module):
    """(C, H, W) -> (w, H/2, W/2) -> (2w, H/4, W/4) -> ... -> (2^(L-1) w, s, s) -> one logit: L
    stride-2 convolutions with LeakyReLU(0.2), BatchNorm on all but the first (DCGAN), then an
    s x s convolution to one number. The WGAN-GP critic drops the BatchNorm
    (critic_batchnorm=False): its gradient penalty is per sample."""

    def __init__(self, c: GANConfig):
        super().__init__()
        levels, side = strided_levels(c.image_size)
        layers = [nn.Conv2d(c.in_channels, c.width, 4, 2, 1), nn.LeakyReLU(0.2)]  # (B, w, H/2, W/2)
        for k in range(1, levels):               # each halves the side, doubles the channels
            cin, cout = c.width * 2 ** (k - 1), c.width * 2 ** k
            norm = nn.BatchNorm2d(cout) if c.critic_batchnorm else nn.Identity()
            layers += [nn.Conv2d(cin, cout, 4, 2, 1, bias=not c.critic_batchnorm),
                       norm, nn.LeakyReLU(0.2)]                               # (B, cout, x/2, x/2)
        layers += [nn.Conv2d(c.width * 2 ** (levels - 1), 1, side, 1, 0), nn.Flatten()]  # (B, 1)
        self.net = nn.Sequential(*layers)

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
