"""Activations, as torch.nn.functional: relu leaky_relu elu selu celu gelu silu mish softplus
sigmoid tanh logsigmoid hardtanh relu6 hardsigmoid hardswish softsign glu softmax log_softmax,
threshold hardshrink softshrink tanhshrink prelu rrelu gumbel_softmax, the in-place spellings
(relu_, elu_...), and dropout (an elementwise random mask).

ReLU masks the gradient (ZeroWhere); LeakyReLU, SiLU and GELU run the fused kernels of
kernels/activation.py, each with its backward as a Function of its own (LeakyReluBackward,
SiluBackward, GeluBackward: the backward kernel forward, Tensor ops backward), so the fast path
and the double-backward path are the same code. Softplus is one Function; the rest are
compositions of Tensor ops, so their derivatives of any order come for free. Where a branch could
overflow (exp of a large x in elu), its input is clamped so that the branch not taken never holds
inf (0 * inf in a backward rule would be NaN).
"""
from __future__ import annotations

import math
import warnings

import numpy as np

from ..autograd.function import Function, on_arrays, wrap, wrap_grad
from ..backend import dtypes as _dt
from .args import check_float
from .binary import where
from .elementwise import Sigmoid, ZeroWhere
from .inplace import inplace as _write_into    # (the ops' `inplace` flag takes the name)
from .random import keep_mask, random_array


# Below this many elements Relu does NumPy's two passes itself: the kernel's call (dispatch,
# checks, a tuple) cost 1.5 us of the per-op chain's 45 (benchmarks/overhead.py).
_RELU_KERNEL_MIN = 2048


class Relu(Function):
    fuse = "{0} if {0} > z or {0} != {0} else z"     # np.maximum(x, 0): NaN passes, -0.0 is 0
    fuse_attrs = {"off": "{0} <= z"}

    def forward(self, x):
        if x.size >= _RELU_KERNEL_MIN:          # y and the mask in one pass (kernels/activation)
            y, self.off = self.kernel("relu_fwd")(x)
            return y
        self.off = x <= 0                  # where the gradient is blocked
        return self.xp.maximum(x, x.dtype.type(0))

    def backward(self, gy):
        if on_arrays():                     # ZeroWhere's kernel without its op (see on_arrays)
            g = gy._data
            if g.size < _RELU_KERNEL_MIN and type(g) is np.ndarray:   # as forward: NumPy's
                return wrap_grad(np.where(self.off, g.dtype.type(0), g)), None   # select
            return wrap_grad(self.kernel("zero_where")(g, self.off)), None
        return ZeroWhere.apply(gy, self.off), None     # linear in gy: its own backward is itself


class LeakyRelu(Function):
    """x if x > 0 else slope * x, through the kernel table (leaky_relu_fwd)."""

    def forward(self, x, slope):
        self.slope = slope
        self.save_for_backward(x)
        return self.kernel("leaky_relu_fwd")(x, slope)

    def backward(self, gy):
        (x,) = self.saved_tensors
        return LeakyReluBackward.apply(x, gy, self.slope), None


class LeakyReluBackward(Function):
    """gx = gy * (1 if x > 0 else slope): the leaky_relu_bwd kernel. Linear in gy (its gy
    gradient is itself) and piecewise constant in x (its x gradient is 0)."""

    def forward(self, x, gy, slope):
        self.save_for_backward(x)
        self.slope = slope
        return self.kernel("leaky_relu_bwd")(x, gy, slope)

    def backward(self, gg):
        (x,) = self.saved_tensors
        return None, LeakyReluBackward.apply(x, gg, self.slope), None


class Softplus(Function):
    """log(1 + exp(beta x)) / beta, linear above `threshold` (PyTorch's definition)."""

    def forward(self, x, beta, threshold):
        self.beta = beta
        self.save_for_backward(x)
        # BCE with logits, log-sigmoid: threshold inf, never linear. Else where the output is x
        # itself, the gradient is 1
        self.linear = None if threshold == math.inf else (
            (x * x.dtype.type(beta) if beta != 1 else x) > threshold)
        return self.kernel("softplus_fwd")(x, beta, threshold)

    def backward(self, gy):
        (x,) = self.saved_tensors
        g = gy * Sigmoid.apply(x if self.beta == 1 else x * self.beta)
        if self.linear is not None:               # a setting, not the data: the same ops each
            g = where(wrap(self.linear), gy, g)   # step (a captured step replays them)
        return g, None, None


class Silu(Function):
    """x * sigmoid(x) through the kernel table (silu_fwd)."""

    def forward(self, x):
        self.save_for_backward(x)
        return self.kernel("silu_fwd")(x)

    def backward(self, gy):
        (x,) = self.saved_tensors
        return SiluBackward.apply(x, gy)


class SiluBackward(Function):
    """gx = gy * silu'(x), silu'(x) = s (1 + x (1 - s)) with s = sigmoid(x): the silu_bwd kernel
    forward; backward in Tensor ops with silu''(x) = s (1 - s) (2 + x (1 - 2 s))."""

    def forward(self, x, gy):
        self.save_for_backward(x, gy)
        return self.kernel("silu_bwd")(x, gy)

    def backward(self, gg):
        x, gy = self.saved_tensors
        gx = ggy = None
        if self.inputs[0] is not None:
            s = Sigmoid.apply(x)
            gx = gg * gy * (s * (1 - s) * (2 + x * (1 - 2 * s)))
        if self.inputs[1] is not None:
            ggy = SiluBackward.apply(x, gg)                    # linear in gy
        return gx, ggy


class Gelu(Function):
    """GELU through the kernel table (gelu_fwd); backward GeluBackward."""

    def forward(self, x, approximate):
        self.approximate = approximate
        self.save_for_backward(x)
        return self.kernel("gelu_fwd")(x, approximate)

    def backward(self, gy):
        (x,) = self.saved_tensors
        return GeluBackward.apply(x, gy, self.approximate), None


class GeluBackward(Function):
    """gx = gy * gelu'(x): the gelu_bwd kernel forward; backward in Tensor ops with gelu''(x)
    (gelu_derivatives), so GELU is differentiable to any order."""

    def forward(self, x, gy, approximate):
        self.approximate = approximate
        self.save_for_backward(x, gy)
        return self.kernel("gelu_bwd")(x, gy, approximate)

    def backward(self, gg):
        x, gy = self.saved_tensors
        gx = ggy = None
        if self.inputs[0] is not None:
            gx = gg * gy * gelu_derivatives(x, self.approximate)[1]
        if self.inputs[1] is not None:
            ggy = GeluBackward.apply(x, gg, self.approximate)  # linear in gy
        return gx, ggy, None


def gelu_derivatives(x, approximate):
    """(gelu'(x), gelu''(x)) in Tensor ops.
    Exact: gelu' = Phi + x phi, gelu'' = phi (2 - x^2).
    tanh form, u = c (x + a x^3), t = tanh(u): gelu' = (1 + t) / 2 + x (1 - t^2) u' / 2,
    gelu'' = (1 - t^2) (u' - x t u'^2 + x u'' / 2), u' = c (1 + 3 a x^2), u'' = 6 a c x."""
    if approximate == "tanh":
        c, a = math.sqrt(2 / math.pi), 0.044715
        t = ((x + x * x * x * a) * c).tanh()
        du = (x * x * (3 * a) + 1) * c
        sech2 = 1 - t * t
        first = (1 + t) * 0.5 + x * 0.5 * sech2 * du
        return first, sech2 * (du - x * t * du * du + x * x * (3 * a * c))
    pdf = (x * x * -0.5).exp() * (1 / math.sqrt(2 * math.pi))
    cdf = (1 + (x * (1 / math.sqrt(2))).erf()) * 0.5
    return cdf + x * pdf, pdf * (2 - x * x)


def relu(input, inplace=False):
    if input._data.dtype.kind == "b":
        raise RuntimeError("relu: Boolean inputs not supported for relu (as PyTorch)")
    if inplace:
        return relu_(input)
    return Relu.apply(input)


def leaky_relu(input, negative_slope=0.01, inplace=False):
    """x if x > 0 else negative_slope * x."""
    if inplace:
        return leaky_relu_(input, negative_slope)
    return LeakyRelu.apply(check_float("leaky_relu", input), float(negative_slope))


def elu(input, alpha=1.0, inplace=False):
    """x if x > 0 else alpha * (exp(x) - 1).
    Deviation: at x == 0 the second derivative is alpha, the derivative of the branch whose
    first derivative (alpha) both libraries give there; PyTorch's double backward gives 0 (its
    first and second derivatives take different branches). selu and celu share this."""
    if inplace:
        return elu_(input, alpha)
    x = check_float("elu", input)
    return where(x > 0, x, x.clamp(max=0.0).expm1() * alpha)


def selu(input, inplace=False):
    """scale * elu(x, alpha) with the self-normalising constants of Klambauer et al. 2017."""
    if inplace:
        return selu_(input)
    alpha, scale = 1.6732632423543772848170429916717, 1.0507009873554804934193349852946
    return elu(input, alpha) * scale


def celu(input, alpha=1.0, inplace=False):
    """max(0, x) + min(0, alpha * (exp(x / alpha) - 1)). alpha=0 is refused (as PyTorch)."""
    if alpha == 0:
        raise RuntimeError("celu: alpha cannot be 0 (the formula divides x by alpha)")
    if inplace:
        return celu_(input, alpha)
    x = check_float("celu", input)
    return where(x > 0, x, (x.clamp(max=0.0) / alpha).expm1() * alpha)


def gelu(input, approximate="none"):
    """x * Phi(x) (approximate='none') or its tanh approximation (approximate='tanh')."""
    x = check_float("gelu", input)
    if approximate not in ("none", "tanh"):
        raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")
    return Gelu.apply(x, approximate)


def silu(input, inplace=False):
    """x * sigmoid(x)."""
    if inplace:
        return _write_into(input, silu)
    return Silu.apply(check_float("silu", input))


def softplus(input, beta=1.0, threshold=20.0):
    """log(1 + exp(beta * x)) / beta, and x itself where beta * x > threshold."""
    return Softplus.apply(check_float("softplus", input), float(beta), float(threshold))


def mish(input, inplace=False):
    """x * tanh(softplus(x))."""
    if inplace:
        return _write_into(input, mish)
    x = check_float("mish", input)
    return x * softplus(x).tanh()


def sigmoid(input):
    return input.sigmoid()


def tanh(input):
    return input.tanh()


def logsigmoid(input):
    """log(sigmoid(x)) = -softplus(-x), computed without overflow."""
    return -Softplus.apply(-check_float("logsigmoid", input), 1.0, math.inf)


def hardtanh(input, min_val=-1.0, max_val=1.0, inplace=False):
    """clamp(x, min_val, max_val); the gradient is 1 strictly inside (min_val, max_val) and 0
    elsewhere, boundaries included (as PyTorch's hardtanh_backward)."""
    if inplace:
        return hardtanh_(input, min_val, max_val)
    if _integer(input):           # PyTorch clamps integers, the bounds cast (-0.5 -> 0)
        if min_val > max_val:
            raise ValueError(f"hardtanh: min_val {min_val} cannot be greater than max_val "
                             f"{max_val}")
        return input.clamp(int(min_val), int(max_val))
    x = check_float("hardtanh", input)
    if min_val > max_val:
        raise ValueError(f"hardtanh: min_val {min_val} cannot be greater than max_val {max_val}")
    inside = (x > min_val) & (x < max_val)
    return where(inside, x, x.detach().clamp(min_val, max_val))


def relu6(input, inplace=False):
    if inplace:
        return hardtanh_(input, 0.0, 6.0)
    return hardtanh(input, 0.0, 6.0)


def hardsigmoid(input, inplace=False):
    """0 for x <= -3, 1 for x >= 3, x / 6 + 1/2 between, NaN for NaN (as PyTorch). (PyTorch's
    float64 gradient is 1/6 rounded to float32, 3e-8 off; tinygen's is 1/6.)"""
    if inplace:
        return _write_into(input, hardsigmoid)
    x = check_float("hardsigmoid", input)
    d = x.detach()
    inside = (d > -3) & (d < 3)
    return where(inside, x / 6 + 0.5, (d.clamp(-3.0, 3.0) + 3) / 6)      # 0, 1, or NaN


def hardswish(input, inplace=False):
    """x * relu6(x + 3) / 6."""
    if inplace:
        return _write_into(input, hardswish)
    x = check_float("hardswish", input)
    d = x.detach()
    inside = (d > -3) & (d < 3)
    xs = where(inside, x, 0.0)            # the middle branch away from +-inf: 0 * inf is NaN
    # PyTorch's gradient: 0 below -3, (x / 3 + 1/2) inside, 1 from 3 on and for NaN
    return where(d <= -3, x * 0, where(inside, xs * (xs + 3) / 6, x))


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
    """exp(x) / sum(exp(x)) along dim (shifted by the max: never overflows). A NaN or +inf
    in a slice makes all of it NaN, as PyTorch. Where tinygen differs: a slice that is -inf
    everywhere gives zeros (log_softmax: -inf), where PyTorch gives NaN; attention's fully masked
    rows rely on it."""
    x = input if dtype is None else input.to(dtype)
    if not x.dtype.is_floating_point:
        return _integer_softmax("softmax", x)
    if dim is None:
        dim = _softmax_dim(x.ndim)
    if x.ndim == 0:
        return x.reshape(1).softmax(0).reshape(())
    return x.softmax(dim)


def log_softmax(input, dim=None, _stacklevel=3, dtype=None):
    """x - logsumexp(x) along dim."""
    x = input if dtype is None else input.to(dtype)
    if not x.dtype.is_floating_point:
        return _integer_softmax("log_softmax", x)
    if dim is None:
        dim = _softmax_dim(x.ndim)
    if x.ndim == 0:
        return x.reshape(1).log_softmax(0).reshape(())
    return x.log_softmax(dim)


def _integer_softmax(op, x):
    """PyTorch has no integer softmax kernel: it raises, unless the input is empty (no kernel
    runs; the empty result keeps the integer dtype). dtype= casts first."""
    if x.numel():
        raise RuntimeError(f'{op}: "{op}" not implemented for {x.dtype} (an integer input); '
                           "pass dtype= a floating dtype")
    return x.clone()


def softmin(input, dim=None, _stacklevel=3, dtype=None):
    return softmax(-input, dim, dtype=dtype)


def dropout(input, p=0.5, training=True, inplace=False):
    """Zero each element with probability p and scale the rest by 1 / (1 - p) when training;
    the identity otherwise. The mask comes from tinygen's seeded generator (tg.manual_seed)."""
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout: probability has to be between 0 and 1, but got {p}")
    if inplace:
        if not training or p == 0.0:         # nothing written: no leaf check (PyTorch's dropout_)
            return input
        return _write_into(input, lambda t: dropout(t, p, training))
    if not training or p == 0.0:
        return input
    x = check_float("dropout", input)
    if p == 1.0:
        return x * 0.0
    return x * keep_mask(x, p, x.shape, 1.0 / (1.0 - p))               # Bernoulli(1 - p) / (1 - p)


# ---- thresholds and shrinkage --------------------------------------------------------------------
def threshold(input, threshold, value, inplace=False):
    """x where x > threshold, else value (the gradient is 1 above the threshold, 0 below)."""
    if inplace:
        return threshold_(input, threshold, value)
    if _integer(input):           # PyTorch casts threshold and value to the integer dtype
        return where(input <= int(threshold), int(value), input).to(input.dtype)
    x = check_float("threshold", input)
    # PyTorch's test, x <= threshold: a NaN is kept (threshold(NaN) was `value`)
    return where(x.detach() <= threshold, float(value), x)


def _integer(t):
    return not t.dtype.is_floating_point and t.dtype.name != "bool" and \
        not getattr(t.dtype, "is_complex", False)


def hardshrink(input, lambd=0.5):
    """x where |x| > lambd, else 0."""
    x = check_float("hardshrink", input)
    # PyTorch's test, -lambd <= x <= lambd gives 0: a NaN is kept (with its gradient)
    return where(x.detach().abs() <= lambd, 0.0, x)


def softshrink(input, lambd=0.5):
    """x - lambd above lambd, x + lambd below -lambd, 0 between (soft thresholding)."""
    x = check_float("softshrink", input)
    if lambd < 0:
        raise RuntimeError(f"softshrink: lambda must be non-negative, got {lambd}")
    d = x.detach()
    # PyTorch's x * 0 between the thresholds: a NaN stays NaN (softshrink(NaN) was 0)
    return where(d.abs() <= lambd, x * 0.0, x - lambd * d.sign())


def tanhshrink(input):
    """x - tanh(x)."""
    return input - input.tanh()


def prelu(input, weight):
    """x where x > 0, else weight * x; weight (1,) or (C,) broadcast along dim 1 of input.
    Deviation: at x == 0 the input gradient is weight (as PyTorch), and its derivative with
    respect to weight is 1 to match; PyTorch's double backward gives 0 there."""
    x = check_float("prelu", input)
    if weight.dtype != x.dtype:
        raise RuntimeError(f"prelu: expected input and weight of one dtype (no promotion), got "
                           f"{x.dtype} and {weight.dtype}")
    w = weight
    if weight.numel() > 1:
        if x.ndim < 2 or x.shape[1] != weight.numel():
            raise RuntimeError(f"prelu: weight of {weight.numel()} elements needs input with "
                               f"{weight.numel()} channels in dim 1, got input of shape "
                               f"{tuple(x.shape)}")
        w = weight.reshape((weight.numel(),) + (1,) * (x.ndim - 2))
    else:                         # one slope, 0-d: a 0-d input stays 0-d (PyTorch's shape)
        w = weight.reshape(())
    return where(x.detach() > 0, x, x * w)


def rrelu(input, lower=1.0 / 8, upper=1.0 / 3, training=False, inplace=False):
    """Randomized leaky ReLU (Xu et al. 2015): negative inputs times a slope drawn from
    U(lower, upper) per element when training, times (lower + upper) / 2 otherwise."""
    if inplace:
        return rrelu_(input, lower, upper, training)
    x = check_float("rrelu", input)
    if not training:
        return leaky_relu(x, (lower + upper) / 2)
    u = random_array("uniform", x.shape, x.dtype, x.device)
    slope = wrap((lower + u * (upper - lower)).astype(x._data.dtype, copy=False))
    return where(x.detach() >= 0, x, x * slope)


def gumbel_noise(like):
    """Standard Gumbel draws g = -log(E), E ~ Exponential(1), with like's shape, dtype and device,
    from tinygen's generator (tg.manual_seed), as torch's gumbel_softmax draws them
    (-empty_like(logits).exponential_().log()). E = -log1p(-u) from float64 uniforms u, so a
    float32 u never rounds to 1; E is clamped to the smallest normal float64, so the draw u = 0
    gives a large finite g instead of +inf. Tensor ops on the draw (no gradient), so a captured
    step (tg.compile) replays it on fresh noise. gumbel_softmax calls it through the module, so
    a test can replace it to feed given noise."""
    u = wrap(random_array("uniform", tuple(like.shape), _dt.float64, like.device))
    exponential = -(-u).log1p()                                         # -log(1 - U) ~ Exp(1)
    tiny = float(np.finfo(np.float64).tiny)
    return (-exponential.clamp_min(tiny).log()).to(like.dtype)


def gumbel_softmax(logits, tau=1.0, hard=False, eps=1e-10, dim=-1):
    """softmax((logits + g) / tau) along dim with g ~ Gumbel(0, 1) (gumbel_noise; Jang et al.
    2017, Maddison et al. 2017). hard=True returns y_hard - y_soft.detach() + y_soft, y_hard the
    one-hot of the argmax of y_soft along dim (torch's scatter): the forward value is exactly
    one-hot and the gradient is the soft sample's (straight-through). eps is deprecated and has
    no effect: any value but 1e-10 warns, as in PyTorch. tau is not checked (as in PyTorch:
    tau <= 0 gives inf / NaN or a reversed ordering).

        y = F.gumbel_softmax(logits, tau=0.5, hard=True)     # (N, K) one-hot rows"""
    if eps != 1e-10:
        warnings.warn("`eps` parameter is deprecated and has no effect.", stacklevel=2)
    x = check_float("gumbel_softmax", logits, "logits")
    y_soft = ((x + gumbel_noise(x)) / tau).softmax(dim)                  # ~ Gumbel(logits, tau)
    if not hard:
        return y_soft
    index = y_soft.detach().argmax(dim, keepdim=True)
    y_hard = x.detach().new_zeros(tuple(x.shape)).scatter(dim, index, 1.0)   # one-hot at argmax
    return y_hard - y_soft.detach() + y_soft


# ---- in-place spellings (F.relu_, F.elu_...) -----------------------------------------------------
def relu_(input):
    return _write_into(input, relu)


def elu_(input, alpha=1.0):
    return _write_into(input, lambda t: elu(t, alpha))


def selu_(input):
    return _write_into(input, selu)


def celu_(input, alpha=1.0):
    return _write_into(input, lambda t: celu(t, alpha))


def leaky_relu_(input, negative_slope=0.01):
    """In place. Where tinygen differs: with a negative slope the gradient is still computed
    (PyTorch's backward raises, as its output no longer tells the input's sign)."""
    return _write_into(input, lambda t: leaky_relu(t, negative_slope))


def hardtanh_(input, min_val=-1.0, max_val=1.0):
    return _write_into(input, lambda t: hardtanh(t, min_val, max_val))


def threshold_(input, threshold_value, value):
    return _write_into(input, lambda t: threshold(t, threshold_value, value))


def rrelu_(input, lower=1.0 / 8, upper=1.0 / 3, training=False):
    return _write_into(input, lambda t: rrelu(t, lower, upper, training))
