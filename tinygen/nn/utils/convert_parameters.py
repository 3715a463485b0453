"""Flat parameter vectors, as torch.nn.utils.convert_parameters.

    vec = nn.utils.parameters_to_vector(model.parameters())    # (P,), in the graph
    nn.utils.vector_to_parameters(vec * 0.5, model.parameters())
"""
from __future__ import annotations

from ...autograd.grad_mode import no_grad
from ...ops.shape import cat
from ...tensor import Tensor
from .clip_grad import as_list


def parameters_to_vector(parameters):
    """All parameters flattened and concatenated into one 1-D tensor (in the graph).
    parameters: an iterable of tensors, or one tensor taken as [tensor] (PyTorch iterates one
    tensor's first dim instead: a deliberate difference)."""
    params = as_list(parameters)
    if not params:
        raise ValueError("parameters_to_vector: got no parameters")
    device = params[0].device
    for p in params:
        if p.device != device:
            raise TypeError(f"parameters_to_vector: found parameters on {device} and "
                            f"{p.device}; move them to one device first")
    return cat([p.reshape(-1) for p in params])


def vector_to_parameters(vec, parameters):
    """Copy consecutive slices of the 1-D tensor vec into the parameters, in place. Deliberate
    differences: a vec of another size, or not 1-D, is a ValueError (PyTorch ignores extra
    entries, slices the rows of a 2-D vec, and a short vec fails in its view() with a
    RuntimeError), and one tensor is taken as [tensor] (PyTorch assigns into its rows'
    temporary views, which changes nothing)."""
    if not isinstance(vec, Tensor):
        raise TypeError(f"expected vec to be a Tensor, but got {type(vec).__name__}")
    if vec.ndim != 1:
        raise ValueError(f"vector_to_parameters: vec must be 1-D, got shape {tuple(vec.shape)}")
    params = as_list(parameters)
    total = sum(p.numel() for p in params)
    if vec.numel() != total:
        raise ValueError(f"vector_to_parameters: vec has {vec.numel()} elements but the "
                         f"parameters have {total}")
    offset = 0
    with no_grad():
        for p in params:
            n = p.numel()
            p.copy_(vec[offset:offset + n].reshape(p.shape))
            offset += n
