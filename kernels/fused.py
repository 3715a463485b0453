"""Chains of elementwise ops fused into one generated numba loop (for captured steps).

    elementwise_kernel(inputs, lines, outputs, constants)
        A compiled loop over flat arrays: kernel(i0, i1, ..., o0, o1, ...), all of one length.
        `lines` are assignments in numba-Python, run once per element j in order ("v3 = v1 * c0"
        reads earlier names); inputs ((name, k), ...) read i{k}[j] into the names, outputs
        (name, ...) write o{k}[j] from them, constants ((name, NumPy scalar), ...) are
        compile-time constants of their dtype (float32 stays float32: a Python float would be
        a float64). Compiled once per distinct program; None without numba.

tinygen/autograd/capture.py builds the programs from the ops' `fuse` templates. The loop is
compiled without fastmath (no reassociation, no fused multiply-add), so each element sees the same
IEEE operations, rounded the same way, as the unfused NumPy ops: a fused step stays equal to the
eager one bit for bit (a NaN's sign bit aside: IEEE 754 leaves it unspecified). That is why only
ops whose NumPy result is one correctly rounded IEEE operation (or a comparison or a select) have
templates: exp, log and tanh would differ from NumPy's own implementations in the last bit.

The reference of a fused loop is the ops it replaces, run unfused: the tests compare captured
steps with fusion against eager steps, bit for bit.
"""
from __future__ import annotations

import threading

import numpy as np

from ._numba import HAVE_NUMBA, numba

_compiled = {}
_lock = threading.Lock()


def _source(inputs, n_out, lines, outputs):
    args = [f"i{k}" for k in range(len(inputs))] + [f"o{k}" for k in range(n_out)]
    body = [f"{name} = i{k}[j]" for name, k in inputs] + list(lines)
    body += [f"o{k}[j] = {name}" for k, name in enumerate(outputs)]
    return "\n".join([f"def fused({', '.join(args)}):",
                      "    for j in range(o0.shape[0]):"] + [f"        {b}" for b in body])


def elementwise_kernel(inputs, lines, outputs, constants):
    """The compiled loop of a program (see the module docstring); inputs: ((name, k), ...),
    outputs: (name, ...), constants: ((name, NumPy scalar), ...), all tuples (the cache key)."""
    if not HAVE_NUMBA:
        return None
    key = (inputs, lines, outputs, tuple((n, v.dtype.str, v.tobytes()) for n, v in constants))
    kernel = _compiled.get(key)
    if kernel is None:
        with _lock:
            kernel = _compiled.get(key)
            if kernel is None:
                namespace = dict(constants)
                exec(_source(inputs, len(outputs), lines, outputs), namespace)   # noqa: S102
                kernel = _compiled[key] = numba.njit(error_model="numpy", nogil=True)(
                    namespace["fused"])
    return kernel

