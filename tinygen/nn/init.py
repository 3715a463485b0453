"""Parameter initialisation, as torch.nn.init: same names, arguments, fans and gains.

Every function fills its tensor in place under no_grad and returns it:

    w = tg.empty(128, 784)
    nn.init.kaiming_uniform_(w, a=math.sqrt(5))   # Linear's default: U(-1/sqrt(784), 1/sqrt(784))

Random streams come from tinygen's generator (tg.manual_seed), so values differ from PyTorch's;
the distributions are the same.
"""
from __future__ import annotations

import math
import warnings

from ..autograd.grad_mode import no_grad
from ..creation import eye, randn, randperm, zeros
from ..tensor import Tensor


def calculate_gain(nonlinearity, param=None):
    """The recommended gain for a nonlinearity (PyTorch's table)."""
    linear_fns = ["linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d",
                  "conv_transpose3d", "sigmoid"]
    if nonlinearity in linear_fns:
        return 1                              # an int, as PyTorch's
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        if param is None:
            slope = 0.01
        elif isinstance(param, (int, float)) and not isinstance(param, bool):
            slope = param
        else:
            raise ValueError(f"calculate_gain: negative_slope {param!r} is not a valid number")
        return math.sqrt(2.0 / (1 + slope ** 2))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise ValueError(f"calculate_gain: unsupported nonlinearity {nonlinearity!r}")


def _calculate_fan_in_and_fan_out(tensor):
    """fan_in = in_features * receptive field, fan_out = out_features * receptive field, for a
    weight laid out (out, in, *kernel) as Linear and Conv weights are."""
    if tensor.ndim < 2:
        raise ValueError(f"Fan in and fan out can not be computed for a tensor with fewer than 2 "
                         f"dimensions (shape {tuple(tensor.shape)})")
    receptive = 1
    for s in tensor.shape[2:]:
        receptive *= s
    return tensor.shape[1] * receptive, tensor.shape[0] * receptive


def _calculate_correct_fan(tensor, mode):
    mode = mode.lower()
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"Mode {mode} not supported, please use one of fan_in, fan_out")
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    return fan_in if mode == "fan_in" else fan_out


def _check(tensor, name):
    if not isinstance(tensor, Tensor):
        raise TypeError(f"init.{name}: expected a Tensor, got {type(tensor).__name__}")


def uniform_(tensor, a=0.0, b=1.0, generator=None):
    """Fill with U(a, b)."""
    _check(tensor, "uniform_")
    with no_grad():
        return tensor.uniform_(a, b)


def normal_(tensor, mean=0.0, std=1.0, generator=None):
    """Fill with N(mean, std^2)."""
    _check(tensor, "normal_")
    with no_grad():
        return tensor.normal_(mean, std)


def constant_(tensor, val):
    _check(tensor, "constant_")
    with no_grad():
        return tensor.fill_(val)


def zeros_(tensor):
    return constant_(tensor, 0.0)


def ones_(tensor):
    return constant_(tensor, 1.0)


def eye_(tensor):
    """Fill a 2-D tensor with the identity (ones on the diagonal)."""
    if tensor.ndim != 2:
        raise ValueError(f"eye_: only tensors with 2 dimensions are supported, got shape "
                         f"{tuple(tensor.shape)}")
    with no_grad():
        return tensor.copy_(eye(tensor.shape[0], tensor.shape[1], dtype=tensor.dtype,
                                device=tensor.device))


def xavier_uniform_(tensor, gain=1.0, generator=None):
    """U(-a, a) with a = gain * sqrt(6 / (fan_in + fan_out)) (Glorot & Bengio 2010)."""
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    std = gain * math.sqrt(2.0 / float(fan_in + fan_out))
    bound = math.sqrt(3.0) * std
    return uniform_(tensor, -bound, bound)


def xavier_normal_(tensor, gain=1.0, generator=None):
    """N(0, std^2) with std = gain * sqrt(2 / (fan_in + fan_out))."""
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    std = gain * math.sqrt(2.0 / float(fan_in + fan_out))
    return normal_(tensor, 0.0, std)


def _zero_element(tensor):
    """Whether tensor has no elements (kaiming_*_ then warn and leave it, as PyTorch)."""
    if 0 not in tensor.shape:
        return False
    warnings.warn("Initializing zero-element tensors is a no-op", UserWarning, stacklevel=3)
    return True


def kaiming_uniform_(tensor, a=0, mode="fan_in", nonlinearity="leaky_relu", generator=None):
    """U(-b, b) with b = gain * sqrt(3 / fan) (He et al. 2015). Linear and Conv use a=sqrt(5),
    which gives b = 1 / sqrt(fan_in)."""
    if _zero_element(tensor):
        return tensor
    fan = _calculate_correct_fan(tensor, mode)
    gain = calculate_gain(nonlinearity, a)
    bound = math.sqrt(3.0) * gain / math.sqrt(fan)
    return uniform_(tensor, -bound, bound)


def kaiming_normal_(tensor, a=0, mode="fan_in", nonlinearity="leaky_relu", generator=None):
    """N(0, std^2) with std = gain / sqrt(fan)."""
    if _zero_element(tensor):
        return tensor
    fan = _calculate_correct_fan(tensor, mode)
    std = calculate_gain(nonlinearity, a) / math.sqrt(fan)
    return normal_(tensor, 0.0, std)


def trunc_normal_(tensor, mean=0.0, std=1.0, a=-2.0, b=2.0, generator=None):
    """N(mean, std^2) truncated to [a, b] (absolute bounds, as PyTorch), by the inverse CDF:
    u ~ U(Phi(alpha), Phi(beta)) mapped back through Phi^-1 (alpha, beta: a and b standardised),
    so far tails cost nothing. As PyTorch: warns where mean is more than 2 std outside [a, b],
    a > b raises a RuntimeError, std 0 a ZeroDivisionError, a == b fills with a, and a
    negative std acts as its absolute value (PyTorch's draws use only its square there)."""
    _check(tensor, "trunc_normal_")
    if mean < a - 2 * std or mean > b + 2 * std:
        warnings.warn("mean is more than 2 std from [a, b] in nn.init.trunc_normal_. The "
                      "distribution of values may be incorrect.", stacklevel=2)

    def cdf(x):                                   # the standard normal's
        return (1.0 + math.erf(x / math.sqrt(2.0))) / 2.0

    lo, hi = cdf((a - mean) / abs(std)), cdf((b - mean) / abs(std))
    if a > b:
        raise RuntimeError(f"trunc_normal_: expected a <= b, got a={a} > b={b}")
    with no_grad():
        tensor.uniform_(2 * lo - 1, 2 * hi - 1)   # erf(z / sqrt 2) of the standardised draw z
        tensor.erfinv_()
        tensor.mul_(abs(std) * math.sqrt(2.0)).add_(mean)
        return tensor.clamp_(a, b)


def orthogonal_(tensor, gain=1.0, generator=None):
    """A (semi-)orthogonal matrix from the QR decomposition of a Gaussian matrix (Saxe et al.
    2013), computed here by twice-repeated Gram-Schmidt; tensors of more than 2 dims are
    flattened to (shape[0], -1)."""
    if tensor.ndim < 2:
        raise ValueError("Only tensors with 2 or more dimensions are supported")
    if tensor.numel() == 0:
        return tensor
    rows = tensor.shape[0]
    cols = tensor.numel() // rows
    n, m = max(rows, cols), min(rows, cols)
    with no_grad():
        flat = randn(m, n, dtype="float64", device=tensor.device)      # (m, n), m <= n
        q = zeros(m, n, dtype="float64", device=tensor.device)         # orthonormal rows so far
        for i in range(m):
            v = flat[i]                                                 # (n,)
            for _ in range(2):                    # "twice is enough" re-orthogonalisation
                v = v - (q[:i] @ v) @ q[:i]
            q[i] = v / v.norm()
        if rows > cols:
            q = q.t()                             # (rows, cols): orthonormal columns
        tensor.copy_((q * gain).reshape(tensor.shape).to(tensor.dtype))
    return tensor


def sparse_(tensor, sparsity, std=0.01, generator=None):
    """N(0, std^2) with a fraction `sparsity` of each column set to zero."""
    if tensor.ndim != 2:
        raise ValueError("Only tensors with 2 dimensions are supported")
    rows, cols = tensor.shape
    num_zeros = int(math.ceil(sparsity * rows))
    with no_grad():
        tensor.normal_(0, std)
        for col in range(cols):
            for r in randperm(rows)[:num_zeros].tolist():
                tensor[r, col] = 0.0
    return tensor


def dirac_(tensor, groups=1):
    """The identity of a convolution: zeros, and 1 at the kernel centre of weight[g * o + d, d]
    for d < min(out / groups, in) (3-, 4- or 5-D weights (out, in, *kernel))."""
    if tensor.ndim not in (3, 4, 5):
        raise ValueError(f"dirac_: only tensors with 3, 4, or 5 dimensions are supported, got "
                         f"shape {tuple(tensor.shape)}")
    out_per_group = tensor.shape[0] // groups
    if tensor.shape[0] % groups:
        raise ValueError(f"dirac_: dim 0 ({tensor.shape[0]}) must be divisible by groups "
                         f"({groups})")
    centre = tuple(k // 2 for k in tensor.shape[2:])
    with no_grad():
        tensor.zero_()
        for g in range(groups):
            for d in range(min(out_per_group, tensor.shape[1])):
                tensor[(g * out_per_group + d, d) + centre] = 1.0
    return tensor


def _deprecated(new):
    """PyTorch's old spelling without the trailing underscore: warns (FutureWarning), then runs
    the in-place function."""
    name = new.__name__[:-1]

    def old(*args, **kwargs):
        warnings.warn(f"nn.init.{name} is now deprecated in favor of nn.init.{new.__name__}.",
                      FutureWarning, stacklevel=2)
        return new(*args, **kwargs)
    old.__name__ = old.__qualname__ = name
    old.__doc__ = f"Deprecated spelling of {new.__name__}."
    return old


(uniform, normal, constant, xavier_uniform, xavier_normal, kaiming_uniform, kaiming_normal,
 orthogonal, sparse, dirac) = (_deprecated(f) for f in (
    uniform_, normal_, constant_, xavier_uniform_, xavier_normal_, kaiming_uniform_,
    kaiming_normal_, orthogonal_, sparse_, dirac_))

__all__ = ["calculate_gain", "uniform_", "normal_", "constant_", "zeros_", "ones_", "eye_",
           "xavier_uniform_", "xavier_normal_", "kaiming_uniform_", "kaiming_normal_",
           "trunc_normal_", "orthogonal_", "sparse_", "dirac_", "uniform", "normal", "constant",
           "xavier_uniform", "xavier_normal", "kaiming_uniform", "kaiming_normal", "orthogonal",
           "sparse", "dirac"]
