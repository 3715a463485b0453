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

__all__ = list(_modules_all) + ["DataParallel", "functional", "init", "parallel", "parameter",
                                "utils", "LinearCrossEntropyOptions"]
