"""Anomaly mode: name the first op whose forward or backward produced a NaN or Inf.

    tg.autograd.set_detect_anomaly(True)
    loss.backward()   # RuntimeError: anomaly detected: Log backward produced NaN or Inf in ...

It checks every op's outputs with isfinite, so it is slow: turn it on to debug.
"""
from .function import ANOMALY


def set_detect_anomaly(mode: bool):
    ANOMALY[0] = bool(mode)


def is_anomaly_enabled() -> bool:
    return ANOMALY[0]


class detect_anomaly:
    """Context manager form: `with tg.autograd.detect_anomaly(): ...`."""

    def __init__(self, check_nan=True):
        self.mode = bool(check_nan)

    def __enter__(self):
        self.prev = ANOMALY[0]
        ANOMALY[0] = self.mode

    def __exit__(self, *exc):
        ANOMALY[0] = self.prev
        return False
