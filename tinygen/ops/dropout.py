"""Dropout's variants, as torch.nn.functional: dropout1d / dropout2d / dropout3d (whole channels
zeroed), alpha_dropout and feature_alpha_dropout (for SELU networks).

Channel dropout draws one Bernoulli(1 - p) per (sample, channel) and broadcasts it over the
spatial dims (Tompson et al. 2015); kept channels are scaled by 1 / (1 - p). Which dims are
(sample, channel) follows PyTorch for every rank, warnings included (see dropout2d, dropout3d).
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


def _feature_dropout(op, x, p, training):
    """Zero whole channels of x (N, C, *): one Bernoulli(1 - p) draw per (N, C), broadcast over
    the rest (ATen's feature_dropout, which each functional form below reaches)."""
    if not training or p == 0.0 or x.numel() == 0:
        return x
    if p == 1.0:
        return x * 0.0
    if x.ndim < 2:                                  # (checked here, after the cases above, as ATen)
        raise RuntimeError(f"{op}: feature dropout requires at least 2 dimensions in the input, "
                           f"got input of shape {tuple(x.shape)}")
    shape = tuple(x.shape[:2]) + (1,) * (x.ndim - 2)                # one draw per channel
    return x * keep_mask(x, p, shape, 1.0 / (1.0 - p))


def _identity_inplace(input, p, training):
    """An in-place dropout that changes nothing returns its input untouched, as PyTorch's
    dropout_ (so eval mode or p=0 raise nothing for a leaf that requires grad)."""
    return not training or p == 0.0 or input.numel() == 0


def dropout1d(input, p=0.5, training=True, inplace=False):
    """Channel dropout of input (N, C, L) or unbatched (C, L)."""
    op = "dropout1d"
    _check_p(op, p)
    if input.ndim not in (2, 3):
        raise RuntimeError(f"{op}: Expected 2D or 3D input, but received a {input.ndim}D input "
                           f"(shape {tuple(input.shape)}). Note that dropout1d exists to provide "
                           "channel-wise dropout on inputs with 1 spatial dimension, a channel "
                           "dimension, and an optional batch dimension (i.e. 2D or 3D inputs).")
    if inplace:
        if _identity_inplace(input, p, training):
            return input
        return _write_into(input, lambda t: dropout1d(t, p, training))
    x = check_float(op, input)
    if x.ndim == 2 and training and p != 0.0:                       # unbatched (C, L)
        return _feature_dropout(op, x.unsqueeze(0), p, training).squeeze(0)
    return _feature_dropout(op, x, p, training)


def _warn_rank(op, ndim, spatial):
    """PyTorch's deprecation warning for a channel dropout on an input of another rank."""
    warnings.warn(f"{op}: Received a {ndim}-D input to {op}, which is deprecated and will result "
                  "in an error in a future release. To retain the behavior and silence this "
                  f"warning, please use dropout instead. Note that {op} exists to provide "
                  f"channel-wise dropout on inputs with {spatial} spatial dimensions, a channel "
                  "dimension, and an optional batch dimension (i.e. "
                  f"{spatial + 1}D or {spatial + 2}D inputs).", UserWarning, stacklevel=3)


def dropout2d(input, p=0.5, training=True, inplace=False):
    """Channel dropout of input (N, C, H, W).

    As PyTorch (with its warnings), any other rank of at least 2 is taken as (N, C, *): a 3-D
    input is (N, C, L), one draw per (N, C), not an unbatched (C, H, W) (pytorch#77081); a 2-D
    input (N, C) is dropped element by element (pytorch/examples' mnist_rnn applies Dropout2d to
    (N, features))."""
    op = "dropout2d"
    _check_p(op, p)
    ndim = input.ndim
    if ndim not in (3, 4):
        _warn_rank(op, ndim, 2)
    if ndim == 3:
        warnings.warn("dropout2d: Received a 3D input to dropout2d and assuming that channel-wise "
                      "1D dropout behavior is desired - input is interpreted as shape (N, C, L), "
                      "where C is the channel dim. This behavior will change in a future release "
                      "to interpret the input as one without a batch dimension, i.e. shape (C, H, "
                      "W). To maintain the 1D channel-wise dropout behavior, please switch to "
                      "using dropout1d instead.", UserWarning, stacklevel=2)
    if inplace:
        if _identity_inplace(input, p, training):
            return input
        return _write_into(input, lambda t: _feature_dropout(op, check_float(op, t), p, training))
    return _feature_dropout(op, check_float(op, input), p, training)


def dropout3d(input, p=0.5, training=True, inplace=False):
    """Channel dropout of input (N, C, D, H, W) or unbatched (C, D, H, W).

    As PyTorch (with its warning), any other rank is taken as unbatched: a batch dim of 1 is
    added, so a 3-D or 6-D input gets one draw per index of its first dim."""
    op = "dropout3d"
    _check_p(op, p)
    ndim = input.ndim
    if ndim not in (4, 5):
        _warn_rank(op, ndim, 3)

    def channel_dropout(t):
        x = check_float(op, t)
        if ndim == 5 or not training or p == 0.0:       # (the identity: x itself, no view)
            return _feature_dropout(op, x, p, training)
        return _feature_dropout(op, x.unsqueeze(0), p, training).squeeze(0)

    if inplace:
        if _identity_inplace(input, p, training):
            return input
        return _write_into(input, channel_dropout)
    return channel_dropout(input)


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
        if _identity_inplace(input, p, training):
            return input
        return _write_into(input, lambda t: alpha_dropout(t, p, training))
    return _alpha("alpha_dropout", input, p, training, tuple(input.shape))


def feature_alpha_dropout(input, p=0.5, training=False, inplace=False):
    """Alpha dropout of whole channels of input (N, C, *): one draw per (sample, channel)."""
    if inplace:
        if _identity_inplace(input, p, training):
            return input
        return _write_into(input, lambda t: feature_alpha_dropout(t, p, training))
    # PyTorch checks the rank only where it drops something (training, p > 0, not empty)
    if input.ndim < 2 and training and p != 0.0 and input.numel():
        raise RuntimeError(f"feature_alpha_dropout: expected an input of at least 2 dims "
                           f"(N, C, *), got shape {tuple(input.shape)}")
    shape = tuple(input.shape[:2]) + (1,) * (input.ndim - 2)
    return _alpha("feature_alpha_dropout", input, p, training, shape)


__all__ = ["dropout", "dropout1d", "dropout2d", "dropout3d", "alpha_dropout",
           "feature_alpha_dropout"]
