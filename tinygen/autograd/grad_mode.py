"""Grad mode: whether ops record the graph. `no_grad`, `enable_grad`, `set_grad_enabled`.

The flag is per thread, as in PyTorch: a `no_grad` block in the training thread does not switch
recording off in the DataLoader's prefetch thread, and the other way round. Every thread starts
with grad mode on. The hot path reads it as one attribute, `GRAD.enabled`.
"""
import functools
import inspect
import threading


class _GradState(threading.local):
    enabled = True              # the class attribute is each new thread's starting value


GRAD = _GradState()


def is_grad_enabled() -> bool:
    return GRAD.enabled


def _decorate(fn, make_mode):
    """fn run under the mode `make_mode()` builds (a context manager); a generator function's
    body under it at each resumption, the caller's mode kept between them, as PyTorch's."""
    if not inspect.isgeneratorfunction(fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with make_mode():
                return fn(*args, **kwargs)
        return wrapper

    @functools.wraps(fn)
    def generator(*args, **kwargs):
        gen = fn(*args, **kwargs)
        try:
            with make_mode():
                response = gen.send(None)
            while True:
                try:
                    request = yield response
                except GeneratorExit:
                    with make_mode():
                        gen.close()
                    raise
                except BaseException as e:         # thrown into the generator: pass it on
                    with make_mode():
                        response = gen.throw(e)
                else:
                    with make_mode():
                        response = gen.send(request)
        except StopIteration as stop:
            return stop.value
    return generator


class _GradMode:
    _value = True

    def __enter__(self):
        self._prev = GRAD.enabled
        GRAD.enabled = self._value

    def __exit__(self, *exc):
        GRAD.enabled = self._prev
        return False

    def __call__(self, fn):                   # usable as a decorator too
        return _decorate(fn, self.__class__)


class no_grad(_GradMode):
    """Context manager / decorator: ops inside record no graph (inference, optimiser steps)."""
    _value = False


class enable_grad(_GradMode):
    """Context manager / decorator: turn recording back on inside a `no_grad` block."""
    _value = True


class _CallTimeSwitch:
    """A per-thread flag (`_state.enabled`) switched as a call (at once), restored by a `with`
    block's exit, or, as a decorator, set around each call of the function (the call-time switch
    undone), as PyTorch's set_grad_enabled. Subclasses name their state."""
    _state = GRAD

    def __init__(self, mode: bool):
        self._value = bool(mode)
        self._prev = self._state.enabled
        self._state.enabled = self._value     # takes effect as a function call too, like torch

    def __enter__(self):
        pass

    def __exit__(self, *exc):
        self._state.enabled = self._prev
        return False

    def __call__(self, fn):                   # as a decorator: undo the call-time switch
        self._state.enabled = self._prev
        switch, mode = type(self), self._value
        return _decorate(fn, lambda: switch(mode))


class set_grad_enabled(_CallTimeSwitch, _GradMode):
    """Grad mode on or off: as a call, a context manager or a decorator (_CallTimeSwitch)."""


class _InferenceState(threading.local):
    enabled = False


INFERENCE = _InferenceState()


def is_inference_mode_enabled() -> bool:
    return INFERENCE.enabled


class inference_mode:
    """Context manager / decorator (bare or called): no_grad under PyTorch's name for inference.
    inference_mode(False) turns grad mode on (and inference mode off), as PyTorch's. Where
    tinygen differs: its tensors carry no inference flag, so tensors made inside may later join
    a graph or be changed in place outside it (PyTorch refuses both), and enable_grad inside
    inference_mode records a graph again (PyTorch's inference mode records none, whatever grad
    mode says)."""

    def __new__(cls, mode=True):
        if callable(mode):                     # @inference_mode without parentheses
            return cls(True)(mode)
        return super().__new__(cls)

    def __init__(self, mode=True):
        self.mode = bool(mode)

    def __enter__(self):
        self._prev = GRAD.enabled, INFERENCE.enabled
        GRAD.enabled, INFERENCE.enabled = not self.mode, self.mode

    def __exit__(self, *exc):
        GRAD.enabled, INFERENCE.enabled = self._prev
        return False

    def __call__(self, fn):
        mode = self.mode
        return _decorate(fn, lambda: inference_mode(mode))
