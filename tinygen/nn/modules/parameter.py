"""Parameter: a Tensor that a Module registers as a parameter when assigned as an attribute.

    self.scale = nn.Parameter(tg.ones(1))     # in a Module's __init__: now in parameters()

A subclass of Tensor with no extra state, so `isinstance(p, Parameter)` tells parameters apart;
ops on a Parameter return plain Tensors (Tensor._make builds Tensors, never Parameters).
"""
from __future__ import annotations

from ...creation import empty, tensor
from ...tensor import Tensor


class Parameter(Tensor):
    """A Tensor that a Module registers as a parameter when assigned as an attribute.

    Parameter(data) shares data's storage (as PyTorch does) and requires grad by default.
    Results of ops on a Parameter are plain Tensors.
    """

    __slots__ = ()

    def __init__(self, data=None, requires_grad=True):
        if data is None:
            data = empty(0)
        if not isinstance(data, Tensor):
            data = tensor(data)
        self._data = data._data
        self._grad_fn = None
        self._out_idx = 0
        self._requires_grad = False
        self.grad = None
        self._version = data._version
        self._hooks = None
        if requires_grad:
            self.requires_grad = True

    def __repr__(self):
        return "Parameter containing:\n" + super().__repr__()

    def __deepcopy__(self, memo):
        """A new Parameter with a copy of the data and no .grad, as PyTorch's (a copied model
        starts without gradients)."""
        if id(self) in memo:
            return memo[id(self)]
        result = Parameter(self.detach().clone(), self.requires_grad)
        memo[id(self)] = result
        return result

    def __reduce_ex__(self, protocol):
        return (Parameter, (self.detach(), self.requires_grad))
