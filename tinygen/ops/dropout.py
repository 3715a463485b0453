"""Dropout's variants, as torch.nn.functional: dropout1d / dropout2d / dropout3d (whole channels
zeroed), alpha_dropout and feature_alpha_dropout (for SELU networks).

Channel dropout draws one Bernoulli(1 - p) per (sample, channel) and broadcasts it over the
spatial dims (Tompson et al. 2015); kept channels are scaled by 1 / (1 - p).
Alpha dropout (Klambauer et al. 2017, section 3) sets dropped units to SELU's negative saturation
a' = -scale * alpha and applies the affine map that keeps zero mean and unit variance:
    y = A (x keep + a' (1 - keep)) + B,   A = ((1 - p)(1 + p a'^2))^(-1/2),   B = -A a' p.
The masks come from tinygen's seeded generator (tg.manual_seed); in eval mode every op is the
identity.
"""
from __future__ import annotations

import warnings

import math

from .activation import dropout
from .args import check_float
from .inplace import inplace as _write_into
from .random import keep_mask

SELU_SATURATION = -1.0507009873554804934193349852946 * 1.6732632423543772848170429916717


def _check_p(op, p):
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"{op}: dropout probability has to be between 0 and 1, but got {p}")


def _channel_dropout(op, input, p, training, spatial):
    """Zero whole channels: input (N, C, *spatial) or unbatched (C, *spatial)."""
    _check_p(op, p)
    x = check_float(op, input)
    if x.ndim not in (spatial + 1, spatial + 2):
        raise RuntimeError(f"{op}: expected a {spatial + 1}-D (unbatched) or {spatial + 2}-D "
                           f"(batched) input, got input of shape {tuple(x.shape)}")
    if not training or p == 0.0:
        return x
    if p == 1.0:
        return x * 0.0
    shape = tuple(x.shape[:x.ndim - spatial]) + (1,) * spatial       # one draw per channel
    return x * keep_mask(x, p, shape, 1.0 / (1.0 - p))


def dropout1d(input, p=0.5, training=True, inplace=False):
    """Channel dropout of input (N, C, L) or (C, L)."""
    if inplace:
        return _write_into(input, lambda t: dropout1d(t, p, training))
    return _channel_dropout("dropout1d", input, p, training, 1)


def dropout2d(input, p=0.5, training=True, inplace=False):
    """Channel dropout of input (N, C, H, W) or (C, H, W).

    A 2-D input gets element-wise dropout with a warning, as PyTorch gives it (deprecated there;
    pytorch/examples' mnist_rnn applies Dropout2d to (N, features))."""
    if inplace:
        return _write_into(input, lambda t: dropout2d(t, p, training))
    if getattr(input, "ndim", None) == 2:
        warnings.warn("dropout2d: Received a 2-D input to dropout2d, which is deprecated (as in "
                      "PyTorch); element-wise dropout is applied: use dropout instead",
                      UserWarning, stacklevel=2)
        return dropout(input, p, training)
    return _channel_dropout("dropout2d", input, p, training, 2)


def dropout3d(input, p=0.5, training=True, inplace=False):
    """Channel dropout of input (N, C, D, H, W) or (C, D, H, W)."""
    if inplace:
        return _write_into(input, lambda t: dropout3d(t, p, training))
    return _channel_dropout("dropout3d", input, p, training, 3)


def _alpha(op, input, p, training, mask_shape):
    _check_p(op, p)
    x = check_float(op, input)
    if not training or p == 0.0:
        return x
    if p == 1.0:
        return x * 0.0
    keep = keep_mask(x, p, mask_shape)
    a = SELU_SATURATION
    scale = 1.0 / math.sqrt((1 - p) * (1 + p * a * a))
    return (x * keep + (1 - keep) * a) * scale - scale * a * p


def alpha_dropout(input, p=0.5, training=False, inplace=False):
    """Alpha dropout of each element (the SELU-preserving map of the module doc)."""
    if inplace:
        return _write_into(input, lambda t: alpha_dropout(t, p, training))
    return _alpha("alpha_dropout", input, p, training, tuple(input.shape))


def feature_alpha_dropout(input, p=0.5, training=False, inplace=False):
    """Alpha dropout of whole channels of input (N, C, *): one draw per (sample, channel)."""
    if inplace:
        return _write_into(input, lambda t: feature_alpha_dropout(t, p, training))
    if input.ndim < 2:
        raise RuntimeError(f"feature_alpha_dropout: expected an input of at least 2 dims "
                           f"(N, C, *), got shape {tuple(input.shape)}")
    shape = tuple(input.shape[:2]) + (1,) * (input.ndim - 2)
    return _alpha("feature_alpha_dropout", input, p, training, shape)


__all__ = ["dropout", "dropout1d", "dropout2d", "dropout3d", "alpha_dropout",
           "feature_alpha_dropout"]
