"""Optimizer: the base class of every optimiser (PyTorch's `torch.optim.Optimizer`, same format).

An optimiser holds `param_groups` (a list of dicts: `"params"` plus hyper-parameters such as
`"lr"`, filled from `defaults`) and `state` (a dict keyed by the parameter Tensor itself, one dict
of state Tensors per parameter, created lazily on the first step that parameter has a gradient).

    opt = tg.optim.SGD([{"params": body.parameters()},
                        {"params": head.parameters(), "lr": 1e-2}], lr=1e-3, momentum=0.9)
    loss.backward(); opt.step(); opt.zero_grad()

`state_dict()` has PyTorch's layout, so a tinygen optimiser and a PyTorch one read each other's:

    {"state": {0: {"step": tensor(3.), "exp_avg": tensor(...), ...}, 1: {...}},
     "param_groups": [{"lr": 0.001, "betas": (0.9, 0.999), ..., "params": [0, 1]}]}

Parameters are numbered in the order they appear across groups. `step` is a 0-d CPU tensor of
PyTorch's scalar dtype: float32, or float64 while the default dtype is float64 (its value is read
as a Python float for the bias corrections). Hooks (step, state_dict, load_state_dict) as
PyTorch's: see _hooks.py.

Subclasses keep their per-parameter math in one array-level function (`rmsprop_update`; Adam's
and SGD's are the kernel table's fused `adam_step` and `sgd_step`): arrays in, arrays updated in
place, nothing else. `step()`
only gathers the arrays; that function is the seam where a fused kernel will plug in.

Where PyTorch differs: `differentiable=True` raises NotImplementedError (an update recorded by
autograd, for meta-learning, is not supported); `foreach`, `fused` and `capturable` are accepted
and checked as PyTorch checks them, and change nothing (one code path per device). A Tensor lr is
read as a Python float: PyTorch does the scalar arithmetic on it (lr / (1 - beta1^t), ...) in the
lr tensor's dtype, so with a float32 lr the two agree to float32 round-off of the step size.
"""
from __future__ import annotations

import copy
import itertools
import warnings
from collections import defaultdict

import numpy as np

from ..autograd.capture import replayed
from ..autograd.grad_mode import enable_grad, no_grad
from ..backend.device import array_module
from ..backend.dtypes import float64, get_default_dtype
from ..io.dlpack import from_dlpack
from ..tensor import Tensor
from ._hooks import OptimizerHooks, with_step_hooks
from ._hooks import register_optimizer_step_post_hook as register_optimizer_step_post_hook
from ._hooks import register_optimizer_step_pre_hook as register_optimizer_step_pre_hook


class _RequiredParameter:
    """Marks a hyper-parameter that has no default and must be given (PyTorch's `required`)."""

    def __repr__(self):
        return "<required parameter>"


required = _RequiredParameter()

# the options every optimiser's __setstate__ sets in PyTorch where a loaded group lacks them
LOADED_GROUP_DEFAULTS = {"foreach": None, "maximize": False, "differentiable": False}


class Optimizer(OptimizerHooks):
    """Base class: param groups, per-parameter state, `zero_grad`, `state_dict`, `load_state_dict`.

    params: an iterable of Tensors, of `(name, Tensor)` pairs, or of dicts (param groups; as in
    PyTorch, each dict is completed with the defaults in place and kept as the group).
    defaults: hyper-parameters used where a group does not give its own.
    """

    # options a state dict saved by an older PyTorch may lack: set in its groups on loading
    _LOADED_GROUP_DEFAULTS = {}

    def __init_subclass__(cls, **kwargs):
        """Each optimiser's step and zero_grad are effects of a captured step (tg.compile):
        replayed as calls, reading the step count and learning rate of the moment. The step runs
        between the step hooks (_hooks.with_step_hooks)."""
        super().__init_subclass__(**kwargs)
        if "step" in cls.__dict__:
            cls.step = replayed(with_step_hooks(cls.__dict__["step"]))
        if "zero_grad" in cls.__dict__:
            cls.zero_grad = replayed(cls.__dict__["zero_grad"])

    def __init__(self, params, defaults):
        self.defaults = defaults
        self._init_hooks()
        if isinstance(params, Tensor):
            raise TypeError("params argument given to the optimizer should be an iterable of "
                            "Tensors or dicts, but got a Tensor")
        self.state = defaultdict(dict)
        self.param_groups = []
        param_groups = list(params)
        if len(param_groups) == 0:
            raise ValueError("optimizer got an empty parameter list")
        if not isinstance(param_groups[0], dict):
            param_groups = [{"params": param_groups}]
        for group in param_groups:
            self.add_param_group(group)

    def __getstate__(self):
        """defaults, state and param_groups only (PyTorch's): not the hooks, nor the step a
        scheduler wrapped (a copy would step the original optimiser)."""
        return {"defaults": self.defaults, "state": self.state,
                "param_groups": self.param_groups}

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._init_hooks()
        self.defaults.setdefault("differentiable", False)
        for group in self.param_groups:
            for key, value in self._LOADED_GROUP_DEFAULTS.items():
                group.setdefault(key, value)

    # ---- param groups -----------------------------------------------------------------------
    def add_param_group(self, param_group):
        """Append a group (dict with "params"); missing hyper-parameters come from `defaults`."""
        if not isinstance(param_group, dict):
            raise TypeError(f"param_group must be a dict, but got {type(param_group).__name__}")
        params = param_group["params"]
        if isinstance(params, Tensor):
            params = [params]
        elif isinstance(params, set):
            raise TypeError("optimizer parameters need to be organized in ordered collections, "
                            "but the ordering of tensors in sets changes between runs; use a list")
        params = list(params)
        names = [p[0] for p in params if isinstance(p, tuple)]
        params = [p[1] if isinstance(p, tuple) else p for p in params]
        if names and len(names) != len(params):
            raise ValueError("all optimizer params should be with/without names. "
                             "Some param names are missing")
        param_group["params"] = params
        if names:
            param_group["param_names"] = names
        for i, p in enumerate(params):
            if not isinstance(p, Tensor):
                raise TypeError(f"{type(self).__name__}: optimizer can only optimize Tensors, "
                                f"but param {i} of the group is a {type(p).__name__}")
            if not (p.is_leaf or p.retains_grad):
                raise ValueError(f"{type(self).__name__}: can't optimize a non-leaf Tensor "
                                 f"(param {i}, shape {tuple(p.shape)})")
        for name, default in self.defaults.items():
            if default is required and name not in param_group:
                raise ValueError(f"parameter group didn't specify a value of required "
                                 f"optimization parameter {name}")
            param_group.setdefault(name, default)
        ids = [id(p) for p in params]
        if len(ids) != len(set(ids)):
            warnings.warn("optimizer contains a parameter group with duplicate parameters; "
                          "in future, this will cause an error", stacklevel=3)
        seen = set()
        for group in self.param_groups:
            seen.update(id(p) for p in group["params"])
            if ("param_names" in param_group) != ("param_names" in group):
                raise ValueError("all optimizer param groups should be with/without names")
        if not seen.isdisjoint(ids):
            raise ValueError("some parameters appear in more than one parameter group")
        self.param_groups.append(param_group)

    @replayed
    def zero_grad(self, set_to_none=True):
        """Reset the gradients: set them to None (default), or fill them with zeros."""
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                if set_to_none:
                    p.grad = None
                else:                          # the same tensor, zeroed in place (PyTorch)
                    if p.grad.grad_fn is not None:
                        p.grad.detach_()
                    else:
                        p.grad.requires_grad_(False)
                    p.grad._data[...] = 0
                    p.grad._version[0] += 1

    def step(self, closure=None):
        raise NotImplementedError

    def _closure_loss(self, closure):
        """Evaluate the closure (model forward + backward) with grad mode on, as PyTorch does."""
        if closure is None:
            return None
        with enable_grad():
            return closure()

    # ---- state dicts ------------------------------------------------------------------------
    def state_dict(self):
        """{"state": {index: {name: Tensor}}, "param_groups": [{..., "params": [indices]}]}.

        State Tensors are the live ones (as in PyTorch): save or clone them before stepping on.
        """
        for hook in self._optimizer_state_dict_pre_hooks.values():
            hook(self)
        index_of = {}
        start = 0
        groups = []
        for group in self.param_groups:
            packed = {k: v for k, v in group.items() if k != "params"}
            # PyTorch's numbering: a parameter listed twice in this group (a warning) gets the
            # index of its last place; one already numbered in an earlier group keeps that
            index_of.update({id(p): i for i, p in enumerate(group["params"], start)
                             if id(p) not in index_of})
            packed["params"] = [index_of[id(p)] for p in group["params"]]
            start += len(packed["params"])
            groups.append(packed)
        state = {(index_of[id(k)] if isinstance(k, Tensor) else k): v
                 for k, v in self.state.items()}
        state_dict = {"state": state, "param_groups": groups}
        for hook in self._optimizer_state_dict_post_hooks.values():
            result = hook(self, state_dict)
            if result is not None:
                state_dict = result
        return state_dict

    def load_state_dict(self, state_dict):
        """Load a state dict from `state_dict()` (this or PyTorch's optimiser of the same kind).

        Groups and parameters are matched by position. State tensors are copied and cast to their
        parameter's dtype and device (`step` keeps its dtype and stays on the CPU); NumPy arrays
        and objects with `__dlpack__` (for example torch tensors) are accepted in place of
        tinygen Tensors. The load_state_dict pre-hooks see (and may replace) a shallow copy.
        """
        if isinstance(state_dict, dict):
            state_dict = state_dict.copy()
        for hook in self._optimizer_load_state_dict_pre_hooks.values():
            result = hook(self, state_dict)
            if result is not None:
                state_dict = result
        groups = self.param_groups
        saved_groups = self._check_state_dict(state_dict)
        id_map = dict(zip(itertools.chain.from_iterable(g["params"] for g in saved_groups),
                          itertools.chain.from_iterable(g["params"] for g in groups)))
        # PyTorch casts `step` to float32 only where the saved group is fused or capturable
        float32_steps = {i for g in state_dict["param_groups"]
                         if g.get("fused") or g.get("capturable") for i in g["params"]}
        state = defaultdict(dict)
        for k, v in state_dict["state"].items():
            key = int(k) if isinstance(k, str) and k.isdigit() else k
            if key in id_map:
                param = id_map[key]
                state[param] = {sk: _cast_state(param, sk, sv, key in float32_steps,
                                                self._state_shape(param, sk))
                                for sk, sv in v.items()}
            else:
                state[key] = v
        new_groups = []
        for group, saved in zip(groups, saved_groups):
            saved["params"] = group["params"]
            if "param_names" in group and "param_names" not in saved:
                saved["param_names"] = group["param_names"]
            if "betas" in saved and isinstance(saved["betas"], list):
                saved["betas"] = tuple(saved["betas"])
            new_groups.append(saved)
        self.__setstate__({"state": state, "param_groups": new_groups})
        for hook in self._optimizer_load_state_dict_post_hooks.values():
            hook(self)

    def _state_shape(self, param, key):
        """The shape a loaded state Tensor `key` of `param` must have (not 0-d ones): the
        parameter's, unless the optimiser keeps another (Adafactor's factored row_var, col_var)."""
        return tuple(param.shape)

    def _check_state_dict(self, state_dict):
        """A copy of the saved param groups, after checking they match ours in number and size."""
        name = type(self).__name__
        if not isinstance(state_dict, dict) or "param_groups" not in state_dict \
                or "state" not in state_dict:
            raise ValueError(f"{name}.load_state_dict: expected a dict with 'state' and "
                             f"'param_groups', got {type(state_dict).__name__}")
        groups = self.param_groups
        saved_groups = copy.deepcopy(state_dict["param_groups"])
        if len(groups) != len(saved_groups):
            raise ValueError(f"{name}.load_state_dict: loaded state dict has a different number "
                             f"of parameter groups ({len(saved_groups)}, expected {len(groups)})")
        for i, (g, s) in enumerate(zip(groups, saved_groups)):
            if len(g["params"]) != len(s["params"]):
                raise ValueError(f"{name}.load_state_dict: loaded state dict contains a parameter "
                                 f"group ({i}) that doesn't match the size of optimizer's group "
                                 f"({len(s['params'])} vs {len(g['params'])} params)")
        return saved_groups

    def __repr__(self):
        lines = [type(self).__name__ + " ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            for key in sorted(group):
                if key != "params":
                    lines.append(f"    {key}: {group[key]}")
        lines.append(")")
        return "\n".join(lines)


class ElementwiseOptimizer(Optimizer):
    """An optimiser whose update of a parameter depends on that parameter alone (all of
    torch.optim's but LBFGS). Subclasses give `new_state(p, group)` (the state Tensors of a
    parameter, beside `step`, which is added here) and `update(param, grad, state, group, step)`,
    which works on arrays (state: name -> array, updated in place; `grad` already negated for
    `maximize` and never modified; `group`'s hyper-parameters as Python numbers, a Tensor lr or
    beta read as its value: on arrays, `param -= lr * update` with a Tensor lr made a new Tensor
    and left the parameter as it was, silently)."""

    def new_state(self, p, group):
        return {}

    def update(self, param, grad, state, group, step):
        raise NotImplementedError

    @no_grad()
    def step(self, closure=None):
        """One update of every parameter that has a gradient. Returns the closure's loss."""
        loss = self._closure_loss(closure)
        name = type(self).__name__
        for group in self.param_groups:
            hyper = {k: v if k == "params" else _plain(v) for k, v in group.items()}
            for i, p in enumerate(group["params"]):
                if p.grad is None:
                    continue
                grad = _check_grad(name, p, i)
                if group.get("maximize", False):
                    grad = -grad
                state = self.state[p]
                if "step" not in state:
                    state["step"] = _step_tensor(fused=group.get("fused"))
                    state.update(self.new_state(p, group))
                state["step"]._data += 1
                arrays = {k: v._data for k, v in state.items()}
                self.update(p._data, grad, arrays, hyper, float(state["step"]._data))
                p._version[0] += 1
        return loss


def check_hyperparameters(name, **values):
    """PyTorch's checks and messages: each value must be >= 0 (lr, eps, weight_decay, ...); a
    Tensor lr must have one element. `name` (the optimiser's) is not in the messages, as in
    PyTorch ("Invalid learning rate: -1")."""
    labels = {"lr": "learning rate", "eps": "epsilon value"}
    for key, value in values.items():
        if key == "lr" and isinstance(value, Tensor) and value.numel() != 1:
            raise ValueError("Tensor lr must be 1-element")
        if not 0.0 <= _scalar(value):
            raise ValueError(f"Invalid {labels.get(key, key + ' value')}: {value}")


def check_flags(name, foreach=None, fused=None, differentiable=False):
    """PyTorch's checks of foreach / fused / differentiable; differentiable=True is refused."""
    if fused and differentiable:
        raise RuntimeError("`fused` does not support `differentiable`")
    if fused and foreach:
        raise RuntimeError("`fused` and `foreach` cannot be `True` together.")
    if differentiable:
        raise NotImplementedError(f"{name}: differentiable=True (an update autograd records) is "
                                  "not supported by tinygen")


def _as_tensor(value):
    """A tinygen Tensor from a Tensor, a NumPy array or anything with __dlpack__ / __array__."""
    if isinstance(value, Tensor):
        return value
    if isinstance(value, np.ndarray):
        return Tensor._make(value, None, 0, False)
    if hasattr(value, "__dlpack__") and hasattr(value, "__dlpack_device__"):
        return from_dlpack(value)
    if hasattr(value, "__array__"):
        return Tensor._make(np.asarray(value), None, 0, False)
    return value


def _cast_state(param, key, value, float32_step=False, shape=None):
    """Copy one state value for `param`: tensors cast to its dtype and device; `step` keeps its
    dtype (float32 where the group was fused or capturable) and stays on the CPU. A state Tensor
    that is not 0-d must have `shape` (default: the parameter's)."""
    if isinstance(value, dict):
        return {k: _cast_state(param, k, v, float32_step) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_cast_state(param, key, v, float32_step, shape) for v in value)
    value = _as_tensor(value)
    if not isinstance(value, Tensor):
        if key in ("step", "mu_product", "eta", "mu") and isinstance(value, (int, float)):
            # PyTorch < 1.12 kept these as Python numbers
            return _step_tensor(float(value), fused=float32_step and key == "step")
        return value
    if key == "step":
        step = np.array(value.cpu()._data)
        return Tensor._make(step.astype(np.float32) if float32_step else step, None, 0, False)
    expected = tuple(param.shape) if shape is None else tuple(shape)
    if value.ndim > 0 and tuple(value.shape) != expected:
        needs = "" if expected == tuple(param.shape) else f", so {key!r} needs shape {expected}"
        raise ValueError(f"load_state_dict: state {key!r} has shape {tuple(value.shape)} but its "
                         f"parameter has shape {tuple(param.shape)}{needs} (a state dict of "
                         "another model, or parameters in another order?)")
    out = value.detach()
    if out.device != param.device:
        out = out.to(param.device)
    if param.is_floating_point() and out.dtype != param.dtype:
        out = Tensor._make(out._data.astype(param._data.dtype), None, 0, False)
    elif out._data is value._data:
        out = Tensor._make(out._data.copy(), None, 0, False)
    return out


def _scalar_dtype():
    """PyTorch's `_get_scalar_dtype()`: float64 while the default dtype is float64, else
    float32."""
    return np.float64 if get_default_dtype() == float64 else np.float32


def _step_tensor(value=0.0, fused=False):
    """PyTorch 2.x keeps `step` (and NAdam's mu_product, ASGD's eta and mu) as a 0-d CPU tensor
    of the scalar dtype (_scalar_dtype; float32 for a fused optimiser's step): so do we."""
    dtype = np.float32 if fused else _scalar_dtype()
    return Tensor._make(np.array(value, dtype=dtype), None, 0, False)


def _zeros_like(p):
    """A zero state array with the parameter's shape, dtype and device."""
    return Tensor._make(array_module(p._data).zeros_like(p._data), None, 0, False)


def _check_grad(opt_name, p, i):
    """The gradient array of p, after checking it matches p (a clear error, not a numpy one)."""
    g = p.grad._data
    if g.shape != p._data.shape:
        raise RuntimeError(f"{opt_name}.step: param {i} has shape {tuple(p.shape)} but its grad "
                           f"has shape {tuple(g.shape)}")
    if g.dtype != p._data.dtype:
        g = g.astype(p._data.dtype)
    return g


def _scalar(x):
    """A hyper-parameter as a Python float (groups may hold 1-element Tensors, as in PyTorch)."""
    return float(x) if isinstance(x, Tensor) else x


def _plain(value):
    """A group's hyper-parameter with its Tensors read as floats (betas: each of the pair)."""
    if isinstance(value, tuple):
        return tuple(_scalar(v) for v in value)
    return _scalar(value)
