"""Fused optimiser updates: ops with no backward, run under no_grad by tinygen.optim.

AdamStep is PyTorch's `_fused_adam_`: one call updates every parameter of a group in place
through the kernel table's "adam_step" (kernels/adam.py: NumPy reference, numba, CUDA); SGDStep
the same through "sgd_step" (kernels/sgd.py). Each is a Function so the optimiser reaches its
kernel the one way every op does (`Function.kernel`), on the device of the parameters, and a
parameter on another device raises like any op.
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


class SGDStep(Function):
    """SGDStep.apply(*params, grads=..., momentum_buffers=..., lr=..., momentum=...,
    dampening=..., weight_decay=..., nesterov=..., maximize=...) updates the parameters in place
    and returns them. momentum_buffers, a list of arrays (None before momentum's first step), is
    replaced in place by the kernel's buffers (a new one where momentum starts)."""

    def forward(self, *params, grads, momentum_buffers, lr, momentum, dampening, weight_decay,
                nesterov, maximize):
        momentum_buffers[:] = self.kernel("sgd_step")(
            list(params), grads, momentum_buffers, lr, momentum, dampening, weight_decay,
            nesterov, maximize)
        return params

    def backward(self, *grads):
        raise RuntimeError("SGDStep: an optimiser update has no gradient (run it under no_grad)")
