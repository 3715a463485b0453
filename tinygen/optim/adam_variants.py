"""Adam's relatives, as PyTorch's `optim.Adamax`, `optim.NAdam` and `optim.RAdam`. For one
parameter p with gradient g at step t (`maximize` negates g first; m starts at 0):

Adamax (Kingma & Ba 2015, section 7): the infinity norm in place of the second moment

    g = g + weight_decay * p
    m = m + (1 - beta1) * (g - m)                           exp_avg
    u = max(beta2 * u, |g| + eps)                           exp_inf
    p = p - lr / (1 - beta1^t) * m / u

NAdam (Dozat 2016): Adam with Nesterov momentum and a momentum schedule

    mu_t = beta1 * (1 - 0.5 * 0.96^(t * momentum_decay)),   P_t = mu_1 ... mu_t  (mu_product)
    m, v as Adam's;   d = sqrt(v / (1 - beta2^t)) + eps
    p = p - lr (1 - mu_t) / (1 - P_t) * g / d - lr mu_{t+1} / (1 - P_t mu_{t+1}) * m / d

RAdam (Liu et al. 2020): Adam whose adaptive step is switched on, rectified, once the variance
of its estimate is tractable (rho_t > 5)

    rho_inf = 2 / (1 - beta2) - 1,   rho_t = rho_inf - 2 t beta2^t / (1 - beta2^t)
    r = sqrt((rho_t - 4)(rho_t - 2) rho_inf / ((rho_inf - 4)(rho_inf - 2) rho_t))
    p = p - lr * m / (1 - beta1^t) * r * sqrt(1 - beta2^t) / (sqrt(v) + eps)    if rho_t > 5
    p = p - lr * m / (1 - beta1^t)                                               otherwise

NAdam and RAdam take `decoupled_weight_decay` (p = p * (1 - lr * weight_decay), AdamW's rule)
as PyTorch does; otherwise weight_decay is added to g.
"""
from __future__ import annotations

import math

from ..backend.device import array_module
from .adafactor import _lerp_
from .optimizer import (LOADED_GROUP_DEFAULTS, ElementwiseOptimizer, _scalar, _step_tensor,
                        _zeros_like, check_flags, check_hyperparameters)


def _check(name, lr, eps, betas, weight_decay, foreach, differentiable, **more):
    """PyTorch's checks and messages, in its order."""
    check_hyperparameters(name, lr=lr, eps=eps)
    for i, beta in enumerate(betas):
        if not 0.0 <= _scalar(beta) < 1.0:
            raise ValueError(f"Invalid beta parameter at index {i}: {beta}")
    check_hyperparameters(name, weight_decay=weight_decay, **more)
    check_flags(name, foreach, None, differentiable)


def _decay(param, grad, group):
    """The gradient after weight decay (or p shrunk in place, when decoupled)."""
    wd = group["weight_decay"]
    if wd == 0:
        return grad
    if group.get("decoupled_weight_decay", False):
        param *= 1 - group["lr"] * wd
        return grad
    return grad + wd * param


def _moments(state, grad, beta1, beta2):
    m, v = state["exp_avg"], state["exp_avg_sq"]
    _lerp_(m, grad, 1 - beta1)                     # PyTorch's lerp_ (inf: nan at w >= 0.5)
    v *= beta2
    v += (1 - beta2) * grad * grad
    return m, v


class Adamax(ElementwiseOptimizer):
    """Adamax(params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, foreach=None, *,
    maximize=False, differentiable=False, capturable=False)."""

    _LOADED_GROUP_DEFAULTS = {**LOADED_GROUP_DEFAULTS, "capturable": False}

    def __init__(self, params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
                 foreach=None, *, maximize=False, differentiable=False, capturable=False):
        _check("Adamax", lr, eps, betas, weight_decay, foreach, differentiable)
        super().__init__(params, {"lr": lr, "betas": betas, "eps": eps,
                                  "weight_decay": weight_decay, "foreach": foreach,
                                  "maximize": maximize, "differentiable": differentiable,
                                  "capturable": capturable})

    def new_state(self, p, group):
        return {"exp_avg": _zeros_like(p), "exp_inf": _zeros_like(p)}

    def update(self, param, grad, state, group, step):
        xp = array_module(param)
        beta1, beta2 = group["betas"]
        grad = _decay(param, grad, group)
        m, u = state["exp_avg"], state["exp_inf"]
        _lerp_(m, grad, 1 - beta1)
        u *= beta2
        xp.maximum(u, xp.abs(grad) + group["eps"], out=u)
        param -= _scalar(group["lr"]) / (1 - beta1 ** step) * (m / u)


class NAdam(ElementwiseOptimizer):
    """NAdam(params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
    momentum_decay=4e-3, decoupled_weight_decay=False, *, foreach=None, maximize=False,
    capturable=False, differentiable=False). `mu_product` is kept as a 0-d float32 tensor, as
    in PyTorch (its rounding shows in the updates)."""

    _LOADED_GROUP_DEFAULTS = {**LOADED_GROUP_DEFAULTS, "capturable": False,
                              "decoupled_weight_decay": False}

    def __init__(self, params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
                 momentum_decay=4e-3, decoupled_weight_decay=False, *, foreach=None,
                 maximize=False, capturable=False, differentiable=False):
        _check("NAdam", lr, eps, betas, weight_decay, foreach, differentiable,
               momentum_decay=momentum_decay)
        super().__init__(params, {"lr": lr, "betas": betas, "eps": eps,
                                  "weight_decay": weight_decay, "momentum_decay": momentum_decay,
                                  "decoupled_weight_decay": decoupled_weight_decay,
                                  "foreach": foreach, "maximize": maximize,
                                  "capturable": capturable, "differentiable": differentiable})

    def new_state(self, p, group):
        return {"mu_product": _step_tensor(1.0),          # a 0-d float32 tensor, as `step`
                "exp_avg": _zeros_like(p), "exp_avg_sq": _zeros_like(p)}

    def update(self, param, grad, state, group, step):
        xp = array_module(param)
        beta1, beta2 = group["betas"]
        lr, decay = _scalar(group["lr"]), group["momentum_decay"]
        grad = _decay(param, grad, group)
        mu = beta1 * (1.0 - 0.5 * 0.96 ** (step * decay))
        mu_next = beta1 * (1.0 - 0.5 * 0.96 ** ((step + 1) * decay))
        state["mu_product"] *= mu                                      # float32, as PyTorch
        mu_product = float(state["mu_product"])
        m, v = _moments(state, grad, beta1, beta2)
        denom = xp.sqrt(v / (1 - beta2 ** step))
        denom += group["eps"]
        param -= lr * (1.0 - mu) / (1.0 - mu_product) * (grad / denom)
        param -= lr * mu_next / (1.0 - mu_product * mu_next) * (m / denom)


class RAdam(ElementwiseOptimizer):
    """RAdam(params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
    decoupled_weight_decay=False, *, foreach=None, maximize=False, capturable=False,
    differentiable=False)."""

    _LOADED_GROUP_DEFAULTS = NAdam._LOADED_GROUP_DEFAULTS

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
                 decoupled_weight_decay=False, *, foreach=None, maximize=False,
                 capturable=False, differentiable=False):
        _check("RAdam", lr, eps, betas, weight_decay, foreach, differentiable)
        super().__init__(params, {"lr": lr, "betas": betas, "eps": eps,
                                  "weight_decay": weight_decay,
                                  "decoupled_weight_decay": decoupled_weight_decay,
                                  "foreach": foreach, "maximize": maximize,
                                  "capturable": capturable, "differentiable": differentiable})

    def new_state(self, p, group):
        return {"exp_avg": _zeros_like(p), "exp_avg_sq": _zeros_like(p)}

    def update(self, param, grad, state, group, step):
        xp = array_module(param)
        beta1, beta2 = group["betas"]
        lr = _scalar(group["lr"])
        grad = _decay(param, grad, group)
        m, v = _moments(state, grad, beta1, beta2)
        bias1, bias2 = 1 - beta1 ** step, 1 - beta2 ** step
        rho_inf = 2 / (1 - beta2) - 1
        rho_t = rho_inf - 2 * step * beta2 ** step / bias2
        if rho_t <= 5.0:
            param -= m / bias1 * lr
            return
        rect = math.sqrt((rho_t - 4) * (rho_t - 2) * rho_inf
                         / ((rho_inf - 4) * (rho_inf - 2) * rho_t))
        adaptive = math.sqrt(bias2) / (xp.sqrt(v) + group["eps"])
        param -= m / bias1 * lr * adaptive * rect
