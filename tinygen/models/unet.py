"""A small U-Net that predicts the noise of a diffusion model (Ho et al. 2020's design, scaled
down): a sinusoidal time embedding, residual blocks with GroupNorm and the time (and class)
added in, stride-2 convolutions down, nearest upsampling + convolution up, skip connections
between the two paths, self-attention at the lowest resolution.

    unet = UNet(UNetConfig(in_channels=1, image_size=28, channels=(32, 64, 64), num_classes=10))
    eps = unet(x_t, t, labels)          # x_t (B, 1, 28, 28), t (B,) int64, labels (B,) or None

Resolutions: image_size / 2^k for each level k: 28 -> 14 -> 7 with three levels, 8 -> 4 with two.
The class embedding has num_classes + 1 rows: the last is the "no label" token of classifier-free
guidance (`null_label`).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import tinygen as tg
from .. import nn
from ..nn import functional as F


@dataclass(frozen=True)
class UNetConfig:
    in_channels: int = 1
    image_size: int = 28
    channels: tuple = (32, 64, 64)      # per level, top to bottom
    time_dim: int = 128
    groups: int = 8                     # GroupNorm groups (each channel count divisible by it)
    dropout: float = 0.0
    num_classes: int | None = None      # None: unconditional
    attention: bool = True              # self-attention at the lowest resolution


def timestep_embedding(t, dim):
    """Sinusoidal embedding of integer steps t (B,) -> (B, dim), Vaswani et al.'s positions:
    [sin(t w_k), cos(t w_k)], w_k = 10000^(-k / (dim / 2))."""
    half = dim // 2
    freqs = tg.exp(tg.arange(half, device=t.device) * (-math.log(10000.0) / half))    # (half,)
    angles = t.float().unsqueeze(1) * freqs.unsqueeze(0)                             # (B, half)
    return tg.cat([angles.sin(), angles.cos()], dim=1)                               # (B, dim)


class ResBlock(nn.Module):
    """GroupNorm, SiLU, conv; + the embedding's projection; GroupNorm, SiLU, dropout, conv;
    + the input (through a 1x1 conv when the channel count changes)."""

    def __init__(self, cin, cout, emb_dim, groups, dropout):
        super().__init__()
        self.norm1, self.conv1 = nn.GroupNorm(groups, cin), nn.Conv2d(cin, cout, 3, padding=1)
        self.emb = nn.Linear(emb_dim, cout)
        self.norm2, self.conv2 = nn.GroupNorm(groups, cout), nn.Conv2d(cout, cout, 3, padding=1)
        self.dropout = nn.Dropout(dropout)
        self.skip = nn.Conv2d(cin, cout, 1) if cin != cout else nn.Identity()

    def forward(self, x, emb):
        h = self.conv1(F.silu(self.norm1(x)))                                 # (B, cout, H, W)
        h = h + self.emb(F.silu(emb)).unsqueeze(-1).unsqueeze(-1)
        h = self.conv2(self.dropout(F.silu(self.norm2(h))))
        return h + self.skip(x)


class SelfAttention(nn.Module):
    """Single-head self-attention over the H * W positions, with a residual connection."""

    def __init__(self, channels, groups):
        super().__init__()
        self.norm = nn.GroupNorm(groups, channels)
        self.qkv = nn.Conv2d(channels, 3 * channels, 1)
        self.proj = nn.Conv2d(channels, channels, 1)

    def forward(self, x):
        B, C, H, W = x.shape
        q, k, v = self.qkv(self.norm(x)).reshape(B, 3, C, H * W).unbind(1)     # (B, C, HW) each
        out = F.scaled_dot_product_attention(q.transpose(1, 2), k.transpose(1, 2),
                                             v.transpose(1, 2))               # (B, HW, C)
        return x + self.proj(out.transpose(1, 2).reshape(B, C, H, W))


class UNet(nn.Module):
    def __init__(self, c: UNetConfig):
        super().__init__()
        self.config = c
        self.time_mlp = nn.Sequential(nn.Linear(c.time_dim, c.time_dim), nn.SiLU(),
                                      nn.Linear(c.time_dim, c.time_dim))
        self.label_emb = (nn.Embedding(c.num_classes + 1, c.time_dim)
                          if c.num_classes is not None else None)
        self.stem = nn.Conv2d(c.in_channels, c.channels[0], 3, padding=1)
        block = lambda cin, cout: ResBlock(cin, cout, c.time_dim, c.groups, c.dropout)  # noqa
        self.down = nn.ModuleList()
        self.downsample = nn.ModuleList()
        widths = [c.channels[0]] + list(c.channels)
        for k, (cin, cout) in enumerate(zip(widths[:-1], widths[1:])):
            self.down.append(block(cin, cout))
            last = k == len(c.channels) - 1
            self.downsample.append(nn.Identity() if last else
                                   nn.Conv2d(cout, cout, 3, stride=2, padding=1))
        bottom = c.channels[-1]
        self.mid1 = block(bottom, bottom)
        self.attention = SelfAttention(bottom, c.groups) if c.attention else nn.Identity()
        self.mid2 = block(bottom, bottom)
        self.up = nn.ModuleList()
        self.upsample = nn.ModuleList()
        for k in reversed(range(len(c.channels))):
            cout = widths[k]
            self.up.append(block(c.channels[k] + c.channels[k], cout))        # with the skip
            self.upsample.append(nn.Identity() if k == 0 else nn.Sequential(
                nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(cout, cout, 3, padding=1)))
        self.out = nn.Sequential(nn.GroupNorm(c.groups, widths[0]), nn.SiLU(),
                                 nn.Conv2d(widths[0], c.in_channels, 3, padding=1))

    @property
    def null_label(self):
        return self.config.num_classes

    def forward(self, x, t, labels=None):
        """x (B, C, H, W), t (B,) int64 steps, labels (B,) int64 or None -> eps (B, C, H, W)."""
        emb = self.time_mlp(timestep_embedding(t, self.config.time_dim))            # (B, D)
        if self.label_emb is not None:
            if labels is None:                     # unconditional: the null token
                labels = tg.full((x.shape[0],), self.null_label, dtype=tg.int64, device=x.device)
            emb = emb + self.label_emb(labels)
        h = self.stem(x)
        skips = []
        for block, down in zip(self.down, self.downsample):
            h = block(h, emb)
            skips.append(h)                                                   # before downsampling
            h = down(h)
        h = self.mid2(self.attention(self.mid1(h, emb)), emb)
        for block, up in zip(self.up, self.upsample):
            skip = skips.pop()
            h = block(tg.cat([h[..., :skip.shape[-2], :skip.shape[-1]], skip], dim=1), emb)
            h = up(h)
        return self.out(h)
