"""tinygen's own CPU threads: the kernels split their work into independent pieces (the batch
chunks of a convolution, the rows of a product, the ranges of a numba loop) over as many threads
as BLAS has, and BLAS itself runs on one thread meanwhile.

    split_threads(pieces, convolution=False)
                            how many threads to split `pieces` over: BLAS's thread count, at
                            most the number of pieces, 1 where there is nothing to split, and 1
                            while blas_alone() unless the pieces are a convolution's
    run_split(work, n, threads)
                            [work(i) for i in range(n)], in that order, piece i in share
                            i % threads (share 0 on the caller's thread), BLAS at one thread
                            meanwhile, for threads = 1 too
    in_split()              True inside run_split's pieces: numba kernels called there must be
                            the serial, GIL-free versions
    numba_parallel(parallel, serial, *args)
                            a numba prange kernel, or its serial twin inside a split or while
                            another thread runs one (numba's pool takes one launch at a time)
    matmul(a, b)            np.matmul(a, b) for NumPy arrays, the same way: large products split
                            by rows (or columns) over threads, mid-sized ones on one BLAS thread;
                            all of them on BLAS's threads while blas_alone()
    parallel_work(elements, ns_per_element)
                            whether a loop over that many elements is worth splitting
                            (_numba.PARALLEL_MIN_ELEMENTS, read per call: tests lower it)
    over_ranges(fn, n, elements, ns_per_element)
                            [fn(lo, hi) over ranges of [0, n)], one range per thread when the
                            loop's `elements` are parallel_work, else [fn(0, n)]: how the numba
                            kernels (serial loops over ranges) run in parallel
    one_pool()              whether BLAS's jobs, the loops and the splits share numba's OpenMP
                            pool
    kernel_over_ranges(kernel, args, n, elements, ns_per_element, parallel)
                            kernel(lo, hi, *args) over ranges of [0, n): one prange loop on
                            numba's pool in one_pool() (parallel, the kernel's prange twin),
                            else as over_ranges

Why: a convolution is im2col (memory) then a GEMM (BLAS), chunk after chunk. With BLAS
threaded, only the GEMM runs on both cores and im2col runs on one (the 32 -> 32 channel 3x3
layer of the diffusion U-Net at 28x28, batch 64, 2 cores: 11.8 ms, of which im2col 4 ms on one
core); and between GEMMs OpenBLAS's threads spin, so numba's own pool, woken for the next
im2col, competes with them for the second core (the same step took 1.3 s as often as 0.65 s).
Here each thread takes whole chunks, im2col and a one-thread GEMM each, as PyTorch's oneDNN
splits a convolution over the batch; BLAS is set back to its thread count afterwards.

The threads are tinygen's own (_Workers): they sleep on a condition between splits, or, with
TINYGEN_SPIN_US set, first poll for the next split that long without the GIL (see SPIN_SECONDS
for when that pays and when it does not).

numba's workqueue pool may not be entered from two threads at once, so the pieces call the
serial versions of the numba kernels (`in_split()`), compiled with nogil so that they overlap;
and a parallel loop launched while another thread (a user's) is in one runs its serial version
too (`numba_parallel`).

Why every product of tinygen's, not only the convolutions': after a multi-threaded call
OpenBLAS's worker threads spin for about 2^28 cycles (a tenth of a second) before they sleep
(OPENBLAS_THREAD_TIMEOUT, read once when NumPy loads). One 2-thread GEMM of a Linear layer, and the
next tenth of a second of convolutions shares its second core with a spinning thread: the
32 -> 32 channel layer above took 16.7 ms after a 256 x 256 product against 8.6 ms alone, and
inside the U-Net's step every convolution took twice its time alone. So tinygen's products run
with BLAS at one thread (below 2^18 multiply-adds OpenBLAS stays on one thread by itself, and
they are left alone) and take their parallelism from here, once a convolution has split its
batch. Until then (for good, in a process without convolutions: an MLP, a VAE, a GPT) the
products go to BLAS whole, on BLAS's own threads, and tinygen's other loops run on one thread,
leaving the second core to BLAS's polling threads (blas_alone).

One pool (one_pool): where NumPy's BLAS is an OpenBLAS that takes a threads callback (0.3.27 on),
tinygen_kernels._numba picks numba's OpenMP layer and this module installs a callback that runs
OpenBLAS's jobs as a prange loop on numba's threads. The loops then split too (kernel_over_ranges,
attention's heads), handed over in microseconds to threads that were spinning after the last
product, instead of staying on one core beside BLAS's polling pool (the baby GPT's step on the
2-core Xeon VM, three runs each: 35.8 / 37.3 / 37.6 -> 32.4 / 34.2 / 35.6 ms). And run_split's
pieces (a convolution's chunks, a split product's rows) run on the same threads (_on_pool), each
through a ctypes callback that holds the GIL while its piece runs Python: an empty split of two
pieces 33-51 us against 90-113 on tinygen's threads; the DCGAN's step 75.5 -> 72.0 ms, CLIP's
169.8 -> 163.5, the U-Net's 316 -> 306 (medians of 2-3 processes each, old and new in turn):
tinygen's threads beside numba's spinning workers had made the DCGAN's step 123 ms, so before,
the loops of a process with convolutions stayed off numba's pool. A forked child (a DataLoader
worker) must not touch that pool: there the callback is removed and every loop runs on one
thread. The pool's workers are pinned one to a CPU (_numba.pin_pool_workers): woken after idle,
an unpinned worker waited 1-5 ms on this VM.
"""
from __future__ import annotations

import ctypes
import math
import os
import threading
import time

import numpy as np
from threadpoolctl import ThreadpoolController

from . import _numba

_local = threading.local()
_pool = None              # the _Workers, made at the first split
_one_split = threading.Lock()   # one split at a time: each saves and restores BLAS's thread count
_numba_launch = threading.Lock()   # one numba parallel loop at a time (numba_parallel)
_blas = None              # threadpoolctl's controllers of the BLAS libraries loaded at first use
_conv_split = [False]      # whether a convolution has split its batch over threads yet
_callback = []             # [the C callback, its setters] once BLAS runs its threads' jobs on
#                            numba's pool (one_pool)


def _after_fork_in_child():
    # the pool's threads do not exist in a forked child (a DataLoader worker): a pool that
    # believed it had them would queue pieces no thread runs, and a lock held at the fork by
    # another thread would stay held. The child starts afresh.
    global _pool, _one_split
    _pool, _one_split = None, threading.Lock()
    for setter in _callback[1:]:       # OpenBLAS back on its own threads: numba's pool aborts
        setter(None)                   # a forked child


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def _blas_controllers():
    global _blas
    if _blas is None:
        try:                   # at first use: it scans the libraries loaded by then
            _blas = ThreadpoolController().select(user_api="blas").lib_controllers
        except Exception:      # a BLAS threadpoolctl cannot drive: BLAS left alone
            _blas = []
    return _blas


def blas_threads():
    """BLAS's thread count: the smallest over the BLAS libraries loaded (NumPy's and SciPy's may
    be two copies of OpenBLAS, and a limit set before the second was loaded holds for the first
    only), 1 when it cannot be read."""
    libs = _blas_controllers()
    return min((lib.get_num_threads() or 1 for lib in libs), default=1)


def split_threads(pieces, convolution=False):
    if pieces < 2 or in_split():
        return 1
    if convolution:
        threads = min(blas_threads(), pieces)
        _conv_split[0] = _conv_split[0] or threads > 1
        return threads
    return 1 if blas_alone() and not one_pool() else min(blas_threads(), pieces)


def in_split():
    return getattr(_local, "serial", False)


def numba_parallel(parallel, serial, *args):
    """parallel(*args), a numba prange kernel, or serial(*args), its one-thread twin, where the
    parallel one may not run: inside a split's piece (in_split), or while another thread is in
    a numba parallel loop. numba's workqueue pool takes one launch at a time in the process; two
    user threads launching at once abort the process ("Fatal Python error: Aborted": two
    threads running LeNet's convolutions did, tests/kernels/test_scratch.py)."""
    if in_split() or _numba.forked() or not _numba_launch.acquire(blocking=False):
        return serial(*args)
    try:
        return parallel(*args)
    finally:
        _numba_launch.release()


def _set_blas(counts):
    for lib, n in zip(_blas_controllers(), counts):
        lib.set_num_threads(n)


def run_split(work, n, threads, blas=True):
    """[work(i) for i in range(n)], piece i on thread i % threads (the caller's thread is one of
    them), BLAS at one thread while they run. threads < 2 runs them in order on this thread;
    so does a split while another runs (from another user thread), BLAS left as it is.
    blas=False: the pieces call no BLAS, whose thread count is then left alone."""
    global _pool
    if not _one_split.acquire(blocking=False):
        return [work(i) for i in range(n)]
    try:
        if threads < 2:
            pieces = lambda: [work(i) for i in range(n)]          # noqa: E731
            return _one_blas_thread(pieces) if blas else pieces()
        if not one_pool() and (_pool is None or _pool.size < threads - 1):   # more than before
            if _pool is not None:
                _pool.stop()
            _pool = _Workers(threads - 1)
        return _split(work, n, threads, blas)
    finally:
        _one_split.release()


def _one_blas_thread(fn):
    before = [lib.get_num_threads() for lib in _blas_controllers()]
    if max(before, default=1) <= 1:
        return fn()
    _set_blas([1] * len(before))
    try:
        return fn()
    finally:
        _set_blas(before)


def _split(work, n, threads, blas):
    results = [None] * n

    def share(t):
        _local.serial = True
        try:
            for i in range(t, n, threads):
                results[i] = work(i)
        finally:
            _local.serial = False

    def run():
        if one_pool():
            _on_pool(share, threads)
        else:
            _pool.run(share, threads - 1)
        return results
    return _one_blas_thread(run) if blas else run()


# A split on the one pool: share(t) for t < threads as one prange loop (_numba.run_jobs) over a
# ctypes callback, which takes the GIL for its piece's Python and lets it go where the piece
# does (its numba kernels and BLAS calls), as tinygen's own threads do. Handed over in
# microseconds to threads that spin after their last loop, where waking tinygen's took ~90 us.
_PIECE = ctypes.CFUNCTYPE(None, ctypes.c_int32, ctypes.c_void_p, ctypes.c_int32)
_on_pool_now = [None, [], None]  # the share running on the pool, its pieces' errors, the caller
_thread_states = set()           # numba's threads whose Python thread state is kept


def _pool_piece(t, data, tag):
    ident = threading.get_ident()
    if ident not in _thread_states:
        # ctypes makes a thread state for a call from a thread Python did not start and frees it
        # on return: 55 us a piece, and the thread's scratch buffers (threading.local) with it.
        # One more PyGILState_Ensure, never released, keeps it for the thread's life.
        _thread_states.add(ident)
        if ident != _on_pool_now[2]:
            ctypes.pythonapi.PyGILState_Ensure()
    try:
        _on_pool_now[0](t)
    except BaseException as e:            # raised in the caller's thread
        _on_pool_now[1].append(e)


_pool_piece_c = _PIECE(_pool_piece)
_POOL_PIECE = ctypes.cast(_pool_piece_c, ctypes.c_void_p).value


def _on_pool(share, threads):
    _on_pool_now[:] = [share, [], threading.get_ident()]
    try:
        _numba.run_jobs(_POOL_PIECE, threads)
        errors = _on_pool_now[1]
    finally:
        _on_pool_now[:] = [None, [], None]
    if errors:
        raise errors[0]


# How long a worker polls for the next split after finishing a piece before it sleeps, and the
# caller for the workers' pieces before it sleeps (TINYGEN_SPIN_US, microseconds). 0 by default:
# sleep at once. Polling hands a split over in ~20 us where waking a sleeping thread took 50-140
# (OpenBLAS's and OpenMP's pools poll, OpenBLAS for ~0.1 s), and the U-Net's step ran 355 -> 332 ms
# with 1000 us in interleaved blocks of its own; but on this VM a polling vCPU is slow to wake
# later (a split after 10 ms idle started 1.8 ms late against 0.15 ms), and in the step
# benchmark, blocks of PyTorch and 0.2 s sleeps between tinygen's, the VAE step took 17.7 ms with
# 1000 us, 11.2 with 100 and 9.5 with none. So it is a setting for machines where it pays.
SPIN_SECONDS = float(os.environ.get("TINYGEN_SPIN_US", "0")) * 1e-6


class _Workers:
    """`size` threads that run the shares 1..k of a split while the caller runs share 0. A
    split is announced by a new number in state[0]; worker t writes it to state[1 + t] when its
    share is done. Both sides poll those slots without the GIL (_numba.spin_until) for
    SPIN_SECONDS, then sleep on a condition (without numba: sleep at once)."""

    def __init__(self, size):
        self.size = size
        self.state = np.zeros(1 + size, dtype=np.int64)
        self.share, self.active, self.errors = None, 0, [None] * size
        self.cond = threading.Condition()
        self.sleepers = 0                 # workers asleep, or the caller, on cond
        self.polls = _polls(SPIN_SECONDS)
        for t in range(size):
            threading.Thread(target=self._loop, args=(t,), daemon=True,
                             name=f"tinygen-split-{t + 1}").start()

    def _wait(self, index, value, equal):
        """Until state[index] == value (equal) or != value: polling, then asleep."""
        if self.polls and _numba.spin_until(self.state, index, value, equal, self.polls):
            return
        with self.cond:
            while (self.state[index] == value) != equal:
                self.sleepers += 1
                self.cond.wait()
                self.sleepers -= 1

    def _wake(self):
        # under the lock: a sleeper checks its slot and goes to sleep under it too, so the store
        # before this call is either seen by its check or followed by this notify
        with self.cond:
            if self.sleepers:
                self.cond.notify_all()

    def _loop(self, t):
        seen = 0
        while True:
            self._wait(0, seen, False)
            seen = int(self.state[0])
            if seen < 0:                          # stop()
                return
            if t < self.active:
                try:
                    self.share(t + 1)
                except BaseException as e:        # raised in the caller's thread
                    self.errors[t] = e
            self.state[1 + t] = seen
            self._wake()

    def run(self, share, k):
        """share(0) here and share(1) .. share(k) on workers 0 .. k - 1 (k <= size); returns
        when all have run, raising the first error."""
        self.share, self.active = share, k
        split = int(self.state[0]) + 1
        self.state[0] = split
        self._wake()
        try:
            share(0)
        finally:
            for t in range(self.size):            # every worker, so none is left behind
                self._wait(1 + t, split, True)
            self.share = None
            errors, self.errors = self.errors, [None] * self.size
        for e in errors:
            if e is not None:
                raise e

    def stop(self):
        self.state[0] = -1
        with self.cond:
            self.cond.notify_all()


def _polls(seconds):
    """How many polls of spin_until take `seconds` here (measured once per pool)."""
    if seconds <= 0 or _numba.spin_until is None:
        return 0
    probe = np.zeros(1, dtype=np.int64)
    _numba.spin_until(probe, 0, 1, True, 10)      # compiled (or loaded) first
    start = time.perf_counter()
    _numba.spin_until(probe, 0, 1, True, 1 << 20)
    per_poll = max((time.perf_counter() - start) / (1 << 20), 1e-10)
    return int(seconds / per_poll)


# OpenBLAS runs products of at most 64^3 multiply-adds on the calling thread by itself
_BLAS_SERIAL_MACS = 1 << 18
# below this, a convolution's batch is not worth splitting (waking a thread costs tens of
# microseconds, more after an idle gap)
SPLIT_MIN_MACS = 1 << 22
# and a matrix product: a product splits into two halves of one GEMM each, and below ~16M
# multiply-adds (~0.35 ms on one core) the wait for the second thread and the two smaller GEMMs
# cost more than they save (the peers' MLP step, 784-256-256-10 at batch 64, 2 threads: 1.71 ms
# splitting its 12.8M multiply-add products, 1.50 ms not; a LeNet step's convolutions, 5.5M each,
# still gain from their split: 6.3 against 8.0 ms)
MATMUL_SPLIT_MIN_MACS = 1 << 24


def matmul(a, b):
    """np.matmul(a, b) (NumPy arrays, a.ndim and b.ndim >= 2), on BLAS's own threads only while
    blas_alone() (see the module docstring); else split over threads by rows of the result, or
    by its columns when it has fewer rows than columns, with one BLAS thread each."""
    M, K, N = a.shape[-2], a.shape[-1], b.shape[-1]
    if K == 1:
        # an outer product: one multiply per value, the same as BLAS's, which took 12x longer
        # (OpenBLAS, 64 x 1 @ 1 x 6272, the DCGAN's 128 -> 1 7x7 layer's input gradient: 423
        # against 34 us)
        return np.multiply(a, b)
    if b.ndim == 2 and a.ndim > 2 and a.flags.c_contiguous:
        # a stack of matrices times one matrix (a Linear layer on (batch, seq, in)) is one GEMM
        # with the stack's rows side by side: NumPy would call BLAS once per matrix of the stack
        # (the baby GPT's 12 x (64 x 128) @ (128 x 384): 12 GEMMs of 64 rows)
        return matmul(a.reshape(math.prod(a.shape[:-1]), K), b).reshape(*a.shape[:-1], N)
    if a.ndim == 2 and b.ndim == 2:
        batch, macs = (), M * K * N
    else:
        batch = np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
        macs = M * K * N * math.prod(batch)
    if macs <= _BLAS_SERIAL_MACS or not _blas_controllers() or blas_alone():
        return np.matmul(a, b)
    threads = split_threads(max(M, N)) if macs >= MATMUL_SPLIT_MIN_MACS else 1
    out = np.empty(batch + (M, N), dtype=np.result_type(a, b))
    # split the bigger of the two operands' free dimensions: each piece packs its share of that
    # operand and all of the other, so the other (smaller) one is the one packed twice (RealNVP's
    # 128 x 784 @ 784 x 512 by columns: its step 73.4 -> 70.9 ms, CLIP's 195.6 -> 192.0)
    by_rows = M >= N
    size = M if by_rows else N
    step = -(-size // threads)
    starts = range(0, size, step)

    def piece(i):
        lo, hi = starts[i], min(starts[i] + step, size)
        if by_rows:
            np.matmul(a[..., lo:hi, :], b, out=out[..., lo:hi, :])
        else:
            np.matmul(a, b[..., :, lo:hi], out=out[..., :, lo:hi])
    run_split(piece, len(starts), min(threads, len(starts)))
    return out


def blas_alone():
    """Whether products run on BLAS's own threads, and tinygen's other loops on one thread: until
    a convolution first splits its batch over tinygen's threads, for good after that. In
    one_pool() it decides the products only (whole to BLAS, or split by rows with BLAS at one
    thread: CLIP's step 167 against 164 ms); the loops split from the start there.

    OpenBLAS's threads poll, so they take a product over in microseconds where waking tinygen's
    costs ~90 us, but while they poll (a tenth of a second after each product) they hold the
    second core, and a loop split onto it waits. So one of the two pools has the second core:
    BLAS's while the work is products (an MLP, a VAE, a GPT: in-process A/B against tinygen's
    threads everywhere, the VAE step 4.5 against 7.4 ms, RealNVP 58.1 against 62.2, the GPT
    39.6 against 41.7; the peers' MLP 1.03 against 1.48 ms), tinygen's once there are
    convolutions, whose im2col and GEMM chunks need both cores (the peers' LeNet step 6.4
    against 5.3 ms, the GPT 68 against 47 with BLAS's threads beside tinygen's splits). The
    switch is made once: after every pause (a benchmark's sleep) the first products would wake
    BLAS's threads again, and their polling slowed the GPT's next steps by ~15%."""
    return not _conv_split[0]


# The one pool where it can be had (one_pool); TINYGEN_ONE_POOL=0, or False here (read per call:
# tests), keeps every split and loop on tinygen's own threads, as where it cannot.
ONE_POOL = os.environ.get("TINYGEN_ONE_POOL", "1") != "0"


def one_pool():
    """Whether BLAS's jobs, tinygen's loops and its splits share one pool, numba's OpenMP
    threads: where _numba chose the OpenMP layer (NumPy's OpenBLAS runs its threads' jobs through
    a callback, installed at the first call), with ONE_POOL on, not in a forked child. The loops
    then split as prange loops (kernel_over_ranges) and a split's pieces (a convolution's chunks)
    run on those threads too (_on_pool), handed over in microseconds; products go to BLAS whole
    while blas_alone(), its jobs on the same threads: no second pool spins beside the first."""
    if not ONE_POOL or not _numba.ONE_POOL_LAYER or _numba.forked():
        return False
    return (_callback[0] is not None) if _callback else _install_callback()


def _install_callback():
    callback = _numba.blas_jobs_callback()   # first: compiling it loads SciPy's OpenBLAS too
    setters = _numba.openblas_callback_setters()
    for setter in setters:
        setter(callback.address)
    _callback[:] = [callback if setters else None, *setters]   # None: asked, none to set
    if setters:
        _numba.pin_pool_workers()
    return bool(setters)


def reset_blas_alone():
    """Back to blas_alone() as in a fresh process (benchmarks timing one model after another in
    one process, tests)."""
    _conv_split[0] = False


def parallel_work(elements, ns_per_element=1.0):
    """Whether a loop over `elements`, each costing about ns_per_element on one thread, is worth
    splitting (see _numba.PARALLEL_MIN_ELEMENTS)."""
    return elements * ns_per_element >= max(_numba.PARALLEL_MIN_ELEMENTS, 2)


def over_ranges(fn, n, elements, ns_per_element=1.0):
    """[fn(lo, hi) for ranges covering [0, n) in order]: one range per thread (run_split) when
    the loop's `elements` are parallel_work, else [fn(0, n)] here. The numba kernels' loops
    run this way, serial and GIL-free, rather than as numba prange loops: in the U-Net's step
    at 2 threads numba's workqueue pool made them slower than one thread (SiLU forward 20.7
    against 8.7 ms a step)."""
    threads = split_threads(n) if parallel_work(elements, ns_per_element) else 1
    if threads < 2:
        return [fn(0, n)]
    step = -(-n // threads)
    return run_split(lambda i: fn(i * step, min(n, (i + 1) * step)), -(-n // step), threads,
                     blas=False)


# In one_pool() a loop of this much work (elements * ns_per_element, as parallel_work counts it)
# or more splits over numba's threads, which take it over in microseconds (a prange launch,
# back to back: 1.6 us on the 2-core Xeon VM). Inside a model's step less pays less: the baby
# GPT's LayerNorm, 768 x 128 (34k), took 76 us a call split against 52 on one thread; its
# GELU, 393k (216k), 160 against 300-350.
ONE_POOL_MIN_NS = 50_000


def kernel_over_ranges(kernel, args, n, elements, ns_per_element, parallel):
    """kernel(lo, hi, *args) over ranges covering [0, n): in one_pool() one prange loop on
    numba's threads from ONE_POOL_MIN_NS of work, parallel(n, pieces, *args), the kernel's prange
    twin (a cached njit function cutting the ranges as _numba.piece does: numba caches no
    function that takes another as an argument, so a generic prange loop over `kernel` would be
    compiled again in every process, 0.5 s each); otherwise as over_ranges (a range per tinygen
    thread, or one range here). kernel may be a Python adapter to the serial loop."""
    if elements * ns_per_element >= ONE_POOL_MIN_NS and one_pool() and not in_split():
        threads = min(_numba.num_threads(), n)
        if threads >= 2:
            parallel(n, threads, *args)
            return
    over_ranges(lambda lo, hi: kernel(lo, hi, *args), n, elements, ns_per_element)
