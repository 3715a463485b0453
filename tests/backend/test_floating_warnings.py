"""NumPy's IEEE warnings from tinygen's own ops are quiet, as PyTorch is (backend/floating.py);
the user's NumPy code still warns. Run in fresh interpreters with -W error::RuntimeWarning, so
the check does not depend on pytest's own warning filters."""
import os
import subprocess
import sys

import numpy as np

import tinygen as tg

OPS = """
import math
import numpy as np
import tinygen as tg
x = tg.tensor([100.0, 0.0, -1.0, float("inf"), float("-inf"), 1e38])
y = tg.tensor([0.0, 0.0, 0.0, float("inf"), 2.0, 1e38])
results = [tg.exp(x), x / y, tg.sin(x), tg.log(x), x * y, tg.tensor([math.inf, -math.inf]).sum(),
           tg.tensor([math.inf, -math.inf]).cumsum(0), tg.logsumexp(x, 0)]
w = tg.tensor([1e38, 1.0, 2.0], requires_grad=True)
(w * w).exp().sum().backward()
print("quiet")
try:
    np.exp(np.float32(100.0))
    print("user code quiet")
except RuntimeWarning:
    print("user code warns")
"""


def _run(**env_extra):
    env = {k: v for k, v in os.environ.items() if k != "TINYGEN_NUMPY_WARNINGS"}
    env.update(env_extra)
    return subprocess.run([sys.executable, "-W", "error::RuntimeWarning", "-c", OPS],
                          capture_output=True, text=True, env=env, timeout=120)


def test_tinygens_ops_are_quiet_and_the_users_numpy_is_not():
    out = _run()
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split() == ["quiet", "user", "code", "warns"]


def test_the_opt_out_brings_numpys_warnings_back():
    out = _run(TINYGEN_NUMPY_WARNINGS="1")
    assert out.returncode != 0
    assert "RuntimeWarning" in out.stderr and "overflow encountered in exp" in out.stderr


def test_the_values_are_ieees():
    x = tg.tensor([100.0, 0.0, float("inf")])
    np.testing.assert_array_equal(tg.exp(x).numpy(), [np.inf, 1.0, np.inf])
    assert np.isnan((x / tg.zeros(3)).numpy()[1])
    assert np.isnan(tg.tensor([np.inf, -np.inf]).sum().item())
