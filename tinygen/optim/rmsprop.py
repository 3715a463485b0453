"""RMSprop (Hinton, Coursera lecture 6e; centered form from Graves 2013), as PyTorch's
`optim.RMSprop`.

For one parameter p with gradient g:

    g = -g if maximize;  g = g + weight_decay * p
    v = alpha * v + (1 - alpha) * g * g                  square_avg
    a = a + (1 - alpha) * (g - a)                        grad_avg (centered only)
    d = sqrt(v - a * a) + eps  if centered  else  sqrt(v) + eps
    b = momentum * b + g / d;  p = p - lr * b            with momentum > 0
    p = p - lr * g / d                                   without

Note eps is added outside the square root (as PyTorch; TensorFlow adds it inside).
State per parameter: `step`, `square_avg`, plus `momentum_buffer` (momentum > 0) and `grad_avg`
(centered).
"""
from __future__ import annotations

from ..autograd.grad_mode import no_grad
from ..backend.device import array_module
from .adafactor import _lerp_
from .optimizer import (Optimizer, _check_grad, _scalar, _step_tensor, _zeros_like, check_flags,
                        check_hyperparameters)


def rmsprop_update(param, grad, square_avg, grad_avg, momentum_buffer, *, lr, alpha, eps,
                   weight_decay, momentum, centered, maximize):
    """One RMSprop step for one parameter, on arrays (numpy or cupy), all updated in place.

    param, grad, square_avg: arrays of one shape and dtype; grad is not modified.
    grad_avg: array (centered) or None; momentum_buffer: array (momentum > 0) or None.
    """
    xp = array_module(param)
    if maximize:
        grad = -grad
    if weight_decay != 0:
        grad = grad + weight_decay * param
    square_avg *= alpha
    # (into an array: on 0-d arrays NumPy's ufuncs return scalars, which out= rejects)
    scratch = xp.multiply(grad, grad, out=xp.empty_like(square_avg))
    scratch *= 1 - alpha
    square_avg += scratch
    if centered:
        # grad_avg.lerp_(grad, 1 - alpha), then avg = sqrt(square_avg - grad_avg^2)
        _lerp_(grad_avg, grad, 1 - alpha)              # PyTorch's formula (inf: nan at w >= 0.5)
        xp.multiply(grad_avg, grad_avg, out=scratch)
        xp.subtract(square_avg, scratch, out=scratch)
        avg = xp.sqrt(scratch, out=scratch)
    else:
        avg = xp.sqrt(square_avg, out=scratch)
    avg += eps
    if momentum > 0:
        momentum_buffer *= momentum
        momentum_buffer += xp.divide(grad, avg, out=avg)
        param -= xp.multiply(momentum_buffer, lr, out=avg)
    else:
        update = xp.divide(grad, avg, out=avg)
        update *= lr
        param -= update


class RMSprop(Optimizer):
    """RMSprop(params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0, centered=False,
    capturable=False, foreach=None, maximize=False, differentiable=False).

    `capturable` and `foreach` are accepted and change nothing here; `differentiable=True` is not
    supported.
    """

    _LOADED_GROUP_DEFAULTS = {"momentum": 0, "centered": False, "foreach": None,
                              "maximize": False, "differentiable": False, "capturable": False}

    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0,
                 centered=False, capturable=False, foreach=None, maximize=False,
                 differentiable=False):
        check_hyperparameters("RMSprop", lr=lr, eps=eps, momentum=momentum,
                              weight_decay=weight_decay, alpha=alpha)
        check_flags("RMSprop", foreach, None, differentiable)
        defaults = {"lr": lr, "momentum": momentum, "alpha": alpha, "eps": eps,
                    "centered": centered, "weight_decay": weight_decay, "capturable": capturable,
                    "foreach": foreach, "maximize": maximize, "differentiable": differentiable}
        super().__init__(params, defaults)

    @no_grad()
    def step(self, closure=None):
        """One update of every parameter that has a gradient. Returns the closure's loss."""
        loss = self._closure_loss(closure)
        for group in self.param_groups:
            lr, momentum, centered = _scalar(group["lr"]), group["momentum"], group["centered"]
            for i, p in enumerate(group["params"]):
                if p.grad is None:
                    continue
                grad = _check_grad("RMSprop", p, i)
                state = self.state[p]
                if len(state) == 0:
                    state["step"] = _step_tensor()
                    state["square_avg"] = _zeros_like(p)
                    if momentum > 0:
                        state["momentum_buffer"] = _zeros_like(p)
                    if centered:
                        state["grad_avg"] = _zeros_like(p)
                state["step"]._data += 1
                rmsprop_update(
                    p._data, grad, state["square_avg"]._data,
                    state["grad_avg"]._data if centered else None,
                    state["momentum_buffer"]._data if momentum > 0 else None,
                    lr=lr, alpha=group["alpha"], eps=group["eps"],
                    weight_decay=group["weight_decay"], momentum=momentum, centered=centered,
                    maximize=group.get("maximize", False))
                p._version[0] += 1
        return loss
