"""What `tg.compile(model)` returns for a module, as torch.compile's OptimizedModule."""
from __future__ import annotations

from ...autograd.capture import compile as compile_step
from ...autograd.function import CAPTURE
from ...autograd.grad_mode import GRAD
from .module import Module


class OptimizedModule(Module):
    """A module wrapped by tg.compile, as PyTorch's: the module is its child `_orig_mod` (so
    state_dict keys start with '_orig_mod.', as PyTorch's do), an attribute the wrapper lacks is
    read from it, and train() / eval() / to() reach it through the child.

    Where grad mode is on, a call runs the module eagerly: tinygen captures whole training steps
    (tg.compile(step): forward, backward and the optimiser's update), not a forward that leaves a
    graph behind for a later backward. Without grad mode (evaluation, sampling under no_grad) a
    call is captured and replayed as tg.compile(fn) does it: guarded on the arguments' shapes and
    dtypes, the training flags and the parameters, run eagerly (with a warning that says why)
    where it cannot be captured."""

    def __init__(self, mod, fuse=True):
        super().__init__()
        self._orig_mod = mod
        object.__setattr__(self, "_fuse", fuse)

    def forward(self, *args, **kwargs):
        if GRAD.enabled or CAPTURE[0] is not None:       # (inside a step being captured: its op)
            return self._orig_mod(*args, **kwargs)
        captured = self.__dict__.get("_captured")
        if captured is None:                             # (made on first use: not copied)
            captured = compile_step(self._call_orig, fuse=self._fuse)
            object.__setattr__(self, "_captured", captured)
        return captured(*args, **kwargs)

    def _call_orig(self, *args, **kwargs):
        return self._orig_mod(*args, **kwargs)

    def __getattr__(self, name):
        try:
            return super().__getattr__(name)
        except AttributeError:
            if name.startswith("__") or "_modules" not in self.__dict__:
                raise
            return getattr(self.__dict__["_modules"]["_orig_mod"], name)

    def __getstate__(self):
        state = dict(self.__dict__)
        state.pop("_captured", None)                     # plans hold this object's arrays
        return state

    def __deepcopy__(self, memo):
        captured = self.__dict__.pop("_captured", None)
        try:
            return super().__deepcopy__(memo)
        finally:
            if captured is not None:
                object.__setattr__(self, "_captured", captured)
