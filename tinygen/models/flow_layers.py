"""Invertible layers for normalizing flows. Each maps x -> (y, logdet) and back with `inverse`.

logdet is log|det dy/dx| per sample, shape (B,). The layers work on vectors (B, D) and on images
(B, C, H, W); `tests/models/test_flows.py` checks inverse(forward(x)) == x and logdet against a
brute-force Jacobian for each.

- AffineCoupling (Dinh et al. 2017, RealNVP): y = m*x + (1-m)*(x*exp(s) + t), s, t = net(m*x);
  s = scale * tanh(raw): tanh bounds the log-scale, a learned `scale` sets the bound.
- ActNorm (Kingma & Dhariwal 2018, Glow): per-channel affine, initialised from the first batch so
  that the output has zero mean and unit variance.
- InvertibleLinearLU (Glow's invertible 1x1 convolution in LU form): W = P L (U + diag(sign*exp(log_s))),
  so log|det W| = sum(log_s), per pixel.
- Squeeze: (B, C, H, W) -> (B, 4C, H/2, W/2), volume preserving.
"""
from __future__ import annotations

import numpy as np

import tinygen as tg
from .. import nn


def checkerboard_mask(shape, parity):
    """1 on the squares where (row + col + parity) is even; for a vector shape (D,), alternate."""
    if len(shape) == 1:
        m = (np.arange(shape[0]) + parity) % 2 == 0
    else:
        c, h, w = shape
        m = np.broadcast_to(((np.arange(h)[:, None] + np.arange(w)[None, :] + parity) % 2 == 0),
                            (c, h, w))
    return tg.tensor(m.astype(np.float32))


def channel_mask(shape, parity):
    """1 on the first half of the channels (parity 0) or the second half (parity 1)."""
    c = shape[0]
    m = np.zeros(shape, dtype=np.float32)
    half = c // 2
    if parity == 0:
        m[:half] = 1
    else:
        m[half:] = 1
    return tg.tensor(m)


def _sum_per_sample(t):
    return t.flatten(1).sum(1)


class AffineCoupling(nn.Module):
    """net(m * x) -> 2 * channels (or 2 * D) outputs: (raw log-scale, shift)."""

    def __init__(self, mask, net):
        super().__init__()
        self.register_buffer("mask", mask)
        self.net = net
        shape = tuple(mask.shape)                      # (D,) or (C, H, W)
        self.scale = nn.Parameter(tg.ones((shape[0],) + (1,) * (len(shape) - 1)))

    def _st(self, x_masked):
        h = self.net(x_masked)
        raw, t = h.chunk(2, dim=1)
        inv = 1 - self.mask
        s = (self.scale * raw.tanh()) * inv         # only the transformed part has a log-scale
        return s, t * inv

    def forward(self, x):
        xm = x * self.mask
        s, t = self._st(xm)
        y = xm + (1 - self.mask) * x * s.exp() + t
        return y, _sum_per_sample(s)

    def inverse(self, y):
        ym = y * self.mask
        s, t = self._st(ym)
        return ym + (1 - self.mask) * (y - t) * (-s).exp()


class ActNorm(nn.Module):
    def __init__(self, channels, ndim=4):
        super().__init__()
        shape = (1, channels) + (1,) * (ndim - 2)
        self.bias = nn.Parameter(tg.zeros(shape))
        self.logs = nn.Parameter(tg.zeros(shape))
        self.register_buffer("initialized", tg.zeros((), dtype=tg.uint8))

    def _init_from(self, x):
        dims = (0,) + tuple(range(2, x.ndim))
        with tg.no_grad():
            mean = x.mean(dim=dims, keepdim=True)
            std = x.std(dim=dims, keepdim=True, unbiased=False)
            self.bias.copy_(-mean)
            self.logs.copy_(-(std + 1e-6).log())
            self.initialized.fill_(1)

    def _pixels(self, x):
        return int(np.prod(x.shape[2:])) if x.ndim > 2 else 1

    def forward(self, x):
        if not int(self.initialized.item()):
            self._init_from(x)
        y = (x + self.bias) * self.logs.exp()
        logdet = self.logs.sum() * self._pixels(x)
        return y, logdet.expand(x.shape[0])

    def inverse(self, y):
        return y * (-self.logs).exp() - self.bias


class InvertibleLinearLU(nn.Module):
    """A learned invertible channel mixing: a 1x1 convolution on images, a matrix on vectors."""

    def __init__(self, channels, seed=0):
        super().__init__()
        from scipy import linalg  # lazy: slow to import; only Glow's LU mixing needs it
        rng = np.random.default_rng(seed)
        w = np.linalg.qr(rng.standard_normal((channels, channels)))[0]   # a random rotation
        p, lower, upper = linalg.lu(w)
        s = np.diag(upper)
        self.register_buffer("perm", tg.tensor(p.astype(np.float32)))
        self.register_buffer("sign_s", tg.tensor(np.sign(s).astype(np.float32)))
        self.register_buffer("lower_mask", tg.tensor(np.tril(np.ones((channels, channels), np.float32), -1)))
        self.register_buffer("eye", tg.eye(channels))
        self.lower = nn.Parameter(tg.tensor(lower.astype(np.float32)))
        self.upper = nn.Parameter(tg.tensor(np.triu(upper, 1).astype(np.float32)))
        self.log_s = nn.Parameter(tg.tensor(np.log(np.abs(s)).astype(np.float32)))

    def weight(self):
        lower = self.lower * self.lower_mask + self.eye
        # eye * v puts v on the diagonal
        upper = self.upper * self.lower_mask.t() + self.eye * (self.sign_s * self.log_s.exp())
        return self.perm @ lower @ upper                                  # (C, C)

    def _apply(self, x, w):
        if x.ndim == 2:
            return x @ w.t()                                              # (B, D)
        return tg.einsum("ij,bjhw->bihw", w, x)                           # (B, C, H, W)

    def forward(self, x):
        pixels = int(np.prod(x.shape[2:])) if x.ndim > 2 else 1
        logdet = self.log_s.sum() * pixels
        return self._apply(x, self.weight()), logdet.expand(x.shape[0])

    def inverse(self, y):
        # inverted in float64 on the host (a (C, C) matrix: cheap to move), then back to y's device
        w_inv = np.linalg.inv(self.weight().detach().double().cpu().numpy())
        return self._apply(y, tg.tensor(w_inv, dtype=y.dtype, device=y.device))


class Squeeze(nn.Module):
    """Space to channels: (B, C, H, W) -> (B, 4C, H/2, W/2)."""

    def forward(self, x):
        b, c, h, w = x.shape
        x = x.reshape(b, c, h // 2, 2, w // 2, 2).permute(0, 1, 3, 5, 2, 4)   # (B, C, 2, 2, H/2, W/2)
        return x.reshape(b, c * 4, h // 2, w // 2), tg.zeros(b, device=x.device)

    def inverse(self, y):
        b, c4, h2, w2 = y.shape
        c = c4 // 4
        y = y.reshape(b, c, 2, 2, h2, w2).permute(0, 1, 4, 2, 5, 3)          # (B, C, H/2, 2, W/2, 2)
        return y.reshape(b, c, h2 * 2, w2 * 2)


class FlowSequence(nn.Module):
    """Layers applied in order; logdets add up."""

    def __init__(self, layers):
        super().__init__()
        self.layers = nn.ModuleList(layers)

    def forward(self, x):
        logdet = 0
        for layer in self.layers:
            x, ld = layer(x)
            logdet = logdet + ld
        return x, logdet

    def inverse(self, y):
        for layer in reversed(list(self.layers)):
            y = layer.inverse(y)
        return y


def mlp(d_in, d_out, hidden, layers=2):
    """An MLP whose last layer starts at zero, so each coupling starts as the identity."""
    mods, d = [], d_in
    for _ in range(layers):
        mods += [nn.Linear(d, hidden), nn.ReLU()]
        d = hidden
    last = nn.Linear(d, d_out)
    nn.init.zeros_(last.weight)
    nn.init.zeros_(last.bias)
    return nn.Sequential(*mods, last)


def conv_net(c_in, c_out, hidden):
    """3x3 -> 1x1 -> 3x3 convolutions (Glow's coupling network), the last one zero-initialised."""
    last = nn.Conv2d(hidden, c_out, 3, padding=1)
    nn.init.zeros_(last.weight)
    nn.init.zeros_(last.bias)
    return nn.Sequential(nn.Conv2d(c_in, hidden, 3, padding=1), nn.ReLU(),
                         nn.Conv2d(hidden, hidden, 1), nn.ReLU(), last)
