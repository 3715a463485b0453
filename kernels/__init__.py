"""tinygen's kernels: one module per kernel family, each a NumPy reference plus faster versions.

Installed as `tinygen_kernels` (see pyproject.toml). Importing this package registers every
family whose dependencies import; numba kernels compile on first call (cache=True).
"""
from . import registry  # noqa: F401

_FAMILIES = ["conv"]

for _name in _FAMILIES:
    __import__(f"{__name__}.{_name}")
