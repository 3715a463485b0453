"""ExponentialFamily, as torch.distributions.exp_family: distributions with density
    p(x; theta) = exp(<t(x), theta> - F(theta) + k(x))
given by their natural parameters theta (`_natural_params`), the log-normaliser F
(`_log_normalizer`) and the expected carrier measure E[k(x)] (`_mean_carrier_measure`). Then
    entropy      H = F(theta) - <theta, grad F(theta)> - E[k(x)]
    KL(p || q)   = F(theta_q) - F(theta_p) - <theta_q - theta_p, grad F(theta_p)>
(the Bregman divergence of F; Nielsen & Nock 2010), with grad F taken by autograd.

Members here: ContinuousBernoulli and Wishart (subclasses), and Bernoulli, Beta, Dirichlet,
Exponential, Gamma, Normal and Poisson, which are registered as virtual subclasses
(`isinstance(Normal(...), ExponentialFamily)` holds, as in PyTorch) but keep their own closed
forms and do not define the natural-parameter methods.

Differences from PyTorch: the Bregman entropy runs its inner autograd.grad under enable_grad,
so it also works inside no_grad. As in PyTorch, it differentiates with respect to detached
copies of the natural parameters, so the entropy it returns carries no gradient to the
distribution's parameters.
"""
from __future__ import annotations

from abc import ABCMeta

from ..autograd import grad
from ..autograd.grad_mode import enable_grad
from .continuous import Beta, Dirichlet, Exponential, Gamma, Normal
from .discrete import Bernoulli, Poisson
from .distribution import Distribution

__all__ = ["ExponentialFamily"]


class ExponentialFamily(Distribution, metaclass=ABCMeta):
    """Base class of exponential families: subclasses define _natural_params,
    _log_normalizer(*natural_params) and _mean_carrier_measure."""

    @property
    def _natural_params(self):
        """The natural parameters theta, a tuple of tensors."""
        raise NotImplementedError

    def _log_normalizer(self, *natural_params):
        """F(theta), the log-normaliser, as a function of the natural parameters."""
        raise NotImplementedError

    @property
    def _mean_carrier_measure(self):
        """E[k(x)], the expected carrier measure."""
        raise NotImplementedError

    def entropy(self):
        """F(theta) - <theta, grad F(theta)> - E[k(x)], by autograd (Bregman divergence)."""
        result = -self._mean_carrier_measure
        with enable_grad():
            nparams = [p.detach().requires_grad_() for p in self._natural_params]
            lg_normal = self._log_normalizer(*nparams)
            gradients = grad(lg_normal.sum(), nparams, create_graph=True)
        result = result + lg_normal
        for theta, g in zip(nparams, gradients):
            result = result - (theta * g).reshape(self._batch_shape + (-1,)).sum(-1)
        return result


for _member in (Bernoulli, Beta, Dirichlet, Exponential, Gamma, Normal, Poisson):
    ExponentialFamily.register(_member)
