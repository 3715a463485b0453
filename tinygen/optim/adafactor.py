"""Adafactor (Shazeer & Stern 2018, "Adafactor: Adaptive Learning Rates with Sublinear Memory
Cost"), as PyTorch's `optim.Adafactor` (torch/optim/_adafactor.py), update for update.

For one parameter p with gradient g at step t (t = 1, 2, ...):

    g = -g if maximize
    w = t ** beta2_decay                       the new gradient's weight (1 - beta2_hat_t)
    rho = min(lr, 1 / sqrt(t))                 relative step size (lr caps it, as in PyTorch)
    alpha = max(eps2, RMS(p)) * rho            RMS(p) = ||p||_2 / sqrt(numel), before the decay
    p = p * (1 - lr * weight_decay)            decoupled weight decay
    p with 2+ dims, (..., n, m): second moments factored over the last two dims
        R = lerp(R, mean(g^2, dim=-1), w)                  row_var (..., n, 1)
        C = lerp(C, mean(g^2, dim=-2), w)                  col_var (..., 1, m)
        V = R @ C / max(mean(R, dim=-2), eps1)             (..., n, m)
    p with 0 or 1 dim
        V = lerp(V, g^2, w)                                variance (p's shape)
    U = g / sqrt(max(V, eps1^2))
    p = p - alpha / max(1, RMS(U) / d) * U                 update clipping at threshold d

eps1=None means the machine epsilon of the parameter's dtype; as in PyTorch it is taken from the
first parameter of a group that has a gradient and kept for the rest of that group's step.
State per parameter (PyTorch's keys and shapes): `step` (0-d CPU tensor of the scalar dtype), and
`row_var` and `col_var` (2+ dims) or `variance` (0 or 1 dim).

Where PyTorch differs: `foreach` is accepted and changes nothing (one code path; PyTorch's
foreach path computes the same update up to round-off); tinygen has no complex dtype nor sparse
gradients, which PyTorch's Adafactor refuses.
"""
from __future__ import annotations

import numpy as np

from ..autograd.grad_mode import no_grad
from ..backend.device import array_module
from ..tensor import Tensor
from .optimizer import Optimizer, _check_grad, _scalar, _step_tensor


def adafactor_update(param, grad, row_var, col_var, variance, *, step, lr, beta2_decay, eps1,
                     eps2, d, weight_decay):
    """One Adafactor step for one parameter, on arrays (numpy or cupy), updated in place.

    param, grad: arrays of one shape and dtype (grad already negated for maximize; not
    modified). row_var (..., n, 1) and col_var (..., 1, m) for a parameter of 2+ dims, else
    variance (param's shape); the others None. step: the step count after this step (float).
    """
    xp = array_module(param)
    dtype = param.dtype.type
    weight = step ** beta2_decay
    rho = min(lr, 1 / step ** 0.5)
    alpha = max(eps2, float(_norm(param)) / param.size ** 0.5) * rho
    if weight_decay != 0:
        param *= dtype(1 - lr * weight_decay)
    if grad.ndim > 1:
        # mean(g * g) over a dim, as PyTorch: the norm along it, squared, over its length
        _lerp_(row_var, _norm(grad, axis=-1) ** 2 / grad.shape[-1], weight)
        _lerp_(col_var, _norm(grad, axis=-2) ** 2 / grad.shape[-2], weight)
        var_estimate = xp.matmul(row_var, col_var)           # (..., n, 1) @ (..., 1, m)
        var_estimate /= xp.maximum(row_var.mean(axis=-2, keepdims=True), dtype(eps1))
    else:
        _lerp_(variance, grad * grad, weight)
        var_estimate = variance.copy()                        # the update must not touch V
    # eps1 squared under the square root keeps its magnitude: U = g / max(sqrt(V), eps1)
    update = xp.maximum(var_estimate, dtype(eps1 * eps1), out=var_estimate)
    update = xp.divide(dtype(1), xp.sqrt(update, out=update), out=update)
    update *= grad
    denom = max(1.0, float(_norm(update)) / (update.size ** 0.5 * d))
    update *= dtype(-alpha / denom)
    param += update


def _norm(x, axis=None):
    """The 2-norm of x (over `axis`, kept as a size-1 dim), accumulated in at least float32 and
    rounded to x's dtype, as PyTorch's torch.norm returns it."""
    xp = array_module(x)
    acc = xp.promote_types(x.dtype, xp.float32)
    squares = xp.square(x.astype(acc, copy=False))
    total = squares.sum() if axis is None else squares.sum(axis=axis, keepdims=True)
    return xp.sqrt(total).astype(x.dtype)


def _lerp_(start, end, weight):
    """start.lerp_(end, weight) with a Python weight, PyTorch's formula: weight read in start's
    dtype, and from the nearer end (start + w (end - start) below 0.5, else
    end - (1 - w) (end - start))."""
    dtype = start.dtype.type
    weight = dtype(weight)
    diff = end - start
    if abs(weight) < 0.5:
        diff *= weight
        start += diff
    else:
        diff *= dtype(1) - weight
        start[...] = end - diff


class Adafactor(Optimizer):
    """Adafactor(params, lr=1e-2, beta2_decay=-0.8, eps=(None, 1e-3), d=1.0, weight_decay=0.0, *,
    foreach=None, maximize=False).

    lr caps the relative step size (rho_t = min(lr, 1/sqrt(t))) and scales the decoupled weight
    decay; it may be a 1-element Tensor (read as its value). State dicts have PyTorch's layout,
    so a PyTorch Adafactor's state dict loads here and back.

        opt = tg.optim.Adafactor(model.parameters(), lr=1e-2, weight_decay=1e-2)
    """

    _LOADED_GROUP_DEFAULTS = {"foreach": None}

    def __init__(self, params, lr=1e-2, beta2_decay=-0.8, eps=(None, 1e-3), d=1.0,
                 weight_decay=0.0, *, foreach=None, maximize=False):
        _check_adafactor_args(lr, beta2_decay, eps, d, weight_decay)
        defaults = {"lr": lr, "beta2_decay": beta2_decay, "eps": eps, "d": d,
                    "weight_decay": weight_decay, "foreach": foreach, "maximize": maximize}
        super().__init__(params, defaults)

    def _state_shape(self, param, key):
        """row_var keeps the parameter's shape with its last dim 1, col_var with its
        second-to-last dim 1 (parameters of 2+ dims)."""
        shape = list(param.shape)
        if len(shape) > 1 and key in ("row_var", "col_var"):
            shape[-1 if key == "row_var" else -2] = 1
        return tuple(shape)

    def _new_state(self, p):
        """step 0; the factored second moments of a parameter of 2+ dims, else its variance."""
        xp = array_module(p._data)
        state = {"step": _step_tensor()}
        if p.ndim > 1:
            for key in ("row_var", "col_var"):
                state[key] = Tensor._make(xp.zeros(self._state_shape(p, key), p._data.dtype),
                                          None, 0, False)
        else:
            state["variance"] = Tensor._make(xp.zeros_like(p._data), None, 0, False)
        return state

    @no_grad()
    def step(self, closure=None):
        """One update of every parameter that has a gradient. Returns the closure's loss."""
        loss = self._closure_loss(closure)
        for group in self.param_groups:
            eps1, eps2 = group["eps"]
            lr = _scalar(group["lr"])
            for i, p in enumerate(group["params"]):
                if p.grad is None:
                    continue
                grad = _check_grad("Adafactor", p, i)
                if group.get("maximize", False):
                    grad = -grad
                state = self.state[p]
                if len(state) == 0:
                    state.update(self._new_state(p))
                if eps1 is None:            # PyTorch: the first such parameter's, for the group
                    eps1 = float(np.finfo(p._data.dtype).eps)
                state["step"]._data += 1
                arrays = [state[k]._data if k in state else None
                          for k in ("row_var", "col_var", "variance")]
                adafactor_update(p._data, grad, *arrays, step=float(state["step"]._data),
                                 lr=lr, beta2_decay=group["beta2_decay"], eps1=eps1, eps2=eps2,
                                 d=group["d"], weight_decay=group["weight_decay"])
                p._version[0] += 1
        return loss


def _check_adafactor_args(lr, beta2_decay, eps, d, weight_decay):
    """PyTorch's checks and messages, in its order."""
    if isinstance(lr, Tensor) and lr.numel() != 1:
        raise ValueError("Tensor lr must be 1-element")
    if not 0.0 <= _scalar(lr):
        raise ValueError(f"Learning rate should be >= 0 but is: {lr}")
    if not 0.0 >= beta2_decay:
        raise ValueError(f"beta2_decay should be <= 0 but is: {beta2_decay}")
    if eps[0] is not None and not 0.0 <= eps[0]:
        raise ValueError(f"epsilon1 should be >= 0 but is: {eps[0]}")
    if not 0.0 <= eps[1]:
        raise ValueError(f"epsilon2 should be >= 0 but is: {eps[1]}")
    if not 1.0 <= d:
        raise ValueError(f"Clipping threshold d should be >= 1 but is: {d}")
    if not 0.0 <= weight_decay:
        raise ValueError(f"weight_decay should be >= 0 but is: {weight_decay}")
