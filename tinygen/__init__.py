"""tinygen: a from-scratch deep-learning engine in PyTorch's dialect.

    import tinygen as tg
    x = tg.randn(3, requires_grad=True)
    y = (x * x).sum()
    y.backward()          # x.grad == 2 * x
"""
import warnings as _warnings

# Ops may compute log(0) or 0/0 on purpose (masked branches); PyTorch stays silent there, so do we.
_warnings.filterwarnings("ignore", category=RuntimeWarning, module=r"tinygen(\.|$)")
_warnings.filterwarnings("ignore", category=RuntimeWarning, module=r"tinygen_kernels(\.|$)")

from .backend import (  # noqa: E402
    device, Device, dtype, float16, bfloat16, float32, float64, int8, int16, int32, int64, uint8,
    half, float_ as float, double, long, int_ as int, manual_seed, get_default_dtype,
    set_default_dtype, initial_seed,
)
from .backend.dtypes import bool_ as bool  # noqa: E402
from .tensor import Tensor  # noqa: E402
from .autograd import no_grad, enable_grad, set_grad_enabled, is_grad_enabled  # noqa: E402
from . import autograd  # noqa: E402
from . import functions as _functions  # noqa: E402
from .functions import (  # noqa: E402
    tensor, from_numpy, as_tensor, zeros, ones, empty, full, arange, linspace, eye, rand, randn,
    randint, randperm, zeros_like, ones_like, empty_like, full_like, rand_like, randn_like, cat,
    concat, stack, where, matmul, mm, bmm, einsum, allclose, isclose, equal, topk, sort, argsort,
    multinomial, max, min, roll, broadcast_tensors, is_tensor, normal,
)
from . import cuda  # noqa: E402

# the Tensor-method twins (tg.exp, tg.sum, tg.reshape, ...) generated in functions.py
for _name in _functions.METHOD_TWINS + ["neg", "negative", "add", "sub", "mul", "div", "pow",
                                        "eq", "ne", "lt", "le", "gt", "ge", "dot", "numel",
                                        "as_tensor"]:
    globals()[_name] = getattr(_functions, _name)

__version__ = "0.1.0"


def __getattr__(name):
    # heavier subpackages load on first use: tg.nn, tg.optim, tg.data, tg.save/load
    import importlib
    if name in ("nn", "optim", "data", "io", "models", "train"):
        return importlib.import_module(f"{__name__}.{name}")
    if name in ("save", "load"):
        io = importlib.import_module(f"{__name__}.io")
        return getattr(io, name)
    if name in ("from_dlpack",):
        io = importlib.import_module(f"{__name__}.io")
        return getattr(io, name)
    raise AttributeError(f"module 'tinygen' has no attribute {name!r}")
