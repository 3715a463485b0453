"""tinygen.distributions: probability distributions in PyTorch's dialect, for VAEs and RL.

    from tinygen.distributions import Normal, Categorical, Independent, kl_divergence

    q = Independent(Normal(mu, logvar.mul(0.5).exp()), 1)     # the encoder's q(z|x)
    z = q.rsample()                                           # reparameterised: gradients reach
    kl = kl_divergence(q, Independent(Normal(0.0 * mu, 1.0 + 0.0 * mu), 1))   # mu and logvar

    pi = Categorical(logits=policy(obs))
    action = pi.sample()
    loss = -(pi.log_prob(action) * advantage).mean() - 0.01 * pi.entropy().mean()

LogitRelaxedBernoulli and ExpRelaxedCategorical live where PyTorch keeps them (not re-exported
here, as in torch.distributions): tinygen.distributions.relaxed_bernoulli and .relaxed_categorical.

A layer beside nn: built from the core and ops only (ARCHITECTURE.md).
"""
from . import constraints
from .distribution import Distribution
from .continuous import Normal, Uniform, Laplace, Exponential, Gamma, Beta, Dirichlet
from .discrete import Bernoulli, Binomial, Categorical, OneHotCategorical, Poisson
from .more import Cauchy, HalfNormal, LogNormal, Gumbel, Chi2, StudentT, Geometric
from .multivariate import Independent, MultivariateNormal
from .lowrank_multivariate_normal import LowRankMultivariateNormal
from .kl import kl_divergence, register_kl
from .transforms import (AbsTransform, AffineTransform, ComposeTransform, ExpTransform,
                         PowerTransform, SigmoidTransform, SoftplusTransform, TanhTransform,
                         Transform)
from .transformed import TransformedDistribution
from .relaxed_bernoulli import RelaxedBernoulli
from .relaxed_categorical import RelaxedOneHotCategorical
from .mixture import MixtureSameFamily
from . import kl_more  # noqa: F401  (registers the further KL pairs)
from . import transforms

__all__ = ["constraints", "Distribution", "Normal", "Uniform", "Laplace", "Exponential", "Gamma",
           "Beta", "Dirichlet", "Bernoulli", "Categorical", "OneHotCategorical", "Poisson",
           "Cauchy", "HalfNormal", "LogNormal", "Gumbel", "Chi2", "StudentT", "Geometric",
           "Independent", "MultivariateNormal", "kl_divergence", "register_kl", "transforms",
           "Transform", "AbsTransform", "AffineTransform", "ComposeTransform", "ExpTransform",
           "PowerTransform", "SigmoidTransform", "SoftplusTransform", "TanhTransform",
           "TransformedDistribution", "MixtureSameFamily", "Binomial",
           "LowRankMultivariateNormal", "RelaxedBernoulli", "RelaxedOneHotCategorical"]
