"""`tg.cuda`: is a GPU usable? Never raises; CuPy is imported on first use only."""
from .backend.device import cuda_is_available


def is_available() -> bool:
    return cuda_is_available()


def device_count() -> int:
    if not cuda_is_available():
        return 0
    import cupy
    return cupy.cuda.runtime.getDeviceCount()


def synchronize():
    if cuda_is_available():
        import cupy
        cupy.cuda.Device().synchronize()
