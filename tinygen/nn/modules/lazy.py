"""LazyModuleMixin: modules whose parameter shapes come from their first input, as PyTorch's
torch.nn.modules.lazy.

    model = nn.Sequential(nn.LazyConv2d(16, 3), nn.ReLU(), nn.Flatten(), nn.LazyLinear(10))
    model(tg.zeros(1, 3, 28, 28))            # dry run: in_channels 3, in_features 16*26*26
    type(model[0]) is nn.Conv2d              # True: each lazy module became its regular class
    opt = tg.optim.SGD(model.parameters(), lr=0.1)    # only now: the parameters are real

Until the first forward a lazy module holds UninitializedParameters (and UninitializedBuffers);
a forward pre-hook calls initialize_parameters(*args, **kwargs) with the first input, which
infers the sizes, materializes the tensors and initialises them with the regular class's
reset_parameters; then the hook removes itself (so later calls take Module.__call__'s hook-free
path) and the module's class becomes cls_to_become. Move the module to its dtype and device
before the dry run: the tensors materialize with the dtype and device they hold.

A lazy module's state_dict holds the uninitialized tensors themselves; load_state_dict into a
lazy module materializes each uninitialized tensor with the shape of the loaded one first (as
PyTorch's _lazy_load_hook), and an uninitialized entry loaded into an uninitialized tensor
leaves it so. A load does not set the sizes the first forward infers: LazyLinear sets
in_features at its first forward (AssertionError if the input disagrees with the loaded weight),
the convolutions and norms keep in_channels / num_features 0, as in PyTorch (so an affine
LazyInstanceNorm loaded this way raises at its first forward, as PyTorch's does).
"""
from __future__ import annotations

import itertools

from .parameter import is_lazy
from .state import _EXTRA_STATE_KEY_SUFFIX, StateDicts

__all__ = ["LazyModuleMixin"]


def _uninitialized_entry(value):
    """Whether a state-dict value is an uninitialized tensor: tinygen's, or PyTorch's (a lazy
    module's state dict from torch), recognised by its class name without importing torch."""
    return is_lazy(value) or type(value).__name__ in ("UninitializedParameter",
                                                      "UninitializedBuffer")


class LazyModuleMixin:
    """Mixin for modules that infer their parameter shapes from their first input. Subclasses
    put it first among their bases (class LazyLinear(LazyModuleMixin, Linear)), hold
    UninitializedParameters, define initialize_parameters(*inputs) and set cls_to_become (the
    class the module becomes once initialized; None keeps the class)."""

    cls_to_become = None

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._initialize_hook = self.register_forward_pre_hook(self._infer_parameters,
                                                               with_kwargs=True)

    def initialize_parameters(self, *args, **kwargs):
        """Infer the sizes from the forward's inputs and materialize the parameters."""
        raise NotImplementedError(
            f"initialize_parameters is not implemented for {type(self).__name__}")

    def has_uninitialized_params(self):
        """Whether any parameter or buffer of this module (not its children) is uninitialized."""
        return any(is_lazy(t) for t in itertools.chain(self._parameters.values(),
                                                       self._buffers.values()))

    def _infer_parameters(self, module, args, kwargs=None):
        """The forward pre-hook: initialize from the first inputs, then stop being lazy."""
        module.initialize_parameters(*args, **(kwargs or {}))
        if module.has_uninitialized_params():
            raise RuntimeError(f"module {self._get_name()} has not been fully initialized")
        module._initialize_hook.remove()
        del module._initialize_hook
        # the handle of a deep copy still points at the original module: recompute here
        module._update_has_hooks()
        if module.cls_to_become is not None:
            module.__class__ = module.cls_to_become

    def _save_to_state_dict(self, destination, prefix, keep_vars):
        """StateDicts's, except that an uninitialized tensor goes in as itself (it has no data
        to detach)."""
        for name, param in self._parameters.items():
            if param is not None:
                keep = keep_vars or is_lazy(param)
                destination[prefix + name] = param if keep else param.detach()
        for name, buf in self._buffers.items():
            if buf is not None and name not in self._non_persistent_buffers_set:
                keep = keep_vars or is_lazy(buf)
                destination[prefix + name] = buf if keep else buf.detach()
        if type(self).get_extra_state is not StateDicts.get_extra_state:
            destination[prefix + _EXTRA_STATE_KEY_SUFFIX] = self.get_extra_state()

    def _lazy_load_hook(self, state_dict, prefix, local_metadata, strict, missing_keys,
                        unexpected_keys, error_msgs):
        """Materialize each uninitialized tensor whose entry in state_dict is initialized,
        with that entry's shape, so that the load then copies into it (PyTorch's hook of the
        same name and signature; local_metadata is unused)."""
        for name, tensor in itertools.chain(self._parameters.items(), self._buffers.items()):
            key = prefix + name
            if tensor is None or key not in state_dict or not is_lazy(tensor):
                continue
            value = state_dict[key]
            if not _uninitialized_entry(value):
                tensor.materialize(tuple(value.shape))

    def _load_from_state_dict(self, state_dict, prefix, strict, missing_keys, unexpected_keys,
                              error_msgs, assign=False):
        if "_initialize_hook" in self.__dict__:          # still lazy (PyTorch removes the hook)
            self._lazy_load_hook(state_dict, prefix, {}, strict, missing_keys, unexpected_keys,
                                 error_msgs)
        # an uninitialized entry into a tensor that is still uninitialized: nothing to copy,
        # and the key is neither missing nor unexpected
        skipped = {prefix + name for name, tensor in itertools.chain(self._parameters.items(),
                                                                     self._buffers.items())
                   if is_lazy(tensor) and prefix + name in state_dict}
        if skipped:
            state_dict = {k: v for k, v in state_dict.items() if k not in skipped}
        start = len(missing_keys)
        super()._load_from_state_dict(state_dict, prefix, strict, missing_keys, unexpected_keys,
                                      error_msgs, assign)
        missing_keys[start:] = [k for k in missing_keys[start:] if k not in skipped]

    def _replicate_for_data_parallel(self):
        raise RuntimeError("Modules with uninitialized parameters can't be used with "
                           "`DataParallel`. Run a dummy forward pass to correctly initialize "
                           "the modules")
