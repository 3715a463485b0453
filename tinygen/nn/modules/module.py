"""Module: the base class of every layer and model, in PyTorch's dialect.

    class MLP(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc1 = nn.Linear(784, 128)       # registered by __setattr__: a child module
            self.scale = nn.Parameter(tg.ones(1)) # registered: a parameter
            self.register_buffer("steps", tg.zeros((), dtype=tg.long))

        def forward(self, x):                    # (N, 784) -> (N, 128)
            return self.fc1(x).relu() * self.scale

`state_dict()` names entries as PyTorch does (`fc1.weight`, `fc1.bias`, `scale`, `steps`), so a
PyTorch state dict of the same architecture loads with `load_state_dict`.
"""
from __future__ import annotations

import copy
import itertools
import warnings
from collections import OrderedDict

from ...autograd.capture import replayed, tracer
from ...autograd.function import CAPTURE
from ...autograd.grad_mode import no_grad
from ...backend import dtypes as _dt
from ...backend.device import Device
from ...tensor import Tensor
from .hooks import RemovableHandle, call_with_hooks
from .parameter import Parameter, _SelfRegistering, is_lazy
from .state import StateDicts


_hook_ids = itertools.count()
# hook registries every Module holds (key -> hook, in call order), and the flag registries
# (key -> True) of the hooks registered with_kwargs / always_call
_HOOK_FLAGS = {"_forward_pre_hooks": ("_forward_pre_hooks_with_kwargs",),
               "_forward_hooks": ("_forward_hooks_with_kwargs", "_forward_hooks_always_called")}
_CALL_HOOKS = ("_forward_pre_hooks", "_forward_hooks", "_backward_pre_hooks", "_backward_hooks")
_HOOK_REGISTRIES = ("_forward_pre_hooks", "_forward_hooks", "_backward_pre_hooks",
                    "_backward_hooks", "_forward_pre_hooks_with_kwargs",
                    "_forward_hooks_with_kwargs", "_forward_hooks_always_called")


class Module(StateDicts, _SelfRegistering):
    """Base class of all layers and models. Subclasses set attributes in __init__ and define
    forward(*inputs); calling the module runs the forward pre-hooks, forward, then forward hooks."""

    training: bool
    _is_full_backward_hook = None    # True / False once a full / old-style backward hook is in

    def __init__(self):
        object.__setattr__(self, "training", True)
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "_non_persistent_buffers_set", set())
        object.__setattr__(self, "_modules", OrderedDict())
        for name in _HOOK_REGISTRIES:
            object.__setattr__(self, name, OrderedDict())
        # whether any hook registry is non-empty: the one test of __call__'s hot path. Set by
        # the register_*_hook methods and updated by their handles' remove(); code that puts a
        # hook into a registry by hand must set it too (code that deletes one need not)
        object.__setattr__(self, "_has_hooks", False)

    def _update_has_hooks(self):
        d = self.__dict__
        object.__setattr__(self, "_has_hooks", any(d.get(name) for name in _CALL_HOOKS))

    def forward(self, *args, **kwargs):
        raise NotImplementedError(f"Module [{type(self).__name__}] is missing the required "
                                  "\"forward\" function")

    def compile(self, *args, fuse=True, **kwargs):
        """torch's Module.compile(), in place: forward runs eagerly under grad mode and is
        captured without it (nn/modules/compiled.py; PyTorch's options are accepted)."""
        from .compiled import CompiledForward  # lazy: compiled.py subclasses Module
        object.__setattr__(self, "forward", CompiledForward(self, fuse))

    def __call__(self, *args, **kwargs):
        if CAPTURE[0] is not None:          # a captured step replays as traced in this mode
            tr = tracer()
            if tr is not None:
                tr.guard_module(self)
        if self._has_hooks:                 # the hot path: one test, then forward
            return call_with_hooks(self, args, kwargs)        # (hooks.py)
        return self.forward(*args, **kwargs)

    def _add_hook(self, registry, hook, prepend, flags=()):
        """Put hook in the registry (first if prepend) and its key in each flag registry."""
        key = next(_hook_ids)
        hooks = getattr(self, registry)
        hooks[key] = hook
        if prepend:
            hooks.move_to_end(key, last=False)
        for flag in flags:
            getattr(self, flag)[key] = True
        object.__setattr__(self, "_has_hooks", True)
        extra = tuple(getattr(self, name) for name in _HOOK_FLAGS.get(registry, ()))
        return RemovableHandle(hooks, key, extra, self)

    def register_forward_pre_hook(self, hook, *, prepend=False, with_kwargs=False):
        """hook(module, args) -> None or new args, run before forward; with_kwargs=True:
        hook(module, args, kwargs) -> None or (new_args, new_kwargs). prepend=True runs it
        before the hooks already registered."""
        flags = ("_forward_pre_hooks_with_kwargs",) if with_kwargs else ()
        return self._add_hook("_forward_pre_hooks", hook, prepend, flags)

    def register_forward_hook(self, hook, *, prepend=False, with_kwargs=False,
                              always_call=False):
        """hook(module, args, output) -> None or a new output, run after forward;
        with_kwargs=True: hook(module, args, kwargs, output). always_call=True: run even when
        forward (or an earlier hook) raises (its exception then propagates)."""
        flags = (("_forward_hooks_with_kwargs",) if with_kwargs else ()) + \
            (("_forward_hooks_always_called",) if always_call else ())
        return self._add_hook("_forward_hooks", hook, prepend, flags)

    def register_full_backward_pre_hook(self, hook, prepend=False):
        """hook(module, grad_output) -> None or new grad_output (a tuple of the same length),
        run when the gradients w.r.t. the module's outputs are computed, before they flow into
        the module's backward."""
        return self._add_hook("_backward_pre_hooks", hook, prepend)

    def register_full_backward_hook(self, hook, prepend=False):
        """hook(module, grad_input, grad_output) -> None or new grad_input, run when the
        gradients w.r.t. the module's positional inputs are computed. grad_input holds None for
        inputs that are not tensors requiring grad; the replacements go on to the inputs.
        Keyword tensor arguments get no grad_input entry, as PyTorch."""
        self._backward_hook_kind(True)
        return self._add_hook("_backward_hooks", hook, prepend)

    def register_backward_hook(self, hook):
        """The deprecated form (FutureWarning), run as a full backward hook. PyTorch hands it
        the gradients w.r.t. the inputs of the last op of forward (Linear: bias, input and
        weight.T), an artefact of its autograd graph that tinygen's ops do not reproduce; here
        grad_input is the full hook's, which is the same for a module of one op on one input
        (ReLU, Tanh...). grad_output is the same in both. As PyTorch, a module takes old or full
        backward hooks, not both (RuntimeError)."""
        self._backward_hook_kind(False)
        warnings.warn("register_backward_hook is deprecated (as in PyTorch): tinygen runs the "
                      "hook as register_full_backward_hook's, with grad_input the gradients "
                      "w.r.t. the module's inputs; use register_full_backward_hook",
                      FutureWarning, stacklevel=2)
        return self._add_hook("_backward_hooks", hook, False)

    def _backward_hook_kind(self, full):
        if self._is_full_backward_hook is (not full):
            raise RuntimeError("Cannot use both regular backward hooks and full backward hooks "
                               "on a single Module. Please use only one of them.")
        object.__setattr__(self, "_is_full_backward_hook", full)

    # ---- registration ---------------------------------------------------------------------------
    def register_parameter(self, name, param):
        if "_parameters" not in self.__dict__:
            raise AttributeError("cannot assign parameter before Module.__init__() call")
        _check_name(self, name, "parameter")
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(f"cannot assign '{type(param).__name__}' object to parameter "
                            f"'{name}' (nn.Parameter or None required)")
        self._parameters[name] = param

    def register_buffer(self, name, tensor, persistent=True):
        """A tensor that is part of the state (running statistics...) but not a parameter.
        persistent=False keeps it out of state_dict."""
        if "_buffers" not in self.__dict__:
            raise AttributeError("cannot assign buffer before Module.__init__() call")
        _check_name(self, name, "buffer")
        if tensor is not None and not isinstance(tensor, Tensor):
            raise TypeError(f"cannot assign '{type(tensor).__name__}' object to buffer '{name}' "
                            "(tinygen Tensor or None required)")
        self._buffers[name] = tensor
        if persistent:
            self._non_persistent_buffers_set.discard(name)
        else:
            self._non_persistent_buffers_set.add(name)

    def add_module(self, name, module):
        if not isinstance(module, Module) and module is not None:
            raise TypeError(f"{type(module).__name__} is not a Module subclass")
        if not isinstance(name, str):
            raise TypeError(f"module name should be a string, got {type(name).__name__}")
        if hasattr(self, name) and name not in self._modules:
            raise KeyError(f"attribute '{name}' already exists")
        if "." in name or name == "":
            raise KeyError(f"module name can't contain \".\" or be empty, got {name!r}")
        self._modules[name] = module

    register_module = add_module

    def __setattr__(self, name, value):
        d = self.__dict__
        params = d.get("_parameters")
        if isinstance(value, Parameter):
            if params is None:
                raise AttributeError("cannot assign parameters before Module.__init__() call")
            _remove_from(self, name, keep="_parameters")
            if name in params:                 # a reassignment: the name was checked then
                params[name] = value
            else:                              # register_parameter's checks ('a.b', 'forward')
                self.register_parameter(name, value)
        elif params is not None and name in params:
            if value is not None:
                raise TypeError(f"cannot assign '{type(value).__name__}' as parameter '{name}' "
                                "(nn.Parameter or None expected)")
            params[name] = value
        elif isinstance(value, _SelfRegistering):    # a Module, or an nn.Buffer
            if isinstance(value, Module):
                if "_modules" not in d:
                    raise AttributeError("cannot assign module before Module.__init__() call")
                _remove_from(self, name, keep="_modules")
                d["_modules"][name] = value
            else:
                self._assign_buffer(name, value)
        elif "_modules" in d and name in d["_modules"]:
            if value is not None:
                raise TypeError(f"cannot assign '{type(value).__name__}' as child module "
                                f"'{name}' (nn.Module or None expected)")
            d["_modules"][name] = value
        elif "_buffers" in d and name in d["_buffers"]:
            if value is not None and not isinstance(value, Tensor):
                raise TypeError(f"cannot assign '{type(value).__name__}' as buffer '{name}' "
                                "(nn.Buffer, Tensor or None expected)")
            d["_buffers"][name] = value
        else:
            object.__setattr__(self, name, value)

    def _assign_buffer(self, name, value):
        """`self.name = nn.Buffer(...)`: registered as a buffer with its `persistent`, as
        PyTorch's; a child module's name refuses it (TypeError), a plain attribute's too
        (KeyError, from register_buffer)."""
        modules = self.__dict__.get("_modules")
        if modules is not None and name in modules:
            raise TypeError(f"cannot assign '{type(value).__name__}' as child module '{name}' "
                            "(nn.Module or None expected)")
        self.register_buffer(name, value, value.persistent)

    def __getattr__(self, name):
        # only called when normal lookup fails: look in the registries
        d = self.__dict__
        for registry in ("_parameters", "_buffers", "_modules"):
            r = d.get(registry)
            if r is not None and name in r:
                return r[name]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __delattr__(self, name):
        for registry in ("_parameters", "_buffers", "_modules"):
            r = self.__dict__.get(registry)
            if r is not None and name in r:
                del r[name]
                self._non_persistent_buffers_set.discard(name)
                return
        object.__delattr__(self, name)

    def __dir__(self):
        keys = list(super().__dir__())
        keys += list(self._parameters) + list(self._buffers) + list(self._modules)
        return sorted(set(k for k in keys if not k[0].isdigit()))

    # ---- traversal ------------------------------------------------------------------------------
    def _named_members(self, get_members, prefix="", recurse=True, remove_duplicate=True):
        memo = set()
        modules = self.named_modules(prefix=prefix, remove_duplicate=remove_duplicate) \
            if recurse else [(prefix, self)]
        for module_prefix, module in modules:
            for k, v in get_members(module):
                if v is None or (remove_duplicate and id(v) in memo):
                    continue
                if remove_duplicate:
                    memo.add(id(v))
                yield (module_prefix + ("." if module_prefix else "") + k, v)

    def named_parameters(self, prefix="", recurse=True, remove_duplicate=True):
        """(name, Parameter) pairs; a parameter shared by two submodules is listed once."""
        yield from self._named_members(lambda m: m._parameters.items(), prefix, recurse,
                                       remove_duplicate)

    def parameters(self, recurse=True):
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def named_buffers(self, prefix="", recurse=True, remove_duplicate=True):
        yield from self._named_members(lambda m: m._buffers.items(), prefix, recurse,
                                       remove_duplicate)

    def buffers(self, recurse=True):
        for _, b in self.named_buffers(recurse=recurse):
            yield b

    def named_children(self):
        memo = set()
        for name, module in self._modules.items():
            if module is not None and id(module) not in memo:
                memo.add(id(module))
                yield name, module

    def children(self):
        for _, m in self.named_children():
            yield m

    def named_modules(self, memo=None, prefix="", remove_duplicate=True):
        """(name, module) for self and every descendant, depth first, self first as ''."""
        if memo is None:
            memo = set()
        if id(self) in memo:
            return
        if remove_duplicate:
            memo.add(id(self))
        yield prefix, self
        for name, module in self._modules.items():
            if module is None:
                continue
            sub = prefix + ("." if prefix else "") + name
            yield from module.named_modules(memo, sub, remove_duplicate)

    def modules(self):
        for _, m in self.named_modules():
            yield m

    def get_submodule(self, target):
        """The module at the dotted path `target` ('encoder.layers.0'); '' is self. A step
        that is missing, or is not a Module (a parameter, a None slot), raises AttributeError."""
        module = self
        if target == "":
            return module
        for item in target.split("."):
            if not hasattr(module, item):
                raise AttributeError(f"{module._get_name()} has no attribute `{item}` "
                                     f"(looking up {target!r})")
            module = getattr(module, item)
            if not isinstance(module, Module):
                raise AttributeError(f"`{item}` is not an nn.Module (looking up {target!r})")
        return module

    def set_submodule(self, target, module, strict=False):
        """Put `module` at the dotted path `target` (its parent must exist). The name it
        replaces must hold a Module, or be new (strict=True: it must exist); as PyTorch, a
        target of '' or a module that is not an nn.Module raise ValueError."""
        if target == "":
            raise ValueError("Cannot set the submodule without a target name!")
        if not isinstance(module, Module):
            raise ValueError(f"`module` is not an nn.Module, found {type(module)}")
        parent_path, _, name = target.rpartition(".")
        parent = self.get_submodule(parent_path)
        if strict and not hasattr(parent, name):
            raise AttributeError(f"{parent._get_name()} has no attribute `{name}` (setting "
                                 f"{target!r} with strict=True)")
        if hasattr(parent, name) and not isinstance(getattr(parent, name), Module):
            raise AttributeError(f"`{name}` is not an nn.Module (setting {target!r})")
        setattr(parent, name, module)

    def get_parameter(self, target):
        """The parameter at the dotted path `target` ('encoder.0.weight'): any attribute that
        is an nn.Parameter (as PyTorch: one registered as a buffer too, not a None slot)."""
        name, value = self._get_attribute(target)
        if not isinstance(value, Parameter):
            raise AttributeError(f"`{name}` is not an nn.Parameter (looking up {target!r})")
        return value

    def get_buffer(self, target):
        """The buffer at the dotted path `target` ('bn.running_mean'); None for a None slot."""
        name, value = self._get_attribute(target)
        if name not in self.get_submodule(target.rpartition(".")[0])._buffers:
            raise AttributeError(f"`{name}` is not a buffer (looking up {target!r})")
        return value

    def _get_attribute(self, target):
        mod_path, _, name = target.rpartition(".")
        module = self.get_submodule(mod_path)
        if not hasattr(module, name):
            raise AttributeError(f"{module._get_name()} has no attribute `{name}` (looking up "
                                 f"{target!r})")
        return name, getattr(module, name)

    # ---- modes and gradients --------------------------------------------------------------------
    def train(self, mode=True):
        """Set training mode here and, through each child's own train(), below. The flag is
        set directly: a submodule or parameter registered under the name 'training' does not
        stop it (PyTorch raises TypeError there, assigning the bool through __setattr__)."""
        if not isinstance(mode, bool):
            raise ValueError("training mode is expected to be boolean")
        object.__setattr__(self, "training", mode)
        for module in self.children():
            module.train(mode)
        return self

    def eval(self):
        return self.train(False)

    def requires_grad_(self, requires_grad=True):
        for p in self.parameters():
            p.requires_grad_(requires_grad)
        return self

    @replayed
    def zero_grad(self, set_to_none=True):
        for p in self.parameters():
            if p.grad is None:
                continue
            if set_to_none:
                p.grad = None
            else:                              # the same tensor, zeroed in place (PyTorch)
                p.grad.detach_()
                with no_grad():
                    p.grad.zero_()

    def apply(self, fn):
        """fn(module) for every submodule (children first) and then self; returns self."""
        for module in self.children():
            module.apply(fn)
        fn(self)
        return self

    # ---- devices and dtypes ---------------------------------------------------------------------
    def _apply_to_tensors(self, convert):
        """convert(tensor) -> tensor for every parameter, gradient and buffer. Parameters keep
        their identity (their storage is swapped), so optimisers holding them keep working.
        A buffer is replaced by convert's result, unless that is the buffer itself (an int64
        buffer under to(float64) stays the same object); as PyTorch, buffers are converted
        outside no_grad, so one that requires grad still does (a non-leaf then, which
        copy.deepcopy refuses, as PyTorch's). An uninitialized
        tensor (a lazy module's) keeps its identity too and takes the dtype and device of
        convert's result on it (an empty tensor)."""
        for m in self.modules():
            with no_grad():
                for p in m._parameters.values():
                    if p is None:
                        continue
                    p.data = convert(p if is_lazy(p) else p.detach())
                    if p.grad is not None:
                        p.grad = convert(p.grad.detach())
            for name, b in m._buffers.items():
                if b is None:
                    continue
                if is_lazy(b):
                    with no_grad():
                        b.data = convert(b)
                    continue
                new = convert(b)
                if new is not b:
                    m._buffers[name] = new
        return self

    def to(self, *args, **kwargs):
        """to(device), to(dtype), to(device, dtype), to(tensor). dtype casts only floating
        parameters and buffers (num_batches_tracked stays int64), as in PyTorch."""
        device = kwargs.pop("device", None)
        dtype = kwargs.pop("dtype", None)
        kwargs.pop("non_blocking", None)
        kwargs.pop("memory_format", None)       # accepted: arrays are always row-major
        if kwargs:
            raise TypeError(f"to(): unexpected keyword arguments {sorted(kwargs)}")
        for a in args:
            if isinstance(a, Tensor):
                device, dtype = a.device, a.dtype
            elif isinstance(a, (str, Device)):
                device = a
            elif a is not None:
                dtype = a
        if dtype is not None and _dt.to_np_dtype(dtype).kind != "f":
            raise TypeError(f"nn.Module.to only accepts floating point dtypes, but got {dtype}")

        def convert(t):
            if device is not None:
                t = t.to(device)
            if dtype is not None and t.is_floating_point():
                t = t.to(dtype)
            return t

        return self._apply_to_tensors(convert)

    def float(self):
        return self.to(dtype=_dt.float32)

    def double(self):
        return self.to(dtype=_dt.float64)

    def half(self):
        return self.to(dtype=_dt.float16)

    def type(self, dst_type):
        """Cast every parameter and buffer to dst_type (a dtype or a legacy type name such as
        'tinygen.DoubleTensor'), integer buffers too (unlike to(dtype)), as PyTorch's."""
        return self._apply_to_tensors(lambda t: t.type(dst_type))

    def cpu(self):
        return self.to("cpu")

    def cuda(self, device=None):
        return self.to("cuda" if device is None else f"cuda:{int(device)}")

    # ---- printing -------------------------------------------------------------------------------
    def extra_repr(self):
        """The text inside the parentheses of this module's repr (its constructor arguments)."""
        return ""

    def _get_name(self):
        return type(self).__name__

    def __repr__(self):
        extra = self.extra_repr()
        lines = extra.split("\n") if extra else []
        for name, module in self._modules.items():
            body = _add_indent(repr(module), 2)
            lines.append(f"({name}): {body}")
        main = self._get_name() + "("
        if lines:
            if len(lines) == 1 and not self._modules:
                main += lines[0]
            else:
                main += "\n  " + "\n  ".join(lines) + "\n"
        return main + ")"

    def __setstate__(self, state):
        self.__dict__.update(state)
        for name in _HOOK_REGISTRIES:          # modules pickled before a registry existed
            if name not in self.__dict__:
                object.__setattr__(self, name, OrderedDict())
        self._update_has_hooks()

    def __deepcopy__(self, memo):
        """A deep copy. A plain tensor attribute computed from the parameters (pruning's or
        a parametrization's `weight`, a non-leaf) is copied as its value, detached: its forward
        pre-hook computes it again. PyTorch refuses to deepcopy such a module (a non-leaf
        tensor), as tinygen refuses a non-leaf tensor itself."""
        cls = type(self)
        result = cls.__new__(cls)
        memo[id(self)] = result
        for k, v in self.__dict__.items():
            if isinstance(v, Tensor) and v.grad_fn is not None:
                v = v.detach()
            object.__setattr__(result, k, copy.deepcopy(v, memo))
        return result


def _add_indent(text, spaces):
    lines = text.split("\n")
    if len(lines) == 1:
        return text
    return lines[0] + "\n" + "\n".join(" " * spaces + line for line in lines[1:])


def _check_name(module, name, kind):
    if not isinstance(name, str):
        raise TypeError(f"{kind} name should be a string, got {type(name).__name__}")
    if "." in name or name == "":
        raise KeyError(f"{kind} name can't contain \".\" or be empty, got {name!r}")
    registry = {"parameter": "_parameters", "buffer": "_buffers"}[kind]
    if hasattr(module, name) and name not in getattr(module, registry):
        raise KeyError(f"attribute '{name}' already exists")


def _remove_from(module, name, keep):
    """An attribute name lives in at most one registry (or the plain __dict__); the registry it
    is assigned to keeps its entry, so reassignment keeps the position (Sequential order)."""
    d = module.__dict__
    d.pop(name, None)
    for registry in ("_parameters", "_buffers", "_modules"):
        r = d.get(registry)
        if registry != keep and r is not None and name in r:
            del r[name]
    d.get("_non_persistent_buffers_set", set()).discard(name)
