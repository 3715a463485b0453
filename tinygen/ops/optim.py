"""Fused optimiser updates: ops with no backward, run under no_grad by tinygen.optim.

AdamStep is PyTorch's `_fused_adam_`: one call updates every parameter of a group in place
through the kernel table's "adam_step" (kernels/adam.py: NumPy reference, numba, CUDA). It is a
Function so the optimiser reaches its kernel the one way every op does (`Function.kernel`), on
the device of the parameters, and a parameter on another device raises like any op.
"""
from __future__ import annotations

from ..autograd.function import Function


class AdamStep(Function):
    """AdamStep.apply(*params, grads=..., exp_avgs=..., exp_avg_sqs=..., max_exp_avg_sqs=...,
    step=t, lr=..., beta1=..., beta2=..., eps=..., weight_decay=..., decoupled=..., amsgrad=...,
    maximize=...) updates the parameters (Tensors) and their moment arrays in place and returns
    the parameters (views of the same storage). grads and the moments are lists of arrays."""

    def forward(self, *params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs, step, lr, beta1,
                beta2, eps, weight_decay, decoupled, amsgrad, maximize):
        self.kernel("adam_step")(list(params), grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs,
                                 step, lr, beta1, beta2, eps, weight_decay, decoupled, amsgrad,
                                 maximize)
        return params

    def backward(self, *grads):
        raise RuntimeError("AdamStep: an optimiser update has no gradient (run it under no_grad)")
