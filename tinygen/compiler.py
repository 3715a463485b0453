"""`tg.compile` and `tg.compiler`, in PyTorch's words.

    step = tg.compile(step)        # a training step: captured and replayed (autograd/capture.py)
    model = tg.compile(model)      # a module: PyTorch's OptimizedModule (nn/modules/compiled.py)

PyTorch's torch.compile turns a function or a module into generated kernels; tinygen's captures
a whole training step (forward, backward and update) as a static plan of array calls. A module
given to tg.compile comes back wrapped as PyTorch's is (state_dict keys under '_orig_mod.',
attributes read through), running eagerly under grad mode and captured without it. PyTorch's
options (`mode`, `fullgraph`, `dynamic`, `backend`, `options`) are accepted and change nothing;
`disable=True` returns what it is given. The rest of torch.compiler is here for model code that
asks: nothing is ever being compiled by dynamo, so is_compiling() is False and disable /
allow_in_graph / assume_constant_result return their function.
"""
from __future__ import annotations

from .autograd.capture import compile as _compile_step


def compile(model=None, *, fullgraph=False, dynamic=None, backend="inductor", mode=None,
            options=None, disable=False, fuse=True):
    """Capture a step (`tg.compile(fn)`, `@tg.compile`, `@tg.compile(fuse=False)`) or wrap a
    module (`tg.compile(model)`); see the module's docstring. fuse=False: no fused elementwise
    loops in the captured plans."""
    if model is None:
        return lambda m: compile(m, fullgraph=fullgraph, dynamic=dynamic, backend=backend,
                                 mode=mode, options=options, disable=disable, fuse=fuse)
    if disable:
        return model
    from .nn.modules.compiled import Module, OptimizedModule  # lazy: nn loads on first use
    if isinstance(model, Module):
        return OptimizedModule(model, fuse=fuse)
    return _compile_step(model, fuse=fuse)


def is_compiling():
    return False


is_dynamo_compiling = is_exporting = is_compiling


def _returns_fn(fn=None, *args, **kwargs):
    """A decorator (bare or called with arguments) that leaves its function as it is."""
    return fn if callable(fn) else (lambda f: f)


disable = allow_in_graph = assume_constant_result = _returns_fn


def reset():
    """Nothing is cached by a compiler here (a captured step's plans live in the step)."""


def cudagraph_mark_step_begin():
    """No CUDA graphs: nothing to mark."""


def list_backends(exclude_tags=()):
    return []
