"""`tg.accelerator`, as `torch.accelerator`: the one accelerator tinygen knows, CUDA through CuPy.

    device = tg.accelerator.current_accelerator() if tg.accelerator.is_available() else "cpu"

(pytorch/examples' scripts pick their device this way since PyTorch 2.6.)
"""
from __future__ import annotations

from . import cuda
from .backend.device import device


def is_available() -> bool:
    return cuda.is_available()


def current_accelerator(check_available: bool = False):
    """device('cuda') where CuPy sees a GPU, else None, as PyTorch on a machine without one."""
    return device("cuda") if cuda.is_available() else None


def device_count() -> int:
    return cuda.device_count()


def current_device_index() -> int:
    return 0 if cuda.is_available() else -1


current_device_idx = current_device_index


def synchronize(device=None) -> None:
    cuda.synchronize()


def empty_cache() -> None:
    cuda.empty_cache()
