"""Muon (Jordan et al. 2024, "Muon: An optimizer for hidden layers in neural networks";
Liu et al. 2025, "Muon is Scalable for LLM Training"), as PyTorch's `optim.Muon`
(torch/optim/_muon.py), update for update.

For one 2-D parameter p, (A, B), with gradient g:

    M = lerp(M, g, 1 - momentum)               momentum_buffer: momentum M + (1 - momentum) g
    U = lerp(g, M, momentum) if nesterov       (1 - momentum) g + momentum M
        M                    otherwise
    O = NS(U)                                  Newton-Schulz: roughly U's orthogonal factor
    p = p * (1 - lr * weight_decay)            decoupled weight decay, with the unadjusted lr
    p = p - adjusted_lr * O
    adjusted_lr = lr * sqrt(max(1, A / B))     adjust_lr_fn "original" (Keller Jordan's) or None
                = lr * 0.2 * sqrt(max(A, B))   "match_rms_adamw" (Moonshot's: the update's RMS
                                               is about AdamW's, so AdamW's lr and decay carry)

PyTorch's docstring writes the buffer as momentum M + g; its code (and this) is the lerp above,
which differs by the factor (1 - momentum) that NS's normalisation removes (up to eps).

NS(X), k = ns_steps, (a, b, c) = ns_coefficients, for X of shape (A, B):

    X = X.T if A > B                           work on the wide side: the Gram matrix is the
                                               smaller one (the same result in exact arithmetic)
    X = X / max(||X||_F, eps)                  spectral norm now <= 1
    k times:  G = X X^T;  X = a X + (b G + c G G) X
    X = X.T if A > B

The quintic's coefficients maximise its slope at zero, so a few steps push every singular value
into roughly [0.5, 1.5] (not exactly to 1: U S' V^T, which trains as well as U V^T).
State per parameter (PyTorch's key and shape): `momentum_buffer` (the parameter's shape); no
`step`, as in PyTorch.

Where PyTorch differs: PyTorch runs NS in bfloat16 (a GPU speed choice, Keller Jordan's); tinygen
runs it in the parameter's dtype, at least float32 (float32 for float16, bfloat16 and float32
parameters, float64 for float64 ones), because NumPy and CuPy have no bfloat16 matrix product
(ml_dtypes' bfloat16 is optional, and its matmul is not BLAS). So the update is the one PyTorch's
algorithm gives in that dtype, and differs from PyTorch's own by bfloat16 round-off (1 to 2 %
of the update's RMS). Bad `ns_steps` or `ns_coefficients` raise PyTorch's errors at the step,
as in PyTorch, but before the momentum buffer is touched. NS works on a copy of its input
(PyTorch's, for a bfloat16 parameter with nesterov=False, divides the momentum buffer itself by
its norm, since `.bfloat16()` of a bfloat16 tensor is that tensor). tinygen has no complex
dtype nor sparse gradients, which PyTorch's Muon refuses; nor has PyTorch's Muon `maximize` or
`foreach`.
"""
from __future__ import annotations

import math

from ..autograd.grad_mode import no_grad
from ..backend.device import array_module
from ..tensor import Tensor
from .adafactor import _lerp_
from .optimizer import Optimizer, _check_grad, _scalar, _zeros_like

# Keller Jordan's constants (github.com/KellerJordan/Muon, muon.py), PyTorch's defaults
NS_COEFFICIENTS = (3.4445, -4.775, 2.0315)
NS_STEPS = 5
EPS = 1e-7
ADJUST_LR_FNS = (None, "original", "match_rms_adamw")


def zeropower_via_newtonschulz(matrix, ns_coefficients=NS_COEFFICIENTS, ns_steps=NS_STEPS,
                               eps=EPS):
    """NS(matrix): about the orthogonal factor U V^T of matrix = U S V^T, by `ns_steps` quintic
    Newton-Schulz steps (PyTorch's `_zeropower_via_newtonschulz`, in the working dtype: see the
    module docstring). matrix: a 2-D array (A, B), not modified. Returns a new (A, B) array of
    dtype promote(matrix.dtype, float32)."""
    _check_newton_schulz_args(ns_coefficients, ns_steps)
    if matrix.ndim != 2:
        raise ValueError(f"zeropower_via_newtonschulz: Input tensor gradient must be a 2D "
                         f"matrix, got shape {tuple(matrix.shape)}")
    xp = array_module(matrix)
    work = xp.promote_types(matrix.dtype, xp.float32).type
    a, b, c = (work(v) for v in ns_coefficients)
    tall = matrix.shape[0] > matrix.shape[1]
    x = matrix.astype(work)                                  # a copy: matrix stays as it was
    if tall:
        x = x.T                                              # (B, A), B < A: wide
    # Frobenius norm >= spectral norm: dividing by it puts every singular value in [0, 1]
    x /= xp.maximum(xp.linalg.norm(x), work(eps))
    for _ in range(ns_steps):
        gram = x @ x.T                                       # (m, m), m = min(A, B)
        gram_update = b * gram + c * (gram @ gram)           # (m, m)
        x = a * x + gram_update @ x                          # (m, n)
    return x.T if tall else x


def adjusted_lr(lr, adjust_lr_fn, shape):
    """The learning rate Muon's update is scaled by, for a parameter of `shape` (A, B): PyTorch's
    `_adjust_lr`. None means "original"; an unknown name (possible only by editing a group)
    leaves lr as it is, as in PyTorch."""
    rows, cols = shape[:2]
    if adjust_lr_fn is None or adjust_lr_fn == "original":
        ratio = math.sqrt(max(1, rows / cols))               # tall matrices: the update's RMS
    elif adjust_lr_fn == "match_rms_adamw":
        ratio = 0.2 * math.sqrt(max(rows, cols))             # AdamW's update RMS, about 0.2
    else:
        ratio = 1.0
    return lr * ratio


def muon_update(param, grad, momentum_buffer, *, lr, weight_decay, momentum, nesterov,
                ns_coefficients, ns_steps, eps, adjust_lr_fn):
    """One Muon step for one 2-D parameter, on arrays (numpy or cupy), updated in place.

    param, grad, momentum_buffer: arrays of one (A, B) shape and dtype (grad not modified).
    Scalars are read in the working dtype promote(param.dtype, float32), as PyTorch's CPU
    kernels read them in their opmath type."""
    _check_newton_schulz_args(ns_coefficients, ns_steps)    # before the buffer is touched
    xp = array_module(param)
    work = xp.promote_types(param.dtype, xp.float32).type
    _lerp_(momentum_buffer, grad, 1 - momentum)
    if nesterov:
        update = grad.copy()
        _lerp_(update, momentum_buffer, momentum)
    else:
        update = momentum_buffer                            # NS copies it: the buffer is safe
    ortho = zeropower_via_newtonschulz(update, ns_coefficients, ns_steps, eps)
    if weight_decay != 0:                                   # PyTorch multiplies by 1.0 then
        param *= work(1 - lr * weight_decay)
    ortho *= work(-adjusted_lr(lr, adjust_lr_fn, param.shape))
    param += ortho


class Muon(Optimizer):
    """Muon(params, lr=1e-3, weight_decay=0.1, momentum=0.95, nesterov=True,
    ns_coefficients=(3.4445, -4.775, 2.0315), eps=1e-7, ns_steps=5, adjust_lr_fn=None).

    For 2-D parameters only (the weights of hidden layers): give embeddings, the output layer,
    biases and norms' gains to AdamW. adjust_lr_fn: None or "original" (lr * sqrt(max(1, A/B))),
    or "match_rms_adamw" (lr * 0.2 * sqrt(max(A, B)): AdamW's lr and weight decay carry over).
    lr may be a 1-element Tensor (read as its value). State dicts have PyTorch's layout, so a
    PyTorch Muon's state dict loads here and back.

        hidden = [p for name, p in model.named_parameters() if p.ndim == 2 and "hidden" in name]
        rest = [p for name, p in model.named_parameters() if p.ndim != 2 or "hidden" not in name]
        opts = [tg.optim.Muon(hidden, lr=0.02), tg.optim.AdamW(rest, lr=3e-4)]
    """

    def __init__(self, params, lr=1e-3, weight_decay=0.1, momentum=0.95, nesterov=True,
                 ns_coefficients=NS_COEFFICIENTS, eps=EPS, ns_steps=NS_STEPS,
                 adjust_lr_fn=None):
        _check_muon_args(lr, weight_decay, momentum, adjust_lr_fn)
        defaults = {"lr": lr, "weight_decay": weight_decay, "momentum": momentum,
                    "nesterov": nesterov, "ns_coefficients": ns_coefficients, "eps": eps,
                    "ns_steps": ns_steps, "adjust_lr_fn": adjust_lr_fn}
        super().__init__(params, defaults)
        for g, group in enumerate(self.param_groups):
            for i, p in enumerate(group["params"]):
                if p.ndim != 2:
                    raise ValueError(
                        f"Muon only supports 2D parameters whereas we found a parameter with "
                        f"size: {tuple(p.shape)} (param {i} of group {g}; optimise biases, "
                        "norms' gains and other non-2-D parameters with AdamW)")

    @no_grad()
    def step(self, closure=None):
        """One update of every parameter that has a gradient. Returns the closure's loss."""
        loss = self._closure_loss(closure)
        for g, group in enumerate(self.param_groups):
            lr = _scalar(group["lr"])
            for i, p in enumerate(group["params"]):
                if p.grad is None:
                    continue
                grad = _check_grad("Muon", p, i)
                if grad.ndim != 2:                  # a group added after construction
                    raise ValueError(f"Muon.step: Param gradient must be a 2D matrix, but "
                                     f"param {i} of group {g} has shape {tuple(grad.shape)}")
                state = self.state[p]
                if "momentum_buffer" not in state:
                    state["momentum_buffer"] = _zeros_like(p)
                muon_update(p._data, grad, state["momentum_buffer"]._data, lr=lr,
                            weight_decay=group["weight_decay"], momentum=group["momentum"],
                            nesterov=group["nesterov"], ns_coefficients=group["ns_coefficients"],
                            ns_steps=group["ns_steps"], eps=group["eps"],
                            adjust_lr_fn=group["adjust_lr_fn"])
                p._version[0] += 1
        return loss


def _check_muon_args(lr, weight_decay, momentum, adjust_lr_fn):
    """PyTorch's checks and messages, in its order."""
    if isinstance(lr, Tensor) and lr.numel() != 1:
        raise ValueError("Tensor lr must be 1-element")
    if not 0.0 <= _scalar(lr):
        raise ValueError(f"Learning rate should be >= 0 but is: {lr}")
    if not 0.0 <= momentum:
        raise ValueError(f"momentum should be >= 0 but is: {momentum}")
    if not 0.0 <= weight_decay:
        raise ValueError(f"weight decay should be >= 0 but is: {weight_decay}")
    if adjust_lr_fn not in ADJUST_LR_FNS:
        raise ValueError(f"Adjust learning rate function {adjust_lr_fn} is not supported "
                         "(expected None, 'original' or 'match_rms_adamw')")


def _check_newton_schulz_args(ns_coefficients, ns_steps):
    """PyTorch's checks (made where it makes them: at the step, in NS), with the value given."""
    if ns_steps >= 100:
        raise ValueError(f"Number of steps must be less than 100 for computational efficiency, "
                         f"got ns_steps={ns_steps}")
    if len(ns_coefficients) != 3:
        raise ValueError(f"Coefficients must be a tuple of exactly 3 values, got "
                         f"{len(ns_coefficients)}: {tuple(ns_coefficients)}")
