"""`tg.cuda`: is a GPU usable? Never raises; CuPy is imported on first use only."""
import types

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


def empty_cache():
    """Give CuPy's cached device memory back to the driver (torch.cuda.empty_cache); nothing to
    do without a GPU."""
    if cuda_is_available():
        xp = get_xp("cuda")
        xp.get_default_memory_pool().free_all_blocks()
        xp.get_default_pinned_memory_pool().free_all_blocks()


def __getattr__(name):
    # tg.cuda.amp: torch.cuda.amp's deprecated names (GradScaler, autocast) for device 'cuda'
    if name == "amp":
        from . import amp as _amp  # lazy: amp imports this module (its GradScaler asks cuda)
        return types.SimpleNamespace(
            GradScaler=lambda *args, **kwargs: _amp.GradScaler("cuda", *args, **kwargs),
            autocast=lambda enabled=True, dtype=None, cache_enabled=True: _amp.autocast(
                "cuda", dtype, enabled, cache_enabled))
    raise AttributeError(f"module 'tinygen.cuda' has no attribute {name!r}")
