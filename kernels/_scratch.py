"""Scratch arrays that outlive a kernel call: one buffer per (thread, slot), reused by the next
call that asks for the same slot on the same thread.

    scratch(shape, dtype, slot)   an uninitialised C-contiguous NumPy array, valid until this
                                  thread asks for `slot` again

Why: a kernel's temporaries (a convolution's columns, its padded input, the transformed tiles
of a Winograd convolution) are megabytes, allocated and freed on every call. glibc serves such
blocks with fresh mmaps (or trims them off its heap on free), so every call the kernel maps new
pages and each page faults and is zeroed on first touch. Measured on LeNet's first convolution
(64x1x28x28, 6 5x5 windows, 2 threads, a fresh process): the forward took 1.6 ms with its two
1.8 MB column buffers allocated per call, 0.30 ms once glibc happened to keep them (0.43 ms on
one thread). tinygen.backend.memory fixes this for the whole process where the `tinygen`
command owns it; scratch fixes it for the kernels' own temporaries everywhere.

Rules for callers:
  - a scratch array never leaves the kernel call that asked for it (not returned, not stored);
  - one slot per use: two temporaries live at the same time take two slots, and a function
    that asks for a slot calls nothing that asks for the same slot while it uses it;
  - per thread: run_split's pieces on different threads get different buffers, and so do two
    user threads (threading.local).
Buffers above SCRATCH_MAX_BYTES are not kept (a plain np.empty), so a thread holds at most that
much per slot; they live as long as their thread (after a step of the diffusion U-Net and one of
the DCGAN the main thread held 10.3 MB in seven slots).
"""
from __future__ import annotations

import math
import threading

import numpy as np

SCRATCH_MAX_BYTES = 16 << 20
_local = threading.local()


def scratch(shape, dtype, slot):
    """np.empty(shape, dtype), from this thread's buffer for `slot` (see the module docstring)."""
    dtype = np.dtype(dtype)
    nbytes = math.prod(shape) * dtype.itemsize
    if nbytes > SCRATCH_MAX_BYTES:
        return np.empty(shape, dtype)
    buffers = getattr(_local, "buffers", None)
    if buffers is None:
        buffers = _local.buffers = {}
    buffer = buffers.get(slot)
    if buffer is None or buffer.nbytes < nbytes:
        buffer = buffers[slot] = np.empty(max(nbytes, 64), np.uint8)
    return buffer[:nbytes].view(dtype).reshape(shape)
