"""tinygen.nn.parallel: data parallelism over processes (torch.nn.parallel's
DistributedDataParallel).

    from tinygen.nn.parallel import DistributedDataParallel as DDP
"""
from .distributed import DistributedDataParallel

__all__ = ["DistributedDataParallel"]
