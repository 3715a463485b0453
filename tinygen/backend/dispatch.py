"""The kernel table, seen from the engine: ops ask `dispatch(name, device_type)` for a function.

The table itself lives in `tinygen_kernels.registry` (kernels/ knows only arrays); this module
imports the kernel families so that they register, and re-exports the table's API.
"""
from tinygen_kernels.registry import (  # noqa: F401
    reference, kernel, dispatch, references, kernels_for, set_mode, KERNEL_MODE,
)
import tinygen_kernels  # noqa: F401  (registers every kernel family that imports)
