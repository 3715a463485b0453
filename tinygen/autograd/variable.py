"""What autograd takes for a tensor: the legacy `Variable` wrapper and `is_tensor_like`.

    v = tg.autograd.Variable(x, requires_grad=True)   # a Tensor: x's data, a fresh leaf
    isinstance(x, tg.autograd.Variable)               # True for every Tensor, as in PyTorch
    tg.autograd.variable(...)                         # RuntimeError: use tg.tensor(...)

Variable was PyTorch's graph-carrying wrapper before 0.4 merged it into Tensor; today (and here)
calling it gives a Tensor, and the class exists so that old `isinstance` checks and
`Variable(x, requires_grad=True)` lines keep working. This module sits below tensor.py: it reads
the Tensor class through the seam of function.py (`function.Tensor`, set when tensor.py loads).
"""
from __future__ import annotations

import warnings

from . import function as _function


class VariableMeta(type):
    """isinstance(obj, Variable) is isinstance(obj, Tensor), as PyTorch's VariableMeta."""

    def __instancecheck__(cls, other):
        return isinstance(other, _function.Tensor)


class Variable(metaclass=VariableMeta):
    """Variable(data=None, requires_grad=False, volatile=False) -> Tensor.

    A new leaf on data's memory (data.detach(), then requires_grad set): it has no grad_fn even
    when data has one, as PyTorch's. Variable() is an empty float tensor of shape (0,);
    volatile is accepted with PyTorch's warning and has no effect (use `tg.no_grad()`)."""

    def __new__(cls, data=None, requires_grad=False, volatile=False):
        if volatile:
            warnings.warn("volatile was removed and now has no effect. Use `with "
                          "torch.no_grad():` instead.", UserWarning, stacklevel=2)
        Tensor = _function.Tensor
        if data is None:
            return Tensor([], requires_grad=bool(requires_grad))
        if not isinstance(data, Tensor):
            raise TypeError(f"Variable data has to be a tensor, but got "
                            f"{type(data).__name__}")
        out = data.detach()
        if requires_grad:
            out.requires_grad_(True)
        return out


def variable(*args, **kwargs):
    """Removed from PyTorch (it raises there too): use tg.tensor(...). `variable.Variable` is
    the Variable class, as PyTorch keeps it for torch.fx's generated code."""
    raise RuntimeError("torch.autograd.variable(...) is deprecated, use torch.tensor(...) "
                       "instead (tinygen: tg.tensor(...))")


variable.Variable = Variable


def is_tensor_like(inp):
    """Whether inp is a Tensor (a subclass such as nn.Parameter too) or an object that
    implements `__torch_function__` (PyTorch's protocol for tensor-like types).

    Where tinygen differs: PyTorch tests `type(inp) is Tensor` and then `__torch_function__`,
    which every Tensor subclass inherits there; tinygen's Tensor has no such method, so
    subclasses are found by isinstance instead. The result is the same for instances."""
    return isinstance(inp, _function.Tensor) or hasattr(inp, "__torch_function__")
