"""Grad mode: whether ops record the graph. `no_grad`, `enable_grad`, `set_grad_enabled`.

The flag lives in a one-element list so the hot path reads it with one index (`GRAD[0]`).
"""
import functools

GRAD = [True]


def is_grad_enabled() -> bool:
    return GRAD[0]


class _GradMode:
    _value = True

    def __enter__(self):
        self._prev = GRAD[0]
        GRAD[0] = self._value

    def __exit__(self, *exc):
        GRAD[0] = self._prev
        return False

    def __call__(self, fn):                   # usable as a decorator too
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with self.__class__():
                return fn(*args, **kwargs)
        return wrapper


class no_grad(_GradMode):
    """Context manager / decorator: ops inside record no graph (inference, optimiser steps)."""
    _value = False


class enable_grad(_GradMode):
    """Context manager / decorator: turn recording back on inside a `no_grad` block."""
    _value = True


class set_grad_enabled(_GradMode):
    def __init__(self, mode: bool):
        self._value = bool(mode)
        self._prev = GRAD[0]
        GRAD[0] = self._value                 # takes effect as a function call too, like torch

    def __enter__(self):
        pass

    def __exit__(self, *exc):
        GRAD[0] = self._prev
        return False

    def __call__(self, fn):                   # as a decorator: undo the call-time switch
        GRAD[0] = self._prev
        mode = self._value

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with set_grad_enabled(mode):
                return fn(*args, **kwargs)
        return wrapper
