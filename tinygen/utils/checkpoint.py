"""`tg.utils.checkpoint`, as `torch.utils.checkpoint`: activation checkpointing.

    y = checkpoint(block, x, use_reentrant=False)

runs `block` without keeping its intermediate activations and runs it again, with the same random
numbers, when the gradient is needed. Where PyTorch differs: both use_reentrant settings run
tinygen's one way, PyTorch's reentrant one: the recomputation's backward accumulates into the
parameters' .grad directly, so .backward() works through it and autograd.grad / create_graph
(double backward) does not (a RuntimeError says so). Unlike PyTorch's reentrant checkpoint,
parameters get their gradients even when no input requires grad, and the output requires grad
then too (with use_reentrant=False as well). As PyTorch's, the reentrant form takes no keyword
arguments for `function` (ValueError) and refuses a backward where no recomputed output requires
grad. `function` returns a Tensor or a tuple of Tensors.
"""
from __future__ import annotations

import warnings

import numpy as np

from ..autograd import backward as autograd_backward
from ..autograd.capture import note as capture_note
from ..autograd.engine import GRAD_PASSES
from ..autograd.function import Function, wrap
from ..autograd.grad_mode import GRAD, enable_grad, no_grad
from ..backend import random as _random

__all__ = ["checkpoint", "checkpoint_sequential"]


class _State:
    """What the recomputation needs: the function, its arguments (Tensors where positions say),
    the random state before the forward, and how many outputs it gave."""

    def __init__(self, function, args, kwargs, positions, preserve_rng_state):
        self.function, self.args, self.kwargs, self.positions = function, args, kwargs, positions
        self.rng = _random.get_state() if preserve_rng_state else None
        self.single = True
        self.reentrant = True


class _Checkpoint(Function):
    def forward(self, state, _anchor, *arrays):
        self.state = state
        args = list(state.args)
        for pos, a in zip(state.positions, arrays):
            args[pos] = wrap(a)
        with no_grad():
            out = state.function(*args, **state.kwargs)
        state.single = not isinstance(out, (tuple, list))
        outs = (out,) if state.single else tuple(out)
        if not all(hasattr(o, "_data") for o in outs):
            raise TypeError("checkpoint: the function must return a Tensor or a tuple of "
                            f"Tensors, got {type(out).__name__}")
        return outs[0]._data if state.single else tuple(o._data for o in outs)

    def backward(self, *grads):
        if GRAD.enabled or (GRAD_PASSES and GRAD_PASSES[-1]):
            raise RuntimeError("checkpoint: tinygen recomputes a checkpointed block with .backward()"
                               " semantics (PyTorch's reentrant checkpoint): autograd.grad, "
                               "backward(inputs=...) and create_graph through it are not "
                               "supported; call .backward()")
        state, args = self.state, list(self.state.args)
        inputs = []
        for pos in state.positions:
            t = args[pos]
            args[pos] = d = wrap(t._data).requires_grad_(t.requires_grad)
            inputs.append(d)
        with _random.fork_rng(), enable_grad():
            if state.rng is not None:
                _random.set_state(state.rng)
            out = state.function(*args, **state.kwargs)
        outs = (out,) if state.single else tuple(out)
        pairs = [(o, g) for o, g in zip(outs, grads) if o.requires_grad and g is not None]
        if state.reentrant and not any(o.requires_grad for o in outs):
            raise RuntimeError("checkpoint: none of the outputs of the recomputed function "
                               "requires grad (none of output has requires_grad=True, this "
                               "checkpoint() is not necessary)")
        if pairs:
            autograd_backward([o for o, _ in pairs], [g for _, g in pairs])
        return (None, None) + tuple(d.grad for d in inputs)


def checkpoint(function, *args, use_reentrant=None, context_fn=None, determinism_check="default",
               debug=False, preserve_rng_state=True, **kwargs):
    """function(*args, **kwargs) without keeping its activations (module docstring)."""
    if use_reentrant is None:
        warnings.warn("torch.utils.checkpoint: the use_reentrant parameter should be passed "
                      "explicitly; tinygen runs one way for both (see tinygen.utils.checkpoint)",
                      UserWarning, stacklevel=2)
    if context_fn is not None:
        raise NotImplementedError("checkpoint: context_fn is not supported by tinygen")
    if kwargs and use_reentrant is not False:    # (None means True, with the warning above)
        raise ValueError("checkpoint: keyword arguments for the function need "
                         f"use_reentrant=False (as PyTorch's); got {', '.join(kwargs)}. "
                         "Unexpected keyword arguments: " + ",".join(kwargs))
    if not GRAD.enabled:
        return function(*args, **kwargs)
    capture_note("checkpoint recomputes its block in the backward pass")
    positions = [i for i, a in enumerate(args) if hasattr(a, "_data")]
    state = _State(function, args, kwargs, positions, preserve_rng_state)
    state.reentrant = use_reentrant is not False
    anchor = wrap(np.zeros(())).requires_grad_()     # the node exists even when no input needs grad
    out = _Checkpoint.apply(state, anchor, *[args[i] for i in positions])
    return out


def checkpoint_sequential(functions, segments, input, use_reentrant=None, **kwargs):
    """A Sequential (or list of modules) run in `segments` checkpointed pieces, the last one
    plainly, as torch.utils.checkpoint.checkpoint_sequential."""
    functions = list(functions.children()) if hasattr(functions, "children") else list(functions)
    size = max(1, len(functions) // segments)

    def run(start, end):
        def forward(x):
            for f in functions[start:end]:
                x = f(x)
            return x
        return forward
    end = 0
    for start in range(0, size * (segments - 1), size):
        end = start + size
        input = checkpoint(run(start, end), input, use_reentrant=use_reentrant, **kwargs)
    return run(end, len(functions))(input)
