"""skip_init, as torch.nn.utils.init."""


def skip_init(module_cls, *args, **kwargs):
    """module_cls(*args, **kwargs) (PyTorch skips the initialisation on a meta device; tinygen
    has none and runs it: the values are to be overwritten either way)."""
    return module_cls(*args, **kwargs)
