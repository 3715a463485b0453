"""tinygen_kernels._threads: pieces run in order of their results on several threads, the
serial flag is set inside them only, BLAS's thread count is restored (after an error too); on
tinygen's own threads and on the one pool (numba's OpenMP threads) alike."""
import importlib
import os
import pkgutil
import subprocess
import sys
import threading

import numpy as np
import pytest

import tinygen_kernels
from tinygen_kernels import _numba, _threads, activation, adam, layernorm
from tinygen_kernels._scratch import scratch

from helpers import needs_one_pool


needs_two_cpus = pytest.mark.skipif(len(getattr(os, "sched_getaffinity", lambda _: ())(0)) < 2,
                                    reason="needs two CPUs")


@pytest.fixture(params=[False, pytest.param(True, marks=needs_one_pool)],
                ids=["own_threads", "one_pool"])
def pool(request, monkeypatch):
    """The splits on tinygen's own threads, then on the one pool (numba's OpenMP threads)."""
    monkeypatch.setattr(_threads, "ONE_POOL", request.param)
    assert _threads.one_pool() == request.param
    return request.param


def test_results_in_order_and_spread_over_threads(pool):
    seen = {}

    def work(i):
        seen[i] = (threading.get_native_id(), _threads.in_split())
        return i * i
    for _ in range(3):                  # the one pool's threads keep their thread states
        assert _threads.run_split(work, 7, 3) == [i * i for i in range(7)]
    assert all(serial for _, serial in seen.values())
    for i in range(3, 7):                                          # piece i in share i % 3
        assert seen[i][0] == seen[i % 3][0]
    assert len({thread for thread, _ in seen.values()}) >= 2
    if not pool:                    # numba's pool places its shares itself
        assert seen[0][0] == seen[3][0] == threading.get_native_id()   # share 0: the caller's
        assert seen[1][0] != threading.get_native_id()
    assert not _threads.in_split()


def test_one_thread_runs_here_without_the_flag(pool):
    assert _threads.run_split(lambda i: (i, _threads.in_split()), 3, 1) == [
        (0, False), (1, False), (2, False)]


def test_nested_split_stays_on_one_thread(pool):
    inner = []
    _threads.run_split(lambda i: inner.append(_threads.split_threads(8)), 2, 2)
    assert inner == [1, 1]


@needs_one_pool
def test_one_pool_pieces_keep_their_scratch(monkeypatch):
    # a piece on one of numba's threads runs Python under a thread state ctypes would make and
    # free per call: kept, the thread's scratch buffers (threading.local) outlive the split
    monkeypatch.setattr(_threads, "ONE_POOL", True)

    def work(i):
        buffer = scratch((1000,), np.float32, "test_threads")
        return threading.get_native_id(), buffer.ctypes.data
    first = _threads.run_split(work, 2, 2)
    assert first[0][0] != first[1][0]
    assert _threads.run_split(work, 2, 2) == first


def test_error_propagates_and_blas_threads_come_back(pool):
    before = _threads.blas_threads()

    def work(i):
        if i == 4:
            raise ValueError("piece 4")
        return i
    with pytest.raises(ValueError, match="piece 4"):
        _threads.run_split(work, 6, 2)
    assert _threads.blas_threads() == before
    assert not _threads.in_split()


def test_blas_at_one_thread_inside(pool):
    if not _threads._blas_controllers():
        pytest.skip("threadpoolctl sees no BLAS library")
    inside = _threads.run_split(lambda i: _threads.blas_threads(), 2, 2)
    assert inside == [1, 1]


@pytest.mark.parametrize("a_shape, b_shape", [
    ((41, 23), (23, 37)),            # more rows than columns: by rows
    ((37, 23), (23, 41)),            # fewer: by columns
    ((3, 50), (50, 64)),
    ((4, 1, 9, 7), (3, 7, 5)),       # a stack, broadcast
    ((9, 7), (2, 7, 30)),            # a matrix against a stack
    ((2, 3, 5, 7), (7, 4)),          # a stack against a matrix: one GEMM of 30 rows
    ((2, 3, 0), (0, 4)),             # empty sums: zeros
    ((0, 3, 5), (5, 4)),             # an empty stack
    ((64, 1), (1, 300)),             # outer products: a broadcast multiply
    ((4, 1, 3, 1), (2, 1, 5)),
])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("threads", [1, 3])
def test_matmul_equals_numpy(monkeypatch, a_shape, b_shape, dtype, threads):
    monkeypatch.setattr(_threads, "_BLAS_SERIAL_MACS", 0)     # every product takes the split path
    monkeypatch.setattr(_threads, "MATMUL_SPLIT_MIN_MACS", 0)
    monkeypatch.setattr(_threads, "split_threads", lambda pieces: min(threads, pieces))
    monkeypatch.setattr(_threads, "blas_alone", lambda: False)
    rng = np.random.default_rng(0)
    a = rng.standard_normal(a_shape).astype(dtype)
    b = rng.standard_normal(b_shape).astype(dtype)
    got = _threads.matmul(a, b)
    want = np.matmul(a, b)
    assert got.shape == want.shape and got.dtype == want.dtype
    np.testing.assert_allclose(got, want, rtol=1e-5 if dtype == np.float32 else 1e-12, atol=1e-5)


def test_blas_alone_until_a_convolution_splits(monkeypatch):
    # in a fresh process products go to BLAS whole (its own threads) and other loops stay on one
    # thread; once a convolution splits its batch, tinygen's threads take over for good (without
    # the one pool: with it, loops split from the start)
    monkeypatch.setattr(_threads, "ONE_POOL", False)
    monkeypatch.setattr(_threads, "_conv_split", [False])
    monkeypatch.setattr(_threads, "_BLAS_SERIAL_MACS", 0)
    monkeypatch.setattr(_threads, "blas_threads", lambda: 2)
    assert _threads.blas_alone()
    splits = []
    real_split = _threads.run_split
    monkeypatch.setattr(_threads, "run_split", lambda *a, **k: (splits.append(a[1]),
                                                                real_split(*a, **k))[1])
    a, b = np.ones((40, 30)), np.ones((30, 20))
    np.testing.assert_array_equal(_threads.matmul(a, b), a @ b)
    assert splits == []
    assert _threads.split_threads(8) == 1                        # a loop: one thread
    assert _threads.over_ranges(lambda lo, hi: (lo, hi), 10, 10**9) == [(0, 10)]
    assert _threads.blas_alone()
    assert _threads.split_threads(8, convolution=True) == 2
    assert not _threads.blas_alone()
    assert _threads.split_threads(8) == 2
    np.testing.assert_array_equal(_threads.matmul(a, b), a @ b)
    assert splits == [1]                              # one piece, BLAS at one thread
    _threads.reset_blas_alone()
    assert _threads.blas_alone()


def test_a_stack_times_a_matrix_is_one_product(monkeypatch):
    # (..., M, K) @ (K, N) with a contiguous stack: its rows side by side, one BLAS call, not one
    # per matrix of the stack; a non-contiguous stack keeps NumPy's loop (no copy)
    calls = []
    real = np.matmul
    monkeypatch.setattr(_threads, "_BLAS_SERIAL_MACS", 0)
    monkeypatch.setattr(_threads.np, "matmul", lambda *a, **k: (calls.append(a[0].shape),
                                                                real(*a, **k))[1])
    a, b = np.ones((12, 64, 8)), np.ones((8, 5))
    assert _threads.matmul(a, b).shape == (12, 64, 5)
    assert calls == [(768, 8)]
    calls.clear()
    _threads.matmul(a.transpose(1, 0, 2), b)
    assert calls == [(64, 12, 8)]


def test_over_ranges_covers_every_index_once():
    hits = np.zeros(1001, dtype=int)

    def fn(lo, hi):
        hits[lo:hi] += 1
    _threads.over_ranges(fn, 1001, 1 << 30)              # split over the threads
    _threads.over_ranges(fn, 1001, 0)                    # one range here
    assert (hits == 2).all()


def test_no_numba_function_compiled_twice():
    # numba's on-disk cache keys compiled code by the Python function: two dispatchers of one
    # function (a parallel and a serial version) share one cache entry, and whichever compiled
    # first ran for both (the "serial" im2col gather launched numba's pool from two threads).
    numba = pytest.importorskip("numba")
    owners = {}
    for info in pkgutil.iter_modules(tinygen_kernels.__path__):
        if info.name.startswith("cuda"):
            continue
        module = importlib.import_module(f"tinygen_kernels.{info.name}")
        for name, obj in vars(module).items():
            if (isinstance(obj, numba.core.dispatcher.Dispatcher)
                    and obj.__module__ == module.__name__):
                owners.setdefault(id(obj.py_func), set()).add(f"{info.name}.{name}")
    shared = [sorted(names) for names in owners.values() if len(names) > 1]
    assert shared == []


def _printed_by(code, unset=()):
    """What a fresh Python process running `code` prints, split into words (with the one pool
    where it can be had, whatever this process was told), without the variables `unset` in its
    environment; its error output in the failure where it fails."""
    env = {k: v for k, v in os.environ.items() if k != "TINYGEN_ONE_POOL" and k not in unset}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout.split()


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_child_splits_with_a_fresh_pool():
    # a DataLoader worker is a forked child: the parent's pool threads are not in it
    code = ("import os\n"
            "from tinygen_kernels import _threads\n"
            "_threads.ONE_POOL = False\n"
            "assert _threads.run_split(lambda i: i, 4, 2) == [0, 1, 2, 3]\n"
            "pid = os.fork()\n"
            "if pid == 0:\n"
            "    ok = _threads.run_split(lambda i: i * 2, 4, 2) == [0, 2, 4, 6]\n"
            "    os._exit(0 if ok else 1)\n"
            "_, status = os.waitpid(pid, 0)\n"
            "print(os.waitstatus_to_exitcode(status))\n")
    out = _printed_by(code)
    assert out == ["0"]


@pytest.mark.skipif(_numba.spin_until is None, reason="numba is not installed")
def test_spin_until_sees_another_threads_store():
    # the poll must read memory every time: were the load hoisted out of the loop, it would
    # never see the store and return False once its polls ran out (2^36 of them: minutes)
    state = np.zeros(2, dtype=np.int64)
    timer = threading.Timer(0.01, lambda: state.__setitem__(1, 7))
    timer.start()
    assert _numba.spin_until(state, 1, 7, True, 1 << 36)
    assert _numba.spin_until(state, 1, 0, False, 1)       # differs from 0: at the first poll
    assert not _numba.spin_until(state, 0, 5, True, 1000)  # never 5: the polls run out
    timer.join()


@pytest.mark.parametrize("polls", [0, 50, 100_000])   # sleep at once (the default), poll briefly
# (the workers then mostly sleep), poll ~50 us (TINYGEN_SPIN_US=50)
def test_workers_run_every_split_whether_they_poll_or_sleep(polls):
    # splits back to back and after pauses (the workers asleep by then), shares that raise,
    # and splits using fewer workers than the pool has: every share runs once per split
    workers = _threads._Workers(3)
    workers.polls = polls if _numba.spin_until is not None else 0
    try:
        for split in range(60):
            ran = [0] * 4
            k = 1 + split % 3

            def share(i):
                ran[i] += 1
                if split % 7 == 3 and i == k:
                    raise ValueError(f"share {i}")
            if split % 7 == 3:
                with pytest.raises(ValueError, match=f"share {k}"):
                    workers.run(share, k)
            else:
                workers.run(share, k)
            assert ran == [1] * (k + 1) + [0] * (3 - k), (split, ran)
            if split % 10 == 0:
                threading.Event().wait(0.01)          # longer than a brief poll
    finally:
        workers.stop()


@pytest.mark.skipif(not _numba.HAVE_NUMBA, reason="numba is not installed")
@pytest.mark.parametrize("threads", [1, 2, 3])
@pytest.mark.parametrize("amsgrad, decoupled", [(False, False), (True, True)])
def test_adam_ranges_cross_parameters(monkeypatch, threads, amsgrad, decoupled):
    # numba_v1's Adam lays the parameters end to end and cuts them into one range per thread:
    # ranges start and end inside parameters, a parameter may fall in two ranges, mixed dtypes
    monkeypatch.setattr(_numba, "PARALLEL_MIN_ELEMENTS", 1)
    monkeypatch.setattr(_threads, "split_threads", lambda pieces: min(threads, pieces))
    rng = np.random.default_rng(0)
    shapes = [(7,), (3, 5), (1,), (11, 2), (4,)]
    dtypes = [np.float32, np.float64, np.float32, np.float64, np.float32]

    def state():
        made = [[rng.standard_normal(s).astype(d) for s, d in zip(shapes, dtypes)]
                for _ in range(3)]
        made.append([np.abs(rng.standard_normal(s)).astype(d) for s, d in zip(shapes, dtypes)])
        made.append([np.abs(rng.standard_normal(s)).astype(d) for s, d in zip(shapes, dtypes)])
        return made
    params, grads, m, v, vmax = state()
    copies = [[a.copy() for a in group] for group in (params, grads, m, v, vmax)]
    args = (3, 1e-2, 0.9, 0.999, 1e-8, 0.01, decoupled, amsgrad)
    adam.adam_step_numba(params, grads, m, v, vmax, *args)
    adam.adam_step(*copies, *args)
    for got, want in zip(params + m + v + vmax, copies[0] + copies[2] + copies[3] + copies[4]):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def test_numba_parallel_takes_the_serial_twin_where_it_may_not_launch():
    def kernel(kind):
        return lambda *args: (kind, args)
    parallel, serial = kernel("parallel"), kernel("serial")
    assert _threads.numba_parallel(parallel, serial, 1, 2) == ("parallel", (1, 2))
    with _threads._numba_launch:                           # another thread's launch runs
        assert _threads.numba_parallel(parallel, serial, 1) == ("serial", (1,))
    assert _threads.run_split(lambda i: _threads.numba_parallel(parallel, serial, i), 2, 2) == [
        ("serial", (0,)), ("serial", (1,))]
    assert not _threads._numba_launch.locked()



@needs_one_pool
def test_one_pool_runs_blas_jobs_on_numbas_threads():
    # a fresh process: BLAS's threads' jobs go through the callback onto numba's OpenMP pool (the
    # products right, the callback called), and a convolution's split stays on that pool
    code = ("import numpy as np, numba\n"
            "from tinygen_kernels import _numba, _threads\n"
            "assert _threads.one_pool()\n"
            "a = np.random.default_rng(0).standard_normal((300, 400)).astype(np.float32)\n"
            "err = np.abs(a @ a.T - a.astype(np.float64) @ a.T.astype(np.float64)).max()\n"
            "print(numba.threading_layer(), float(err) < 1e-3)\n"
            "import ctypes, threadpoolctl\n"        # OpenBLAS holds the callback's address
            "lib = threadpoolctl.ThreadpoolController().select(user_api='blas')\n"
            "dll = ctypes.CDLL(lib.lib_controllers[0].filepath)\n"
            "held = ctypes.c_void_p.in_dll(dll, 'openblas_threads_callback_')\n"
            "print(held.value == _threads._callback[0].address)\n"
            "_threads.split_threads(8, convolution=True)\n"
            "print(_threads.one_pool())\n")
    out = _printed_by(code)
    assert out == ["omp", "True", "True", "True"]


@needs_one_pool
def test_two_threads_convolving_at_once_get_their_own_results():
    # BLAS's jobs run through tinygen's callback: two Python threads each running a
    # convolution's forward and backward on their own data got wrong outputs (20-50 of 400 a
    # thread, silently); the callback now runs one BLAS call's jobs at a time
    # (_numba._run_blas_jobs). A fresh process, after a convolution that splits its batch
    code = ("import threading, numpy as np, tinygen as tg, tinygen.nn.functional as F\n"
            "rng = np.random.default_rng(0)\n"
            "data = [(rng.standard_normal((8, 16, 14, 14)).astype(np.float32),\n"
            "         rng.standard_normal((32, 16, 4, 4)).astype(np.float32)) for _ in 'ab']\n"
            "def conv(x, w):\n"
            "    xt, wt = tg.tensor(x, requires_grad=True), tg.tensor(w, requires_grad=True)\n"
            "    y = F.conv2d(xt, wt, stride=2, padding=1)\n"
            "    (y * y).sum().backward()\n"
            "    return y.detach().numpy(), xt.grad.numpy(), wt.grad.numpy()\n"
            "big = np.ones((8, 16, 28, 28), np.float32), np.ones((16, 16, 3, 3), np.float32)\n"
            "F.conv2d(*map(tg.tensor, big), padding=1)\n"       # splits: products on the pool
            "wanted = [conv(x, w) for x, w in data]\n"
            "wrong = [0, 0]\n"
            "def run(t):\n"
            "    for _ in range(200):\n"
            "        got = conv(*data[t])\n"
            "        wrong[t] += not all(np.array_equal(a, b) for a, b in zip(got, wanted[t]))\n"
            "threads = [threading.Thread(target=run, args=(t,)) for t in range(2)]\n"
            "[t.start() for t in threads]\n"
            "[t.join() for t in threads]\n"
            "print(*wrong)\n")
    assert _printed_by(code) == ["0", "0"]


@needs_one_pool
def test_one_pool_ranges_equal_one_thread(monkeypatch):
    # the kernels' loops as prange loops on numba's pool (their prange twins, cached on disk)
    # give one thread's bits (LayerNorm's gw, gb summed per
    # block of rows in block order, however many threads ran the blocks)
    rng = np.random.default_rng(1)
    x = rng.standard_normal((300, 70)).astype(np.float32)
    gy = rng.standard_normal(x.shape).astype(np.float32)
    w, b = rng.standard_normal(70).astype(np.float32), rng.standard_normal(70).astype(np.float32)
    monkeypatch.setattr(_threads, "ONE_POOL", True)
    monkeypatch.setattr(_numba, "PARALLEL_MIN_ELEMENTS", 0)
    ran = []

    def spy(name, fn):
        return lambda *a: (ran.append(name), fn(*a))[1]
    twins = {k: spy(getattr(f, "func", f).__name__, f) for k, f in activation._TWINS.items()}
    monkeypatch.setattr(activation, "_TWINS", twins)
    for name in ("_fwd_rows_parallel", "_bwd_blocks_parallel"):
        monkeypatch.setattr(layernorm, name, spy(name, getattr(layernorm, name)))
    results = []
    for min_ns in (0, 1 << 60):                          # split, then one thread
        monkeypatch.setattr(_threads, "ONE_POOL_MIN_NS", min_ns)
        ran.clear()
        y, mean, rstd = layernorm.layernorm_fwd_numba(x, w, b, 1e-5)
        results.append((activation.gelu_fwd_numba(x), activation.gelu_bwd_numba(x, gy), y,
                        *layernorm.layernorm_bwd_numba(gy, x, w, mean, rstd),
                        *activation.relu_fwd_numba(x), activation.zero_where_numba(gy, x > 0),
                        activation.leaky_relu_fwd_numba(x, 0.2),
                        activation.leaky_relu_bwd_numba(x, gy, 0.2)))
        assert ran == ([] if min_ns else [
            "_fwd_rows_parallel", "_flat1_parallel", "_flat2_parallel", "_bwd_blocks_parallel",
            "_relu_parallel", "_zero_where_parallel", "_leaky_parallel", "_leaky_bwd_parallel"])
    for split, serial in zip(*results):
        np.testing.assert_array_equal(split, serial)


@needs_one_pool
@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_child_runs_without_numbas_pool():
    # numba's OpenMP pool aborts a forked child that launches a loop ("fork() called from a
    # process already using GNU OpenMP"): a DataLoader's worker runs its loops and products on
    # one thread instead
    code = ("import os, numpy as np\n"
            "from tinygen_kernels import _numba, _threads, activation\n"
            "_threads.ONE_POOL_MIN_NS = 0\n"
            "x = np.ones((600, 600), np.float32)\n"
            "assert _threads.one_pool()\n"
            "activation.gelu_fwd_numba(x); x @ x\n"              # the pool started
            "pid = os.fork()\n"
            "if pid == 0:\n"
            "    ok = not _threads.one_pool() and _numba.num_threads() == 1\n"
            "    y = activation.gelu_fwd_numba(x); z = x @ x\n"
            "    os._exit(0 if ok and float(z[0, 0]) == 600.0 else 1)\n"
            "_, status = os.waitpid(pid, 0)\n"
            "print(os.waitstatus_to_exitcode(status))\n")
    out = _printed_by(code)
    assert out == ["0"]


@needs_one_pool
def test_numba_leaves_openmp_unnested():
    # numba's OpenMP start-up turns nested regions on in the process's one libgomp; PyTorch's
    # regions then made a fresh nested team every call (2.2 ms for a 20 us torch.sqrt). After
    # tinygen_kernels' import and a loop on numba's pool, nesting is off
    code = ("import ctypes, numpy as np, numba.np.ufunc.omppool as omppool\n"
            "from tinygen_kernels import _numba, _threads, activation\n"
            "_threads.ONE_POOL_MIN_NS = 0\n"
            "assert _threads.one_pool()\n"
            "activation.gelu_fwd_numba(np.ones(100000, np.float32))\n"
            "print(ctypes.CDLL(omppool.__file__).omp_get_max_active_levels())\n")
    out = _printed_by(code)
    assert out == ["1"]


@needs_one_pool
@needs_two_cpus
def test_one_pool_pins_the_workers_not_the_caller():
    # numba's OpenMP workers each on one CPU (a worker woken after idle otherwise waited
    # milliseconds behind the caller's spin on the caller's CPU); the caller keeps every CPU
    code = ("import os\n"
            "from tinygen_kernels import _numba, _threads\n"
            "everywhere = os.sched_getaffinity(0)\n"
            "assert _threads.one_pool()\n"
            "pinned = _numba.pin_pool_workers()\n"
            "print(len(pinned) >= 1, all(os.sched_getaffinity(t) == {c} for t, c in pinned),\n"
            "      os.sched_getaffinity(0) == everywhere)\n")
    out = _printed_by(code)
    assert out == ["True", "True", "True"]


@needs_one_pool
@needs_two_cpus
def test_a_function_compiles_on_a_pinned_worker():
    # a numba function's first call inside a split's piece on a pinned worker compiles it there
    # (a cold cache: a fresh install, a changed kernel file); piece 0, on the caller, waits so
    # that piece 1's worker compiles. _numba's import changes numba's settings in the
    # environment (so the child starts without them, as a user's process does), so numba's
    # first compilation reads them all again: without NUMBA_NUM_THREADS there it read its thread
    # count from that worker's affinity (1) and refused to compile
    code = ("import time, numba, numpy as np\n"
            "from tinygen_kernels import _threads\n"
            "assert _threads.one_pool()\n"
            "@numba.njit(nogil=True)\n"
            "def fresh(a):\n"
            "    return a.sum() * 2\n"
            "def piece(i):\n"
            "    return time.sleep(0.05) if i == 0 else fresh(np.ones(3))\n"
            "print(_threads.run_split(piece, 2, 2)[1])\n")
    ours = ("NUMBA_NUM_THREADS", "NUMBA_THREADING_LAYER", "NUMBA_CPU_NAME", "NUMBA_CPU_FEATURES")
    assert _printed_by(code, unset=ours) == ["6.0"]


def test_no_pinning_in_an_mpi_job_of_several_ranks(monkeypatch):
    # the ranks share the CPUs: each would pin its workers to the same ones
    monkeypatch.setenv("PMI_SIZE", "2")
    assert _numba.pin_pool_workers() == []
    monkeypatch.setenv("PMI_SIZE", "1")
    monkeypatch.delenv("OMPI_COMM_WORLD_SIZE", raising=False)
    assert _numba._mpi_ranks() == 1


@needs_one_pool
@pytest.mark.parametrize("amsgrad, decoupled", [(False, False), (True, True)])
def test_adam_on_the_one_pool_by_address(monkeypatch, amsgrad, decoupled):
    # in one_pool() Adam's ranges run as one prange loop that gets the parameters by address:
    # ranges cross parameters, mixed dtypes run as two passes
    monkeypatch.setattr(_threads, "ONE_POOL", True)
    monkeypatch.setattr(_threads, "ONE_POOL_MIN_NS", 0)
    ran = []
    real = adam._adam_parallel
    monkeypatch.setattr(adam, "_adam_parallel", lambda *a: (ran.append(a[0]), real(*a))[1])
    rng = np.random.default_rng(2)
    shapes = [(7,), (3, 5), (1,), (11, 2), (4,), (30, 7)]
    dtypes = [np.float32, np.float64, np.float32, np.float64, np.float32, np.float32]
    made = [[(rng.standard_normal(s) if k < 3 else np.abs(rng.standard_normal(s))).astype(d)
             for s, d in zip(shapes, dtypes)] for k in range(5)]
    copies = [[a.copy() for a in group] for group in made]
    args = (3, 1e-2, 0.9, 0.999, 1e-8, 0.01, decoupled, amsgrad)
    adam.adam_step_numba(*made, *args)
    adam.adam_step(*copies, *args)
    assert sorted(ran) == [15 + 22, 7 + 1 + 4 + 210]           # float64, float32 elements
    for got, want in zip(sum([made[k] for k in (0, 2, 3, 4)], []),
                         sum([copies[k] for k in (0, 2, 3, 4)], [])):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
