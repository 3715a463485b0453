"""`tinygen.data.dataloader`, as `torch.utils.data.dataloader`: the DataLoader and its collation
functions (defined in loader.py), under PyTorch's module path."""
from .loader import DataLoader, default_collate, default_convert
from .worker import WorkerInfo, get_worker_info

__all__ = ["DataLoader", "WorkerInfo", "default_collate", "default_convert", "get_worker_info"]
