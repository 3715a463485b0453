"""`tg.backends.cudnn`, as `torch.backends.cudnn`. tinygen does not use cuDNN (its GPU kernels are
its own and cuBLAS), so `is_available()` is False and the flags below are plain attributes that
scripts may set and read; they change nothing."""

enabled = True
benchmark = False
deterministic = False
allow_tf32 = True


def is_available() -> bool:
    return False


def version():
    return None
