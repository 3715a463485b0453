"""Shared pytest setup: tests/ on sys.path (so `from helpers import check_op` works anywhere under
tests/), and tinygen's global state (grad mode, anomaly mode, default dtype) reset around each test
so one failing test cannot leak a mode into the next."""
import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(autouse=True)
def _reset_tinygen_state():
    try:
        import tinygen as tg
    except ImportError:  # pragma: no cover
        yield
        return
    from tinygen.autograd.function import ANOMALY
    from tinygen.autograd.grad_mode import GRAD
    from tinygen_kernels import _threads       # lazy, as tinygen above (it may not import)
    grad, anomaly = GRAD.enabled, ANOMALY[0]
    default = tg.get_default_dtype()
    # as after a convolution's split (kernels/_threads.py, blas_alone): the tests that force
    # parallel paths get split products and, without the one pool, tinygen's threads for their
    # loops; blas_alone's own tests reset it
    _threads._conv_split[0] = True
    yield
    GRAD.enabled, ANOMALY[0] = grad, anomaly
    tg.set_default_dtype(default)
