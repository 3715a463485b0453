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
from ..ops.optim import SGDStep
from ..tensor import Tensor
from .optimizer import Optimizer, _check_grad, _scalar, check_flags, check_hyperparameters


class SGD(Optimizer):
    """Stochastic gradient descent, optionally with momentum.

    SGD(params, lr=1e-3, momentum=0, dampening=0, weight_decay=0, nesterov=False, *,
        maximize=False)
    `foreach` and `fused` are accepted and checked as PyTorch checks them, and change nothing
    here (one code path); `differentiable=True` is not supported.
    """

    _LOADED_GROUP_DEFAULTS = {"nesterov": False, "maximize": False, "foreach": None,
                              "differentiable": False, "fused": False}

    def __init__(self, params, lr=1e-3, momentum=0, dampening=0, weight_decay=0, nesterov=False,
                 *, maximize=False, foreach=None, differentiable=False, fused=None):
        check_hyperparameters("SGD", lr=lr, momentum=momentum, weight_decay=weight_decay)
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")
        check_flags("SGD", foreach, fused, differentiable)
        defaults = {"lr": lr, "momentum": momentum, "dampening": dampening,
                    "weight_decay": weight_decay, "nesterov": nesterov, "maximize": maximize,
                    "foreach": foreach, "differentiable": differentiable, "fused": fused}
        super().__init__(params, defaults)

    @no_grad()
    def step(self, closure=None):
        """One update of every parameter that has a gradient. Returns the closure's loss."""
        loss = self._closure_loss(closure)
        for group in self.param_groups:
            momentum = group["momentum"]
            # one op per device over the group's parameters: SGDStep, the kernel table's
            # "sgd_step" (kernels/sgd.py: NumPy reference, numba)
            batches = {}
            for i, p in enumerate(group["params"]):
                if p.grad is None:
                    continue
                grad = _check_grad("SGD", p, i)
                buf = self.state[p].get("momentum_buffer") if momentum != 0 else None
                params, grads, bufs = batches.setdefault(p.device.type, ([], [], []))
                params.append(p)
                grads.append(grad)
                bufs.append(None if buf is None else buf._data)
            for params, grads, bufs in batches.values():
                new_bufs = list(bufs)
                SGDStep.apply(*params, grads=grads, momentum_buffers=new_bufs,
                              lr=_scalar(group["lr"]), momentum=momentum,
                              dampening=group["dampening"],
                              weight_decay=_scalar(group["weight_decay"]),
                              nesterov=group["nesterov"], maximize=group["maximize"])
                for p, old, new in zip(params, bufs, new_bufs):
                    p._version[0] += 1
                    if momentum != 0 and old is None:
                        self.state[p]["momentum_buffer"] = Tensor._make(new, None, 0, False)
        return loss
