"""LinearCrossEntropyLoss, as torch.nn (2.13): a Linear layer to the logits and cross-entropy in
one module, so the chunked path (options) never holds the (N, C) logits.

    criterion = nn.LinearCrossEntropyLoss(512, 50257, options=nn.LinearCrossEntropyOptions())
    loss = criterion(hidden, labels)             # hidden (N, 512), labels (N,) int64
"""
from __future__ import annotations

import math

from ..linear_cross_entropy import linear_cross_entropy
from .linear import Linear
from .loss import _WeightedLoss


class LinearCrossEntropyLoss(_WeightedLoss):
    """cross_entropy(self.linear(input) reshaped to (N, C, *out_features), target): see
    F.linear_cross_entropy for the shapes, targets and options.

    Parameters and buffers as PyTorch's, so a state dict loads both ways: `linear` is a
    Linear(in_features, C * prod(out_features), bias=bias) (its weight (C * prod, in) and bias
    (C * prod,), initialised as Linear's: U(-1/sqrt(in), 1/sqrt(in))), reshaped to
    (C, *out_features, in) in forward; `weight` (C,), the class weights, is a buffer (in the
    state dict where given). bias defaults to False; ignore_index None means -100 for class
    indices.
    """

    def __init__(self, in_features, num_classes, *, out_features=(), bias=False, device=None,
                 dtype=None, reduction="mean", weight=None, ignore_index=None,
                 label_smoothing=0.0, options=None):
        if weight is not None and tuple(weight.shape) != (num_classes,):
            raise RuntimeError(f"LinearCrossEntropyLoss: expected weight shape to be "
                               f"{(num_classes,)}, got {tuple(weight.shape)}")
        if label_smoothing < 0 or label_smoothing > 1.0:
            raise RuntimeError(f"LinearCrossEntropyLoss: expected label_smoothing to be in "
                               f"range [0, 1], got {label_smoothing}")
        super().__init__(weight=weight, reduction=reduction)
        self.num_classes = num_classes
        self.out_features = out_features
        self.ignore_index = ignore_index
        self.label_smoothing = label_smoothing
        # Linear holds 2-D weights: (C, *out_features, in) is kept as (C * prod, in), as PyTorch
        self.linear = Linear(in_features, math.prod(out_features, start=num_classes), bias=bias,
                             device=device, dtype=dtype)
        self.options = options

    def forward(self, input, target):
        linear_weight = self.linear.weight.reshape(
            (self.num_classes, *self.out_features, self.linear.in_features))
        linear_bias = None
        if self.linear.bias is not None:
            linear_bias = self.linear.bias.reshape((self.num_classes, *self.out_features))
        return linear_cross_entropy(input, linear_weight, target, linear_bias=linear_bias,
                                    weight=self.weight, reduction=self.reduction,
                                    ignore_index=self.ignore_index,
                                    label_smoothing=self.label_smoothing, options=self.options)
