"""`tg.cuda`: is a GPU usable? Never raises; CuPy is imported on first use only."""
from .backend.device import cuda_is_available, get_xp


def is_available() -> bool:
    return cuda_is_available()


def device_count() -> int:
    if not cuda_is_available():
        return 0
    return get_xp("cuda").cuda.runtime.getDeviceCount()


def synchronize():
    if cuda_is_available():
        get_xp("cuda").cuda.Device().synchronize()
