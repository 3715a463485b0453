"""Gradient clipping, as torch.nn.utils.clip_grad.

    loss.backward()
    nn.utils.clip_grad_norm_(model.parameters(), max_norm=1.0)   # returns the norm before clipping
    optimizer.step()
"""
from __future__ import annotations

import warnings

from ...autograd.grad_mode import no_grad
from ...creation import tensor
from ...ops.shape import stack
from ...tensor import Tensor


def as_list(parameters):
    """A Tensor, or an iterable of them, as a list (a generator is consumed once here)."""
    if isinstance(parameters, Tensor):
        return [parameters]
    return list(parameters)


def get_total_norm(tensors, norm_type=2.0, error_if_nonfinite=False, foreach=None):
    """The norm of all tensors together, as if concatenated into one vector (a 0-d tensor):
    the norm of their norms (-inf: the smallest |x|, 0: the count of non-zeros, as
    vector_norm's). foreach changes nothing here."""
    tensors = [t for t in as_list(tensors) if t is not None]
    norm_type = float(norm_type)
    if not tensors:
        return tensor(0.0)
    with no_grad():
        norms = [t.detach().norm(norm_type) for t in tensors]
        dtype = norms[0].dtype
        norms = stack([n.to(dtype) for n in norms])
        total = norms.norm(norm_type)
    if error_if_nonfinite and not bool(total.isfinite().all()):
        raise RuntimeError(
            f"The total norm of order {norm_type} for gradients from `parameters` is non-finite, "
            "so it cannot be clipped. To disable this error and scale the gradients by the "
            "non-finite norm anyway, set `error_if_nonfinite=False`")
    return total


def clip_grad_norm_(parameters, max_norm, norm_type=2.0, error_if_nonfinite=False,
                    foreach=None):
    """Scale all gradients together so that their joint norm is at most max_norm.

    Returns the total norm before clipping (a 0-d tensor). The scale is
    max_norm / (total_norm + 1e-6), clamped to 1, as in PyTorch."""
    params = as_list(parameters)
    grads = [p.grad for p in params if p.grad is not None]
    total = get_total_norm(grads, norm_type, error_if_nonfinite)
    if not grads:
        return total
    with no_grad():
        coef = (float(max_norm) / (total + 1e-6)).clamp(max=1.0)
        for g in grads:
            g.mul_(coef.to(g.dtype))
    return total


def clip_grad_value_(parameters, clip_value, foreach=None):
    """Clamp every gradient element to [-clip_value, clip_value] in place. Without any gradient
    it does nothing (PyTorch's foreach=False path raises an internal RuntimeError there)."""
    clip_value = float(clip_value)
    with no_grad():
        for p in as_list(parameters):
            if p.grad is not None:
                p.grad.clamp_(-clip_value, clip_value)


def clip_grads_with_norm_(parameters, max_norm, total_norm, foreach=None):
    """Scale the gradients by max_norm / (total_norm + 1e-6), clamped to 1 (the second half of
    clip_grad_norm_, for a total norm computed elsewhere)."""
    with no_grad():
        coef = (float(max_norm) / (total_norm + 1e-6)).clamp(max=1.0)
        for p in as_list(parameters):
            if p.grad is not None:
                p.grad.mul_(coef.to(p.grad.dtype))


def clip_grad_norm(parameters, max_norm, norm_type=2.0, error_if_nonfinite=False, foreach=None):
    """Deprecated spelling of clip_grad_norm_ (warns, as PyTorch)."""
    warnings.warn("nn.utils.clip_grad_norm is now deprecated in favor of "
                  "nn.utils.clip_grad_norm_.", FutureWarning, stacklevel=2)
    return clip_grad_norm_(parameters, max_norm, norm_type, error_if_nonfinite, foreach)

