"""`tg.backends.mps`, as `torch.backends.mps`: tinygen has no Apple-GPU (Metal) device."""


def is_available() -> bool:
    return False


def is_built() -> bool:
    return False
