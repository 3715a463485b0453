"""Folding an eval-mode batch norm into the convolution or linear layer before it, as
torch.nn.utils.fuse_conv_bn_eval / fuse_linear_bn_eval (and their *_weights forms):

    y = gamma (W x + b - mean) / sqrt(var + eps) + beta
      = (W * s) x + (b - mean) * s + beta,          s = gamma / sqrt(var + eps)

so the fused layer's weight is W scaled by s along its output dim and its bias (b - mean) s +
beta. Inference only: the running statistics are frozen into the weights.
"""
from __future__ import annotations

import copy

from ...autograd.grad_mode import no_grad
from ..modules.parameter import Parameter


def fuse_conv_bn_weights(conv_w, conv_b, bn_rm, bn_rv, bn_eps, bn_w, bn_b, transpose=False):
    """(fused weight, fused bias) as Parameters; the output dim is 0 (1 for transposed
    convolutions). Without a conv bias the fused bias needs no gradient, as PyTorch's."""
    bias_grad = conv_b is not None and conv_b.requires_grad
    with no_grad():
        conv_b = conv_b if conv_b is not None else bn_rm * 0
        bn_w = bn_w if bn_w is not None else bn_rm * 0 + 1
        bn_b = bn_b if bn_b is not None else bn_rm * 0
        scale = bn_w * (bn_rv + bn_eps).rsqrt()                       # (C_out,)
        shape = [1] * conv_w.ndim
        shape[1 if transpose else 0] = -1
        weight = conv_w * scale.reshape(shape).to(conv_w.dtype)
        bias = (conv_b - bn_rm) * scale + bn_b
    return Parameter(weight, conv_w.requires_grad), Parameter(bias, bias_grad)


def fuse_conv_bn_eval(conv, bn, transpose=False):
    """A copy of conv with the eval-mode batch norm bn folded in (both must be in eval mode)."""
    if conv.training or bn.training:
        raise AssertionError("fuse_conv_bn_eval: fusion is for eval mode only (call .eval())")
    fused = copy.deepcopy(conv)
    fused.weight, fused.bias = fuse_conv_bn_weights(
        fused.weight, fused.bias, bn.running_mean, bn.running_var, bn.eps, bn.weight, bn.bias,
        transpose)
    return fused


def fuse_linear_bn_weights(linear_w, linear_b, bn_rm, bn_rv, bn_eps, bn_w, bn_b):
    """(fused weight, fused bias) of a Linear followed by a BatchNorm1d."""
    return fuse_conv_bn_weights(linear_w, linear_b, bn_rm, bn_rv, bn_eps, bn_w, bn_b)


def fuse_linear_bn_eval(linear, bn):
    """A copy of linear with the eval-mode BatchNorm1d bn folded in. A bn without affine
    parameters fuses as weight 1, bias 0 (PyTorch raises a TypeError on its None weight)."""
    if linear.training or bn.training:
        raise AssertionError("fuse_linear_bn_eval: fusion is for eval mode only (call .eval())")
    if linear.out_features != bn.num_features:
        raise AssertionError(f"fuse_linear_bn_eval: linear.out_features "
                             f"({linear.out_features}) must equal bn.num_features "
                             f"({bn.num_features})")
    fused = copy.deepcopy(linear)
    fused.weight, fused.bias = fuse_linear_bn_weights(
        fused.weight, fused.bias, bn.running_mean, bn.running_var, bn.eps, bn.weight, bn.bias)
    return fused
