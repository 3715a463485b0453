"""tinygen.nn: Module, Parameter, layers, and the functional ops, in PyTorch's dialect.

    import tinygen as tg
    from tinygen import nn
    import tinygen.nn.functional as F

    model = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Flatten(), nn.Linear(8 * 14 * 14, 10))
    model.load_state_dict(torch_model.state_dict())   # PyTorch's key names and layouts

Layers live in tinygen/nn/modules, one family per file; `init` and `utils` are submodules, and
`parameter` is torch.nn.parameter's path to Parameter, UninitializedParameter, UninitializedBuffer.
"""
from . import functional  # noqa: F401
from . import init  # noqa: F401
from . import parallel  # noqa: F401
from . import parameter  # noqa: F401
from . import utils  # noqa: F401
from .modules import *  # noqa: F401,F403
from .modules import __all__ as _modules_all
from .linear_cross_entropy import LinearCrossEntropyOptions
from .parallel import DataParallel


def factory_kwargs(kwargs):
    """kwargs (device, dtype, memory_format, and a `factory_kwargs` dict of them) as one dict for
    a factory function, as torch.nn.factory_kwargs: a TypeError for any other key, or for a key
    given both ways. For modules written as PyTorch's: `self.w = Parameter(tg.empty(3,
    **nn.factory_kwargs(kwargs)))`. A memory_format is passed on as given, but tinygen's empty
    does not take one (its new tensors are row-major): a TypeError there."""
    if kwargs is None:
        return {}
    simple = {"device", "dtype", "memory_format"}
    unexpected = kwargs.keys() - simple - {"factory_kwargs"}
    if unexpected:
        raise TypeError(f"factory_kwargs: unexpected kwargs {unexpected} (expected device, "
                        "dtype, memory_format or factory_kwargs)")
    out = dict(kwargs.get("factory_kwargs", {}))
    for key in simple & kwargs.keys():
        if key in out:
            raise TypeError(f"factory_kwargs: {key} specified twice, in **kwargs and in "
                            "factory_kwargs")
        out[key] = kwargs[key]
    return out


__all__ = list(_modules_all) + ["DataParallel", "factory_kwargs", "functional", "init", "parallel",
                                "parameter", "utils", "LinearCrossEntropyOptions"]
