"""Optimizer hooks, as PyTorch's `torch.optim.Optimizer`: step pre/post hooks (per optimiser and
global), state_dict pre/post hooks and load_state_dict pre/post hooks.

    handle = opt.register_step_post_hook(lambda opt, args, kwargs: ema.update())
    handle.remove()

A step pre-hook is `hook(optimizer, args, kwargs)` and may return `(new_args, new_kwargs)`; as in
PyTorch, `args` holds the optimiser itself first. Order: global pre-hooks, the optimiser's
pre-hooks, step, the optimiser's post-hooks, global post-hooks.
Where PyTorch differs: a subclass's `step` that calls `super().step()` runs the hooks once here
(PyTorch runs them once or twice, depending on which classes were constructed before).
"""
from __future__ import annotations

import itertools
from collections import OrderedDict
from functools import wraps

_ids = itertools.count()
_global_optimizer_pre_hooks = OrderedDict()
_global_optimizer_post_hooks = OrderedDict()


class RemovableHandle:
    """What register_*_hook returns: remove() takes the hook out; a context manager too."""

    def __init__(self, hooks):
        self._hooks = hooks
        self.id = next(_ids)

    def remove(self):
        self._hooks.pop(self.id, None)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.remove()


def _register(hooks, hook, prepend=False):
    handle = RemovableHandle(hooks)
    hooks[handle.id] = hook
    if prepend:
        hooks.move_to_end(handle.id, last=False)
    return handle


def register_optimizer_step_pre_hook(hook):
    """A pre-hook run before the step of every optimiser: hook(optimizer, args, kwargs)."""
    return _register(_global_optimizer_pre_hooks, hook)


def register_optimizer_step_post_hook(hook):
    """A post-hook run after the step of every optimiser: hook(optimizer, args, kwargs)."""
    return _register(_global_optimizer_post_hooks, hook)


def with_step_hooks(step):
    """`step` between the step hooks (PyTorch's Optimizer.profile_hook_step)."""
    @wraps(step)
    def run(*args, **kwargs):
        self = args[0]
        pre = self.__dict__.get("_optimizer_step_pre_hooks")
        post = self.__dict__.get("_optimizer_step_post_hooks")
        if self.__dict__.get("_in_hooked_step") or not (
                pre or post or _global_optimizer_pre_hooks or _global_optimizer_post_hooks):
            return step(*args, **kwargs)
        for hook in [*_global_optimizer_pre_hooks.values(), *(pre or {}).values()]:
            result = hook(self, args, kwargs)
            if result is not None:
                if not (isinstance(result, tuple) and len(result) == 2):
                    raise RuntimeError(f"{step} must return None or a tuple of (new_args, "
                                       f"new_kwargs), but got {result}.")
                args, kwargs = result
        self._in_hooked_step = True
        try:
            out = step(*args, **kwargs)
        finally:
            self._in_hooked_step = False
        for hook in [*(post or {}).values(), *_global_optimizer_post_hooks.values()]:
            hook(self, args, kwargs)
        return out
    return run


class OptimizerHooks:
    """The hook registries of an optimiser and their register_* methods (mixed into Optimizer)."""

    _HOOK_DICTS = ("_optimizer_step_pre_hooks", "_optimizer_step_post_hooks",
                   "_optimizer_state_dict_pre_hooks", "_optimizer_state_dict_post_hooks",
                   "_optimizer_load_state_dict_pre_hooks", "_optimizer_load_state_dict_post_hooks")

    def _init_hooks(self):
        for name in self._HOOK_DICTS:
            if name not in self.__dict__:
                setattr(self, name, OrderedDict())

    def register_step_pre_hook(self, hook):
        """hook(optimizer, args, kwargs) -> None or (new_args, new_kwargs), before each step."""
        return _register(self._optimizer_step_pre_hooks, hook)

    def register_step_post_hook(self, hook):
        """hook(optimizer, args, kwargs) -> None, after each step."""
        return _register(self._optimizer_step_post_hooks, hook)

    def register_state_dict_pre_hook(self, hook, prepend=False):
        """hook(optimizer) -> None, before state_dict() builds the dict."""
        return _register(self._optimizer_state_dict_pre_hooks, hook, prepend)

    def register_state_dict_post_hook(self, hook, prepend=False):
        """hook(optimizer, state_dict) -> None or a state dict returned in its place."""
        return _register(self._optimizer_state_dict_post_hooks, hook, prepend)

    def register_load_state_dict_pre_hook(self, hook, prepend=False):
        """hook(optimizer, state_dict) -> None or a state dict loaded in its place."""
        return _register(self._optimizer_load_state_dict_pre_hooks, hook, prepend)

    def register_load_state_dict_post_hook(self, hook, prepend=False):
        """hook(optimizer) -> None, after load_state_dict()."""
        return _register(self._optimizer_load_state_dict_post_hooks, hook, prepend)
