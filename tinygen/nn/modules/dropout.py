"""Dropout layers: zero elements (Dropout), whole channels (Dropout1d/2d/3d) or, for SELU
networks, set them to the negative saturation keeping mean and variance (AlphaDropout,
FeatureAlphaDropout); all are the identity in eval mode.

    drop = nn.Dropout(0.1)
    drop.train(); y = drop(x)      # random mask
    drop.eval();  y = drop(x)      # y is x
"""
from __future__ import annotations

from .. import functional as F
from .module import Module


class _DropoutNd(Module):
    """p and inplace, as PyTorch: Dropout and Dropout1d/2d/3d honour inplace (the input is
    overwritten, so a leaf that requires grad raises); AlphaDropout and FeatureAlphaDropout keep
    the flag but, as PyTorch's, never write in place."""

    def __init__(self, p=0.5, inplace=False):
        super().__init__()
        if not 0 <= p <= 1:
            raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
        self.p = p
        self.inplace = inplace

    def extra_repr(self):
        return f"p={self.p}, inplace={self.inplace}"


class Dropout(_DropoutNd):
    """Inverted dropout (Srivastava et al. 2014); the identity in eval mode. Any shape."""

    def forward(self, input):
        return F.dropout(input, self.p, self.training, self.inplace)


class Dropout1d(_DropoutNd):
    """Zero whole channels of (N, C, L) or (C, L) (Tompson et al. 2015)."""

    def forward(self, input):
        return F.dropout1d(input, self.p, self.training, self.inplace)


class Dropout2d(_DropoutNd):
    """Zero whole channels of (N, C, H, W). A 3-D input is (N, C, L), with PyTorch's warning
    (not an unbatched (C, H, W): see F.dropout2d)."""

    def forward(self, input):
        return F.dropout2d(input, self.p, self.training, self.inplace)


class Dropout3d(_DropoutNd):
    """Zero whole channels of (N, C, D, H, W) or (C, D, H, W)."""

    def forward(self, input):
        return F.dropout3d(input, self.p, self.training, self.inplace)


class AlphaDropout(_DropoutNd):
    """Alpha dropout (Klambauer et al. 2017): keeps zero mean and unit variance under SELU."""

    def forward(self, input):
        return F.alpha_dropout(input, self.p, self.training)


class FeatureAlphaDropout(_DropoutNd):
    """Alpha dropout of whole channels of (N, C, *)."""

    def forward(self, input):
        return F.feature_alpha_dropout(input, self.p, self.training)
