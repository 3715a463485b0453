"""Weight reparametrisations, as torch.nn.utils' weight_norm and spectral_norm (the hook-based
forms, with their state-dict keys: weight_g / weight_v, and weight_orig / weight_u / weight_v).

    layer = nn.utils.weight_norm(nn.Linear(20, 40))      # weight = g * v / ||v||
    disc = nn.utils.spectral_norm(nn.Conv2d(3, 64, 4))   # weight = W / sigma(W), each forward

The original weight is replaced by new parameters (and, for spectral_norm, buffers); a forward
pre-hook recomputes `module.<name>` from them before each forward, inside the graph, so the
gradients flow to g and v (or to weight_orig).
  weight norm (Salimans & Kingma 2016): w = g v / ||v||, the norm over every dim but `dim`.
  spectral norm (Miyato et al. 2018): w = W / sigma, sigma = u^T W v estimated by power
  iteration on W as a (size(dim), -1) matrix, one step per training forward (u, v buffers,
  updated without gradient).
"""
from __future__ import annotations

from ...autograd.grad_mode import no_grad
from ...ops.norm import normalize
from ..modules.module import Module
from ..modules.parameter import Parameter


def _norm_except_dim(v, dim):
    """||v|| over every dim but `dim`, shaped to broadcast against v; dim None or -1: over all
    dims (PyTorch's meaning of -1 here)."""
    if dim is None or dim == -1:
        return v.norm()
    if not -v.ndim <= dim < v.ndim:
        raise IndexError(f"Dimension out of range (expected to be in range of [-{v.ndim}, "
                         f"{v.ndim - 1}], but got {dim})")
    dim %= v.ndim
    axes = tuple(d for d in range(v.ndim) if d != dim)
    return v.norm(dim=axes, keepdim=True) if axes else v.abs()


class _WeightNorm:
    def __init__(self, name, dim):
        self.name, self.dim = name, dim

    def compute(self, module):
        g = getattr(module, self.name + "_g")
        v = getattr(module, self.name + "_v")
        return v * (g / _norm_except_dim(v, self.dim))

    def __call__(self, module, inputs):
        setattr(module, self.name, self.compute(module))


def weight_norm(module, name="weight", dim=0):
    """Replace module.<name> by <name>_g (its norm over every dim but `dim`) and <name>_v (its
    direction); the weight is recomputed as g * v / ||v|| before each forward. Returns module."""
    weight = _take_parameter(module, name, "weight_norm")
    fn = _WeightNorm(name, dim)
    with no_grad():
        module.register_parameter(name + "_g", Parameter(_norm_except_dim(weight, dim).detach()))
        module.register_parameter(name + "_v", Parameter(weight.detach()))
    setattr(module, name, fn.compute(module))
    module._reparametrizations = {**getattr(module, "_reparametrizations", {}),
                                  name: (fn, module.register_forward_pre_hook(fn))}
    return module


def remove_weight_norm(module, name="weight"):
    """Fold g and v back into one parameter module.<name>."""
    fn = _remove_hook(module, name, _WeightNorm, "weight_norm")
    weight = fn.compute(module).detach()
    del module._parameters[name + "_g"], module._parameters[name + "_v"]
    _restore(module, name, weight)
    return module


class _SpectralNorm:
    def __init__(self, name, n_power_iterations, dim, eps):
        self.name, self.n_power_iterations, self.dim, self.eps = (name, n_power_iterations, dim,
                                                                  eps)

    def matrix(self, weight):
        """The weight as a (size(dim), -1) matrix."""
        if self.dim != 0:
            weight = weight.movedim(self.dim, 0)
        return weight.reshape(weight.shape[0], -1)

    def compute(self, module, power_iteration):
        weight = getattr(module, self.name + "_orig")
        u, v = getattr(module, self.name + "_u"), getattr(module, self.name + "_v")
        mat = self.matrix(weight)
        if power_iteration:
            with no_grad():
                for _ in range(self.n_power_iterations):
                    v.copy_(normalize(mat.t().mv(u), dim=0, eps=self.eps))
                    u.copy_(normalize(mat.mv(v), dim=0, eps=self.eps))
        sigma = u.clone().dot(mat.mv(v.clone()))                   # u^T W v
        return weight / sigma

    def __call__(self, module, inputs):
        setattr(module, self.name, self.compute(module, module.training))


def spectral_norm(module, name="weight", n_power_iterations=1, eps=1e-12, dim=None):
    """Divide module.<name> by its largest singular value, estimated by power iteration (one
    step per training forward). dim: the output dim (default 0, 1 for transposed convolutions).
    Adds the parameter <name>_orig and the buffers <name>_u, <name>_v. Returns module."""
    if n_power_iterations <= 0:
        raise ValueError(f"spectral_norm: expected n_power_iterations to be positive, got "
                         f"n_power_iterations={n_power_iterations}")
    if dim is None:
        dim = 1 if type(module).__name__.startswith("ConvTranspose") else 0
    weight = _take_parameter(module, name, "spectral_norm")
    fn = _SpectralNorm(name, n_power_iterations, dim, eps)
    with no_grad():
        mat = fn.matrix(weight)
        u = normalize(weight.new_empty(mat.shape[0]).normal_(0, 1), dim=0, eps=eps)
        v = normalize(weight.new_empty(mat.shape[1]).normal_(0, 1), dim=0, eps=eps)
    module.register_parameter(name + "_orig", weight)
    setattr(module, name, weight.detach())
    module.register_buffer(name + "_u", u)
    module.register_buffer(name + "_v", v)
    module._reparametrizations = {**getattr(module, "_reparametrizations", {}),
                                  name: (fn, module.register_forward_pre_hook(fn))}
    return module


def remove_spectral_norm(module, name="weight"):
    """Replace the reparametrisation by a plain parameter holding the current normalised
    weight."""
    fn = _remove_hook(module, name, _SpectralNorm, "spectral_norm")
    with no_grad():
        weight = fn.compute(module, False).detach()
    del module._parameters[name + "_orig"]
    del module._buffers[name + "_u"], module._buffers[name + "_v"]
    _restore(module, name, weight)
    return module


def _take_parameter(module, name, op):
    if not isinstance(module, Module):
        raise TypeError(f"{op}: expected a Module, got {type(module).__name__}")
    if name in getattr(module, "_reparametrizations", {}):
        raise RuntimeError(f"{op}: cannot register two reparametrizations on parameter {name!r}")
    weight = module._parameters.get(name)
    if weight is None:
        raise AttributeError(f"{op}: module {type(module).__name__} has no parameter {name!r}")
    del module._parameters[name]
    return weight


def _remove_hook(module, name, kind, op):
    fn, handle = getattr(module, "_reparametrizations", {}).get(name, (None, None))
    if not isinstance(fn, kind):
        raise ValueError(f"{op} of {name!r} not found in {type(module).__name__}")
    handle.remove()
    del module._reparametrizations[name]
    return fn


def _restore(module, name, weight):
    object.__delattr__(module, name)               # the computed plain attribute
    module.register_parameter(name, Parameter(weight))
