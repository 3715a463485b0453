"""Image quality against a reference: PSNR and SSIM (Wang et al. 2004), multi-scale SSIM (Wang et
al. 2003), with the definitions of scikit-image's `peak_signal_noise_ratio` and
`structural_similarity(gaussian_weights=True, sigma=1.5, use_sample_covariance=False)`.

    psnr(x, y, data_range=1.0)                   # (H, W) -> float;  (N, C, H, W) -> (N,)
    ssim(x, y, data_range=1.0)                   # Gaussian window 11 (sigma 1.5), K1 0.01, K2 0.03
    ssim(x, y, data_range=255, channel_axis=0)   # (C, H, W): the mean of the channels' SSIMs

Inputs are NumPy or CuPy arrays or Tensors (any device); the math runs in float64 on their
device. Layouts: (H, W); (C, H, W) with channel_axis=0; a batch (N, C, H, W) gives one value per
image. Float images need `data_range` (the distance between the smallest and largest value the
images can take); integer images default to their dtype's range, as scikit-image does.

SSIM is the mean over the valid region (where the whole window fits) of
    ((2 mu_x mu_y + C1)(2 s_xy + C2)) / ((mu_x^2 + mu_y^2 + C1)(s_x^2 + s_y^2 + C2)),
C1 = (K1 L)^2, C2 = (K2 L)^2, with Gaussian-weighted means, population variances and covariance.
"""
from __future__ import annotations

import numpy as np

from ..backend.device import array_module

# Wang et al. 2003's weights of the five scales
MS_SSIM_WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)


def _array(x):
    """A float64 array (on its device) from an array or a Tensor."""
    data = x.detach()._data if hasattr(x, "_data") else x
    return array_module(data).asarray(data, dtype=np.float64), data.dtype


def _data_range(dtype, data_range, op):
    if data_range is not None:
        if not data_range > 0:
            raise ValueError(f"{op}: data_range must be positive, got {data_range}")
        return float(data_range)
    if np.dtype(dtype).kind in "iub":
        if np.dtype(dtype).kind == "b":
            return 1.0
        info = np.iinfo(dtype)
        return float(info.max - info.min)
    raise ValueError(f"{op}: float images need data_range (max - min of the values they can "
                     f"take: 1.0 for [0, 1], 255 for [0, 255]), got data_range=None for {dtype}")


def _pair(x, y, op):
    a, dtype = _array(x)
    b, _ = _array(y)
    if a.shape != b.shape:
        raise ValueError(f"{op}: images of different shapes {tuple(a.shape)} and "
                         f"{tuple(b.shape)}")
    return a, b, dtype


def _as_batch(a, channel_axis, op):
    """(N, C, H, W) from (H, W), (C, H, W) with channel_axis=0, or (N, C, H, W); and whether
    the input was a batch."""
    if a.ndim == 2 and channel_axis is None:
        return a[None, None], False
    if a.ndim == 3 and channel_axis in (0, -3):
        return a[None], False
    if a.ndim == 4 and channel_axis in (None, 1, -3):
        return a, True
    raise ValueError(f"{op}: expected (H, W), (C, H, W) with channel_axis=0, or a batch "
                     f"(N, C, H, W); got shape {tuple(a.shape)} with channel_axis={channel_axis}")


def psnr(x, y, data_range=None):
    """Peak signal-to-noise ratio 10 log10(L^2 / MSE) in dB, L = data_range (x the reference).
    A batch (N, ...) of 4 dims gives one value per image; otherwise one float (inf when equal)."""
    a, b, dtype = _pair(x, y, "psnr")
    L = _data_range(dtype, data_range, "psnr")
    xp = array_module(a)
    axes = tuple(range(1, a.ndim)) if a.ndim == 4 else None
    mse = ((a - b) ** 2).mean(axis=axes)
    with np.errstate(divide="ignore"):
        out = 10 * xp.log10(L * L / mse)
    return out if a.ndim == 4 else float(out)


def gaussian_window(win_size=11, sigma=1.5):
    """The normalised 1-D Gaussian of `win_size` taps (scipy.ndimage's, radius win_size // 2)."""
    r = win_size // 2
    taps = np.exp(-0.5 * (np.arange(-r, r + 1) / sigma) ** 2)
    return taps / taps.sum()


def _filter_valid(a, window):
    """a (N, C, H, W) filtered by the separable window along H and W, valid region only."""
    k = len(window)
    h, w = a.shape[2] - k + 1, a.shape[3] - k + 1
    rows = sum(float(window[i]) * a[:, :, i:i + h, :] for i in range(k))
    return sum(float(window[i]) * rows[:, :, :, i:i + w] for i in range(k))


def _ssim_maps(a, b, L, win_size, sigma, k1, k2):
    """The SSIM map and the contrast-structure map (valid region) of batches a, b."""
    window = gaussian_window(win_size, sigma)
    mu_x, mu_y = _filter_valid(a, window), _filter_valid(b, window)
    var_x = _filter_valid(a * a, window) - mu_x * mu_x          # population (co)variances
    var_y = _filter_valid(b * b, window) - mu_y * mu_y
    cov = _filter_valid(a * b, window) - mu_x * mu_y
    c1, c2 = (k1 * L) ** 2, (k2 * L) ** 2
    cs = (2 * cov + c2) / (var_x + var_y + c2)
    return (2 * mu_x * mu_y + c1) / (mu_x * mu_x + mu_y * mu_y + c1) * cs, cs


def ssim(x, y, data_range=None, win_size=11, sigma=1.5, k1=0.01, k2=0.03, channel_axis=None):
    """Structural similarity (Wang et al. 2004) of x and y: a float, or (N,) for a batch.
    Channels are compared separately and averaged, as scikit-image does."""
    a, b, dtype = _pair(x, y, "ssim")
    L = _data_range(dtype, data_range, "ssim")
    a, batched = _as_batch(a, channel_axis, "ssim")
    b, _ = _as_batch(b, channel_axis, "ssim")
    if win_size % 2 == 0 or min(a.shape[2:]) < win_size:
        raise ValueError(f"ssim: the window ({win_size}, odd) must fit in the images, got images "
                         f"of {a.shape[2]}x{a.shape[3]} pixels")
    full, _ = _ssim_maps(a, b, L, win_size, sigma, k1, k2)
    per_image = full.mean(axis=(1, 2, 3))
    return per_image if batched else float(per_image[0])


def ms_ssim(x, y, data_range=None, win_size=11, sigma=1.5, k1=0.01, k2=0.03, channel_axis=None,
            weights=MS_SSIM_WEIGHTS):
    """Multi-scale SSIM (Wang et al. 2003): the contrast-structure term at each of
    len(weights) scales (2x2 average pooling between them) and the luminance term at the last,
    combined as prod_j cs_j^w_j * ssim_M^w_M per channel, then averaged over the channels (as
    pytorch-msssim does). The smallest scale must still hold the window:
    images of at least win_size * 2^(scales - 1) pixels (176 for the default five)."""
    a, b, dtype = _pair(x, y, "ms_ssim")
    L = _data_range(dtype, data_range, "ms_ssim")
    a, batched = _as_batch(a, channel_axis, "ms_ssim")
    b, _ = _as_batch(b, channel_axis, "ms_ssim")
    need = win_size * 2 ** (len(weights) - 1)
    if min(a.shape[2:]) < need:
        raise ValueError(f"ms_ssim: {len(weights)} scales need images of at least {need} pixels "
                         f"a side, got {a.shape[2]}x{a.shape[3]}; pass fewer weights")
    xp = array_module(a)
    total = xp.ones(a.shape[:2])                                     # (N, C)
    for j, weight in enumerate(weights):
        full, cs = _ssim_maps(a, b, L, win_size, sigma, k1, k2)
        last = j == len(weights) - 1
        term = (full if last else cs).mean(axis=(2, 3))             # (N, C)
        total = total * xp.maximum(term, 0) ** weight
        if not last:
            a, b = _halve(a), _halve(b)
    per_image = total.mean(axis=1)
    return per_image if batched else float(per_image[0])


def _halve(a):
    """2x2 average pooling (an odd last row or column is dropped)."""
    h, w = a.shape[2] // 2 * 2, a.shape[3] // 2 * 2
    a = a[:, :, :h, :w]
    return (a[:, :, 0::2, 0::2] + a[:, :, 1::2, 0::2] + a[:, :, 0::2, 1::2]
            + a[:, :, 1::2, 1::2]) / 4

