"""tinygen.distributions: probability distributions in PyTorch's dialect, for VAEs and RL.

    from tinygen.distributions import Normal, Categorical, Independent, kl_divergence

    q = Independent(Normal(mu, logvar.mul(0.5).exp()), 1)     # the encoder's q(z|x)
    z = q.rsample()                                           # reparameterised: gradients reach
    kl = kl_divergence(q, Independent(Normal(0.0 * mu, 1.0 + 0.0 * mu), 1))   # mu and logvar

    pi = Categorical(logits=policy(obs))
    action = pi.sample()
    loss = -(pi.log_prob(action) * advantage).mean() - 0.01 * pi.entropy().mean()

Each further distribution has its own module named like PyTorch's (multinomial, pareto,
weibull, half_cauchy, inverse_gamma, fishersnedecor, kumaraswamy, continuous_bernoulli,
von_mises, logistic_normal, one_hot_categorical, generalized_pareto, negative_binomial,
exp_family, lkj_cholesky, wishart, constraint_registry), so `from
torch.distributions.pareto import Pareto` ports with the import changed.

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
from .exp_family import ExponentialFamily
from .multinomial import Multinomial
from .negative_binomial import NegativeBinomial
from .pareto import Pareto
from .weibull import Weibull
from .half_cauchy import HalfCauchy
from .inverse_gamma import InverseGamma
from .fishersnedecor import FisherSnedecor
from .kumaraswamy import Kumaraswamy
from .continuous_bernoulli import ContinuousBernoulli
from .von_mises import VonMises
from .logistic_normal import LogisticNormal
from .one_hot_categorical import OneHotCategoricalStraightThrough
from .generalized_pareto import GeneralizedPareto
from .lkj_cholesky import LKJCholesky
from .wishart import Wishart
from .constraint_registry import biject_to, transform_to
from . import kl_more  # noqa: F401  (registers the further KL pairs)
from . import kl_families  # noqa: F401  (exponential families, ContinuousBernoulli, Pareto)
from . import transforms
from .transforms import (CatTransform, CorrCholeskyTransform, CumulativeDistributionTransform,
                         IndependentTransform, LowerCholeskyTransform, PositiveDefiniteTransform,
                         ReshapeTransform, SoftmaxTransform, StackTransform,
                         StickBreakingTransform, identity_transform)

__all__ = ["constraints", "Distribution", "Normal", "Uniform", "Laplace", "Exponential", "Gamma",
           "Beta", "Dirichlet", "Bernoulli", "Categorical", "OneHotCategorical", "Poisson",
           "Cauchy", "HalfNormal", "LogNormal", "Gumbel", "Chi2", "StudentT", "Geometric",
           "Independent", "MultivariateNormal", "kl_divergence", "register_kl", "transforms",
           "Transform", "AbsTransform", "AffineTransform", "ComposeTransform", "ExpTransform",
           "PowerTransform", "SigmoidTransform", "SoftplusTransform", "TanhTransform",
           "TransformedDistribution", "MixtureSameFamily", "Binomial",
           "LowRankMultivariateNormal", "RelaxedBernoulli", "RelaxedOneHotCategorical",
           "ExponentialFamily", "Multinomial", "NegativeBinomial", "Pareto", "Weibull",
           "HalfCauchy", "InverseGamma", "FisherSnedecor", "Kumaraswamy", "ContinuousBernoulli",
           "VonMises", "LogisticNormal", "OneHotCategoricalStraightThrough", "GeneralizedPareto",
           "LKJCholesky", "Wishart",
           "biject_to", "transform_to", "CatTransform", "CorrCholeskyTransform",
           "CumulativeDistributionTransform", "IndependentTransform", "LowerCholeskyTransform",
           "PositiveDefiniteTransform", "ReshapeTransform", "SoftmaxTransform", "StackTransform",
           "StickBreakingTransform", "identity_transform"]
