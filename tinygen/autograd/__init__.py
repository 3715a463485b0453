"""Reverse-mode automatic differentiation: Function, the engine, grad mode, checks, and tools.

    y = (x * w).sum()
    (gx,) = tg.autograd.grad(y, [x], create_graph=True)   # a graph again: differentiate gx too
"""
from . import function as _function
from .function import Function, OpError
from .grad_mode import (no_grad, enable_grad, set_grad_enabled, is_grad_enabled, inference_mode,
                        is_inference_mode_enabled)
from .engine import run_backward
from .anomaly import set_detect_anomaly, detect_anomaly, is_anomaly_enabled
from .gradcheck import gradcheck, gradgradcheck, GradcheckError
from .graphviz import to_dot


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False,
         allow_unused=False):
    """Gradients of `outputs` with respect to `inputs`, returned (not accumulated into .grad).

    outputs: a Tensor or sequence; inputs: a Tensor or sequence; grad_outputs: matching
    gradients (None for a scalar output). With create_graph=True the result is differentiable.
    """
    Tensor = _function.Tensor
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
    if retain_graph is None:
        retain_graph = create_graph
    return run_backward(outs, gos, retain_graph, create_graph, inputs=ins,
                        allow_unused=allow_unused)


def backward(tensors, grad_tensors=None, retain_graph=None, create_graph=False):
    Tensor = _function.Tensor
    ts = [tensors] if isinstance(tensors, Tensor) else list(tensors)
    gs = [None] * len(ts) if grad_tensors is None else (
        [grad_tensors] if isinstance(grad_tensors, Tensor) else list(grad_tensors))
    run_backward(ts, gs, create_graph if retain_graph is None else retain_graph, create_graph)


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
