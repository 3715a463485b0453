"""The bottom layer: devices, dtypes, the array module for a device, the kernel table, seeding.

Nothing here knows about Tensors. Arrays are numpy.ndarray on the CPU and cupy.ndarray on CUDA;
CuPy is imported only when a CUDA device is first used.
"""
from .device import Device, device, cpu, array_module, device_of, get_xp, cuda_is_available
from .dtypes import (
    dtype, float16, bfloat16, float32, float64, int8, int16, int32, int64, uint8, bool_, qint8,
    half, float_, double, long, int_, to_np_dtype, from_np_dtype, get_default_dtype,
    set_default_dtype, promote_types, result_type_scalar,
)
from .dispatch import reference, kernel, dispatch, kernels_for, references, KERNEL_MODE
from .random import manual_seed, generator, initial_seed
from .size import Size
from .memory import settle_at_glibc_ceilings
from .floating import quiet_ieee_warnings

settle_at_glibc_ceilings()        # process-wide, bounded, opt-out: memory.py says why
quiet_ieee_warnings()             # NumPy's overflow / invalid-value warnings from tinygen's ops

__all__ = [
    "Device", "device", "cpu", "array_module", "device_of", "get_xp", "cuda_is_available", "dtype",
    "float16", "bfloat16", "float32", "float64", "int8", "int16", "int32", "int64", "uint8",
    "bool_", "qint8", "half", "float_", "double", "long", "int_", "to_np_dtype", "from_np_dtype",
    "get_default_dtype", "set_default_dtype", "promote_types", "result_type_scalar", "reference",
    "kernel", "dispatch", "kernels_for", "references", "KERNEL_MODE", "manual_seed", "generator",
    "initial_seed", "Size",
]
