"""Reverse-mode automatic differentiation: Function, the engine, grad mode, checks, and tools.

    y = (x * w).sum()
    (gx,) = tg.autograd.grad(y, [x], create_graph=True)   # a graph again: differentiate gx too
"""
import warnings

from . import function as _function
from .function import Function, OpError
from .grad_mode import (no_grad, enable_grad, set_grad_enabled, is_grad_enabled, inference_mode,
                        is_inference_mode_enabled)
from .engine import add_into, run_backward
from .anomaly import set_detect_anomaly, detect_anomaly, is_anomaly_enabled
from .gradcheck import gradcheck, gradgradcheck, GradcheckError
from .graphviz import to_dot


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False,
         only_inputs=True, allow_unused=None, is_grads_batched=False, materialize_grads=False):
    """Gradients of `outputs` with respect to `inputs`, returned (not accumulated into .grad).

    outputs: a Tensor or sequence; inputs: a Tensor or sequence; grad_outputs: matching
    gradients (None for a scalar output). With create_graph=True the result is differentiable.
    allow_unused (default: materialize_grads): None for an input the outputs do not reach, or
    zeros with materialize_grads=True. is_grads_batched: each grad_output has a leading batch
    dimension, and so has each gradient (PyTorch vmaps the backward; tinygen runs one backward
    per batch entry and stacks them). only_inputs is deprecated and ignored, as in PyTorch.
    """
    Tensor = _function.Tensor
    if not only_inputs:
        warnings.warn("only_inputs argument is deprecated and is ignored now (defaults to True)"
                      ". To accumulate gradient for other parts of the graph, please use "
                      "torch.autograd.backward.", FutureWarning, stacklevel=2)
    if allow_unused is None:
        allow_unused = materialize_grads
    elif materialize_grads and not allow_unused:
        raise ValueError("Expected allow_unused to be True or not passed when "
                         f"materialize_grads=True, but got: allow_unused={allow_unused}.")
    single = isinstance(inputs, Tensor)
    outs = [outputs] if isinstance(outputs, Tensor) else list(outputs)
    ins = [inputs] if single else list(inputs)
    if grad_outputs is None:
        gos = [None] * len(outs)
    elif isinstance(grad_outputs, Tensor):
        gos = [grad_outputs]
    else:
        gos = list(grad_outputs)
    if len(gos) != len(outs):
        raise ValueError(f"autograd.grad: {len(outs)} outputs but {len(gos)} grad_outputs")
    if not ins:
        raise RuntimeError("autograd.grad: the `inputs` argument cannot be empty (no tensor "
                           "to differentiate with respect to)")
    if retain_graph is None:
        retain_graph = create_graph
    if is_grads_batched:
        res = _batched_grad(outs, gos, ins, retain_graph, create_graph, allow_unused)
    else:
        res = run_backward(outs, gos, retain_graph, create_graph, inputs=ins,
                           allow_unused=allow_unused)
    if materialize_grads:
        # (as PyTorch's: zeros that require grad under create_graph, as a leaf)
        res = tuple(t.new_zeros(t.shape).requires_grad_(create_graph) if g is None else g
                    for g, t in zip(res, ins))
    return res


def _batched_grad(outs, gos, ins, retain_graph, create_graph, allow_unused):
    """autograd.grad with is_grads_batched: one backward per entry of the grad_outputs' leading
    dimension (every grad_output must be a tensor with it), the gradients stacked."""
    sizes = {None if g is None else (tuple(g.shape[:1]) if g.dim() else ()) for g in gos}
    if len(sizes) != 1 or None in sizes or () in sizes:
        raise RuntimeError("autograd.grad with is_grads_batched=True: every grad_output must be "
                           "a tensor with the same leading (batch) dimension; got shapes "
                           f"{[None if g is None else tuple(g.shape) for g in gos]}")
    (batch,) = sizes.pop()
    if batch == 0:
        raise RuntimeError("autograd.grad with is_grads_batched=True: the batch dimension of "
                           "the grad_outputs is empty")
    rows = [run_backward(outs, [g[b] for g in gos], retain_graph or b < batch - 1,
                         create_graph, inputs=ins, allow_unused=allow_unused)
            for b in range(batch)]
    return tuple(None if col[0] is None else functional._stack(list(col), col[0])
                 for col in zip(*rows))


def backward(tensors, grad_tensors=None, retain_graph=None, create_graph=False, inputs=None):
    """Accumulate the gradients of `tensors` into the .grad of every leaf they depend on; with
    `inputs` (tensors, leaves or not), into theirs only, each once however often it is listed."""
    Tensor = _function.Tensor
    ts = [tensors] if isinstance(tensors, Tensor) else list(tensors)
    gs = [None] * len(ts) if grad_tensors is None else (
        [grad_tensors] if isinstance(grad_tensors, Tensor) else list(grad_tensors))
    retain_graph = create_graph if retain_graph is None else retain_graph
    if inputs is None:
        run_backward(ts, gs, retain_graph, create_graph)
        return
    unique = []
    for t in [inputs] if isinstance(inputs, Tensor) else inputs:
        if not any(t is u for u in unique):
            unique.append(t)
    # as PyTorch: a non-leaf input's .grad is accumulated as retain_grad does it (after its
    # hooks); a leaf's is what autograd.grad gives (after the leaf's hooks too)
    retained = [t for t in unique if t._grad_fn is not None and not t.retains_grad]
    for t in retained:
        t.retain_grad()
    try:
        grads = run_backward(ts, gs, retain_graph, create_graph, inputs=unique,
                             allow_unused=True)
    finally:
        for t in retained:
            del t._grad_fn._retain[t._out_idx]
    for t, g in zip(unique, grads):
        if g is None or t._grad_fn is not None:
            continue
        if t.grad is None:
            t.grad = g if create_graph else g.detach().clone()
        elif create_graph or not add_into(t.grad, g):
            t.grad = t.grad + g


__all__ = ["Function", "grad", "backward", "no_grad", "enable_grad", "set_grad_enabled",
           "is_grad_enabled", "inference_mode", "is_inference_mode_enabled", "gradcheck",
           "gradgradcheck", "GradcheckError",
           "set_detect_anomaly", "detect_anomaly", "is_anomaly_enabled", "to_dot", "OpError"]
from . import functional  # noqa: E402,F401  (torch.autograd.functional: jacobian, hessian, vjp...)
# PyTorch's legacy wrapper and engine switches. `variable` is then the function (it raises, as
# torch.autograd.variable does), shadowing the submodule of that name, as in PyTorch
from .variable import Variable, VariableMeta, variable, is_tensor_like  # noqa: E402
from .engine_switches import (  # noqa: E402
    set_multithreading_enabled, is_multithreading_enabled, is_view_replay_enabled,
)
__all__ += ["Variable", "variable", "is_tensor_like", "set_multithreading_enabled",
            "is_multithreading_enabled", "is_view_replay_enabled"]
