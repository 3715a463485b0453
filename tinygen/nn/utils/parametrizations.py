"""Parametrizations, as torch.nn.utils.parametrize and torch.nn.utils.parametrizations: a tensor
of a module recomputed from "original" tensors by a small module each time it is read.

    lin = parametrizations.weight_norm(nn.Linear(20, 40))     # weight = g * v / ||v||
    disc = parametrizations.spectral_norm(nn.Conv2d(3, 64, 4))
    lin.parametrizations.weight.original0                     # g (original1: v)
    parametrize.remove_parametrizations(lin, "weight")        # a plain Parameter again

register_parametrization swaps the module's class for a subclass "Parametrized<Name>" with a
property for the tensor (as PyTorch); the originals live in module.parametrizations[name], so
the state_dict keys are PyTorch's (parametrizations.weight.original, or original0, original1
where right_inverse returns a tuple; spectral norm's buffers parametrizations.weight.0._u, _v).
parametrize.cached() computes each parametrized tensor once per block. Not here: the
load_state_dict hook that reads weight_norm's old weight_g / weight_v keys. The hook-based
weight_norm / spectral_norm are in reparametrize.py.
"""
from __future__ import annotations

import contextlib

from ...autograd.grad_mode import no_grad
from ...ops.norm import normalize
from ...tensor import Tensor
from ..modules.container import ModuleDict, ModuleList
from ..modules.module import Module
from ..modules.parameter import Parameter
from .reparametrize import _norm_except_dim


def _register_tensor(module, name, t):
    if isinstance(t, Parameter):
        module.register_parameter(name, t)
    else:
        module.register_buffer(name, t)


def _set_data(dst, src):
    """dst takes src's values, keeping its identity (optimisers hold it); PyTorch's set_."""
    if tuple(dst.shape) == tuple(src.shape) and dst.dtype == src.dtype:
        dst.copy_(src)
    else:
        dst.data = src.detach()


class ParametrizationList(ModuleList):
    """The parametrizations of one tensor, applied in order to the originals (`original`, or
    `original0`, `original1`... when the first right_inverse returns a tuple)."""

    def __init__(self, modules, original, unsafe=False):
        super().__init__(modules)
        self.unsafe = unsafe
        with no_grad():
            new = original
            for module in reversed(list(self)):
                if hasattr(module, "right_inverse"):
                    new = module.right_inverse(new)
        self.is_tensor = isinstance(new, Tensor)
        if not self.is_tensor and not (isinstance(new, (list, tuple))
                                       and all(isinstance(t, Tensor) for t in new)):
            raise ValueError("'right_inverse' must return a Tensor or a Sequence of tensors "
                             f"(list, tuple...). Got {type(new).__name__}")
        self.ntensors = 1 if self.is_tensor else len(new)
        if self.is_tensor:
            if not unsafe:
                _check_same("right_inverse's output", new, "the original", original)
            with no_grad():
                _set_data(original, new)
            _register_tensor(self, "original", original)
        else:
            for i, t in enumerate(new):
                t = t.detach()
                if isinstance(original, Parameter):
                    t = Parameter(t, original.requires_grad)
                _register_tensor(self, f"original{i}", t)
        if not unsafe:
            _check_same("the parametrized tensor", self(), "the unparametrized one", original)

    def right_inverse(self, value):
        """Assignment to the parametrized tensor: store right_inverse(value) in the originals."""
        with no_grad():
            for module in reversed(list(self)):
                if not hasattr(module, "right_inverse"):
                    raise RuntimeError(f"parametrization {type(module).__name__} does not "
                                       "implement right_inverse.")
                value = module.right_inverse(value)
            if self.is_tensor:
                if not isinstance(value, Tensor) or value.dtype != self.original.dtype:
                    raise ValueError(f"When `right_inverse` outputs one tensor, it may not "
                                     f"change the dtype: original {self.original.dtype}, "
                                     f"right_inverse's output {getattr(value, 'dtype', value)}")
                _set_data(self.original, value)
            else:
                for i, v in enumerate(value):
                    _set_data(getattr(self, f"original{i}"), v)

    def forward(self):
        mods = list(self)
        if self.is_tensor:
            x = mods[0](self.original)
        else:
            x = mods[0](*(getattr(self, f"original{i}") for i in range(self.ntensors)))
        for module in mods[1:]:
            x = module(x)
        return x


def _check_same(what, new, than, old):
    """Without unsafe=True a parametrization keeps the tensor's dtype and shape (ValueError)."""
    if not isinstance(new, Tensor):
        raise ValueError(f"A parametrization must return a tensor: {what} is a "
                         f"{type(new).__name__}")
    if new.dtype != old.dtype or tuple(new.shape) != tuple(old.shape):
        raise ValueError(f"Registering a parametrization may not change the dtype or shape of "
                         f"the tensor, unless `unsafe` flag is enabled: {what} is "
                         f"{new.dtype} {tuple(new.shape)}, {than} {old.dtype} "
                         f"{tuple(old.shape)}")


_CACHE = {"depth": 0, "values": {}}


@contextlib.contextmanager
def cached():
    """Within the block, each parametrized tensor is computed once, at its first read, and that
    value (in the graph) is returned by every later read (PyTorch's parametrize.cached)."""
    _CACHE["depth"] += 1
    try:
        yield
    finally:
        _CACHE["depth"] -= 1
        if not _CACHE["depth"]:
            _CACHE["values"].clear()


def is_parametrized(module, tensor_name=None):
    """Whether module has any parametrization (or one on tensor_name)."""
    params = module.__dict__.get("_modules", {}).get("parametrizations")
    if not isinstance(params, ModuleDict):
        return False
    return len(params) > 0 if tensor_name is None else tensor_name in params._modules


def type_before_parametrizations(module):
    """The module's class before register_parametrization swapped it."""
    return type(module).__bases__[0] if is_parametrized(module) else type(module)


def _inject_property(module, tensor_name):
    def get_parametrized(self):
        if not _CACHE["depth"]:
            return self.parametrizations[tensor_name]()
        key = (id(self), tensor_name)               # (the module is kept alive with its value)
        if key not in _CACHE["values"]:
            _CACHE["values"][key] = (self, self.parametrizations[tensor_name]())
        return _CACHE["values"][key][1]

    def set_original(self, value):
        self.parametrizations[tensor_name].right_inverse(value)
    setattr(type(module), tensor_name, property(get_parametrized, set_original))


def register_parametrization(module, tensor_name, parametrization, *, unsafe=False):
    """Reading module.<tensor_name> now returns parametrization(original); a second call on the
    same name chains after the first. Returns module."""
    parametrization.train(module.training)
    if is_parametrized(module, tensor_name):
        plist = module.parametrizations[tensor_name]
        if not unsafe:
            current = getattr(module, tensor_name)
            new = parametrization(current)
            _check_same("the new parametrization's output", new, "its input", current)
            if hasattr(parametrization, "right_inverse"):
                _check_same("its right_inverse's output", parametrization.right_inverse(new),
                            "its input", new)
        plist.unsafe = plist.unsafe or unsafe
        plist.append(parametrization)
        return module
    if tensor_name not in module._parameters and tensor_name not in module._buffers:
        raise ValueError(f"Module '{module}' does not have a parameter, a buffer, or a "
                         f"parametrized element with name '{tensor_name}'")
    plist = ParametrizationList([parametrization], getattr(module, tensor_name), unsafe=unsafe)
    delattr(module, tensor_name)
    if not is_parametrized(module):
        cls = type(module)
        module.__class__ = type(f"Parametrized{cls.__name__}", (cls,), {})
        module.parametrizations = ModuleDict()
    _inject_property(module, tensor_name)
    module.parametrizations[tensor_name] = plist
    return module


def remove_parametrizations(module, tensor_name, leave_parametrized=True):
    """Undo register_parametrization: module.<tensor_name> becomes a plain parameter / buffer
    again, holding the parametrized value (leave_parametrized) or the original. Returns
    module."""
    if not is_parametrized(module, tensor_name):
        raise ValueError(f"Module {module} does not have a parametrization on {tensor_name}")
    plist = module.parametrizations[tensor_name]
    if plist.is_tensor:
        original = plist.original
        if leave_parametrized:
            value = getattr(module, tensor_name)
            if value.dtype != original.dtype:              # (PyTorch's set_ refuses it)
                raise RuntimeError(f"remove_parametrizations: cannot leave {tensor_name!r} "
                                   f"parametrized: its value is {value.dtype}, the original "
                                   f"{original.dtype}; use leave_parametrized=False")
            with no_grad():
                _set_data(original, value)
    elif leave_parametrized:
        t = getattr(module, tensor_name).detach()
        original = Parameter(t, plist.original0.requires_grad) \
            if isinstance(plist.original0, Parameter) else t
    else:
        raise ValueError("Cannot leave unparametrized (`leave_parametrized=False`) a tensor "
                         "that is parametrized in terms of a sequence of tensors.")
    delattr(type(module), tensor_name)
    del module.parametrizations[tensor_name]
    _register_tensor(module, tensor_name, original)
    if not is_parametrized(module):
        delattr(module, "parametrizations")
        module.__class__ = type(module).__bases__[0]
    return module


class _WeightNorm(Module):
    def __init__(self, dim=0):
        super().__init__()
        self.dim = -1 if dim is None else dim

    def forward(self, weight_g, weight_v):
        return weight_v * (weight_g / _norm_except_dim(weight_v, self.dim))

    def right_inverse(self, weight):
        return _norm_except_dim(weight, self.dim).detach(), weight


def weight_norm(module, name="weight", dim=0):
    """module.<name> = g * v / ||v|| (norm over every dim but `dim`; None: over all), with
    g = parametrizations.<name>.original0 and v = original1. Returns module."""
    return register_parametrization(module, name, _WeightNorm(dim), unsafe=True)


class _SpectralNorm(Module):
    def __init__(self, weight, n_power_iterations=1, dim=0, eps=1e-12):
        super().__init__()
        ndim = weight.ndim
        if dim >= ndim or dim < -ndim:
            raise IndexError("Dimension out of range (expected to be in range of "
                             f"[-{ndim}, {ndim - 1}] but got {dim})")
        if n_power_iterations <= 0:
            raise ValueError("Expected n_power_iterations to be positive, but got "
                             f"n_power_iterations={n_power_iterations}")
        self.dim, self.eps = dim % ndim, eps
        if ndim > 1:
            self.n_power_iterations = n_power_iterations
            with no_grad():
                mat = self._matrix(weight)
                h, w = mat.shape
                self.register_buffer("_u", normalize(mat.new_empty(h).normal_(0, 1), dim=0,
                                                     eps=eps))
                self.register_buffer("_v", normalize(mat.new_empty(w).normal_(0, 1), dim=0,
                                                     eps=eps))
            self._power_method(mat, 15)

    def _matrix(self, weight):
        """The weight as a (size(dim), -1) matrix."""
        if self.dim != 0:
            weight = weight.movedim(self.dim, 0)
        return weight.reshape(weight.shape[0], -1)

    def _power_method(self, mat, n_power_iterations):
        with no_grad():
            for _ in range(n_power_iterations):
                self._u.copy_(normalize(mat.mv(self._v), dim=0, eps=self.eps))
                self._v.copy_(normalize(mat.t().mv(self._u), dim=0, eps=self.eps))

    def forward(self, weight):
        if weight.ndim == 1:
            return normalize(weight, dim=0, eps=self.eps)
        mat = self._matrix(weight)
        if self.training:
            self._power_method(mat, self.n_power_iterations)
        sigma = self._u.clone().dot(mat.mv(self._v.clone()))      # u^T W v
        return weight / sigma

    def right_inverse(self, value):
        return value


def spectral_norm(module, name="weight", n_power_iterations=1, eps=1e-12, dim=None):
    """module.<name> = W / sigma(W), sigma estimated by power iteration on W as a
    (size(dim), -1) matrix: 15 steps at registration, n_power_iterations per read in training
    mode. dim None: 1 for transposed convolutions, else 0. Returns module."""
    weight = getattr(module, name, None)
    if not isinstance(weight, Tensor):
        raise ValueError(f"Module '{module}' has no parameter or buffer with name '{name}'")
    if dim is None:
        dim = 1 if type(module).__name__.startswith("ConvTranspose") else 0
    return register_parametrization(module, name,
                                    _SpectralNorm(weight, n_power_iterations, dim, eps))


__all__ = ["weight_norm", "spectral_norm", "register_parametrization", "cached",
           "remove_parametrizations", "is_parametrized", "type_before_parametrizations",
           "ParametrizationList"]
