"""`tinygen.data.distributed`, as `torch.utils.data.distributed`: DistributedSampler (defined in
sampler.py), under PyTorch's module path."""
from .sampler import DistributedSampler

__all__ = ["DistributedSampler"]
