"""Chains of elementwise ops fused into one generated numba loop (for captured steps).

    elementwise_kernel(inputs, lines, outputs, constants)
        A compiled loop over flat arrays: kernel(i0, i1, ..., o0, o1, ...), all of one length.
        `lines` are assignments in numba-Python, run once per element j in order ("v3 = v1 * c0"
        reads earlier names); inputs ((name, k), ...) read i{k}[j] into the names, outputs
        (name, ...) write o{k}[j] from them, constants ((name, NumPy scalar), ...) are
        compile-time constants of their dtype (float32 stays float32: a Python float would be
        a float64). Compiled once per distinct program; None without numba.
        Broadcast inputs: (name, k, mode), mode "j" (as above), "c" (one value per column: a
        row vector over the outputs' last dim), "r" (one per row: a column vector) or "s" (one
        value); then the loop is kernel(rows, cols, i0, ..., o0, ...) over outputs of rows x
        cols elements.

Each program is written as a small module into a cache folder ($TINYGEN_CACHE_DIR, else
$XDG_CACHE_HOME/tinygen or ~/.cache/tinygen, then fused/), named by a hash of its text, and
compiled with numba's cache=True: a later process loads the machine code (milliseconds) instead
of compiling it again (~0.35 s a loop). Where that folder cannot be written, the program is
compiled from memory each process.

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

import hashlib
import importlib.util
import os
import sys
import threading

import numpy as np

from ._numba import HAVE_NUMBA, numba

_compiled = {}
_lock = threading.Lock()


def _source(inputs, n_out, lines, outputs):
    args = [f"i{k}" for k in range(len(inputs))] + [f"o{k}" for k in range(n_out)]
    if all(len(i) == 2 or i[2] == "j" for i in inputs):
        body = [f"{i[0]} = i{i[1]}[j]" for i in inputs] + list(lines)
        body += [f"o{k}[j] = {name}" for k, name in enumerate(outputs)]
        return "\n".join([f"def fused({', '.join(args)}):",
                          "    for j in range(o0.shape[0]):"] + [f"        {b}" for b in body])
    # broadcast operands: rows x cols, each row's slices taken once (indices from 0 up, so
    # that numba's loop vectorises as the flat one does)
    reads = {"j": "a{k}[c]", "c": "i{k}[c]", "r": "s{k}", "s": "s{k}"}
    row = ["b = r * cols"]
    row += [f"a{i[1]} = i{i[1]}[b:b + cols]" for i in inputs if i[2] == "j"]
    row += [f"s{i[1]} = i{i[1]}[r]" for i in inputs if i[2] == "r"]
    row += [f"w{k} = o{k}[b:b + cols]" for k in range(n_out)]
    body = [f"{i[0]} = " + reads[i[2]].format(k=i[1]) for i in inputs] + list(lines)
    body += [f"w{k}[c] = {name}" for k, name in enumerate(outputs)]
    head = [f"s{i[1]} = i{i[1]}[0]" for i in inputs if i[2] == "s"]
    return "\n".join([f"def fused(rows, cols, {', '.join(args)}):"]
                     + [f"    {h}" for h in head] + ["    for r in range(rows):"]
                     + [f"        {b}" for b in row] + ["        for c in range(cols):"]
                     + [f"            {b}" for b in body])


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
                source = _source(inputs, len(outputs), lines, outputs)
                kernel = _compiled[key] = _from_cache_file(source, constants) or _in_memory(
                    source, constants)
    return kernel


def _in_memory(source, constants):
    namespace = dict(constants)
    exec(source, namespace)                                                 # noqa: S102
    return numba.njit(error_model="numpy", nogil=True)(namespace["fused"])


def cache_dir():
    root = os.environ.get("TINYGEN_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"),
        "tinygen")
    return os.path.join(root, "fused")


def _from_cache_file(source, constants):
    """The program as a module file in cache_dir() (written once, atomically), compiled with
    numba's on-disk cache; None where the folder cannot be written."""
    header = ["import numpy as np", "from numba import njit", ""]
    header += [f"{name} = np.frombuffer(bytes.fromhex({v.tobytes().hex()!r}), "
               f"np.{v.dtype.name})[0]" for name, v in constants]
    text = "\n".join(header + ["", "", "@njit(error_model='numpy', nogil=True, cache=True)",
                               source, ""])
    name = "fused_" + hashlib.sha256(text.encode()).hexdigest()[:24]
    path = os.path.join(cache_dir(), name + ".py")
    try:
        if not os.path.exists(path):
            os.makedirs(os.path.dirname(path), exist_ok=True)
            tmp = f"{path}.{os.getpid()}.{threading.get_ident()}.tmp"
            with open(tmp, "w") as f:
                f.write(text)
            os.replace(tmp, path)
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module          # numba's cached code finds its globals by name
        spec.loader.exec_module(module)
        return module.fused
    except OSError:
        return None

