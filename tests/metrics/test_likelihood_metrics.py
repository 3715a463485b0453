"""Likelihood metrics against direct computations."""
import math

import numpy as np
import pytest

from tinygen.metrics import bits_per_dim, iwae_bound, perplexity


def test_iwae_bound_is_the_negative_log_mean_weight():
    rng = np.random.default_rng(0)
    log_w = rng.standard_normal((5, 7)) * 3 - 100          # far below 0: a naive exp underflows
    expected = -(np.log(np.exp(log_w + 100).mean(axis=1)) - 100)
    np.testing.assert_allclose(iwae_bound(log_w), expected, rtol=1e-12)
    np.testing.assert_allclose(iwae_bound(log_w[:, :1]), -log_w[:, 0])   # K = 1: the sample
    # Jensen: log of the mean weight >= mean of the log weights (the one-sample ELBO)
    assert np.all(iwae_bound(log_w) <= -log_w.mean(axis=1) + 1e-12)
    with pytest.raises(ValueError, match=r"\(N, K\)"):
        iwae_bound(np.zeros(3))


def test_bits_per_dim_adds_the_dequantisation_term():
    assert bits_per_dim(0.0, 784) == pytest.approx(8.0)                  # log2(256)
    assert bits_per_dim(784 * math.log(2), 784, levels=None) == pytest.approx(1.0)
    np.testing.assert_allclose(bits_per_dim(np.array([0.0, 784 * math.log(2)]), 784), [8, 9])


def test_perplexity():
    assert perplexity(math.log(65)) == pytest.approx(65)
