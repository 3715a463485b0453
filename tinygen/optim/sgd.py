"""SGD with momentum, dampening, Nesterov momentum and L2 weight decay (PyTorch's `optim.SGD`).

The update for one parameter, with g its gradient (Sutskever et al. 2013 form, as PyTorch):

    g = -g if maximize;  g = g + weight_decay * p
    b = g                                  (first step)
    b = momentum * b + (1 - dampening) * g (later steps)
    g = g + momentum * b if nesterov else b
    p = p - lr * g

State per parameter: `momentum_buffer` (only when momentum != 0; SGD keeps no `step`).
"""
from __future__ import annotations

from ..autograd.grad_mode import no_grad
from ..tensor import Tensor
from .optimizer import Optimizer, _check_grad, _scalar


def sgd_update(param, grad, momentum_buffer, *, lr, momentum, dampening, weight_decay,
               nesterov, maximize):
    """One SGD step for one parameter, on arrays (numpy or cupy), updating `param` in place.

    param, grad: arrays of the same shape and dtype; grad is not modified.
    momentum_buffer: array updated in place, or None on the first step (a new one is made).
    Returns the momentum buffer (None when momentum == 0).
    """
    if maximize:
        grad = -grad
    if weight_decay != 0:
        grad = grad + weight_decay * param
    if momentum != 0:
        if momentum_buffer is None:
            momentum_buffer = grad.copy()
        else:
            momentum_buffer *= momentum
            if dampening != 0:
                momentum_buffer += (1 - dampening) * grad
            else:
                momentum_buffer += grad
        if nesterov:
            grad = grad + momentum * momentum_buffer
        else:
            grad = momentum_buffer
    param -= lr * grad
    return momentum_buffer


class SGD(Optimizer):
    """Stochastic gradient descent, optionally with momentum.

    SGD(params, lr=1e-3, momentum=0, dampening=0, weight_decay=0, nesterov=False, *,
        maximize=False)
    `foreach`, `fused` and `differentiable` are accepted for PyTorch compatibility; the first two
    change nothing here (one code path), `differentiable=True` is not supported.
    """

    def __init__(self, params, lr=1e-3, momentum=0, dampening=0, weight_decay=0, nesterov=False,
                 *, maximize=False, foreach=None, differentiable=False, fused=None):
        if _scalar(lr) < 0.0:
            raise ValueError(f"Invalid learning rate: {lr}")
        if momentum < 0.0:
            raise ValueError(f"Invalid momentum value: {momentum}")
        if weight_decay < 0.0:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")
        if differentiable:
            raise NotImplementedError("SGD: differentiable=True is not supported by tinygen")
        defaults = {"lr": lr, "momentum": momentum, "dampening": dampening,
                    "weight_decay": weight_decay, "nesterov": nesterov, "maximize": maximize,
                    "foreach": foreach, "differentiable": differentiable, "fused": fused}
        super().__init__(params, defaults)

    @no_grad()
    def step(self, closure=None):
        """One update of every parameter that has a gradient. Returns the closure's loss."""
        loss = self._closure_loss(closure)
        for group in self.param_groups:
            lr, momentum = _scalar(group["lr"]), group["momentum"]
            for i, p in enumerate(group["params"]):
                if p.grad is None:
                    continue
                grad = _check_grad("SGD", p, i)
                state = self.state[p] if momentum != 0 else None
                buf = state.get("momentum_buffer") if state is not None else None
                new_buf = sgd_update(
                    p._data, grad, None if buf is None else buf._data, lr=lr, momentum=momentum,
                    dampening=group["dampening"], weight_decay=_scalar(group["weight_decay"]),
                    nesterov=group["nesterov"], maximize=group["maximize"])
                p._version[0] += 1
                if state is not None and buf is None:
                    state["momentum_buffer"] = Tensor._make(new_buf, None, 0, False)
        return loss
