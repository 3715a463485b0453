"""Likelihood metrics of generative models, in nats unless said otherwise.

    iwae_bound(log_weights)            -> (N,) the importance-weighted bound on -log p(x)
    bits_per_dim(nll_nats, dims, levels=256)
    perplexity(loss_nats)              -> exp(loss): a language model's mean cross-entropy

The negative ELBO itself is a model's own formula (tinygen.models.vae.negative_elbo for the
Bernoulli VAE); these turn its parts, or any per-item NLL, into the numbers people report.
"""
from __future__ import annotations

import math

import numpy as np

from ..backend.device import array_module


def iwae_bound(log_weights):
    """-log (1/K sum_k w_k) per item, from log_weights (N, K) = log p(x, z_k) - log q(z_k | x)
    for K samples z_k ~ q(z | x) (Burda et al. 2016): an upper bound on -log p(x) that tightens
    as K grows and equals the negative ELBO's one-sample estimate at K = 1. Computed in float64
    with the log-sum-exp shifted by the row maximum (no overflow, no underflow to -inf)."""
    data = log_weights.detach()._data if hasattr(log_weights, "_data") else log_weights
    xp = array_module(data)
    lw = xp.asarray(data, dtype=np.float64)
    if lw.ndim != 2 or lw.shape[1] == 0:
        raise ValueError(f"iwae_bound: expected log weights of shape (N, K), K >= 1, got "
                         f"{tuple(lw.shape)}")
    top = lw.max(axis=1, keepdims=True)
    log_mean = xp.log(xp.exp(lw - top).mean(axis=1)) + top[:, 0]
    return -log_mean


def bits_per_dim(nll_nats, dims, levels=256):
    """Bits per dimension of a per-item NLL (a number or an array) over `dims` dimensions.

    With levels (default 256, 8-bit pixels), nll_nats is the NLL of the data dequantised into the
    unit cube, u = (x * (levels - 1) + U[0, 1)) / levels, and the discrete NLL it bounds adds
    dims * log(levels), the log-volume of one pixel's cell: bpd = (nll + D log levels) / (D log 2)
    (Theis et al. 2016). levels=None: the NLL as it is, nll / (D log 2)."""
    extra = 0.0 if levels is None else dims * math.log(levels)
    return (nll_nats + extra) / (dims * math.log(2))


def perplexity(loss_nats):
    """exp(mean cross-entropy in nats per token): the effective number of choices per token."""
    return float(math.exp(loss_nats))
