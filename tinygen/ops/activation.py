"""Activations, as torch.nn.functional: relu leaky_relu elu selu celu gelu silu mish softplus
sigmoid tanh logsigmoid hardtanh relu6 hardsigmoid hardswish softsign glu softmax log_softmax,
and dropout (an elementwise random mask).

The elementwise Functions (Relu, LeakyRelu, Softplus, Silu, ...) live in ops/elementwise.py;
GELU runs the fused kernels of kernels/activation.py (Gelu, below); the rest are compositions
of Tensor ops, so their derivatives of any order come for free. Where a
branch could overflow (exp of a large x in elu), its input is clamped so that the branch not
taken never holds inf (0 * inf in a backward rule would be NaN).
"""
from __future__ import annotations

import math

from ..autograd.function import Function
from ..autograd import function as _fn
from ..autograd.grad_mode import GRAD
from . import elementwise as E


class Gelu(Function):
    """GELU through the kernel table (gelu_fwd / gelu_bwd). The backward runs the fused kernel
    when no graph is recorded (create_graph=False) and the same derivative in Tensor ops when one
    is, so second derivatives work."""

    def forward(self, x, approximate):
        self.approximate = approximate
        self.save_for_backward(x)
        return self.kernel("gelu_fwd")(x, approximate)

    def backward(self, gy):
        (x,) = self.saved_tensors
        if not GRAD.enabled:
            gx = self.kernel("gelu_bwd")(x._data, gy._data, self.approximate)
            return _fn.Tensor._make(gx, None, 0, False), None
        return gy * gelu_derivative(x, self.approximate), None


def gelu_derivative(x, approximate):
    """d gelu / dx in Tensor ops: Phi(x) + x phi(x), or the derivative of the tanh form."""
    if approximate == "tanh":
        c, a = math.sqrt(2 / math.pi), 0.044715
        t = ((x + x * x * x * a) * c).tanh()
        return (1 + t) * 0.5 + x * 0.5 * (1 - t * t) * ((x * x * (3 * a) + 1) * c)
    cdf = (1 + (x * (1 / math.sqrt(2))).erf()) * 0.5
    pdf = (x * x * -0.5).exp() * (1 / math.sqrt(2 * math.pi))
    return cdf + x * pdf


def _where(cond, a, b):
    from ..functions import where
    return where(cond, a, b)


def _float(op, x):
    if not x.dtype.is_floating_point:
        raise RuntimeError(f"{op}: expected a floating-point input, got {x.dtype} (shape "
                           f"{tuple(x.shape)})")
    return x


def relu(input, inplace=False):
    return E.Relu.apply(input)


def leaky_relu(input, negative_slope=0.01, inplace=False):
    """x if x > 0 else negative_slope * x."""
    return E.LeakyRelu.apply(_float("leaky_relu", input), float(negative_slope))


def elu(input, alpha=1.0, inplace=False):
    """x if x > 0 else alpha * (exp(x) - 1)."""
    x = _float("elu", input)
    return _where(x > 0, x, x.clamp(max=0.0).expm1() * alpha)


def selu(input, inplace=False):
    """scale * elu(x, alpha) with the self-normalising constants of Klambauer et al. 2017."""
    alpha, scale = 1.6732632423543772848170429916717, 1.0507009873554804934193349852946
    return elu(input, alpha) * scale


def celu(input, alpha=1.0, inplace=False):
    """max(0, x) + min(0, alpha * (exp(x / alpha) - 1))."""
    x = _float("celu", input)
    return _where(x > 0, x, (x.clamp(max=0.0) / alpha).expm1() * alpha)


def gelu(input, approximate="none"):
    """x * Phi(x) (approximate='none') or its tanh approximation (approximate='tanh')."""
    x = _float("gelu", input)
    if approximate not in ("none", "tanh"):
        raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")
    return Gelu.apply(x, approximate)


def silu(input, inplace=False):
    """x * sigmoid(x)."""
    return E.Silu.apply(_float("silu", input))


def softplus(input, beta=1.0, threshold=20.0):
    """log(1 + exp(beta * x)) / beta, and x itself where beta * x > threshold."""
    return E.Softplus.apply(_float("softplus", input), float(beta), float(threshold))


def mish(input, inplace=False):
    """x * tanh(softplus(x))."""
    x = _float("mish", input)
    return x * softplus(x).tanh()


def sigmoid(input):
    return input.sigmoid()


def tanh(input):
    return input.tanh()


def logsigmoid(input):
    """log(sigmoid(x)) = -softplus(-x), computed without overflow."""
    return -E.Softplus.apply(-_float("logsigmoid", input), 1.0, math.inf)


def hardtanh(input, min_val=-1.0, max_val=1.0, inplace=False):
    """clamp(x, min_val, max_val); the gradient is 1 strictly inside (min_val, max_val) and 0
    elsewhere, boundaries included (as PyTorch's hardtanh_backward)."""
    x = _float("hardtanh", input)
    if min_val > max_val:
        raise ValueError(f"hardtanh: min_val {min_val} cannot be greater than max_val {max_val}")
    inside = (x > min_val) & (x < max_val)
    return _where(inside, x, x.detach().clamp(min_val, max_val))


def relu6(input, inplace=False):
    return hardtanh(input, 0.0, 6.0)


def hardsigmoid(input, inplace=False):
    """0 for x <= -3, 1 for x >= 3, x / 6 + 1/2 between."""
    x = _float("hardsigmoid", input)
    inside = (x > -3) & (x < 3)
    return _where(inside, x / 6 + 0.5, (x.detach() >= 3).to(x.dtype))


def hardswish(input, inplace=False):
    """x * relu6(x + 3) / 6."""
    x = _float("hardswish", input)
    return _where(x <= -3, x * 0, _where(x >= 3, x, x * (x + 3) / 6))


def softsign(input):
    return input / (input.abs() + 1)


def glu(input, dim=-1):
    """a * sigmoid(b) where a, b are the two halves of input along dim."""
    n = input.shape[dim]
    if n % 2:
        raise RuntimeError(f"glu: halving dimension must be even, but dimension {dim} is size {n} "
                           f"(input of shape {tuple(input.shape)})")
    a, b = input.chunk(2, dim=dim)
    return a * b.sigmoid()


def _softmax_dim(ndim):
    # PyTorch's implicit dim, for softmax(x) without dim: 0 for 0-, 1- and 3-D inputs, else 1
    return 0 if ndim in (0, 1, 3) else 1


def softmax(input, dim=None, _stacklevel=3, dtype=None):
    """exp(x) / sum(exp(x)) along dim (shifted by the max: never overflows)."""
    x = input if dtype is None else input.to(dtype)
    if dim is None:
        dim = _softmax_dim(x.ndim)
    if x.ndim == 0:
        return x.reshape(1).softmax(0).reshape(())
    return x.softmax(dim)


def log_softmax(input, dim=None, _stacklevel=3, dtype=None):
    """x - logsumexp(x) along dim."""
    x = input if dtype is None else input.to(dtype)
    if dim is None:
        dim = _softmax_dim(x.ndim)
    if x.ndim == 0:
        return x.reshape(1).log_softmax(0).reshape(())
    return x.log_softmax(dim)


def softmin(input, dim=None, _stacklevel=3, dtype=None):
    return softmax(-input, dim, dtype=dtype)


def dropout(input, p=0.5, training=True, inplace=False):
    """Zero each element with probability p and scale the rest by 1 / (1 - p) when training;
    the identity otherwise. The mask comes from tinygen's seeded generator (tg.manual_seed)."""
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout: probability has to be between 0 and 1, but got {p}")
    if not training or p == 0.0:
        return input
    x = _float("dropout", input)
    if p == 1.0:
        return x * 0.0
    from ..functions import rand
    keep = rand(*x.shape, dtype=x.dtype, device=x.device) >= p      # Bernoulli(1 - p)
    return x * (keep.to(x.dtype) * (1.0 / (1.0 - p)))
