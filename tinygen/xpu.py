"""`tg.xpu`, as `torch.xpu`: tinygen has no Intel-GPU (XPU) device.

    use_xpu = not args.no_xpu and tg.xpu.is_available()      # False: the program picks another

(pytorch/examples' scripts ask before choosing a device, as they ask tg.cuda and
tg.backends.mps.)
"""


def is_available() -> bool:
    """False, as PyTorch on a machine without an XPU (never raises)."""
    return False


def device_count() -> int:
    return 0
