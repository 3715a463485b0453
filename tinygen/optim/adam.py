"""Adam (Kingma & Ba 2015), its AMSGrad variant (Reddi et al. 2018) and AdamW (Loshchilov &
Hutter 2019), as PyTorch's `optim.Adam` / `optim.AdamW`.

For one parameter p with gradient g at step t (t = 1, 2, ...):

    g = -g if maximize
    p = p * (1 - lr * weight_decay)          AdamW (decoupled weight decay), or
    g = g + weight_decay * p                 Adam (L2 penalty folded into the gradient)
    m = m + (1 - beta1) * (g - m)            exp_avg       (= beta1 m + (1 - beta1) g)
    v = beta2 * v + (1 - beta2) * g * g      exp_avg_sq
    v_max = max(v_max, v)                    max_exp_avg_sq (amsgrad only; used in place of v)
    p = p - lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)

State per parameter: `step` (0-d float32 CPU tensor), `exp_avg`, `exp_avg_sq`, and
`max_exp_avg_sq` with amsgrad.
"""
from __future__ import annotations

from ..autograd.grad_mode import no_grad
from ..ops.optim import AdamStep
from ..tensor import Tensor
from .optimizer import (Optimizer, _check_grad, _scalar, _step_tensor, _zeros_like, check_flags,
                        check_hyperparameters)


class Adam(Optimizer):
    """Adam(params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, amsgrad=False, *,
    foreach=None, maximize=False, capturable=False, differentiable=False, fused=None,
    decoupled_weight_decay=False).

    weight_decay is an L2 penalty added to the gradient (decoupled, as AdamW, when
    `decoupled_weight_decay=True`). lr and betas may be Tensors (kept in the group, read as their
    values). `foreach`, `capturable` and `fused` are checked as in PyTorch and change nothing
    here; `differentiable=True` is not supported.
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
                 amsgrad=False, *, foreach=None, maximize=False, capturable=False,
                 differentiable=False, fused=None, decoupled_weight_decay=False):
        betas = _check_adam_args(lr, betas, eps, weight_decay, foreach, capturable)
        check_flags(type(self).__name__, foreach, fused, differentiable)
        defaults = {"lr": lr, "betas": betas, "eps": eps,
                    "weight_decay": weight_decay, "amsgrad": amsgrad, "maximize": maximize,
                    "foreach": foreach, "capturable": capturable,
                    "differentiable": differentiable, "fused": fused,
                    "decoupled_weight_decay": decoupled_weight_decay}
        super().__init__(params, defaults)

    _LOADED_GROUP_DEFAULTS = {"amsgrad": False, "maximize": False, "foreach": None,
                              "capturable": False, "differentiable": False,
                              "decoupled_weight_decay": False, "fused": None}

    @no_grad()
    def step(self, closure=None):
        """One update of every parameter that has a gradient. Returns the closure's loss."""
        loss = self._closure_loss(closure)
        name = type(self).__name__
        for group in self.param_groups:
            lr = _scalar(group["lr"])
            beta1, beta2 = (_scalar(b) for b in group["betas"])
            amsgrad = group.get("amsgrad", False)
            # one fused call per (step count, device) over all the group's parameters: AdamStep,
            # the kernel table's "adam_step" (kernels/adam.py: NumPy reference, numba, CUDA)
            batches = {}
            for i, p in enumerate(group["params"]):
                if p.grad is None:
                    continue
                grad = _check_grad(name, p, i)
                state = self.state[p]
                if len(state) == 0:
                    state["step"] = _step_tensor(fused=group.get("fused"))
                    state["exp_avg"] = _zeros_like(p)
                    state["exp_avg_sq"] = _zeros_like(p)
                    if amsgrad:
                        state["max_exp_avg_sq"] = _zeros_like(p)
                state["step"]._data += 1
                key = (float(state["step"]._data), p.device.type)
                lists = batches.setdefault(key, ([], [], [], [], []))
                for items, a in zip(lists, (p, grad, state["exp_avg"]._data,
                                            state["exp_avg_sq"]._data,
                                            state["max_exp_avg_sq"]._data if amsgrad else None)):
                    items.append(a)
                p._version[0] += 1
            for (step, _), (ps, gs, ms, vs, vmaxs) in batches.items():
                AdamStep.apply(*ps, grads=gs, exp_avgs=ms, exp_avg_sqs=vs,
                               max_exp_avg_sqs=vmaxs if amsgrad else None, step=step, lr=lr,
                               beta1=beta1, beta2=beta2, eps=group["eps"],
                               weight_decay=group["weight_decay"],
                               decoupled=group.get("decoupled_weight_decay", False),
                               amsgrad=amsgrad, maximize=group.get("maximize", False))
        return loss


class AdamW(Adam):
    """AdamW(params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2, amsgrad=False, *,
    maximize=False): Adam with decoupled weight decay, p <- p * (1 - lr * weight_decay)."""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2,
                 amsgrad=False, *, maximize=False, foreach=None, capturable=False,
                 differentiable=False, fused=None):
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                         amsgrad=amsgrad, foreach=foreach, maximize=maximize,
                         capturable=capturable, differentiable=differentiable, fused=fused,
                         decoupled_weight_decay=True)

    def __setstate__(self, state):
        super().__setstate__(state)
        for group in self.param_groups:        # AdamW is always decoupled, whatever was saved
            group["decoupled_weight_decay"] = True


def _check_adam_args(lr, betas, eps, weight_decay, foreach, capturable):
    """PyTorch's checks and messages, in its order; returns betas with 1-element Tensors made
    0-d (PyTorch's _to_scalar)."""
    if isinstance(lr, Tensor):
        if foreach and not capturable:
            raise ValueError("lr as a Tensor is not supported for capturable=False and "
                             "foreach=True")
    check_hyperparameters("Adam", lr=lr, eps=eps)
    for i in (0, 1):
        if not 0.0 <= _scalar(betas[i]) < 1.0:
            raise ValueError(f"Invalid beta parameter at index {i}: {betas[i]}")
    check_hyperparameters("Adam", weight_decay=weight_decay)
    if not (all(isinstance(b, float) for b in betas[:2])
            or all(isinstance(b, Tensor) for b in betas[:2])):
        raise ValueError("betas must be either both floats or both Tensors")
    for i in (0, 1):
        if isinstance(betas[i], Tensor):
            if foreach and not capturable:
                raise ValueError(f"betas[{i}] as a Tensor is not supported for "
                                 "capturable=False and foreach=True")
            if betas[i].numel() != 1:
                raise ValueError(f"Tensor betas[{i}] must be 1-element")
    return tuple(b.squeeze() if isinstance(b, Tensor) and b.ndim != 0 else b for b in betas)
