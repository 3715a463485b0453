"""Module's state dicts (a base class of Module): state_dict and load_state_dict with PyTorch's
names and rules, and the extra-state hooks."""
from __future__ import annotations

import collections
from collections import OrderedDict

from ...autograd.grad_mode import no_grad
from ...creation import as_tensor
from ...tensor import Tensor
from .parameter import Parameter

_EXTRA_STATE_KEY_SUFFIX = "_extra_state"


class _IncompatibleKeys(collections.namedtuple("IncompatibleKeys",
                                               ["missing_keys", "unexpected_keys"])):
    def __repr__(self):
        if not self.missing_keys and not self.unexpected_keys:
            return "<All keys matched successfully>"
        return super().__repr__()

    __str__ = __repr__


def _to_tensor(value, key, module_name):
    """A state-dict value (tg.Tensor, numpy array, torch tensor, number) as a tg.Tensor."""
    if isinstance(value, Tensor):
        return value
    if hasattr(value, "detach") and hasattr(value, "cpu") and hasattr(value, "numpy"):
        value = value.detach().cpu().numpy()          # a torch tensor, without importing torch
    try:
        return as_tensor(value)
    except Exception as e:
        raise TypeError(f"load_state_dict for {module_name}: cannot convert the value of "
                        f"{key!r} ({type(value).__name__}) to a tensor: {e}") from None


class StateDicts:
    """state_dict / load_state_dict of Module (its _parameters, _buffers,
    _non_persistent_buffers_set and _modules), and get_extra_state / set_extra_state."""

    def get_extra_state(self):
        """Override (with set_extra_state) to keep non-tensor state in the state dict, under
        the key '<prefix>_extra_state'. The base class's is never called."""
        raise RuntimeError("Reached a code path in Module.get_extra_state() that should never "
                           "be called: override get_extra_state and set_extra_state together.")

    def set_extra_state(self, state):
        """Override (with get_extra_state) to restore what get_extra_state returned."""
        raise RuntimeError("Reached a code path in Module.set_extra_state() that should never "
                           "be called: override get_extra_state and set_extra_state together.")

    def _save_to_state_dict(self, destination, prefix, keep_vars):
        for name, p in self._parameters.items():
            if p is not None:
                destination[prefix + name] = p if keep_vars else p.detach()
        for name, b in self._buffers.items():
            if b is not None and name not in self._non_persistent_buffers_set:
                destination[prefix + name] = b if keep_vars else b.detach()
        if type(self).get_extra_state is not StateDicts.get_extra_state:
            destination[prefix + _EXTRA_STATE_KEY_SUFFIX] = self.get_extra_state()

    def state_dict(self, destination=None, prefix="", keep_vars=False):
        """OrderedDict name -> tensor (detached, sharing storage) of parameters and persistent
        buffers, with PyTorch's dotted names ('0.weight', 'encoder.layers.1.norm1.bias')."""
        if destination is None:
            destination = OrderedDict()
        self._save_to_state_dict(destination, prefix, keep_vars)
        for name, module in self._modules.items():
            if module is not None:
                module.state_dict(destination, prefix + name + ".", keep_vars)
        return destination

    def _load_from_state_dict(self, state_dict, prefix, strict, missing_keys, unexpected_keys,
                              error_msgs, assign=False):
        """Load this module's own entries (not its children's), as PyTorch's: a slot holding
        None (Linear(bias=False)'s bias, the running stats of track_running_stats=False) or a
        non-persistent buffer is not in its state, so a key aimed at it is unexpected."""
        local = [(k, v) for k, v in self._parameters.items() if v is not None]
        local += [(k, v) for k, v in self._buffers.items()
                  if v is not None and k not in self._non_persistent_buffers_set]
        local_names = {k for k, _ in local}
        for name, target in local:
            key = prefix + name
            if key not in state_dict:
                if strict:
                    missing_keys.append(key)
                continue
            value = _to_tensor(state_dict[key], key, type(self).__name__)
            if target.ndim == 0 and tuple(value.shape) == (1,):
                value = value[0]            # a (1,) entry loads into a 0-d slot, as PyTorch
            if tuple(value.shape) != tuple(target.shape):
                error_msgs.append(
                    f"size mismatch for {key}: copying a param with shape {tuple(value.shape)} "
                    f"from checkpoint, the shape in current model is {tuple(target.shape)}.")
                continue
            if value.device != target.device:
                value = value.to(target.device)
            try:
                self._load_entry(name, target, value, assign)
            except Exception as e:      # noqa: BLE001 (reported with the others, as PyTorch)
                error_msgs.append(f'While copying the parameter named "{key}", whose dimensions '
                                  f"in the model are {tuple(target.shape)} and whose dimensions "
                                  f"in the checkpoint are {tuple(value.shape)}, an exception "
                                  f"occurred : {e}.")
        extra_key = prefix + _EXTRA_STATE_KEY_SUFFIX
        if type(self).set_extra_state is not StateDicts.set_extra_state:
            if extra_key in state_dict:
                self.set_extra_state(state_dict[extra_key])
            elif strict:
                missing_keys.append(extra_key)
        elif strict and extra_key in state_dict:
            unexpected_keys.append(extra_key)
        if not strict:                 # (load_state_dict always passes True: it collects both)
            return
        for key in state_dict:
            if not key.startswith(prefix) or key == extra_key:
                continue
            head, dot, _ = key[len(prefix):].partition(".")
            if dot:                    # a child's entry: unexpected unless the child exists
                if head not in self._modules:
                    unexpected_keys.append(key)
            elif head not in local_names:
                unexpected_keys.append(key)

    def _load_entry(self, name, target, value, assign):
        """Copy value into target in place, or (assign) make the checkpoint's tensor itself
        (its dtype, its storage) the module's, as PyTorch's: a Parameter's slot gets a
        Parameter sharing value's storage, with the requires_grad of the one it replaces."""
        if not assign:
            with no_grad():
                target.copy_(value)
            return
        if isinstance(target, Parameter):
            if isinstance(value, Parameter):
                value.requires_grad_(target.requires_grad)
            else:
                value = Parameter(value, requires_grad=target.requires_grad)
        setattr(self, name, value)

    def load_state_dict(self, state_dict, strict=True, assign=False):
        """Copy tensors (tg.Tensor, numpy arrays or torch tensors) into the parameters and
        buffers in place (assign=True makes the checkpoint's tensors the module's instead: a
        buffer is the state dict's tensor itself, a parameter a Parameter sharing its storage,
        keeping the requires_grad of the one it replaces).
        Returns (missing_keys, unexpected_keys); with strict=True any of them, or a shape
        mismatch (always), raises a RuntimeError naming the keys and shapes."""
        if not hasattr(state_dict, "keys"):
            raise TypeError(f"Expected state_dict to be dict-like, got "
                            f"{type(state_dict).__name__}.")
        missing, unexpected, errors = [], [], []

        def load(module, prefix):
            module._load_from_state_dict(state_dict, prefix, True, missing, unexpected, errors,
                                         assign)
            for name, child in module._modules.items():
                if child is not None:
                    load(child, prefix + name + ".")

        load(self, "")
        if strict:
            if unexpected:
                errors.insert(0, "Unexpected key(s) in state_dict: "
                              + ", ".join(f'"{k}"' for k in unexpected) + ". ")
            if missing:
                errors.insert(0, "Missing key(s) in state_dict: "
                              + ", ".join(f'"{k}"' for k in missing) + ". ")
        if errors:
            raise RuntimeError(f"Error(s) in loading state_dict for {type(self).__name__}:\n\t"
                               + "\n\t".join(errors))
        return _IncompatibleKeys(missing, unexpected)
