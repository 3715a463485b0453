"""The kernel table, seen from the engine: ops ask `kernel_for(name, device_type)` for a function.

The table itself lives in `tinygen_kernels.registry` (kernels/ knows only arrays); this module
imports the kernel families so that they register, and re-exports the table's API. The `test`
device (see device.py) runs the NumPy references, their results viewed as its own array type.
"""
from tinygen_kernels.registry import (  # noqa: F401
    reference, kernel, dispatch, references, kernels_for, set_mode, KERNEL_MODE,
)
import tinygen_kernels  # noqa: F401  (registers every kernel family that imports)

from .device import to_test_array

_TEST_KERNELS = {}


def kernel_for(name, device_type):
    """The implementation of kernel `name` that runs on `device_type` ('cpu', 'cuda', 'test')."""
    if device_type != "test":
        return dispatch(name, device_type)
    fn = _TEST_KERNELS.get(name)
    if fn is None:
        reference_fn = dispatch(name, "test")        # no kernels registered there: the reference

        def fn(*args, **kwargs):
            return to_test_array(reference_fn(*args, **kwargs))
        _TEST_KERNELS[name] = fn
    return fn
