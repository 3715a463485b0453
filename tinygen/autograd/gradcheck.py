"""gradcheck / gradgradcheck: compare autograd's Jacobians with central finite differences.

Use float64 inputs (float32 finite differences are too noisy to mean anything):

    x = tg.randn(3, 4, dtype=tg.float64, requires_grad=True)
    tg.autograd.gradcheck(lambda x: (x * x).sin(), (x,))        # True, or GradcheckError
    tg.autograd.gradgradcheck(lambda x: (x * x).sin(), (x,))    # second derivatives too

The analytical Jacobian is built one row at a time (a backward pass per output element), so keep
the inputs small: this is a test tool.
"""
from __future__ import annotations

import warnings

import numpy as np

from ..backend.device import array_module
from . import function as _function
from .engine import run_backward
from .function import wrap


class GradcheckError(RuntimeError):
    pass


def _as_tuple(x):
    return tuple(x) if isinstance(x, (tuple, list)) else (x,)


def _is_tensor(x):
    return isinstance(x, _function.Tensor)


def _grad(outputs, inputs, grad_outputs, create_graph=False):
    return run_backward(outputs, grad_outputs, retain_graph=True, create_graph=create_graph,
                        inputs=inputs, allow_unused=True)


def _outputs(fn, inputs):
    out = _as_tuple(fn(*inputs))
    return [o for o in out if _is_tensor(o) and o._data.dtype.kind == "f"]


def _numerical(fn, inputs, diff_idx, eps):
    """J[out][in] as arrays of shape (out.size, in.size) by central differences."""
    outs0 = _outputs(fn, inputs)
    jac = [[np.zeros((o.numel(), inputs[i].numel())) for i in diff_idx] for o in outs0]
    for col, i in enumerate(diff_idx):
        data = inputs[i]._data
        flat = data.reshape(-1)          # a view: perturb in place, restore after
        for j in range(flat.size):
            orig = flat[j].item()
            # the array is written directly (no version bump): these are not in-place ops
            flat[j] = orig + eps
            plus = [_flat64(o) for o in _outputs(fn, inputs)]
            flat[j] = orig - eps
            minus = [_flat64(o) for o in _outputs(fn, inputs)]
            flat[j] = orig
            for k in range(len(outs0)):
                jac[k][col][:, j] = (plus[k] - minus[k]) / (2 * eps)
    return jac


def _flat64(t):
    return np.array(t.detach().cpu()._data, dtype=np.float64).reshape(-1)


def _analytical(fn, inputs, diff_idx):
    outs = _outputs(fn, inputs)
    jac = [[np.zeros((o.numel(), inputs[i].numel())) for i in diff_idx] for o in outs]
    targets = [inputs[i] for i in diff_idx]
    for k, o in enumerate(outs):
        if not o.requires_grad:
            continue
        xp = type(o._data) is np.ndarray and np
        for r in range(o.numel()):
            go = np.zeros(o.numel(), dtype=o._data.dtype)
            go[r] = 1
            go_t = wrap(go.reshape(o.shape) if xp else _to_dev(go.reshape(o.shape), o))
            grads = _grad([o], targets, [go_t])
            for col, g in enumerate(grads):
                if g is not None:
                    jac[k][col][r, :] = np.asarray(g.detach().cpu()._data, dtype=np.float64).reshape(-1)
    return jac


def _to_dev(arr, like):
    return array_module(like._data).asarray(arr)


def gradcheck(fn, inputs, eps=1e-6, atol=1e-5, rtol=1e-3, raise_exception=True):
    """True when autograd's gradient of `fn` at `inputs` matches finite differences.

    Only inputs with requires_grad=True are checked. A mismatch raises GradcheckError naming the
    output, the input, the worst element and both values (or returns False).
    """
    inputs = _as_tuple(inputs)
    diff_idx = [i for i, t in enumerate(inputs) if _is_tensor(t) and t.requires_grad]
    if not diff_idx:
        raise ValueError("gradcheck: no input requires grad")
    for i in diff_idx:
        if inputs[i]._data.dtype != np.float64:
            warnings.warn(f"gradcheck: input {i} is {inputs[i].dtype}, not float64; finite "
                          "differences will be inaccurate", stacklevel=2)
    num = _numerical(fn, inputs, diff_idx, eps)
    ana = _analytical(fn, inputs, diff_idx)
    for k in range(len(num)):
        for col, i in enumerate(diff_idx):
            n, a = num[k][col], ana[k][col]
            if n.size == 0:
                continue
            bad = ~(np.abs(a - n) <= atol + rtol * np.abs(n))
            if bad.any():
                r, c = np.argwhere(bad)[0]
                msg = (f"Jacobian mismatch for output {k} with respect to input {i}: at "
                       f"(output element {r}, input element {c}) numerical {n[r, c]:.8g} vs "
                       f"analytical {a[r, c]:.8g}; max abs diff {np.abs(a - n).max():.3g} "
                       f"(atol {atol}, rtol {rtol}).\nnumerical:\n{n}\nanalytical:\n{a}")
                if raise_exception:
                    raise GradcheckError(msg)
                return False
    return True


def gradgradcheck(fn, inputs, grad_outputs=None, eps=1e-6, atol=1e-5, rtol=1e-3,
                  raise_exception=True, seed=0):
    """gradcheck of the gradient: checks second derivatives (double backward) of `fn`.

    The checked function is (inputs, grad_outputs) -> autograd.grad(fn(inputs), inputs,
    grad_outputs, create_graph=True); random grad_outputs are drawn when none are given.
    """
    inputs = _as_tuple(inputs)
    outs = _outputs(fn, inputs)
    outs = [o for o in outs if o.requires_grad]
    if grad_outputs is None:
        rng = np.random.default_rng(seed)
        grad_outputs = [_function.Tensor._make(
            _to_dev(rng.standard_normal(o.shape).astype(o._data.dtype), o), None, 0, True)
            for o in outs]
    grad_outputs = list(grad_outputs)
    n_in = len(inputs)

    def first_grad(*args):
        ins, gos = args[:n_in], args[n_in:]
        outs = [o for o in _outputs(fn, ins) if o.requires_grad]
        targets = [t for t in ins if _is_tensor(t) and t.requires_grad]
        grads = _grad(outs, targets, list(gos), create_graph=True)
        return tuple(g for g in grads if g is not None)

    return gradcheck(first_grad, tuple(inputs) + tuple(grad_outputs), eps, atol, rtol,
                     raise_exception)
