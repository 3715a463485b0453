"""The diffusion recipe's U-Net and loss written once against a framework (`lib, nn, F`: tinygen
or PyTorch), for the step benchmark (benchmarks/models.py) and the PyTorch twin of the recipe
(benchmarks/ddpm_torch.py). The same layers, in the same order, as tinygen/models/unet.py, so a
state dict moves between the two and both compute the same function.
"""
from __future__ import annotations

import math

import numpy as np


def unet(lib, nn, F, in_channels=1, channels=(32, 64, 64), time_dim=128, groups=8,
         num_classes=10):
    """A U-Net instance (tinygen/models/unet.py's architecture) built from lib's layers."""

    def embed_steps(t):
        half = time_dim // 2
        freqs = lib.exp(lib.arange(half).float() * (-math.log(10000.0) / half))
        angles = t.float().unsqueeze(1) * freqs.unsqueeze(0)
        return lib.cat([angles.sin(), angles.cos()], dim=1)

    class ResBlock(nn.Module):
        def __init__(self, cin, cout):
            super().__init__()
            self.norm1, self.conv1 = nn.GroupNorm(groups, cin), nn.Conv2d(cin, cout, 3, padding=1)
            self.emb = nn.Linear(time_dim, cout)
            self.norm2 = nn.GroupNorm(groups, cout)
            self.conv2 = nn.Conv2d(cout, cout, 3, padding=1)
            self.dropout = nn.Dropout(0.0)
            self.skip = nn.Conv2d(cin, cout, 1) if cin != cout else nn.Identity()

        def forward(self, x, emb):
            h = self.conv1(F.silu(self.norm1(x)))
            h = h + self.emb(F.silu(emb)).unsqueeze(-1).unsqueeze(-1)
            return self.conv2(self.dropout(F.silu(self.norm2(h)))) + self.skip(x)

    class SelfAttention(nn.Module):
        def __init__(self, c):
            super().__init__()
            self.norm, self.qkv, self.proj = (nn.GroupNorm(groups, c), nn.Conv2d(c, 3 * c, 1),
                                              nn.Conv2d(c, c, 1))

        def forward(self, x):
            B, C, H, W = x.shape
            q, k, v = self.qkv(self.norm(x)).reshape(B, 3, C, H * W).unbind(1)
            out = F.scaled_dot_product_attention(q.transpose(1, 2), k.transpose(1, 2),
                                                 v.transpose(1, 2))
            return x + self.proj(out.transpose(1, 2).reshape(B, C, H, W))

    class UNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.time_mlp = nn.Sequential(nn.Linear(time_dim, time_dim), nn.SiLU(),
                                          nn.Linear(time_dim, time_dim))
            self.label_emb = nn.Embedding(num_classes + 1, time_dim)
            self.stem = nn.Conv2d(in_channels, channels[0], 3, padding=1)
            widths = [channels[0]] + list(channels)
            self.down, self.downsample = nn.ModuleList(), nn.ModuleList()
            for k, (cin, cout) in enumerate(zip(widths[:-1], widths[1:])):
                self.down.append(ResBlock(cin, cout))
                self.downsample.append(nn.Identity() if k == len(channels) - 1 else
                                       nn.Conv2d(cout, cout, 3, stride=2, padding=1))
            self.mid1 = ResBlock(channels[-1], channels[-1])
            self.attention = SelfAttention(channels[-1])
            self.mid2 = ResBlock(channels[-1], channels[-1])
            self.up, self.upsample = nn.ModuleList(), nn.ModuleList()
            for k in reversed(range(len(channels))):
                self.up.append(ResBlock(2 * channels[k], widths[k]))
                self.upsample.append(nn.Identity() if k == 0 else nn.Sequential(
                    nn.Upsample(scale_factor=2, mode="nearest"),
                    nn.Conv2d(widths[k], widths[k], 3, padding=1)))
            self.out = nn.Sequential(nn.GroupNorm(groups, widths[0]), nn.SiLU(),
                                     nn.Conv2d(widths[0], in_channels, 3, padding=1))

        def forward(self, x, t, labels):
            emb = self.time_mlp(embed_steps(t)) + self.label_emb(labels)
            h, skips = self.stem(x), []
            for block, down in zip(self.down, self.downsample):
                h = block(h, emb)
                skips.append(h)
                h = down(h)
            h = self.mid2(self.attention(self.mid1(h, emb)), emb)
            for block, up in zip(self.up, self.upsample):
                skip = skips.pop()
                h = up(block(lib.cat([h[..., :skip.shape[-2], :skip.shape[-1]], skip], dim=1),
                             emb))
            return self.out(h)

    return UNet()


def linear_alpha_bars(steps=1000):
    return np.cumprod(1 - np.linspace(1e-4, 0.02, steps, dtype=np.float64))


def denoising_step_inputs(lib, x0, rng, alpha_bars, p_uncond=0.1, labels=None, null=10):
    """The loss's random draws made outside the frameworks (NumPy): t, noise, dropped labels,
    and x_t; so tinygen's and PyTorch's steps see the same numbers."""
    b = x0.shape[0]
    t = rng.integers(0, len(alpha_bars), b)
    noise = rng.standard_normal(x0.shape).astype(np.float32)
    ab = alpha_bars[t].reshape(b, 1, 1, 1)
    x_t = (np.sqrt(ab) * x0 + np.sqrt(1 - ab) * noise).astype(np.float32)
    if labels is not None:
        labels = np.where(rng.random(b) < p_uncond, null, labels)
    return lib.tensor(x_t), lib.tensor(t), lib.tensor(noise), (
        None if labels is None else lib.tensor(labels))
