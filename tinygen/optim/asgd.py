"""ASGD (Polyak & Juditsky 1992) and Rprop (Riedmiller & Braun 1993), as PyTorch's `optim.ASGD`
and `optim.Rprop`. For one parameter p with gradient g at step t (`maximize` negates g):

ASGD: SGD with a decaying step and an average of the iterates (`ax`, the answer of the method)

    g = g + weight_decay * p
    p = p * (1 - lambd * eta) - eta * g
    ax = p  if mu == 1  else  ax + mu * (p - ax)
    eta = lr / (1 + lambd * lr * t)^alpha,   mu = 1 / max(1, t - t0)

Rprop: only the sign of the gradient counts; each weight has its own step size

    s = sign(g * g_prev)
    step_size = clamp(step_size * (etaplus if s > 0, etaminus if s < 0, 1 if s == 0),
                      *step_sizes)
    g = 0 where s < 0 (the sign flipped: step back from the overshoot, next time)
    p = p - sign(g) * step_size;   g_prev = g

`eta` and `mu` are 0-d tensors of the scalar dtype (float32, float64 while the default dtype is),
as in PyTorch; their new values are rounded to the default dtype first, as PyTorch's
`torch.as_tensor(python_float)` does.
"""
from __future__ import annotations

from ..backend.device import array_module
from ..backend.dtypes import get_default_dtype
from ..ops.elementwise import _sign   # torch.sign: 0 at NaN (a NaN gradient moves nothing)
from .optimizer import (LOADED_GROUP_DEFAULTS, ElementwiseOptimizer, _scalar, _step_tensor,
                        _zeros_like, check_flags, check_hyperparameters)


class ASGD(ElementwiseOptimizer):
    """ASGD(params, lr=1e-2, lambd=1e-4, alpha=0.75, t0=1e6, weight_decay=0, foreach=None,
    maximize=False, differentiable=False, capturable=False)."""

    _LOADED_GROUP_DEFAULTS = {**LOADED_GROUP_DEFAULTS, "capturable": False}

    def __init__(self, params, lr=1e-2, lambd=1e-4, alpha=0.75, t0=1e6, weight_decay=0,
                 foreach=None, maximize=False, differentiable=False, capturable=False):
        check_hyperparameters("ASGD", lr=lr, weight_decay=weight_decay)
        check_flags("ASGD", foreach, None, differentiable)
        super().__init__(params, {"lr": lr, "lambd": lambd, "alpha": alpha, "t0": t0,
                                  "weight_decay": weight_decay, "foreach": foreach,
                                  "maximize": maximize, "differentiable": differentiable,
                                  "capturable": capturable})

    def new_state(self, p, group):
        return {"eta": _step_tensor(_scalar(group["lr"])), "mu": _step_tensor(1.0),
                "ax": _zeros_like(p)}

    def update(self, param, grad, state, group, step):
        lr, lambd = _scalar(group["lr"]), group["lambd"]
        if group["weight_decay"] != 0:
            grad = grad + group["weight_decay"] * param
        eta = float(state["eta"])                     # the float32 value, as PyTorch reads it
        param *= 1 - lambd * eta
        param -= eta * grad
        if float(state["mu"]) != 1:
            state["ax"] += (param - state["ax"]) * float(state["mu"])
        else:
            state["ax"][...] = param
        as_default = get_default_dtype().np.type          # torch.as_tensor(a Python float)
        state["eta"][...] = as_default(lr / (1 + lambd * lr * step) ** group["alpha"])
        state["mu"][...] = as_default(1 / max(1, step - group["t0"]))


class Rprop(ElementwiseOptimizer):
    """Rprop(params, lr=1e-2, etas=(0.5, 1.2), step_sizes=(1e-6, 50), *, capturable=False,
    foreach=None, maximize=False, differentiable=False)."""

    _LOADED_GROUP_DEFAULTS = ASGD._LOADED_GROUP_DEFAULTS

    def __init__(self, params, lr=1e-2, etas=(0.5, 1.2), step_sizes=(1e-6, 50), *,
                 capturable=False, foreach=None, maximize=False, differentiable=False):
        check_hyperparameters("Rprop", lr=lr)
        if not 0.0 < etas[0] < 1.0 < etas[1]:
            raise ValueError(f"Invalid eta values: {etas[0]}, {etas[1]}")
        check_flags("Rprop", foreach, None, differentiable)
        super().__init__(params, {"lr": lr, "etas": etas, "step_sizes": step_sizes,
                                  "foreach": foreach, "maximize": maximize,
                                  "differentiable": differentiable, "capturable": capturable})

    def new_state(self, p, group):
        step_size = _zeros_like(p)
        step_size._data += _scalar(group["lr"])
        return {"prev": _zeros_like(p), "step_size": step_size}

    def update(self, param, grad, state, group, step):
        xp = array_module(param)
        etaminus, etaplus = group["etas"]
        lo, hi = group["step_sizes"]
        sign = _sign(xp, grad * state["prev"])
        factor = xp.where(sign > 0, etaplus, xp.where(sign < 0, etaminus, 1.0))
        state["step_size"] *= factor.astype(param.dtype, copy=False)
        xp.clip(state["step_size"], lo, hi, out=state["step_size"])
        grad = xp.where(sign < 0, 0, grad).astype(param.dtype, copy=False)
        param -= _sign(xp, grad) * state["step_size"]
        state["prev"][...] = grad

