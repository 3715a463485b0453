"""Anomaly mode: name the first backward function that returned a NaN gradient.

    tg.autograd.set_detect_anomaly(True)
    loss.backward()   # RuntimeError: Function 'Log' returned nan values in its 0th output ...

As PyTorch's: it checks every backward's gradients with isnan, so it is slow: turn it on to
debug. Forward values and infinite gradients are not anomalies (an attention mask's -inf).
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
