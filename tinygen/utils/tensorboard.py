"""`tg.utils.tensorboard`, as `torch.utils.tensorboard`: SummaryWriter, tensorboardX's (an
optional extra: pip install 'tinygen[tensorboard]'), taking tinygen Tensors wherever it takes
arrays or numbers (each add_* method converts its Tensor arguments to NumPy first).

    from tinygen.utils.tensorboard import SummaryWriter
    writer = SummaryWriter("runs/exp1"); writer.add_scalar("loss", loss, step)
"""
from __future__ import annotations

import functools

try:
    import tensorboardX as _tbx
except ImportError:
    raise ImportError("tinygen.utils.tensorboard needs tensorboardX: pip install "
                      "'tinygen[tensorboard]' (or pip install tensorboardX)") from None

from ..tensor import Tensor

__all__ = ["SummaryWriter"]


def _numpy(v):
    if isinstance(v, Tensor):
        return v.detach().cpu().numpy()
    if isinstance(v, dict):
        return {k: _numpy(x) for k, x in v.items()}
    return v


def _converting(method):
    @functools.wraps(method)
    def run(self, *args, **kwargs):
        return method(self, *[_numpy(a) for a in args], **{k: _numpy(v) for k, v in kwargs.items()})
    return run


SummaryWriter = type("SummaryWriter", (_tbx.SummaryWriter,), {
    name: _converting(getattr(_tbx.SummaryWriter, name))
    for name in dir(_tbx.SummaryWriter) if name.startswith("add_")})
SummaryWriter.__doc__ = __doc__
