"""PyTorch's switches for how its autograd engine runs, kept so that code that sets them runs:

    with tg.autograd.set_multithreading_enabled(False):   # also a plain call or a decorator
        loss.backward()
    tg.autograd.is_multithreading_enabled()              # True, unless switched off
    tg.autograd.is_view_replay_enabled()                 # False

tinygen's engine is single-threaded: backward always runs on the calling thread, one node after
another (engine.py), whatever the multithreading switch says. PyTorch's switch chooses between
its per-device worker threads and the calling thread; here it is only recorded, so that
is_multithreading_enabled() reports what was set. Like PyTorch's, the setting is per thread.

View replay is PyTorch's choice, when it rebuilds a view's grad_fn after an in-place change to
its storage, between replaying the view ops and one as_strided; tinygen always replays the view
ops (autograd/views.py). is_view_replay_enabled() reports PyTorch's default, False, and nothing
here sets it.
"""
from __future__ import annotations

import threading

from .grad_mode import _CallTimeSwitch


class _ThreadingState(threading.local):
    enabled = True              # each new thread starts with PyTorch's default


_STATE = _ThreadingState()


def is_multithreading_enabled() -> bool:
    """Whether multithreaded backward is switched on (the switch has no effect in tinygen, whose
    engine is single-threaded)."""
    return _STATE.enabled


class set_multithreading_enabled(_CallTimeSwitch):
    """Switch multithreaded backward on or off: as a call (takes effect at once), a context
    manager (restores the previous setting on exit) or a decorator. Recorded only: tinygen's
    backward always runs on the calling thread.

    Where tinygen differs: as a decorator it undoes its call-time switch (as set_grad_enabled
    does); PyTorch 2.13's leaves the switch set after decorating."""

    _state = _STATE

    def clone(self):
        return self.__class__(self._value)


def is_view_replay_enabled() -> bool:
    """PyTorch's default, False (see the module doc: tinygen replays view ops regardless)."""
    return False
