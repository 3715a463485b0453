"""Shared by the numba.cuda kernel families: a lazy numba.cuda, launch shapes, block reductions.

Nothing here imports numba.cuda or touches a GPU at import time: `numba_cuda()` imports it on the
first kernel call, and each family builds its `@cuda.jit` kernels inside a cached factory that
runs then. So `import tinygen_kernels` costs nothing on a machine without a GPU, and
`NUMBA_ENABLE_CUDASIM=1`, set before numba.cuda is first imported, switches every kernel to
numba's simulator (each GPU thread a Python thread; arrays are NumPy).

The kernels take any array that speaks `__cuda_array_interface__` (CuPy) on a GPU, and NumPy arrays
under the simulator. Outputs are allocated with the input's array module. A family reads

    cuda = None                       # module global: the simulator swaps its fake module in here

    @functools.cache
    def _kernels():
        global cuda
        cuda = numba_cuda()
        red = block_reducers(globals())

        @cuda.jit
        def softmax_rows(x, y): ...
        return SimpleNamespace(softmax_rows=softmax_rows)

    y = array_module(x).empty_like(x)
    _kernels().softmax_rows[blocks, threads](x, y)

Reductions: the simulator has no warp shuffles, so `block_reducers` gives a shared-memory tree
reduction there and a warp-shuffle one (two levels: within each warp, then across warps) on a
real GPU. Both assume `blockDim.x` is a power of two, at most 1024, and that every thread of the
block calls them (they hold barriers).
"""
from __future__ import annotations

import os
import types
from types import SimpleNamespace

import numpy as np

from ._xp import array_module

FLOAT_DTYPES = (np.dtype("float32"), np.dtype("float64"))


def simulating() -> bool:
    """True when numba.cuda runs kernels in its CPU simulator (NUMBA_ENABLE_CUDASIM=1)."""
    return os.environ.get("NUMBA_ENABLE_CUDASIM", "0") not in ("", "0")


cuda = None        # numba.cuda, bound on first use (see block_reducers for why a global)


def numba_cuda():
    """The `numba.cuda` module, imported on first use; ImportError naming the fix otherwise."""
    try:
        from numba import cuda
    except Exception as e:  # numba missing, or a broken CUDA toolchain under it
        raise ImportError(
            "tinygen's numba.cuda kernels need numba with its CUDA target (pip install numba "
            f"numba-cuda), or NUMBA_ENABLE_CUDASIM=1 to simulate them on the CPU: {e!r}") from e
    return cuda


def usable(*arrays) -> bool:
    """Can the numba.cuda kernels take these arrays? NumPy arrays only under the simulator,
    device arrays (CuPy) only on a real GPU."""
    sim = simulating()
    for a in arrays:
        if a is None:
            continue
        on_host = array_module(a) is np
        if on_host != sim:
            return False
    return True


def float_inputs(*arrays) -> bool:
    """All given arrays float32 or float64 (the numba.cuda kernels' dtypes), same dtype."""
    dtypes = {a.dtype for a in arrays if a is not None}
    return len(dtypes) == 1 and dtypes.pop() in FLOAT_DTYPES


def row_threads(n: int) -> int:
    """Threads per block for a one-block-per-row kernel over rows of length n: a power of two,
    at most 256 on a GPU (8 warps keep enough loads in flight), at most 32 in the simulator (each
    simulated thread is a Python thread)."""
    cap = 32 if simulating() else 256
    t = 32
    while t < cap and t < n:
        t *= 2
    return t


def flat_launch(n: int, threads: int | None = None):
    """(blocks, threads) for a grid-stride elementwise kernel over n items."""
    if threads is None:
        threads = 32 if simulating() else 256
    max_blocks = 4 if simulating() else 132 * 16     # H100: 132 SMs, a few waves in flight
    blocks = max(1, min(max_blocks, (n + threads - 1) // threads))
    return blocks, threads


# The reductions, as plain Python functions compiled on first use by `block_reducers`. Each uses
# the global name `cuda`; see block_reducers for whose globals those are.
def _tree_sum(buf, value):
    tid = cuda.threadIdx.x
    buf[tid] = value
    cuda.syncthreads()
    stride = cuda.blockDim.x // 2
    while stride > 0:                          # a tree: each step halves the live threads
        if tid < stride:
            buf[tid] += buf[tid + stride]
        cuda.syncthreads()
        stride //= 2
    total = buf[0]
    cuda.syncthreads()                         # everyone has read buf[0]: buf may be reused
    return total


def _tree_max(buf, value):
    tid = cuda.threadIdx.x
    buf[tid] = value
    cuda.syncthreads()
    stride = cuda.blockDim.x // 2
    while stride > 0:
        if tid < stride:
            if buf[tid + stride] > buf[tid]:
                buf[tid] = buf[tid + stride]
        cuda.syncthreads()
        stride //= 2
    total = buf[0]
    cuda.syncthreads()
    return total


def _warp_sum(value):
    offset = 16
    while offset > 0:
        value += cuda.shfl_down_sync(0xFFFFFFFF, value, offset)
        offset //= 2
    return value


def _warp_max(value):
    offset = 16
    while offset > 0:
        other = cuda.shfl_down_sync(0xFFFFFFFF, value, offset)
        if other > value:                      # (not max(): numba's CUDA target mistypes it)
            value = other
        offset //= 2
    return value


def _shuffle_sum(buf, value):
    tid = cuda.threadIdx.x
    lane, warp = tid % 32, tid // 32
    value = _dev_warp_sum(value)               # lane 0 of each warp holds its warp's sum
    if lane == 0:
        buf[warp] = value
    cuda.syncthreads()
    if warp == 0:                              # the first warp sums the warps' sums
        value = buf[lane] if lane < cuda.blockDim.x // 32 else 0.0
        value = _dev_warp_sum(value)
        if lane == 0:
            buf[0] = value
    cuda.syncthreads()
    total = buf[0]
    cuda.syncthreads()
    return total


def _shuffle_max(buf, value):
    tid = cuda.threadIdx.x
    lane, warp = tid % 32, tid // 32
    value = _dev_warp_max(value)
    if lane == 0:
        buf[warp] = value
    cuda.syncthreads()
    if warp == 0:
        value = buf[lane] if lane < cuda.blockDim.x // 32 else -np.inf
        value = _dev_warp_max(value)
        if lane == 0:
            buf[0] = value
    cuda.syncthreads()
    total = buf[0]
    cuda.syncthreads()
    return total


_dev_warp_sum = _dev_warp_max = None           # the compiled warp reductions, set on first use
_REDUCERS: dict = {}


def block_reducers(module_globals):
    """Device functions `block_sum(buf, value)` and `block_max(buf, value)`: the value reduced
    over the whole block, returned to every thread. `buf` is a shared float64 array of at least
    blockDim.x entries (simulator) or 32 entries (GPU). Pass the calling module's `globals()`;
    that module must hold numba.cuda under the global name `cuda` (see `bind_cuda`).

    Why the globals: the simulator runs a kernel by swapping the fake CUDA module into the global
    `cuda` of the kernel's own module only, and a device function defined in another module would
    swap its own module's global per call, racing with the other simulated threads. So in the
    simulator the tree reductions are re-created over the caller's globals; on a GPU, numba
    compiles the shuffle reductions from this module as they are."""
    key = module_globals["__name__"]
    if key in _REDUCERS:
        return _REDUCERS[key]
    global cuda, _dev_warp_sum, _dev_warp_max
    cuda = numba_cuda()
    if simulating():
        def rebind(fn):
            return types.FunctionType(fn.__code__, module_globals, fn.__name__)
        out = SimpleNamespace(block_sum=cuda.jit(device=True)(rebind(_tree_sum)),
                              block_max=cuda.jit(device=True)(rebind(_tree_max)))
    else:
        if _dev_warp_sum is None:
            _dev_warp_sum = cuda.jit(device=True)(_warp_sum)
            _dev_warp_max = cuda.jit(device=True)(_warp_max)
        out = SimpleNamespace(block_sum=cuda.jit(device=True)(_shuffle_sum),
                              block_max=cuda.jit(device=True)(_shuffle_max))
    _REDUCERS[key] = out
    return out


def rows_view(x, axis):
    """x as a C-contiguous (rows, n) array with `axis` last, and the function that puts a result
    of that shape back: (x2d, restore). The copy happens only when axis is not already last."""
    xp = array_module(x)
    axis = axis % x.ndim
    moved = xp.moveaxis(x, axis, -1)
    shape = moved.shape
    x2d = xp.ascontiguousarray(moved).reshape(-1, shape[-1] if shape else 1)

    def restore(y2d):
        return xp.moveaxis(y2d.reshape(shape), -1, axis)

    return x2d, restore
