"""Host memory: glibc's malloc told to keep freed blocks for reuse instead of handing them back
to the kernel after every step.

By default glibc serves a large block (above 128 KiB, a threshold it raises as it sees frees,
up to 32 MiB) with its own mmap and gives it back on free, and trims the top of its heap back to
the kernel above 128 KiB free (twice the raised threshold once it moves, up to 64 MiB). A
training step allocates and frees its activations and gradients, megabytes each, every step: so
until those thresholds have risen, every step the kernel maps fresh pages, and each page faults
and is zeroed on first touch. Measured on the peers' LeNet step (batch 64): ~800 page faults a
step, 7.66 ms against 3.80 ms with the pages kept (a 2-core Zen 3 VM); on the diffusion U-Net's
step, 478-494 ms against 384-402 ms.

Two levels, both through mallopt, both process-wide:

- `import tinygen` puts malloc at glibc's own ceilings (settle_at_glibc_ceilings):
      M_MMAP_THRESHOLD  32 MiB   blocks up to it come from the heap, where freed ones are reused
      M_TRIM_THRESHOLD  64 MiB   the heap's top is trimmed only above that much free
  These are the values glibc's dynamic thresholds reach by themselves in any process that once
  frees a 32 MiB block; tinygen starts there instead of converging to it. What it costs: up to
  64 MiB of freed memory stays in the process. That removes the LeNet step's page faults (808 ->
  0.5 a step, measured). Left alone where the environment sets malloc itself (MALLOC_*_ or
  GLIBC_TUNABLES) or TINYGEN_KEEP_FREED_MEMORY=0.
- keep_freed_memory() goes further, for processes that only train (the `tinygen` command sets it
  for the processes it owns, unless TINYGEN_KEEP_FREED_MEMORY=0):
      M_MMAP_THRESHOLD  32 MiB
      M_TRIM_THRESHOLD  1 GiB    the heap is not trimmed until that much is free at its top
      M_TOP_PAD         64 MiB   the heap grows in steps of at least that
  so a model with hundreds of megabytes of activations (the U-Net) keeps them too; the resident
  memory stays near its peak (up to 1 GiB more than glibc's default would keep).

PyTorch's allocations go through the same malloc (a PyTorch U-Net in the same process ran 9%
faster with keep_freed_memory's settings). Linux with glibc only; nothing happens elsewhere (musl
has no mallopt).
"""
from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys

M_TRIM_THRESHOLD, M_TOP_PAD, M_MMAP_THRESHOLD = -1, -2, -3
CEILINGS = ((M_MMAP_THRESHOLD, 32 << 20), (M_TRIM_THRESHOLD, 64 << 20))
KEEP = ((M_MMAP_THRESHOLD, 32 << 20), (M_TRIM_THRESHOLD, 1 << 30), (M_TOP_PAD, 64 << 20))
_applied = None            # None, "ceilings" or "keep": the last level glibc accepted


def _mallopt(settings) -> bool:
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):        # not glibc (musl has no mallopt)
        return False
    mallopt.argtypes, mallopt.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
    return all(mallopt(param, value) == 1 for param, value in settings)


def _disabled() -> bool:
    return os.environ.get("TINYGEN_KEEP_FREED_MEMORY", "1") == "0"


def settle_at_glibc_ceilings() -> bool:
    """What `import tinygen` does: CEILINGS, unless the environment disables it or sets malloc
    itself, or keep_freed_memory() already went further. True when they are in force."""
    global _applied
    if _applied is None and not _disabled() and not any(
            name.startswith("MALLOC_") or name == "GLIBC_TUNABLES" for name in os.environ):
        if _mallopt(CEILINGS):
            _applied = "ceilings"
    return _applied is not None


def keep_freed_memory() -> bool:
    """Apply KEEP (once); True when glibc accepted all of it."""
    global _applied
    if _applied != "keep" and _mallopt(KEEP):
        _applied = "keep"
    return _applied == "keep"


def keep_freed_memory_unless_disabled() -> bool:
    """keep_freed_memory() unless the environment says TINYGEN_KEEP_FREED_MEMORY=0."""
    return not _disabled() and keep_freed_memory()
