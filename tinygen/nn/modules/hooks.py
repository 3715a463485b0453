"""Module hooks: running a module call between its hooks (call_with_hooks, the slow path of
Module.__call__), their handles, and the backward hooks, as PyTorch's BackwardHook
(torch/utils/hooks.py).

    module.register_full_backward_pre_hook(lambda m, grad_output: None)
    module.register_full_backward_hook(lambda m, grad_input, grad_output: None)

A call of a module with such hooks passes its positional tensor inputs, and then its outputs,
through an identity op (BackwardHookFunction). In the backward pass the node on the outputs runs
first: it records grad_output and runs the pre-hooks, which may replace it. The node on the
inputs runs once the module's own backward has reached them: it runs the full hooks with
grad_input (the gradients w.r.t. the positional inputs, None for those that are not tensors
requiring grad) and the recorded grad_output; a hook may return replacements for grad_input.
"""
from __future__ import annotations

import warnings
import weakref

from ...autograd.capture import note
from ...autograd.function import CAPTURE, Function
from ...autograd.grad_mode import GRAD
from ...creation import zeros
from ...tensor import Tensor


class RemovableHandle:
    """What register_*_hook returns: remove() takes the hook out (and its flags, extra: the
    with_kwargs / always_call registries); usable as a context manager, as PyTorch's."""

    def __init__(self, hooks, key, extra=(), module=None):
        self._hooks, self.id, self._extra = hooks, key, extra
        self._module = None if module is None else weakref.ref(module)

    def remove(self):
        self._hooks.pop(self.id, None)
        for registry in self._extra:
            registry.pop(self.id, None)
        module = None if self._module is None else self._module()
        if module is not None:
            module._update_has_hooks()

    def __getstate__(self):
        """Pickled and deep-copied with the module itself in place of the weak reference (a lazy
        module keeps its hook's handle), so a copy's handle updates the copied module."""
        module = None if self._module is None else self._module()
        return self._hooks, self.id, self._extra, module

    def __setstate__(self, state):
        self._hooks, self.id, self._extra, module = state
        self._module = None if module is None else weakref.ref(module)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.remove()


def call_with_hooks(module, args, kwargs):
    """forward between its hooks, in PyTorch's order: forward pre-hooks (each may replace
    args, or args and kwargs), the backward hooks' wrapping of the inputs, forward, forward
    hooks (each may replace the output), the wrapping of the outputs. If anything raises,
    the forward hooks registered with always_call=True that have not run yet still run."""
    result = None
    called = set()                            # always_call hooks that ran
    try:
        if module._forward_pre_hooks:
            args, kwargs = _run_forward_pre_hooks(module, args, kwargs)
        backward_hook = None
        if module._backward_hooks or module._backward_pre_hooks:
            backward_hook = BackwardHook(module, list(module._backward_hooks.values()),
                                         list(module._backward_pre_hooks.values()))
            args = backward_hook.setup_input_hook(args)
        result = module.forward(*args, **kwargs)
        if module._forward_hooks:
            result = _run_forward_hooks(module, args, kwargs, result, called)
        if backward_hook is not None:
            if not isinstance(result, (Tensor, tuple)):
                warnings.warn("For backward hooks to be called, module output should be a "
                              f"Tensor or a tuple of Tensors but received {type(result)}",
                              UserWarning, stacklevel=3)
            result = backward_hook.setup_output_hook(result)
        return result
    except Exception:
        _run_always_called(module, args, kwargs, result, called)
        raise


def _run_forward_pre_hooks(module, args, kwargs):
    with_kwargs = module._forward_pre_hooks_with_kwargs
    for key, hook in list(module._forward_pre_hooks.items()):
        if key in with_kwargs:
            new = hook(module, args, kwargs)
            if new is not None:
                if not (isinstance(new, tuple) and len(new) == 2):
                    raise RuntimeError("forward pre-hook must return None or a tuple of "
                                       f"(new_args, new_kwargs), but got {new}.")
                args, kwargs = new
        else:
            new = hook(module, args)
            if new is not None:
                args = new if isinstance(new, tuple) else (new,)
    return args, kwargs


def _call_forward_hook(module, key, hook, args, kwargs, result):
    if key in module._forward_hooks_with_kwargs:
        return hook(module, args, kwargs, result)
    return hook(module, args, result)


def _run_forward_hooks(module, args, kwargs, result, called):
    for key, hook in list(module._forward_hooks.items()):
        if key in module._forward_hooks_always_called:
            called.add(key)
        new = _call_forward_hook(module, key, hook, args, kwargs, result)
        if new is not None:
            result = new
    return result


def _run_always_called(module, args, kwargs, result, called):
    """After an exception: the always_call forward hooks that have not run, their own errors
    turned into warnings (the first exception is the one that propagates)."""
    for key, hook in list(module._forward_hooks.items()):
        if key not in module._forward_hooks_always_called or key in called:
            continue
        try:
            new = _call_forward_hook(module, key, hook, args, kwargs, result)
            if new is not None:
                result = new
        except Exception as e:
            warnings.warn("module forward hook with ``always_call=True`` raised an exception "
                          f"that was silenced as another error was raised in forward: {e}",
                          UserWarning, stacklevel=4)


class BackwardHookFunction(Function):
    """The identity on its tensor arguments (the same arrays: no copy), whose backward hands
    the output gradients to `callback` and passes on what it returns."""

    def forward(self, *arrays, callback=None):
        self.callback = callback
        return arrays if len(arrays) > 1 else arrays[0]

    def backward(self, *grads):
        return tuple(self.callback(grads))


class BackwardHook:
    """One module call's backward hooks: wraps the inputs (setup_input_hook) and the outputs
    (setup_output_hook) and calls the user hooks from the wrappers' backward."""

    def __init__(self, module, user_hooks, user_pre_hooks):
        self.module = module
        self.user_hooks, self.user_pre_hooks = user_hooks, user_pre_hooks
        self.grad_outputs = None
        self.n_inputs = self.n_outputs = -1
        self.input_index = self.output_index = None     # positions of the wrapped tensors
        self.input_constants = {}      # position -> (shape, dtype, device) of tensor inputs
        self.arrived = set()           # that need no grad; outputs whose gradient arrived

    @staticmethod
    def _pack(index, values, size):
        res = [None] * size
        for i, v in zip(index, values):
            res[i] = v
        return tuple(res)

    def _wrap(self, values, callback):
        """values with each tensor that requires grad passed through one BackwardHookFunction;
        (values, None) where none does or grad mode is off."""
        index = [i for i, v in enumerate(values) if isinstance(v, Tensor) and v.requires_grad]
        if not index or not GRAD.enabled:
            return values, None
        if CAPTURE[0] is not None:        # a captured step cannot replay the hooks: run eagerly
            note("a module backward hook runs Python in the backward pass")
        tensors = [values[i] for i in index]
        wrapped = BackwardHookFunction.apply(*tensors, callback=callback)
        if not isinstance(wrapped, tuple):
            wrapped = (wrapped,)
        out = list(values)
        for i, t, w in zip(index, tensors, wrapped):
            w._version = t._version                          # the same storage
            out[i] = w
        return tuple(out), index

    def setup_input_hook(self, args):
        res, self.input_index = self._wrap(args, self._input_backward)
        self.n_inputs = len(args)
        if self.input_index is not None:
            # tensor inputs that need no grad get zeros in grad_input (PyTorch's materialised
            # gradients of its non-differentiable outputs), other arguments None
            self.input_constants = {i: (tuple(a.shape), a.dtype, a.device)
                                    for i, a in enumerate(args)
                                    if isinstance(a, Tensor) and i not in self.input_index}
        return res

    def setup_output_hook(self, result):
        is_tuple = isinstance(result, tuple)
        values = result if is_tuple else (result,)
        res, self.output_index = self._wrap(values, self._output_backward)
        self.n_outputs = len(values)
        if self.output_index is not None and len(self.output_index) > 1:
            # the engine gives an unused output of a multi-output op zeros; PyTorch's hooks see
            # None there: a node hook per output notes which gradients really arrived
            for i in self.output_index:
                res[i].register_hook(lambda g, i=i: self.arrived.add(i))
        return res if is_tuple else res[0]

    def _output_backward(self, grads):
        """Runs first: record grad_output, run the pre-hooks (each may replace it)."""
        if len(grads) > 1:
            grads = [g if i in self.arrived else None for i, g in zip(self.output_index, grads)]
            self.arrived = set()
        self.grad_outputs = self._pack(self.output_index, grads, self.n_outputs)
        for hook in self.user_pre_hooks:
            new = hook(self.module, self.grad_outputs)
            if new is None:
                continue
            new = tuple(new)
            if len(new) != len(self.grad_outputs):
                raise RuntimeError(f"Backward pre hook returned an invalid number of "
                                   f"grad_output, got {len(new)}, but expected "
                                   f"{len(self.grad_outputs)}")
            self.grad_outputs = new
        grad_outputs = self.grad_outputs
        if self.input_index is None:
            # no input requires grad: the input node never runs, so the hooks run here
            warnings.warn("Full backward hook is firing when gradients are computed with "
                          "respect to module outputs since no inputs require gradients.",
                          UserWarning, stacklevel=2)
            grad_inputs = (None,) * self.n_inputs
            for hook in self.user_hooks:
                res = hook(self.module, grad_inputs, self.grad_outputs)
                if res is not None and not all(g is None for g in res):
                    raise RuntimeError("Backward hook for Modules where no input requires "
                                       "gradient should always return None or None for all "
                                       "gradients.")
            self.grad_outputs = None
        return tuple(grad_outputs[i] for i in self.output_index)

    def _input_backward(self, grads):
        """Runs after the module's backward: the full hooks see grad_input and grad_output."""
        if self.grad_outputs is None:
            # the gradient reached the inputs without passing through the outputs (a second
            # backward through the inputs only): no hook, as PyTorch
            return grads
        res = list(self._pack(self.input_index, grads, self.n_inputs))
        for i, (shape, dtype, device) in self.input_constants.items():
            res[i] = zeros(shape, dtype=dtype, device=device)
        res = tuple(res)
        for hook in self.user_hooks:
            new = hook(self.module, res, self.grad_outputs)
            if new is None:
                continue
            new = tuple(new)
            if len(new) != len(res):
                raise RuntimeError(f"Backward hook returned an invalid number of grad_input, "
                                   f"got {len(new)}, but expected {len(res)}")
            res = new
        self.grad_outputs = None
        return tuple(res[i] for i in self.input_index)
