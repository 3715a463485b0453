"""Image augmentations on arrays (NumPy or CuPy, batched): SimCLR's two random views.

`random_affine` rotates, scales and translates every image of a batch by its own random amount
(bilinear sampling, zeros outside), `random_view` adds Gaussian noise after it and clips to
[0, 1]. For 28x28 digits: rotations within +-15 degrees, scale 0.85..1.15, shifts of up to 3
pixels (scaled with the image side), noise sigma 0.1 -- a crop-and-resize, a small rotation and
noise, which is what SimCLR's ablation (Chen et al. 2020, section 3) finds matters on natural
images, minus the colour distortion that grey digits do not have.

    rng = np.random.default_rng(0)
    v1, v2 = random_view(x, rng), random_view(x, rng)        # x (B, C, H, W) in [0, 1]
"""
from __future__ import annotations

import numpy as np

from ..backend.device import array_module as _array_module


def random_affine(x, rng: np.random.Generator, max_degrees=15.0, scale=(0.85, 1.15),
                  max_shift=3 / 28):
    """x (B, C, H, W) float -> the same shape, each image rotated by U(-max_degrees,
    max_degrees), zoomed by U(scale), shifted by up to max_shift of its side in x and y."""
    if x.ndim != 4:
        raise ValueError(f"random_affine: expected images of shape (B, C, H, W), got "
                         f"{tuple(x.shape)}")
    xp = _array_module(x)
    B, C, H, W = x.shape
    angle = np.deg2rad(rng.uniform(-max_degrees, max_degrees, B))
    zoom = rng.uniform(scale[0], scale[1], B)
    shift = rng.uniform(-max_shift, max_shift, (B, 2)) * np.array([W, H])
    cos, sin = np.cos(angle) / zoom, np.sin(angle) / zoom           # output -> source (inverse)
    params = xp.asarray(np.stack([cos, sin, shift[:, 0], shift[:, 1]], 1).astype(np.float32))
    cy, cx = (H - 1) / 2, (W - 1) / 2
    yy, xx = xp.meshgrid(xp.arange(H, dtype=xp.float32) - cy, xp.arange(W, dtype=xp.float32) - cx,
                         indexing="ij")                             # (H, W) centred output coords
    c, s = params[:, 0, None, None], params[:, 1, None, None]       # (B, 1, 1)
    src_x = c * (xx - params[:, 2, None, None]) + s * (yy - params[:, 3, None, None]) + cx
    src_y = -s * (xx - params[:, 2, None, None]) + c * (yy - params[:, 3, None, None]) + cy
    return _bilinear(x, src_y, src_x, xp)                           # (B, C, H, W)


def _bilinear(x, src_y, src_x, xp):
    """Sample x (B, C, H, W) at the source points (B, H, W), zeros outside the image."""
    B, C, H, W = x.shape
    padded = xp.zeros((B, C, H + 2, W + 2), dtype=x.dtype)           # a zero border of 1 pixel
    padded[:, :, 1:-1, 1:-1] = x
    sy = xp.clip(src_y + 1, 0, H + 1 - 1e-4)                         # into the padded frame
    sx = xp.clip(src_x + 1, 0, W + 1 - 1e-4)
    y0, x0 = xp.floor(sy).astype(xp.int64), xp.floor(sx).astype(xp.int64)
    y1, x1 = xp.minimum(y0 + 1, H + 1), xp.minimum(x0 + 1, W + 1)
    wy, wx = (sy - y0)[:, None], (sx - x0)[:, None]                  # (B, 1, H, W)
    b = xp.arange(B)[:, None, None]

    def at(yi, xi):                                                  # (B, C, H, W)
        return padded[b, :, yi, xi].transpose(0, 3, 1, 2)
    top = at(y0, x0) * (1 - wx) + at(y0, x1) * wx
    bottom = at(y1, x0) * (1 - wx) + at(y1, x1) * wx
    return (top * (1 - wy) + bottom * wy).astype(x.dtype)


def random_view(x, rng: np.random.Generator, noise=0.1, **affine):
    """One SimCLR view of each image: random_affine, then N(0, noise^2) pixel noise, clipped to
    [0, 1]. x (B, C, H, W) in [0, 1] -> the same shape and dtype."""
    xp = _array_module(x)
    view = random_affine(x, rng, **affine)
    if noise:
        view = view + xp.asarray(rng.normal(0, noise, x.shape).astype(x.dtype))
    return xp.clip(view, 0, 1).astype(x.dtype)
