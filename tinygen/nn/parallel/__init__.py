"""tinygen.nn.parallel: data parallelism over processes (torch.nn.parallel's
DistributedDataParallel), and DataParallel / data_parallel as PyTorch's without GPUs.

    from tinygen.nn.parallel import DistributedDataParallel as DDP
"""
from .data_parallel import DataParallel, data_parallel
from .distributed import DistributedDataParallel

__all__ = ["DataParallel", "data_parallel", "DistributedDataParallel"]
