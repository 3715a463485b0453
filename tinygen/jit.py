"""`tg.jit`, as `torch.jit`, for scripts that script or trace a model on the way: tinygen has no
TorchScript, so script and trace return what they are given (it runs as Python, as under
`PYTORCH_JIT=0`), the decorators leave their function as it is, and save / load refuse (save the
state_dict with tg.save). tg.compile is tinygen's way to capture a training step.
"""
from __future__ import annotations


def script(obj, optimize=None, _frames_up=0, _rcb=None, example_inputs=None):
    return obj


def trace(func, example_inputs=None, *args, **kwargs):
    return func


def _identity(fn=None, *args, **kwargs):
    """@ignore and @ignore(drop=True) alike: the function itself."""
    return fn if callable(fn) else (lambda f: f)


ignore = unused = export = _identity


def is_scripting() -> bool:
    return False


def is_tracing() -> bool:
    return False


def save(m, f, _extra_files=None):
    raise NotImplementedError("tg.jit.save: tinygen has no TorchScript; save the model's "
                              "state_dict() with tg.save and build the module in code")


def load(f, map_location=None, _extra_files=None):
    raise NotImplementedError("tg.jit.load: tinygen has no TorchScript and cannot read a "
                              "TorchScript archive; load a state_dict saved with tg.save")
