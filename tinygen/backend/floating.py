"""IEEE special values without NumPy's warnings, as PyTorch gives them.

exp(100.0) is inf in float32, 0 / 0 is nan, sin(inf) is nan, the sum of inf and -inf is nan:
IEEE 754's answers, which PyTorch returns without a word. NumPy returns the same values and also
warns ("overflow encountered in exp"), from the line of tinygen's op that called it, which tells
a user nothing about their own code. So `import tinygen` adds one warnings filter: NumPy's
floating-point RuntimeWarnings (overflow, invalid value, divide by zero, underflow) raised from
tinygen's own modules (tinygen.*, tinygen_kernels.*) are ignored. NumPy code of the user's own
warns as before; NaNs and infs in a model are found with tg.autograd.detect_anomaly(), as in
PyTorch. TINYGEN_NUMPY_WARNINGS=1 turns the filter off (tinygen's ops then warn as NumPy does).
A filter the program adds later (warnings.simplefilter("error")) comes first, as filters do.

Not covered: a NumPy function written in Python that tinygen calls warns from NumPy's module,
not tinygen's (x.mean(), x.var() of inf and -inf: "invalid value encountered in reduce"); a
filter on NumPy's modules would silence the user's NumPy too. Sums and running sums call the
ufunc or the array's method directly (ops/shape.sum_array, Cumsum), so they are quiet.
"""
from __future__ import annotations

import os
import warnings

IEEE_MESSAGE = r"(overflow|invalid value|divide by zero|underflow) encountered"
OWN_MODULES = r"tinygen(_kernels)?(\.|$)"


def quiet_ieee_warnings():
    """Install the filter (once per process: filterwarnings does not duplicate an entry)."""
    if os.environ.get("TINYGEN_NUMPY_WARNINGS", "") not in ("", "0"):
        return
    warnings.filterwarnings("ignore", message=IEEE_MESSAGE, category=RuntimeWarning,
                            module=OWN_MODULES)
