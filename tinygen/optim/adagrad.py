"""Adagrad (Duchi et al. 2011) and Adadelta (Zeiler 2012), as PyTorch's `optim.Adagrad` and
`optim.Adadelta`: step sizes from accumulated squared gradients.

Adagrad, for one parameter p with gradient g at step t:

    g = g + weight_decay * p
    clr = lr / (1 + (t - 1) * lr_decay)
    s = s + g * g                                 sum (starts at initial_accumulator_value)
    p = p - clr * g / (sqrt(s) + eps)

Adadelta:

    g = g + weight_decay * p
    v = rho * v + (1 - rho) * g * g               square_avg
    d = sqrt(u + eps) / sqrt(v + eps) * g         the update, in the units of p
    u = rho * u + (1 - rho) * d * d               acc_delta
    p = p - lr * d

(`maximize` negates g first.) Sparse gradients are not supported: tinygen's embeddings produce
dense ones.
"""
from __future__ import annotations

from ..backend.device import array_module
from .optimizer import (LOADED_GROUP_DEFAULTS, ElementwiseOptimizer, _step_tensor, _zeros_like,
                        check_flags, check_hyperparameters)


class Adagrad(ElementwiseOptimizer):
    """Adagrad(params, lr=1e-2, lr_decay=0, weight_decay=0, initial_accumulator_value=0,
    eps=1e-10, foreach=None, *, maximize=False, differentiable=False, fused=None). As in
    PyTorch, the state (`step`, `sum`) is created for every parameter at construction, and
    `sum` starts at the constructor's initial_accumulator_value in every group (a group's own
    value is kept in the group but not used: PyTorch's behaviour, copied so runs agree)."""

    _LOADED_GROUP_DEFAULTS = {**LOADED_GROUP_DEFAULTS, "fused": None}

    def __init__(self, params, lr=1e-2, lr_decay=0, weight_decay=0, initial_accumulator_value=0,
                 eps=1e-10, foreach=None, *, maximize=False, differentiable=False, fused=None):
        check_hyperparameters("Adagrad", lr=lr, lr_decay=lr_decay, weight_decay=weight_decay,
                              initial_accumulator_value=initial_accumulator_value, eps=eps)
        check_flags("Adagrad", foreach, fused, differentiable)
        super().__init__(params, {"lr": lr, "lr_decay": lr_decay, "eps": eps,
                                  "weight_decay": weight_decay,
                                  "initial_accumulator_value": initial_accumulator_value,
                                  "foreach": foreach, "maximize": maximize,
                                  "differentiable": differentiable, "fused": fused})
        for group in self.param_groups:
            for p in group["params"]:
                self.state[p]["step"] = _step_tensor(fused=group["fused"])
                self.state[p].update(self.new_state(p, group))

    def new_state(self, p, group):
        total = _zeros_like(p)
        total._data += self.defaults["initial_accumulator_value"]
        return {"sum": total}

    def update(self, param, grad, state, group, step):
        xp = array_module(param)
        if group["weight_decay"] != 0:
            grad = grad + group["weight_decay"] * param
        clr = group["lr"] / (1 + (step - 1) * group["lr_decay"])
        state["sum"] += grad * grad
        std = xp.sqrt(state["sum"])
        std += group["eps"]
        param -= clr * (grad / std)


class Adadelta(ElementwiseOptimizer):
    """Adadelta(params, lr=1.0, rho=0.9, eps=1e-6, weight_decay=0, foreach=None, *,
    capturable=False, maximize=False, differentiable=False)."""

    _LOADED_GROUP_DEFAULTS = {**LOADED_GROUP_DEFAULTS, "capturable": False}

    def __init__(self, params, lr=1.0, rho=0.9, eps=1e-6, weight_decay=0, foreach=None, *,
                 capturable=False, maximize=False, differentiable=False):
        check_hyperparameters("Adadelta", lr=lr)
        if not 0.0 <= rho <= 1.0:
            raise ValueError(f"Invalid rho value: {rho}")
        check_hyperparameters("Adadelta", eps=eps, weight_decay=weight_decay)
        check_flags("Adadelta", foreach, None, differentiable)
        super().__init__(params, {"lr": lr, "rho": rho, "eps": eps, "weight_decay": weight_decay,
                                  "foreach": foreach, "capturable": capturable,
                                  "maximize": maximize, "differentiable": differentiable})

    def new_state(self, p, group):
        return {"square_avg": _zeros_like(p), "acc_delta": _zeros_like(p)}

    def update(self, param, grad, state, group, step):
        xp = array_module(param)
        rho, eps = group["rho"], group["eps"]
        if group["weight_decay"] != 0:
            grad = grad + group["weight_decay"] * param
        square_avg, acc_delta = state["square_avg"], state["acc_delta"]
        square_avg *= rho
        square_avg += (1 - rho) * grad * grad
        delta = xp.sqrt(acc_delta + eps) / xp.sqrt(square_avg + eps) * grad
        acc_delta *= rho
        acc_delta += (1 - rho) * delta * delta
        param -= group["lr"] * delta
