"""Pruning, as torch.nn.utils.prune: the same names, the same masks, the same state dicts.

    prune.l1_unstructured(model.fc, "weight", amount=0.5)      # the 50% smallest |w| -> 0
    prune.ln_structured(model.conv, "weight", amount=2, n=2, dim=0)   # 2 output channels
    prune.global_unstructured([(model.fc1, "weight"), (model.fc2, "weight")],
                              pruning_method=prune.L1Unstructured, amount=0.9)
    prune.remove(model.fc, "weight")                           # make it permanent

Pruning a tensor `name` of a module reparametrises it, as PyTorch does:
- the parameter moves to `name + "_orig"` (the same Parameter object, so an optimiser that holds
  it keeps training it), and a buffer `name + "_mask"` (0. or 1., the parameter's dtype) holds
  the mask; the state dict then has PyTorch's keys (`weight_orig`, `weight_mask`), so it loads
  into a torch module pruned the same way, and back;
- `name` becomes a plain attribute `name_orig * name_mask`, recomputed by a forward pre-hook (the
  pruning method itself) before every forward: gradients reach `name_orig` through the mask
  (pruned entries get 0), so the mask survives training steps;
- pruning again combines the masks (a PruningContainer): the new amount is a fraction of the
  entries (or channels) still unpruned;
- `remove` writes `name_orig * name_mask` into the parameter and drops the reparametrisation.

Amounts: a float in [0, 1] is a fraction (the count is round(amount * n), Python's round, as in
PyTorch), an int a count. Ties between equal magnitudes go to the lower flat index (tinygen's
stable topk); PyTorch leaves tie order to its topk. Random methods draw from tinygen's generator,
so their masks differ from PyTorch's draws (the counts agree).
"""
from __future__ import annotations

import numbers
from abc import ABC, abstractmethod
from collections.abc import Iterable

from ...autograd.grad_mode import no_grad
from ...creation import ones_like, rand, rand_like, zeros_like
from ...ops.index import sort, topk
from .convert_parameters import parameters_to_vector

__all__ = ["BasePruningMethod", "PruningContainer", "Identity", "RandomUnstructured",
           "L1Unstructured", "RandomStructured", "LnStructured", "CustomFromMask", "identity",
           "random_unstructured", "l1_unstructured", "random_structured", "ln_structured",
           "global_unstructured", "custom_from_mask", "remove", "is_pruned"]


class BasePruningMethod(ABC):
    """A way of computing a mask; an instance is also the forward pre-hook of the module it
    prunes (`__call__` recomputes `name` from `name_orig` and `name_mask`)."""

    _tensor_name: str
    PRUNING_TYPE = "unstructured"          # "unstructured", "structured" or "global"

    def __call__(self, module, inputs):
        setattr(module, self._tensor_name, self.apply_mask(module))

    @abstractmethod
    def compute_mask(self, t, default_mask):
        """The new mask (t's shape) from importance scores t and the mask so far."""

    def apply_mask(self, module):
        """name_orig * name_mask: the pruned tensor (in the graph, so name_orig trains)."""
        mask = getattr(module, self._tensor_name + "_mask")
        orig = getattr(module, self._tensor_name + "_orig")
        return mask.to(orig.dtype) * orig

    @classmethod
    def apply(cls, module, name, *args, importance_scores=None, **kwargs):
        """Prune `module.name` with a new cls(*args, **kwargs), combined with any earlier pruning
        of the same tensor; returns the method (or container) that is now the hook."""
        method = _composite_method(cls, module, name, *args, **kwargs)
        orig = getattr(module, name)
        if importance_scores is not None:
            if tuple(importance_scores.shape) != tuple(orig.shape):
                raise ValueError(f"importance_scores should have the same shape as parameter "
                                 f"{name} of {type(module).__name__}: "
                                 f"{tuple(importance_scores.shape)} != {tuple(orig.shape)}")
        else:
            importance_scores = orig
        first = not isinstance(method, PruningContainer)
        if first:              # the parameter becomes name_orig (the same object)
            module.register_parameter(name + "_orig", orig)
            del module._parameters[name]
            default_mask = ones_like(orig)
        else:
            default_mask = getattr(module, name + "_mask").detach().clone()
        try:
            with no_grad():
                mask = method.compute_mask(importance_scores.detach(), default_mask=default_mask)
            module.register_buffer(name + "_mask", mask)
            setattr(module, name, method.apply_mask(module))
            module.register_forward_pre_hook(method)
        except Exception:
            if first:          # leave the module as it was
                module.register_parameter(name, module._parameters.pop(name + "_orig"))
            raise
        return method

    def prune(self, t, default_mask=None, importance_scores=None):
        """t with this method's mask applied (a new tensor; no module involved)."""
        scores = t if importance_scores is None else importance_scores
        default_mask = ones_like(t) if default_mask is None else default_mask
        with no_grad():
            mask = self.compute_mask(scores.detach(), default_mask=default_mask)
        return t * mask

    def remove(self, module):
        """Make the pruning permanent: `name` is a Parameter again, holding name_orig * mask."""
        with no_grad():
            weight = self.apply_mask(module)
        if self._tensor_name in module.__dict__:
            delattr(module, self._tensor_name)
        orig = module._parameters.pop(self._tensor_name + "_orig")
        orig.data = weight.data
        del module._buffers[self._tensor_name + "_mask"]
        setattr(module, self._tensor_name, orig)


def _composite_method(cls, module, name, *args, **kwargs):
    """A new cls method for module.name, in a PruningContainer with the hook already there."""
    old = [(k, h) for k, h in module._forward_pre_hooks.items()
           if isinstance(h, BasePruningMethod) and h._tensor_name == name]
    if len(old) > 1:
        raise RuntimeError(f"Avoid adding multiple pruning hooks to the same tensor {name} of "
                           f"module {module}. Use a PruningContainer.")
    for k, _ in old:
        del module._forward_pre_hooks[k]
    method = cls(*args, **kwargs)
    method._tensor_name = name
    if not old:
        return method
    old_method = old[0][1]
    if isinstance(old_method, PruningContainer):
        old_method.add_pruning_method(method)
        return old_method
    container = PruningContainer(old_method)
    container.add_pruning_method(method)
    return container


class PruningContainer(BasePruningMethod):
    """The successive pruning methods of one tensor. Its mask is the last method's, computed
    on the entries (unstructured) or channels (structured) the earlier masks kept."""

    def __init__(self, *args):
        self._pruning_methods = ()
        if len(args) == 1:
            self._tensor_name = args[0]._tensor_name
            self.add_pruning_method(args[0])
        else:
            for method in args:
                self.add_pruning_method(method)

    def add_pruning_method(self, method):
        if method is not None and not isinstance(method, BasePruningMethod):
            raise TypeError(f"{type(method)} is not a BasePruningMethod subclass")
        if method is not None and self._tensor_name != method._tensor_name:
            raise ValueError(f"Can only add pruning methods acting on the parameter named "
                             f"'{self._tensor_name}' to PruningContainer {self}. Found "
                             f"'{method._tensor_name}'")
        self._pruning_methods += (method,)

    def __len__(self):
        return len(self._pruning_methods)

    def __iter__(self):
        return iter(self._pruning_methods)

    def __getitem__(self, idx):
        return self._pruning_methods[idx]

    def compute_mask(self, t, default_mask):
        method = self._pruning_methods[-1]
        new_mask = default_mask.to(t.dtype).clone()
        slc = _kept_slice(method, t, default_mask)
        partial = method.compute_mask(t[slc], default_mask=default_mask[slc])
        new_mask[slc] = partial.to(new_mask.dtype)
        return new_mask


def _kept_slice(method, t, mask):
    """The index of what the mask so far kept, in the shape `method` prunes: the unpruned
    entries (a boolean mask), the channels with an unpruned entry along method.dim, or all."""
    if method.PRUNING_TYPE == "unstructured":
        return mask == 1
    if method.PRUNING_TYPE == "global":
        return (slice(None),) * t.ndim
    if method.PRUNING_TYPE != "structured":
        raise ValueError(f"Unrecognized PRUNING_TYPE {method.PRUNING_TYPE}")
    if not hasattr(method, "dim"):
        raise AttributeError("Pruning methods of PRUNING_TYPE 'structured' need to have the "
                             "attribute `dim` defined.")
    dim = method.dim + t.ndim if method.dim < 0 else method.dim
    if dim < 0:
        raise IndexError(f"Index is out of bounds for tensor of size {tuple(t.shape)}")
    keep_channel = mask.sum(dim=[d for d in range(t.ndim) if d != dim]) != 0
    slc = [slice(None)] * t.ndim
    slc[dim] = keep_channel
    return tuple(slc)


class Identity(BasePruningMethod):
    """Prunes nothing: the mask stays as it is (all ones at first)."""

    def compute_mask(self, t, default_mask):
        return default_mask

    @classmethod
    def apply(cls, module, name):
        return super().apply(module, name)


class RandomUnstructured(BasePruningMethod):
    """Prunes `amount` entries chosen uniformly at random."""

    def __init__(self, amount):
        _validate_pruning_amount_init(amount)
        self.amount = amount

    def compute_mask(self, t, default_mask):
        _validate_pruning_amount(self.amount, t.numel())
        count = _compute_nparams_toprune(self.amount, t.numel(), unstructured=True)
        return _zero_flat(default_mask, topk(rand_like(t).reshape(-1), count).indices, count)

    @classmethod
    def apply(cls, module, name, amount):
        return super().apply(module, name, amount=amount)


class L1Unstructured(BasePruningMethod):
    """Prunes the `amount` entries of smallest absolute value (magnitude pruning; Han et al.
    2015, "Learning both Weights and Connections for Efficient Neural Networks")."""

    def __init__(self, amount):
        _validate_pruning_amount_init(amount)
        self.amount = amount

    def compute_mask(self, t, default_mask):
        _validate_pruning_amount(self.amount, t.numel())
        count = _compute_nparams_toprune(self.amount, t.numel(), unstructured=True)
        smallest = topk(t.abs().reshape(-1), count, largest=False).indices
        return _zero_flat(default_mask, smallest, count)

    @classmethod
    def apply(cls, module, name, amount, importance_scores=None):
        return super().apply(module, name, amount=amount, importance_scores=importance_scores)


def _zero_flat(default_mask, flat_indices, count):
    """A copy of default_mask with the entries at flat_indices set to 0."""
    mask = default_mask.clone()
    if count:
        flat = mask.reshape(-1)
        flat[flat_indices] = 0
        mask = flat.reshape(default_mask.shape)
    return mask


class RandomStructured(BasePruningMethod):
    """Prunes `amount` whole channels along `dim`, chosen uniformly at random."""

    PRUNING_TYPE = "structured"

    def __init__(self, amount, dim=-1):
        _validate_pruning_amount_init(amount)
        self.amount = amount
        self.dim = dim

    def compute_mask(self, t, default_mask):
        size = _channels(t, self.dim)
        count = _compute_nparams_toprune(self.amount, size)
        _validate_pruning_amount(count, size)
        if count == 0:
            return default_mask
        prob = rand(size)
        threshold = sort(prob).values[count - 1]          # the count-th smallest (kthvalue)
        return _channel_mask(t, self.dim, prob > threshold) * default_mask.to(t.dtype)

    @classmethod
    def apply(cls, module, name, amount, dim=-1):
        return super().apply(module, name, amount=amount, dim=dim)


class LnStructured(BasePruningMethod):
    """Prunes the `amount` channels along `dim` of smallest L`n` norm (n: a number, inf, -inf
    or 'fro'), e.g. dim=0 of a Conv2d weight: whole output channels (Li et al. 2017, "Pruning
    Filters for Efficient ConvNets")."""

    PRUNING_TYPE = "structured"

    def __init__(self, amount, n, dim=-1):
        _validate_pruning_amount_init(amount)
        self.amount = amount
        self.n = n
        self.dim = dim

    def compute_mask(self, t, default_mask):
        size = _channels(t, self.dim)
        count = _compute_nparams_toprune(self.amount, size)
        _validate_pruning_amount(count, size)
        if count == 0:
            return default_mask
        dim = self.dim % t.ndim
        norm = t.norm(p=self.n, dim=tuple(d for d in range(t.ndim) if d != dim))   # (size,)
        keep = topk(norm, size - count, largest=True).indices
        return _channel_mask(t, dim, keep) * default_mask.to(t.dtype)

    @classmethod
    def apply(cls, module, name, amount, n, dim, importance_scores=None):
        return super().apply(module, name, amount=amount, n=n, dim=dim,
                             importance_scores=importance_scores)


def _channels(t, dim):
    """t.shape[dim] after PyTorch's checks for structured pruning."""
    if t.ndim <= 1:
        raise ValueError(f"Structured pruning can only be applied to multidimensional tensors. "
                         f"Found tensor of shape {tuple(t.shape)} with {t.ndim} dims")
    if dim >= t.ndim or dim < -t.ndim:
        raise IndexError(f"Invalid index {dim} for tensor of size {tuple(t.shape)}")
    return t.shape[dim]


def _channel_mask(t, dim, channels):
    """Zeros like t with ones in the chosen channels (indices or a boolean mask) along dim."""
    mask = zeros_like(t)
    slc = [slice(None)] * t.ndim
    slc[dim] = channels
    mask[tuple(slc)] = 1
    return mask


class CustomFromMask(BasePruningMethod):
    """Prunes where a given mask is 0."""

    PRUNING_TYPE = "global"

    def __init__(self, mask):
        self.mask = mask

    def compute_mask(self, t, default_mask):
        if tuple(default_mask.shape) != tuple(self.mask.shape):
            raise ValueError(f"custom_from_mask: the mask has shape {tuple(self.mask.shape)}, "
                             f"the tensor {tuple(default_mask.shape)}")
        return default_mask * self.mask.to(default_mask.dtype)

    @classmethod
    def apply(cls, module, name, mask):
        return super().apply(module, name, mask=mask)


# ---- the functional interface ----------------------------------------------------------------
def identity(module, name):
    """Reparametrise module.name with an all-ones mask (prunes nothing); returns module."""
    Identity.apply(module, name)
    return module


def random_unstructured(module, name, amount):
    """Prune `amount` random entries of module.name; returns module."""
    RandomUnstructured.apply(module, name, amount)
    return module


def l1_unstructured(module, name, amount, importance_scores=None):
    """Prune the `amount` entries of module.name with the smallest |value| (or importance
    score); returns module."""
    L1Unstructured.apply(module, name, amount=amount, importance_scores=importance_scores)
    return module


def random_structured(module, name, amount, dim):
    """Prune `amount` random channels of module.name along dim; returns module."""
    RandomStructured.apply(module, name, amount, dim)
    return module


def ln_structured(module, name, amount, n, dim, importance_scores=None):
    """Prune the `amount` channels of module.name along dim with the smallest Ln norm;
    returns module. n="fro" is the 2-norm of each channel at any rank (PyTorch's matrix_norm
    refuses a weight of more than 3 dims there: a deliberate difference)."""
    LnStructured.apply(module, name, amount, n, dim, importance_scores=importance_scores)
    return module


def global_unstructured(parameters, pruning_method, importance_scores=None, **kwargs):
    """Prune the (module, name) pairs together, as one vector: with L1Unstructured and
    amount=0.9, the 90% smallest |values| over all of them (so layers lose different shares).
    Each tensor ends up pruned by a CustomFromMask with its slice of the global mask."""
    if not isinstance(parameters, Iterable):
        raise TypeError("global_unstructured(): parameters is not an Iterable")
    parameters = list(parameters)
    importance_scores = {} if importance_scores is None else importance_scores
    if not isinstance(importance_scores, dict):
        raise TypeError("global_unstructured(): importance_scores must be of type dict")
    with no_grad():
        scores = parameters_to_vector([importance_scores.get((m, n), getattr(m, n)).detach()
                                       for m, n in parameters])
        default_mask = parameters_to_vector([getattr(m, n + "_mask") if hasattr(m, n + "_mask")
                                             else ones_like(getattr(m, n)) for m, n in parameters])
        container = PruningContainer()
        container._tensor_name = "temp"
        method = pruning_method(**kwargs)
        method._tensor_name = "temp"
        if method.PRUNING_TYPE != "unstructured":
            raise TypeError(f'Only "unstructured" PRUNING_TYPE supported for the '
                            f"`pruning_method`. Found method {pruning_method} of type "
                            f"{method.PRUNING_TYPE}")
        container.add_pruning_method(method)
        final_mask = container.compute_mask(scores, default_mask)
    pointer = 0
    for module, name in parameters:
        param = getattr(module, name)
        size = param.numel()
        custom_from_mask(module, name, final_mask[pointer:pointer + size].reshape(param.shape))
        pointer += size


def custom_from_mask(module, name, mask):
    """Prune module.name where `mask` is 0; returns module."""
    CustomFromMask.apply(module, name, mask)
    return module


def remove(module, name):
    """Make the pruning of module.name permanent (module.name is a Parameter again, its pruned
    entries 0) and drop name_orig, name_mask and the hook; returns module."""
    for k, hook in module._forward_pre_hooks.items():
        if isinstance(hook, BasePruningMethod) and hook._tensor_name == name:
            hook.remove(module)
            del module._forward_pre_hooks[k]
            return module
    raise ValueError(f"Parameter '{name}' of module {module} has to be pruned before pruning "
                     "can be removed")


def is_pruned(module):
    """True when module or any submodule has a pruning hook."""
    return any(isinstance(hook, BasePruningMethod) for _, m in module.named_modules()
               for hook in m._forward_pre_hooks.values())


def _validate_pruning_amount_init(amount):
    if not isinstance(amount, numbers.Real):
        raise TypeError(f"Invalid type for amount: {amount}. Must be int or float.")
    if (isinstance(amount, numbers.Integral) and amount < 0) or (
            not isinstance(amount, numbers.Integral) and not 0.0 <= float(amount) <= 1.0):
        raise ValueError(f"amount={amount} should either be a float in the range [0, 1] or a "
                         "non-negative integer")


def _validate_pruning_amount(amount, tensor_size):
    if isinstance(amount, numbers.Integral) and amount > tensor_size:
        raise ValueError(f"amount={amount} should be smaller than the number of parameters to "
                         f"prune={tensor_size}")


def _compute_nparams_toprune(amount, tensor_size, unstructured=False):
    """A count stays a count; a fraction is round(amount * size) (Python's round, as PyTorch).
    unstructured: amount=True is refused (a TypeError, as PyTorch's topk(k=True) in the
    unstructured methods; the structured ones count the kept channels and take it as 1)."""
    if amount is True and unstructured:
        raise TypeError("prune: amount=True is neither a count nor a fraction; pass an int or a "
                        "float")
    if isinstance(amount, numbers.Integral):
        return amount
    return round(amount * tensor_size)

