"""Shared numba plumbing for the CPU kernel families: one place that imports numba (or not).

    HAVE_NUMBA     False when numba is missing: the families then register only their references
    parallel_blocks  0 (run the serial loop) for small inputs, else one block of rows per thread
    jit            numba.njit(parallel=True, fastmath=SAFE_FASTMATH, cache=True), or a no-op
    jit_serial     the same, serial and nogil (the loops _threads runs in ranges); jit_exact
                   the same without fastmath, for loops that must give NumPy's bits;
                   jit_inline for helpers inlined into the jitted loops that call them
    prange         numba.prange, or range
    numba_kernel   registry.kernel(name, device="cpu", ...), or a no-op without numba
    spin_until     poll an int64 array slot without the GIL (with TINYGEN_SPIN_US set,
                   tinygen_kernels._threads' workers wait for the next split this way before they
                   sleep), or None without numba
    exp, erf, log1p
                   scalar math for use inside jitted code: on float32, branch-free polynomial
                   versions that LLVM vectorises (numba has no SVML here, so math.exp is a scalar
                   libm call, 3x slower than NumPy's AVX-512 exp); on float64, math.*.
    wide_vector_features
                   numba's target features with 512-bit vectors on WIDE_VECTOR_CPUS (set at
                   import, before numba's first compilation), or None
    LAYER, ONE_POOL_LAYER
                   numba's threading layer (OpenMP where NumPy's OpenBLAS takes a threads
                   callback, else workqueue), and whether BLAS's jobs may run on its pool
    blas_jobs_callback, run_jobs, piece, cblas_gemm, gemm_address, pin_pool_workers, forked
                   the one pool's pieces (tinygen_kernels._threads.one_pool): OpenBLAS's jobs as
                   a prange loop, C callbacks (a split's pieces) as one, the ranges' cut for a
                   kernel's prange twin, BLAS called by address from numba (and that address),
                   the workers pinned, and whether this is a forked child where no parallel loop
                   may run

SAFE_FASTMATH is fastmath without 'nnan', 'ninf' and 'afn': the loops may reassociate (so
reductions vectorise) and contract to FMAs, but inf and NaN keep their IEEE meaning, which masked
softmax rows (-inf) and overflowing exponentials rely on.

exp (float32): Cephes' expf. x = k ln2 + r with |r| <= ln2 / 2, exp(r) by a degree-7 polynomial,
2^k written straight into the exponent bits (the `_int32_as_float32` intrinsic is a bitcast).
Max relative error 2 ulp; exp(x) = 0 below -87.5 (true value < 1e-38), inf above 88.72.
These are inlined into the caller's numba IR (inline="always") so that LLVM sees one loop body;
as separate functions the calls stay calls and nothing vectorises.
erf (float32): Abramowitz & Stegun 7.1.26, absolute error <= 1.5e-7, the formula PyTorch's
vectorised CPU erf uses.
log1p (float32): Cephes' logf polynomial on f, where 1 + x = 2^k (1 + f), sqrt(1/2) <= 1 + f <
sqrt(2). An x in that range less 1 takes f = x itself (no rounding of 1 + x: log1p(1e-30) is 1e-30);
elsewhere k and 1 + f come from the bits of u = 1 + x, and the rounding of u is added back as
c / u, c = x - (u - 1) (FreeBSD's log1pf). Max error 2 ulp against float64 over [-1, 1e38];
log1p(-1) = -inf, NaN below -1, log1p(inf) = inf.
"""
from __future__ import annotations

import ctypes
import itertools
import math
import os
import platform
import threading

import numpy as np
from threadpoolctl import ThreadpoolController

from .registry import kernel

SAFE_FASTMATH = {"reassoc", "contract", "arcp", "nsz"}

# Below this many elements (of a loop costing 1 ns an element; a kernel whose loop is cheaper or
# dearer says so: _threads.parallel_work's ns_per_element) a kernel runs its serial loop and wakes
# no thread: handing half of a loop to another thread and waiting for it cost ~90 us on the 2-core
# VM measured here, so a split pays only above ~0.15 ms of work. (At 1 << 15 elements, as before,
# the baby GPT's LayerNorm, 768 x 128, took 93 us on 2 threads against 28 us on one; ReLU's
# backward, 400k elements, 101 against 49 us; its GELU, 393k elements, gains: 218 -> 189 us.)
PARALLEL_MIN_ELEMENTS = 150_000

# numba's threading layer. Its OpenMP pool hands a loop to its threads in ~2 us (the workqueue
# pool in ~110, tinygen's own in ~90: a sleeping thread is slow to wake on these VMs) because its
# threads spin-wait for a few milliseconds after every loop; beside BLAS's own threads, which
# spin too, two pools then fight for the second core (the baby GPT's training step 5x slower,
# benchmarks/results/models_cpu.md). So OpenMP only where NumPy's BLAS is an OpenBLAS that runs
# its threads' jobs through a callback (openblas_set_threads_callback_function, OpenBLAS 0.3.27
# on): tinygen_kernels._threads installs one that runs them on this same pool (one_pool), and
# the pools are one. Elsewhere the workqueue layer, whose threads sleep. A user's
# NUMBA_THREADING_LAYER wins. numba reads the variable when it is imported, so when something
# imported numba before us the setting goes into numba.config too (it is read again at the
# first parallel launch): without that, a script that did `import numba` first ran a DCGAN conv
# in 32 ms instead of 7.
_USER_LAYER = "NUMBA_THREADING_LAYER" in os.environ

try:                      # module level, not lazy: numba (and llvmlite, which comes with it) is
    #                         optional, and this block is the one place that finds out
    import llvmlite.binding   # the host CPU (WIDE_VECTOR_CPUS below)
    import llvmlite.ir        # the PAUSE intrinsic below
    import numba
    from numba import types
    from numba.core import cgutils        # the atomic-load intrinsic below
    from numba.extending import intrinsic, overload
except ImportError:  # pragma: no cover - exercised only where numba is missing
    numba = None

try:                      # module level, not lazy (as above): numba's OpenMP pool, which needs
    #                         the system's libgomp, decides the layer at import
    import numba.np.ufunc.omppool
    import numba.np.ufunc.parallel        # its start-up (below)
    _HAVE_OPENMP = numba is not None
except ImportError:  # pragma: no cover - a machine without libgomp
    _HAVE_OPENMP = False


def _symbol(dll, name, affixes):
    """dll's function `name` under the first (prefix, suffix) of affixes it exports, or None
    (OpenBLAS's builds rename their symbols: scipy_openblas_set_num_threads64_)."""
    return next((getattr(dll, f"{p}{name}{s}") for p, s in affixes
                 if hasattr(dll, f"{p}{name}{s}")), None)


def openblas_callback_setters():
    """ctypes functions that set the threads callback of each BLAS library loaded now, found by
    the symbol's usual affixes; [] unless every one is an OpenBLAS with its own threads that has
    it (not MKL or Accelerate, not OpenBLAS before 0.3.27 or built on OpenMP)."""
    setters = []
    for lib in ThreadpoolController().select(user_api="blas").lib_controllers:
        if lib.internal_api != "openblas" or getattr(lib, "threading_layer", "") != "pthreads":
            return []
        setter = _symbol(ctypes.CDLL(lib.filepath), "openblas_set_threads_callback_function",
                         itertools.product(("", "scipy_"), ("", "64_", "_64")))
        if setter is None:
            return []
        setter.argtypes, setter.restype = [ctypes.c_void_p], None
        setters.append(setter)
    return setters


def cblas_gemm_addresses():
    """{dtype: address} of cblas_sgemm and cblas_dgemm in NumPy's BLAS where it is an ILP64
    OpenBLAS (NumPy's own wheels: scipy_cblas_sgemm64_), for cblas_gemm; {} elsewhere."""
    for lib in ThreadpoolController().select(user_api="blas").lib_controllers:
        if lib.internal_api != "openblas" or "numpy" not in lib.filepath:
            continue
        dll = ctypes.CDLL(lib.filepath)
        found = {np.dtype(dtype): _symbol(dll, f"cblas_{name}",
                                          itertools.product(("", "scipy_"), ("64_", "_64")))
                 for dtype, name in ((np.float32, "sgemm"), (np.float64, "dgemm"))}
        if None in found.values():
            return {}
        return {dtype: ctypes.cast(fn, ctypes.c_void_p).value for dtype, fn in found.items()}
    return {}


_GEMM_ADDRESSES = {}


def gemm_address(dtype):
    """cblas_gemm's `address` for arrays of dtype (float32, float64): cblas_gemm_addresses(),
    looked up at the first call; None where there is none."""
    if not _GEMM_ADDRESSES:
        _GEMM_ADDRESSES.update(cblas_gemm_addresses() or {None: None})
    return _GEMM_ADDRESSES.get(np.dtype(dtype))


def _mpi_ranks():
    """The number of ranks of the MPI job this process is in, from MPICH's or Open MPI's
    environment (1 outside one)."""
    for name in ("PMI_SIZE", "OMPI_COMM_WORLD_SIZE"):
        if os.environ.get(name, "").isdigit():
            return int(os.environ[name])
    return 1


if numba is not None and not _USER_LAYER:
    LAYER = "omp" if _HAVE_OPENMP and openblas_callback_setters() else "workqueue"
    os.environ["NUMBA_THREADING_LAYER"] = numba.config.THREADING_LAYER = LAYER
else:
    LAYER = os.environ.get("NUMBA_THREADING_LAYER")
# whether BLAS's threads may run on numba's pool (_threads.one_pool): the layer is OpenMP
ONE_POOL_LAYER = LAYER == "omp" and _HAVE_OPENMP
if numba is not None and "NUMBA_NUM_THREADS" not in os.environ:
    # numba reads all its settings again at its first compilation after the environment changed
    # (this module changes it: the layer above, the CPU target below), and its default thread
    # count is the CPU affinity of the thread that compiles: where that first compilation ran on
    # one of the one pool's workers, each pinned to one CPU (pin_pool_workers; a kernel's first
    # call inside a split, with a cold cache), numba found 1 thread against the pool's 2 and
    # raised "Cannot set NUMBA_NUM_THREADS to a different value once the threads have been
    # launched". In the environment the count is the same on every thread (child processes
    # inherit it, as they do the layer).
    os.environ["NUMBA_NUM_THREADS"] = str(numba.config.NUMBA_NUM_THREADS)

if ONE_POOL_LAYER:
    # numba's OpenMP start-up allows nested parallel regions (max-active-levels 255) in the one
    # libgomp of the process, which PyTorch shares: PyTorch's regions then made a fresh nested
    # team of threads every call (a torch.sqrt of 313k values on 2 threads 2.2 ms instead of 20
    # us; the VAE's PyTorch step 21 ms instead of 3.2). So numba starts here (2 ms, no thread
    # yet) and nesting goes back off; nothing here nests (BLAS's jobs inside a prange loop would
    # run on one thread).
    numba.np.ufunc.parallel._launch_threads()
    ctypes.CDLL(numba.np.ufunc.omppool.__file__).omp_set_max_active_levels(1)

HAVE_NUMBA = numba is not None

# LLVM vectorises 256 bits at a time on Intel's AVX-512 server cores unless told otherwise (its
# 'prefer-256-bit' tuning, kept from the cores whose clock dropped under 512-bit work). On these
# three generations the loops with a polynomial per element ran faster with 512-bit vectors
# (measured on one, a 2-core Xeon, Emerald Rapids; 393k float32, one thread): GELU 392 -> 225
# us, its backward 526 -> 334, SiLU 216 -> 157, a 384 x 1024 softmax 289 -> 253 (ReLU, bound by
# memory, 151 either way). Set before numba's first compilation, where it makes its target
# machine (in numba.config, and in the environment, which numba reads again when it has changed
# since numba was imported); a user's NUMBA_CPU_NAME or NUMBA_CPU_FEATURES wins. These cores are
# known by name, or by AMX among the features: a hypervisor may report another model (one
# Sapphire-Rapids-class VM said model 167, which LLVM names 'rocketlake'; there GELU's backward
# took 287 against 413 us on one thread with 512 bits).
WIDE_VECTOR_CPUS = ("sapphirerapids", "emeraldrapids", "graniterapids")


def wide_vector_features(cpu_name, features, environ):
    """numba's CPU_FEATURES for 512-bit vectors on `cpu_name` (LLVM's host features, flattened),
    or None: another CPU, or the user chose the target in `environ`."""
    flags = features.split(",")
    if "NUMBA_CPU_NAME" in environ or "NUMBA_CPU_FEATURES" in environ or "+avx512f" not in flags:
        return None
    if cpu_name not in WIDE_VECTOR_CPUS and "+amx-tile" not in flags:
        return None
    return features + ",-prefer-256-bit"


if HAVE_NUMBA:
    _host = llvmlite.binding.get_host_cpu_name()
    _wide = wide_vector_features(_host, llvmlite.binding.get_host_cpu_features().flatten(),
                                 os.environ)
    if _wide is not None:      # the environment too: numba re-reads it when it has changed
        os.environ["NUMBA_CPU_NAME"], os.environ["NUMBA_CPU_FEATURES"] = _host, _wide
        numba.config.CPU_NAME, numba.config.CPU_FEATURES = _host, _wide


def numba_kernel(name, impl="numba_v1", default=False):
    """`registry.kernel(name, device="cpu", impl=impl)` when numba imports, else a no-op."""
    if not HAVE_NUMBA:
        return lambda fn: fn
    return kernel(name, device="cpu", impl=impl, default=default)


# In a child forked after numba's OpenMP pool started, a parallel loop aborts the child ("fork()
# called from a process already using GNU OpenMP"): a DataLoader's workers run every loop
# serially there (num_threads() 1, and _threads' splits with it).
_FORKED = [False]

if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=lambda: _FORKED.__setitem__(0, ONE_POOL_LAYER))


def forked():
    """True in a forked child where no numba parallel loop may run."""
    return _FORKED[0]


def num_threads():
    return 1 if not HAVE_NUMBA or _FORKED[0] else numba.get_num_threads()


def parallel_blocks(rows, cols):
    """How many row blocks of a (rows, cols) array to run in parallel: 0 (run serially) below
    PARALLEL_MIN_ELEMENTS or with one thread, else one block per thread."""
    threads = num_threads()
    if rows * cols < PARALLEL_MIN_ELEMENTS or threads < 2 or rows < 2:
        return 0
    return min(rows, threads)


def is_cpu_float(*arrays):
    """True when every array is a C-contiguous float32/float64 NumPy array of the first's dtype."""
    dtype = arrays[0].dtype
    if dtype != np.float32 and dtype != np.float64:
        return False
    for a in arrays:
        if type(a) is not np.ndarray or a.dtype != dtype or not a.flags.c_contiguous:
            return False
    return True


def contiguous_grad(gy, x):
    """gy as a C-contiguous array when it is a NumPy array of x's dtype (upstream gradients are
    often broadcast views: a copy is cheaper than falling back to the reference), else gy."""
    if type(gy) is np.ndarray and gy.dtype == x.dtype and not gy.flags.c_contiguous:
        return np.ascontiguousarray(gy)
    return gy


# Python fallbacks (used as-is without numba, and under NUMBA_DISABLE_JIT=1)
def exp(x):
    return math.exp(x)


def erf(x):
    return math.erf(x)


def log1p(x):
    return math.log1p(x)


if HAVE_NUMBA:
    # error_model="numpy": a float division by zero gives inf/nan instead of raising, which
    # drops a branch from every division and lets the loops vectorise
    jit = numba.njit(parallel=True, fastmath=SAFE_FASTMATH, error_model="numpy", cache=True)
    # nogil: the serial loops may run on several threads at once (tinygen_kernels._threads)
    jit_serial = numba.njit(fastmath=SAFE_FASTMATH, error_model="numpy", cache=True, nogil=True)
    # no fastmath at all: loops that must give NumPy's bits (an addition is one IEEE operation)
    jit_exact = numba.njit(error_model="numpy", cache=True, nogil=True)
    # small helpers inlined into the caller's numba IR, compiled with the caller's loop (the
    # Winograd transforms' tuples of a tile column stay in registers)
    jit_inline = numba.njit(inline="always", fastmath=SAFE_FASTMATH, error_model="numpy")
    prange = numba.prange

    @intrinsic
    def _int32_as_float32(typingctx, bits):
        def codegen(context, builder, signature, args):
            return builder.bitcast(args[0], context.get_value_type(types.float32))
        return types.float32(types.int32), codegen

    @intrinsic
    def _float32_as_int32(typingctx, value):
        def codegen(context, builder, signature, args):
            return builder.bitcast(args[0], context.get_value_type(types.int32))
        return types.int32(types.float32), codegen

    @intrinsic
    def _select(typingctx, condition, if_true, if_false):
        """`if_true if condition else if_false` as one LLVM select: no branch, so no basic blocks
        for numba's IR inliner to stitch (it warns on those) and nothing to stop vectorising."""
        def codegen(context, builder, signature, args):
            return builder.select(args[0], args[1], args[2])
        return if_true(types.boolean, if_true, if_true), codegen

    def _expf(x):
        xc = min(max(x, np.float32(-87.5)), np.float32(89.0))
        k = np.floor(xc * np.float32(1.44269504088896341) + np.float32(0.5))   # float32, not int
        r = xc - k * np.float32(0.693359375) - k * np.float32(-2.12194440e-4)   # ln2, two parts
        p = np.float32(1.9875691500e-4)
        p = p * r + np.float32(1.3981999507e-3)
        p = p * r + np.float32(8.3334519073e-3)
        p = p * r + np.float32(4.1665795894e-2)
        p = p * r + np.float32(1.6666665459e-1)
        p = p * r + np.float32(5.0000001201e-1)
        p = p * r * r + r + np.float32(1.0)
        # 2^k = 2 * 2^(k-1): k - 1 + 127 stays a normal exponent for k up to 128, and above
        # x = 88.72 the product overflows to inf as it should
        y = p * _int32_as_float32((np.int32(k) + np.int32(126)) << np.int32(23)) * np.float32(2)
        # below -87.5 (and at -inf) exactly 0; NaN stays NaN
        return _select(x >= np.float32(-87.5), y, _select(x == x, np.float32(0.0), x))

    def _erff(x):
        a = abs(x)
        t = np.float32(1.0) / (np.float32(1.0) + np.float32(0.3275911) * a)
        p = np.float32(1.061405429)
        p = p * t + np.float32(-1.453152027)
        p = p * t + np.float32(1.421413741)
        p = p * t + np.float32(-0.284496736)
        p = p * t + np.float32(0.254829592)
        y = np.float32(1.0) - p * t * exp(-a * a)
        return _select(x >= np.float32(0.0), y, -y)

    def _log1pf(x):
        u = np.float32(1.0) + x
        # u = 2^k m with m in [sqrt(1/2), sqrt(2)): shift the bits so that m's exponent is 0
        bits = _float32_as_int32(u) + np.int32(0x3F800000 - 0x3F3504F3)
        k = (bits >> np.int32(23)) - np.int32(127)
        m = _int32_as_float32((bits & np.int32(0x007FFFFF)) + np.int32(0x3F3504F3))
        # the rounding of u, relative: log1p(x) = log(u) + c / u to first order
        c = _select(k > np.int32(0), np.float32(1.0) - (u - x), x - (u - np.float32(1.0))) / u
        # 1 + x in [sqrt(1/2), sqrt(2)), the polynomial's range: f = x
        near = (x > np.float32(-0.29289322)) & (x < np.float32(0.41421356))
        f = _select(near, x, m - np.float32(1.0))
        kf = _select(near, np.float32(0.0), np.float32(k))
        c = _select(near, np.float32(0.0), c)
        z = f * f
        p = np.float32(7.0376836292e-2)
        p = p * f + np.float32(-1.1514610310e-1)
        p = p * f + np.float32(1.1676998740e-1)
        p = p * f + np.float32(-1.2420140846e-1)
        p = p * f + np.float32(1.4249322787e-1)
        p = p * f + np.float32(-1.6668057665e-1)
        p = p * f + np.float32(2.0000714765e-1)
        p = p * f + np.float32(-2.4999993993e-1)
        p = p * f + np.float32(3.3333331174e-1)
        y = (f * z * p + (kf * np.float32(-2.12194440e-4) + c)) - np.float32(0.5) * z + f
        y = y + kf * np.float32(0.693359375)            # ln 2 in two parts, as in exp
        # -1 -> -inf; below -1, NaN (u's bits there mean nothing); inf -> inf; NaN stays NaN
        y = _select(x == np.float32(np.inf), x, y)
        y = _select(x == np.float32(-1.0), np.float32(-np.inf), y)
        return _select(x < np.float32(-1.0), np.float32(np.nan), y)

    def _float32_or_math(fast, exact):
        def choose(x):
            if x == types.float32:
                return fast
            if isinstance(x, types.Float):
                return lambda x: exact(x)
            return None
        return choose

    overload(exp, inline="always")(_float32_or_math(_expf, math.exp))
    overload(erf, inline="always")(_float32_or_math(_erff, math.erf))
    overload(log1p, inline="always")(_float32_or_math(_log1pf, math.log1p))

    @intrinsic
    def _load_acquire(typingctx, array, index):
        """array[index] (int64) as an atomic load: read from memory on every call, so a loop
        that polls it sees another thread's store (a plain load would be hoisted out of it)."""
        def codegen(context, builder, signature, args):
            aryty = signature.args[0]
            ary = context.make_array(aryty)(context, builder, args[0])
            ptr = cgutils.get_item_pointer(context, builder, aryty, ary, [args[1]],
                                           wraparound=False)
            return builder.load_atomic(ptr, "acquire", 8)
        return types.int64(array, index), codegen

    _X86 = platform.machine().lower() in ("x86_64", "amd64", "i386", "i686")

    @intrinsic
    def _pause(typingctx):
        """x86's PAUSE between two polls: the spinning core backs off (less power, and the
        other hyperthread of its core runs at full speed); nothing elsewhere."""
        def codegen(context, builder, signature, args):
            if _X86:
                fn = cgutils.get_or_insert_function(
                    builder.module, llvmlite.ir.FunctionType(llvmlite.ir.VoidType(), []),
                    "llvm.x86.sse2.pause")
                builder.call(fn, [])
            return context.get_dummy_value()
        return types.none(), codegen

    @numba.njit(nogil=True, cache=True)
    def spin_until(state, index, value, equal, iterations):
        """Poll state[index] (an int64 array another thread writes) without the GIL, at most
        `iterations` times, until it equals `value` (equal=True) or differs from it: True when
        it did, False when the polls ran out."""
        for _ in range(iterations):
            if (_load_acquire(state, index) == value) == equal:
                return True
            _pause()
        return False

    @intrinsic
    def _call_job(typingctx, job, thread, data, tag):
        """The C function at address `job` called as job(thread, data, tag): OpenBLAS's
        openblas_dojob_callback, void (int, void *, int)."""
        def codegen(context, builder, signature, args):
            job, thread, data, tag = args
            i8p = llvmlite.ir.IntType(8).as_pointer()
            fnty = llvmlite.ir.FunctionType(llvmlite.ir.VoidType(),
                                            [llvmlite.ir.IntType(32), i8p, llvmlite.ir.IntType(32)])
            builder.call(builder.inttoptr(job, fnty.as_pointer()),
                         [thread, builder.inttoptr(data, i8p), tag])
            return context.get_dummy_value()
        return types.void(types.uintp, types.int32, types.uintp, types.int32), codegen

    # nogil: run_jobs calls it from Python, and the jobs it runs there take the GIL themselves
    @numba.njit(parallel=True, cache=True, nogil=True)
    def _blas_jobs(job, n, size, data, tag):
        for i in numba.prange(n):
            _call_job(job, np.int32(i), data + i * size, tag)

    def run_jobs(job, n):
        """The C function at address `job`, void (int, void *, int), called as job(i, NULL, 0)
        for i in range(n) as one prange loop on numba's pool, the GIL released meanwhile:
        how tinygen_kernels._threads runs the pieces of a split on the one pool (a ctypes
        callback that takes the GIL while its piece runs Python)."""
        zero = np.uintp(0)
        _blas_jobs(np.uintp(job), np.int32(n), zero, zero, np.int32(0))

    def _lock_word(builder):
        """The lock of OpenBLAS's jobs: an int64 in the module compiled for the callback (one
        per process, 0 when free)."""
        i64 = llvmlite.ir.IntType(64)
        try:
            return builder.module.get_global("tinygen_blas_jobs_lock")
        except KeyError:
            word = llvmlite.ir.GlobalVariable(builder.module, i64, "tinygen_blas_jobs_lock")
            word.initializer = llvmlite.ir.Constant(i64, 0)
            word.linkage = "internal"
            return word

    @intrinsic
    def _try_lock_blas_jobs(typingctx):
        """Take the lock of OpenBLAS's jobs if it is free (compare and swap): True when taken."""
        def codegen(context, builder, signature, args):
            i64 = llvmlite.ir.IntType(64)
            res = builder.cmpxchg(_lock_word(builder), llvmlite.ir.Constant(i64, 0),
                                  llvmlite.ir.Constant(i64, 1), "acquire", "monotonic")
            return builder.extract_value(res, 1)
        return types.boolean(), codegen

    @intrinsic
    def _unlock_blas_jobs(typingctx):
        def codegen(context, builder, signature, args):
            builder.store_atomic(llvmlite.ir.Constant(llvmlite.ir.IntType(64), 0),
                                 _lock_word(builder), "release", 8)
            return context.get_dummy_value()
        return types.none(), codegen

    def _run_blas_jobs(sync, job, n, size, data, tag):
        # One BLAS call's jobs at a time: each job works in OpenBLAS's buffers of its thread
        # index i, which OpenBLAS's own server hands out under a lock that a threads callback
        # bypasses; two Python threads multiplying at once overwrote each other's buffers
        # (wrong products, silently). A second caller waits here, polling, without the GIL.
        while not _try_lock_blas_jobs():
            _pause()
        _blas_jobs(job, n, size, data, tag)
        _unlock_blas_jobs()

    _BLAS_JOBS_SIGNATURE = types.void(types.int32, types.uintp, types.int32, types.uintp,
                                      types.uintp, types.int32)

    def blas_jobs_callback():
        """A C function for openblas_set_threads_callback_function: OpenBLAS calls it with its
        n jobs (job(i, data + i * size, tag) each, i a thread index of its buffers) and it runs
        them as one prange loop on numba's pool, returning when all are done. Compiled at the
        first call (cached on disk)."""
        # called once from here first: the dispatcher starts numba's threads, whose scheduler
        # the loop links against (from the cfunc alone, loaded from the cache: "LLVM ERROR:
        # Symbol not found: allocate_sched")
        zero = np.uintp(0)
        _blas_jobs(zero, np.int32(0), zero, zero, np.int32(0))
        return numba.cfunc(_BLAS_JOBS_SIGNATURE, cache=True)(_run_blas_jobs)

    @intrinsic
    def cblas_gemm(typingctx, address, trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c,
                   ldc):
        """C = alpha op(A) op(B) + beta C, row-major, by the cblas_sgemm (alpha float32) or
        cblas_dgemm (float64) at `address` of an ILP64 BLAS (64-bit integers): trans_* 111 (no)
        or 112 (transposed), m, n, k, ld* int64, a, b, c data addresses (uintp)."""
        real = alpha
        if real not in (types.float32, types.float64) or beta != real:
            return None
        i32, i64 = llvmlite.ir.IntType(32), llvmlite.ir.IntType(64)
        i8p = llvmlite.ir.IntType(8).as_pointer()
        flt = llvmlite.ir.FloatType() if real == types.float32 else llvmlite.ir.DoubleType()
        fnty = llvmlite.ir.FunctionType(llvmlite.ir.VoidType(), [
            i32, i32, i32, i64, i64, i64, flt, i8p, i64, i8p, i64, flt, i8p, i64])
        sig = types.void(types.uintp, types.int32, types.int32, types.int64, types.int64,
                         types.int64, real, types.uintp, types.int64, types.uintp, types.int64,
                         real, types.uintp, types.int64)

        def codegen(context, builder, signature, args):
            (address, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc) = args
            fn = builder.inttoptr(address, fnty.as_pointer())
            row_major = llvmlite.ir.Constant(i32, 101)
            builder.call(fn, [row_major, ta, tb, m, n, k, alpha, builder.inttoptr(a, i8p), lda,
                              builder.inttoptr(b, i8p), ldb, beta, builder.inttoptr(c, i8p), ldc])
            return context.get_dummy_value()
        return sig, codegen

    try:                  # glibc 2.30 on (the thread's id for sched_setaffinity)
        _GETTID = hasattr(ctypes.CDLL(None), "gettid")
    except OSError:  # pragma: no cover - not glibc
        _GETTID = False

    @intrinsic
    def _gettid(typingctx):
        """The calling thread's id (glibc's gettid, linked by name: the function stays
        cacheable, where a ctypes pointer would not be)."""
        def codegen(context, builder, signature, args):
            fnty = llvmlite.ir.FunctionType(llvmlite.ir.IntType(32), [])
            return builder.call(cgutils.get_or_insert_function(builder.module, fnty, "gettid"),
                                [])
        return types.int32(), codegen

    @numba.njit(parallel=True, cache=True)
    def _thread_ids(out):
        for i in numba.prange(out.shape[0]):
            out[numba.get_thread_id()] = _gettid()

    def pin_pool_workers():
        """Pin each of numba's OpenMP worker threads to one CPU of the process's set (worker t to
        the t-th), leaving the calling thread free; [(thread id, cpu)] pinned ([] where it
        cannot be done). Why: on the 2-core VM measured here, a loop launched after the pool had
        slept (tens of ms idle, as between a benchmark's blocks or a run's evaluations) waited
        for its worker 1-5 ms: the scheduler woke the worker onto the launching thread's CPU,
        which then spun at the loop's end barrier without yielding, while the other vCPU looked
        preempted to the guest. Pinned, the worker wakes on its own CPU: 158 us after 100 ms
        idle against 3.7-5.5 ms (back to back 1.6 us either way). The threads are libgomp's,
        which PyTorch shares in one process: its regions run on them pinned too. Not in an MPI
        job of several ranks (they share the CPUs, and every rank would pin its workers to the
        same ones)."""
        allowed = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
        if not _GETTID or len(allowed) < 2 or _mpi_ranks() > 1:
            return []
        ids = np.zeros(numba.get_num_threads(), np.int64)
        _thread_ids(ids)
        me, pinned = threading.get_native_id(), []
        for t, tid in enumerate(ids.tolist()):
            if tid and tid != me and t < len(allowed):
                try:
                    os.sched_setaffinity(tid, {allowed[t]})
                except OSError:    # pragma: no cover - a thread that ended, a sandbox
                    continue
                pinned.append((tid, allowed[t]))
        return pinned

    @intrinsic
    def element_pointer(typingctx, address, like):
        """The data address `address` (uintp) as a pointer to like's dtype (like: an array), for
        numba.carray: arrays handed to a prange loop by address, as a list of them cannot be."""
        def codegen(context, builder, signature, args):
            return builder.inttoptr(args[0], context.get_value_type(signature.return_type))
        return types.CPointer(like.dtype)(address, like), codegen

    @numba.njit(inline="always")
    def piece(n, pieces, p):
        """(lo, hi) of piece p of `pieces` equal ranges of [0, n) (the last may be short or
        empty): for the kernels' prange twins (tinygen_kernels._threads.kernel_over_ranges)."""
        step = (n + pieces - 1) // pieces
        return min(n, p * step), min(n, (p + 1) * step)
else:  # pragma: no cover
    def jit(fn):
        return fn

    jit_serial = jit_exact = jit_inline = jit
    prange = range
    spin_until = None          # _threads then waits only by blocking
    blas_jobs_callback = run_jobs = cblas_gemm = element_pointer = None   # never used:
    #                                                              ONE_POOL_LAYER is False

    def pin_pool_workers():
        return []

    def piece(n, pieces, p):
        step = (n + pieces - 1) // pieces
        return min(n, p * step), min(n, (p + 1) * step)
