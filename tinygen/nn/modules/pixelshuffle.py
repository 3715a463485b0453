"""PixelShuffle and PixelUnshuffle (Shi et al. 2016): trade channels for resolution; and
ChannelShuffle (Zhang et al. 2018): interleave channel groups.

    nn.PixelShuffle(2)     # (N, C * 4, H, W) -> (N, C, 2H, 2W)
    nn.PixelUnshuffle(2)   # (N, C, 2H, 2W) -> (N, C * 4, H, W)
"""
from __future__ import annotations

from .. import functional as F
from .module import Module


class PixelShuffle(Module):
    """(*, C * r^2, H, W) -> (*, C, H * r, W * r):
    out[c, h * r + i, w * r + j] = in[c * r^2 + i * r + j, h, w]."""

    def __init__(self, upscale_factor):
        super().__init__()
        self.upscale_factor = upscale_factor

    def forward(self, input):
        r = self.upscale_factor
        if input.ndim < 3 or input.shape[-3] % (r * r):
            raise ValueError(f"PixelShuffle: expected input (*, C * {r * r}, H, W) with channels "
                             f"divisible by upscale_factor^2 = {r * r}, got {tuple(input.shape)}")
        *lead, c, h, w = input.shape
        lead = tuple(lead)
        oc = c // (r * r)
        x = input.reshape(lead + (oc, r, r, h, w))                    # (*, C, r, r, H, W)
        k = len(lead)
        x = x.permute(tuple(range(k)) + (k, k + 3, k + 1, k + 4, k + 2))  # (*, C, H, r, W, r)
        return x.reshape(lead + (oc, h * r, w * r))

    def extra_repr(self):
        return f"upscale_factor={self.upscale_factor}"


class PixelUnshuffle(Module):
    """(*, C, H * r, W * r) -> (*, C * r^2, H, W), the inverse of PixelShuffle."""

    def __init__(self, downscale_factor):
        super().__init__()
        self.downscale_factor = downscale_factor

    def forward(self, input):
        r = self.downscale_factor
        if input.ndim < 3 or input.shape[-2] % r or input.shape[-1] % r:
            raise ValueError(f"PixelUnshuffle: expected input (*, C, H, W) with H and W divisible "
                             f"by downscale_factor = {r}, got {tuple(input.shape)}")
        *lead, c, h, w = input.shape
        lead = tuple(lead)
        k = len(lead)
        x = input.reshape(lead + (c, h // r, r, w // r, r))          # (*, C, H/r, r, W/r, r)
        x = x.permute(tuple(range(k)) + (k, k + 2, k + 4, k + 1, k + 3))  # (*, C, r, r, H/r, W/r)
        return x.reshape(lead + (c * r * r, h // r, w // r))

    def extra_repr(self):
        return f"downscale_factor={self.downscale_factor}"


class ChannelShuffle(Module):
    """(N, C, *) with the channels of `groups` groups interleaved (ShuffleNet)."""

    def __init__(self, groups):
        super().__init__()
        self.groups = groups

    def forward(self, input):
        return F.channel_shuffle(input, self.groups)

    def extra_repr(self):
        return f"groups={self.groups}"
