"""Transforms, as torch.distributions.transforms: invertible maps y = f(x) with
log|det df/dx|, for TransformedDistribution and the constraint registry.

    t = ComposeTransform([AffineTransform(0.0, 2.0), TanhTransform(cache_size=1)])
    y = t(x); x_back = t.inv(y); t.log_abs_det_jacobian(x, y)

cache_size=1 keeps the last (x, y) pair: t.inv(t(x)) returns x itself, so a SAC policy's
log_prob of its own tanh-squashed rsample never goes through atanh(+-1).

The elementwise transforms and ComposeTransform live in transforms_core.py, the structured ones
(softmax, stick-breaking, Cholesky factors, cat / stack, reshape, independent, cdf) in
transforms_more.py; this module gathers them under PyTorch's names.
"""
from .transforms_core import (AbsTransform, AffineTransform, ComposeTransform, ExpTransform,
                              PowerTransform, SigmoidTransform, SoftplusTransform,
                              TanhTransform, Transform, identity_transform)
from .transforms_core import _InverseTransform, _sum_rightmost  # noqa: F401  (transformed.py)
from .transforms_more import (CatTransform, CorrCholeskyTransform,
                              CumulativeDistributionTransform, IndependentTransform,
                              LowerCholeskyTransform, PositiveDefiniteTransform,
                              ReshapeTransform, SoftmaxTransform, StackTransform,
                              StickBreakingTransform)

__all__ = ["AbsTransform", "AffineTransform", "CatTransform", "ComposeTransform",
           "CorrCholeskyTransform", "CumulativeDistributionTransform", "ExpTransform",
           "IndependentTransform", "LowerCholeskyTransform", "PositiveDefiniteTransform",
           "PowerTransform", "ReshapeTransform", "SigmoidTransform", "SoftplusTransform",
           "TanhTransform", "SoftmaxTransform", "StackTransform", "StickBreakingTransform",
           "Transform", "identity_transform"]
