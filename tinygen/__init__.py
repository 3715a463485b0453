"""tinygen: a from-scratch deep-learning engine in PyTorch's dialect.

    import tinygen as tg
    x = tg.randn(3, requires_grad=True)
    y = (x * x).sum()
    y.backward()          # x.grad == 2 * x

Everything `tg.*` names is re-exported here explicitly from the layer that defines it: dtypes and
devices from backend/, autograd's switches, the Tensor, the creation functions (creation.py) and
the math (ops/, the same functions Tensor methods delegate to). nn, optim, data, io and the
model zoo load on first use (`tg.nn`), so `import tinygen` stays light.
"""
from .backend import (
    device, Device, dtype, float16, bfloat16, float32, float64, int8, int16, int32, int64, uint8,
    qint8, half, float_ as float, double, long, int_ as int, manual_seed, get_default_dtype,
    set_default_dtype, initial_seed,
)
from .backend.dtypes import bool_ as bool
from .autograd import no_grad, enable_grad, set_grad_enabled, is_grad_enabled
from . import autograd, cuda, random
from .tensor import Tensor, is_tensor
from .creation import (
    tensor, from_numpy, as_tensor, zeros, ones, empty, full, zeros_like, ones_like, empty_like,
    full_like, arange, linspace, eye, rand, randn, randint, randperm, rand_like, randn_like,
    normal,
)
from .ops.elementwise import (
    neg, exp, expm1, log, log1p, log2, log10, sqrt, rsqrt, reciprocal, square, abs, sign, floor,
    ceil, round, sin, cos, tanh, sigmoid, erf, clamp, clip, clamp_min, clamp_max, isnan, isinf,
    isfinite, logical_not,
)
from .ops.elementwise import neg as negative
from .ops.activation import relu
from .ops.binary import (
    add, sub, mul, div, pow, remainder, maximum, minimum, lerp, where, eq, ne, lt, le, gt, ge,
    logical_and, logical_or, logical_xor, allclose, isclose, equal,
)
from .ops.reduce import (
    sum, mean, var, std, prod, amax, amin, max, min, argmax, argmin, logsumexp, norm, cumsum,
    softmax, log_softmax, any, all,
)
from .ops.shape import (
    reshape, flatten, unflatten, permute, transpose, t, squeeze, unsqueeze, split, chunk, unbind,
    flip, roll, narrow, tril, triu, cat, concat, stack, broadcast_tensors,
)
from .ops.index import gather, scatter_add, index_select, masked_fill, sort, argsort, topk
from .ops.linalg import matmul, mm, bmm, dot, einsum
from .ops.convert import clone
from .ops.random import multinomial

__version__ = "0.1.0"


def detach(input):
    return input.detach()


def numel(input):
    return input.numel()


def __getattr__(name):
    # heavier subpackages load on first use: tg.nn, tg.optim, tg.data, tg.save/load
    import importlib  # lazy: start-up time (these subpackages import what `tg` alone does not)
    if name in ("nn", "optim", "data", "io", "models", "train", "metrics", "quantization"):
        return importlib.import_module(f"{__name__}.{name}")
    if name in ("save", "load", "from_dlpack"):
        return getattr(importlib.import_module(f"{__name__}.io"), name)
    raise AttributeError(f"module 'tinygen' has no attribute {name!r}")
