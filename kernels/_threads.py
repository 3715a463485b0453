"""Threads for kernels that split their work into independent pieces around GEMMs (the batch
chunks of a convolution), instead of leaving the threading to BLAS.

    split_threads(pieces)   how many threads to split `pieces` over: BLAS's thread count, at
                            most the number of pieces, 1 where there is nothing to split
    run_split(work, n, threads)
                            [work(i) for i in range(n)], in that order, piece i in share
                            i % threads (share 0 on the caller's thread), BLAS at one thread
                            meanwhile
    in_split()              True inside run_split's pieces: numba kernels called there must be
                            the serial, GIL-free versions

Why: a convolution is im2col (memory) then a GEMM (BLAS), chunk after chunk. With BLAS
threaded, only the GEMM runs on both cores and im2col runs on one (the 32 -> 32 channel 3x3
layer of the diffusion U-Net at 28x28, batch 64, 2 cores: 11.8 ms, of which im2col 4 ms on one
core); and between GEMMs OpenBLAS's threads spin, so numba's own pool, woken for the next
im2col, competes with them for the second core (the same step took 1.3 s as often as 0.65 s).
Here each thread takes whole chunks, im2col and a one-thread GEMM each, as PyTorch's oneDNN
splits a convolution over the batch; BLAS is set back to its thread count afterwards.

numba's workqueue pool may not be entered from two threads at once, so the pieces call the
serial versions of the numba kernels (`in_split()`), compiled with nogil so that they overlap.
"""
from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

_local = threading.local()
_pool, _pool_size = None, 0
_one_split = threading.Lock()   # one split at a time: each saves and restores BLAS's thread count
_blas = None              # threadpoolctl's controllers of the BLAS libraries NumPy calls


def _blas_controllers():
    global _blas
    if _blas is None:
        try:
            from threadpoolctl import ThreadpoolController
            _blas = ThreadpoolController().select(user_api="blas").lib_controllers
        except Exception:      # no threadpoolctl, or a BLAS it cannot drive: BLAS threads as they are
            _blas = []
    return _blas


def blas_threads():
    """BLAS's thread count: the smallest over the BLAS libraries loaded (NumPy's and SciPy's may
    be two copies of OpenBLAS, and a limit set before the second was loaded holds for the first
    only), 1 when it cannot be read."""
    libs = _blas_controllers()
    return min((lib.get_num_threads() or 1 for lib in libs), default=1)


def split_threads(pieces):
    if pieces < 2 or in_split():
        return 1
    return min(blas_threads(), pieces)


def in_split():
    return getattr(_local, "serial", False)


def _set_blas(counts):
    for lib, n in zip(_blas_controllers(), counts):
        lib.set_num_threads(n)


def run_split(work, n, threads):
    """[work(i) for i in range(n)], piece i on thread i % threads (the caller's thread is one of
    them), BLAS at one thread while they run. threads < 2, or another split running (from
    another user thread), runs them in order on this thread."""
    global _pool, _pool_size
    if threads < 2 or not _one_split.acquire(blocking=False):
        return [work(i) for i in range(n)]
    try:
        if _pool_size < threads - 1:            # more threads than before: a bigger pool
            if _pool is not None:
                _pool.shutdown(wait=False)
            _pool, _pool_size = ThreadPoolExecutor(max_workers=threads - 1,
                                                   thread_name_prefix="tinygen-split"), threads - 1
        return _split(work, n, threads)
    finally:
        _one_split.release()


def _split(work, n, threads):
    results = [None] * n

    def share(t):
        _local.serial = True
        try:
            for i in range(t, n, threads):
                results[i] = work(i)
        finally:
            _local.serial = False

    before = [lib.get_num_threads() for lib in _blas_controllers()]
    _set_blas([1] * len(before))
    try:
        futures = [_pool.submit(share, t) for t in range(1, threads)]
        try:
            share(0)
        finally:
            for f in futures:
                f.exception()               # wait for every share before BLAS goes back
        for f in futures:
            f.result()                      # then raise the first error, if any
    finally:
        _set_blas(before)
    return results
