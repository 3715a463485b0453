"""The SGD update over a list of parameters, in place: PyTorch's formula exactly.

  sgd_step(params, grads, momentum_buffers, lr, momentum, dampening, weight_decay, nesterov,
           maximize) -> momentum_buffers

Lists of same-shaped arrays, one entry per parameter; a momentum buffer is None before the first
step with momentum (a copy of the gradient is made, as PyTorch does) and stays None without
momentum. For each parameter p with gradient g (torch.optim.sgd._single_tensor_sgd):

    g = -g if maximize;  g = g + weight_decay * p
    b = g (first step);  b = momentum * b + (1 - dampening) * g (later steps)
    g = g + momentum * b if nesterov else b
    p = p - lr * g

Versions (CPU):
  numba_v1  one loop per parameter, no temporaries (the reference makes lr * g, and more, as
            whole arrays: the peers' MLP's 784 x 256 weight took 36.6 us, the loop 18.9), for
            plain SGD and for momentum without dampening, weight decay, Nesterov or maximize
            (the rest: the reference). Compiled without fastmath, so each element sees the
            reference's IEEE operations in its order: the same bits.              <- default
"""
from __future__ import annotations

import numpy as np

from ._numba import HAVE_NUMBA, is_cpu_float, numba, numba_kernel
from ._xp import array_module
from .registry import reference


def _example(rng, which):
    shapes = [(784, 256), (256,), (256, 256), (10,)] if which == "bench" else [(3, 4), (5,), (1,)]
    params = [rng.standard_normal(s).astype("float32") for s in shapes]
    grads = [rng.standard_normal(s).astype("float32") for s in shapes]
    bufs = [rng.standard_normal(s).astype("float32") if which == "test" else None for s in shapes]
    return (params, grads, bufs), dict(lr=0.01, momentum=0.9 if which == "test" else 0.0,
                                       dampening=0.0, weight_decay=0.0, nesterov=False,
                                       maximize=False)


@reference("sgd_step", example=_example, rtol=1e-6, atol=1e-7)
def sgd_step(params, grads, momentum_buffers, lr, momentum, dampening, weight_decay, nesterov,
             maximize):
    """One SGD update of every parameter, in place; returns the momentum buffers (a new one where
    momentum starts, None without momentum)."""
    out = []
    for p, grad, buf in zip(params, grads, momentum_buffers):
        if maximize:
            grad = -grad
        if weight_decay != 0:
            grad = grad + weight_decay * p
        if momentum != 0:
            if buf is None:
                # an array even where grad is a NumPy scalar (-g or g + wd * p of a 0-d
                # parameter): a scalar buffer would be rebound, not updated, below
                buf = array_module(p).array(grad, dtype=p.dtype, copy=True)
            else:
                buf *= momentum
                if dampening != 0:
                    buf += (1 - dampening) * grad
                else:
                    buf += grad
            grad = grad + momentum * buf if nesterov else buf
        p -= lr * grad
        out.append(buf)
    return out


if HAVE_NUMBA:
    _exact = numba.njit(error_model="numpy", nogil=True, cache=True)

    @_exact
    def _plain(p, g, lr):
        for i in range(p.shape[0]):
            p[i] = p[i] - lr * g[i]

    @_exact
    def _with_momentum(p, g, b, lr, momentum):
        for i in range(p.shape[0]):
            bi = b[i] * momentum
            bi = bi + g[i]
            b[i] = bi
            p[i] = p[i] - lr * bi


@numba_kernel("sgd_step", impl="numba_v1", default=True)
def sgd_step_numba(params, grads, momentum_buffers, lr, momentum, dampening, weight_decay,
                   nesterov, maximize):
    if maximize or weight_decay != 0 or nesterov or (momentum != 0 and dampening != 0):
        return NotImplemented
    for p, g, b in zip(params, grads, momentum_buffers):
        if not is_cpu_float(p, g) or (b is not None and not is_cpu_float(p, b)):
            return NotImplemented
    out = []
    for p, g, b in zip(params, grads, momentum_buffers):
        dt = p.dtype.type
        if momentum == 0:
            _plain(p.reshape(-1), g.reshape(-1), dt(lr))
        elif b is None:                      # the first step: b = g
            b = g.copy()
            _plain(p.reshape(-1), b.reshape(-1), dt(lr))
        else:
            _with_momentum(p.reshape(-1), g.reshape(-1), b.reshape(-1), dt(lr), dt(momentum))
        out.append(b)
    return out
