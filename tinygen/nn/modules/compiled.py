"""What `tg.compile(model)` returns for a module, as torch.compile's OptimizedModule, and
Module.compile(), which does the same to the module's own forward."""
from __future__ import annotations

import copy

from ...autograd.capture import compile as compile_step
from ...autograd.function import CAPTURE
from ...autograd.grad_mode import GRAD
from .module import Module


class EagerUnderGrad:
    """fn as it is where grad mode is on (and inside a step being captured, whose op it then
    is), captured and replayed as tg.compile(fn) does where it is off. tinygen captures whole
    training steps (forward, backward and the optimiser's update), not a forward that leaves a
    graph behind for a later backward; without grad mode (evaluation, sampling under no_grad)
    there is no graph, so the call is a step of its own: guarded on the arguments' shapes and
    dtypes, the training flags and the parameters, run eagerly (with a warning that says why)
    where it cannot be captured."""

    def __init__(self, fn, fuse=True):
        self.fn, self.fuse, self.captured = fn, fuse, None

    def __call__(self, *args, **kwargs):
        if GRAD.enabled or CAPTURE[0] is not None:
            return self.fn(*args, **kwargs)
        if self.captured is None:
            self.captured = compile_step(self.fn, fuse=self.fuse)
        return self.captured(*args, **kwargs)


class OptimizedModule(Module):
    """A module wrapped by tg.compile, as PyTorch's: the module is its child `_orig_mod` (so
    state_dict keys start with '_orig_mod.', as PyTorch's do), an attribute the wrapper lacks is
    read from it, and train() / eval() / to() reach it through the child. Calls run as
    EagerUnderGrad says."""

    def __init__(self, mod, fuse=True):
        super().__init__()
        self._orig_mod = mod
        object.__setattr__(self, "_fuse", fuse)

    def forward(self, *args, **kwargs):
        run = self.__dict__.get("_run")
        if run is None:                          # (made on first use: a copy makes its own)
            run = EagerUnderGrad(self._orig_mod, self._fuse)
            object.__setattr__(self, "_run", run)
        return run(*args, **kwargs)

    def __getattr__(self, name):
        try:
            return super().__getattr__(name)
        except AttributeError:
            if name.startswith("__") or "_modules" not in self.__dict__:
                raise
            return getattr(self.__dict__["_modules"]["_orig_mod"], name)

    def __getstate__(self):
        state = dict(self.__dict__)
        state.pop("_run", None)                  # plans hold this object's arrays
        return state

    def __deepcopy__(self, memo):
        run = self.__dict__.pop("_run", None)
        try:
            return super().__deepcopy__(memo)
        finally:
            if run is not None:
                object.__setattr__(self, "_run", run)


class CompiledForward:
    """Module.compile(): the instance's forward, the class's run as EagerUnderGrad says. A copy
    of the module (deepcopy, pickle) gets its own, bound to the copy, with no plans."""

    def __init__(self, module, fuse=True):
        self.module, self.fuse = module, fuse
        self.run = EagerUnderGrad(self._forward, fuse)

    def _forward(self, *args, **kwargs):
        return type(self.module).forward(self.module, *args, **kwargs)

    def __call__(self, *args, **kwargs):
        return self.run(*args, **kwargs)

    def __deepcopy__(self, memo):
        return CompiledForward(copy.deepcopy(self.module, memo), self.fuse)

    def __reduce__(self):
        return CompiledForward, (self.module, self.fuse)
