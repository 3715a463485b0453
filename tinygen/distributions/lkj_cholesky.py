"""LKJCholesky, as torch.distributions.lkj_cholesky: the LKJ distribution (Lewandowski,
Kurowicka & Joe 2009) over Cholesky factors L of dim x dim correlation matrices, with
density proportional to det(L L^T)^(concentration - 1):
    log p(L) = sum_{i >= 2} (2 (eta - 1) + dim - i) log L_ii - log normaliser.

    L = LKJCholesky(3, 0.5).sample()              # (3, 3), rows of unit norm
    corr = L @ L.mT

sample is the onion method (LKJ 2009, Sec. 3.2; Ghosh & Henderson 2003), vectorised as
PyTorch's: row i of L gets a squared off-diagonal norm y_i ~ Beta(i / 2, eta + (dim - 1 - i) / 2),
spread on a uniform direction, and the diagonal sqrt(1 - y_i). No rsample.

Difference from PyTorch 2.13: its sampler draws y_i ~ Beta(i - 1/2, ...) for rows i >= 2 (the
0.5 factor NumPyro applies to that offset is missing), so its rows past the second are too
correlated (for eta = 1, dim = 4 the correlations of rows 2 and 3 have variance ~0.24 instead of
the uniform's 0.2). tinygen's draws have the LKJ marginals; log_prob is the same as PyTorch's.
"""
from __future__ import annotations

import math

from ..autograd.function import wrap
from ..autograd.grad_mode import no_grad
from ..ops.binary import where
from ..ops.random import random_array
from ..ops.shape import cat
from ..ops.special import lgamma, mvlgamma
from . import constraints
from .continuous import Beta
from .distribution import Distribution, broadcast_all, finfo

__all__ = ["LKJCholesky"]


class LKJCholesky(Distribution):
    """LKJCholesky(dim >= 2, concentration eta > 0): batch_shape concentration's shape,
    event_shape (dim, dim)."""

    arg_constraints = {"concentration": constraints.positive}
    support = constraints.corr_cholesky

    def __init__(self, dim, concentration=1.0, validate_args=None):
        if dim < 2:
            raise ValueError(f"Expected dim to be an integer greater than or equal to 2. "
                             f"Found dim={dim}.")
        self.dim = dim
        (self.concentration,) = broadcast_all(concentration)
        marginal_conc = self.concentration + 0.5 * (self.dim - 2)
        offset = wrap(self.concentration.device.xp.arange(
            self.dim - 1).astype(self.concentration._data.dtype))
        offset = 0.5 * cat([offset.new_zeros((1,)), offset])            # 0, 0, 1/2, ..., (d-2)/2
        beta_conc1 = offset + 0.5                                        # row i: i / 2
        beta_conc0 = marginal_conc.unsqueeze(-1) - offset
        self._beta = Beta(beta_conc1, beta_conc0)
        super().__init__(self.concentration.shape, (dim, dim), validate_args)

    def sample(self, sample_shape=()):
        """The onion method: row i is sqrt(y_i) u_i (u_i uniform on the sphere of the first i
        coordinates, y_i ~ Beta) with the diagonal completing its norm to 1."""
        with no_grad():
            y = self._beta.sample(sample_shape).unsqueeze(-1)               # (..., dim, 1)
            shape = self._extended_shape(sample_shape)
            u_normal = wrap(random_array("normal", shape, y.dtype, y.device)).tril(-1)
            row_norm = u_normal.norm(dim=-1, keepdim=True)
            u_hypersphere = u_normal / where(row_norm == 0, 1.0, row_norm)   # row 0 stays 0
            w = y.sqrt() * u_hypersphere
            tiny = float(finfo(w).tiny)
            diag_elems = (1 - (w ** 2).sum(-1)).clamp(min=tiny).sqrt()
            return w + diag_elems.diag_embed()

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        diag_elems = value.diagonal(0, -1, -2)[..., 1:]
        xp = self.concentration.device.xp
        order = wrap(xp.arange(2, self.dim + 1).astype(self.concentration._data.dtype))
        order = 2 * (self.concentration - 1).unsqueeze(-1) + self.dim - order
        unnormalized_log_pdf = (order * diag_elems.log()).sum(-1)
        dm1 = self.dim - 1
        alpha = self.concentration + 0.5 * dm1
        denominator = lgamma(alpha) * dm1
        numerator = mvlgamma(alpha - 0.5, dm1)
        pi_constant = 0.5 * dm1 * math.log(math.pi)                       # log normaliser
        return unnormalized_log_pdf - (pi_constant + numerator - denominator)
