"""tinygen_kernels._scratch: one reused buffer per (thread, slot), and the convolutions, which
take their temporaries from it, stay correct with several user threads at once."""
import threading
import tracemalloc

import numpy as np

from tinygen_kernels import conv
from tinygen_kernels._scratch import SCRATCH_MAX_BYTES, scratch


def test_a_slot_is_reused_on_its_thread_and_grows():
    a = scratch((4, 8), np.float32, "test_a")
    b = scratch((2, 3), np.float64, "test_a")
    assert a.shape == (4, 8) and a.dtype == np.float32 and a.flags.c_contiguous
    assert b.shape == (2, 3) and b.dtype == np.float64
    assert np.shares_memory(a, b)                              # the same buffer, reused
    assert not np.shares_memory(a, scratch((4, 8), np.float32, "test_b"))
    big = scratch((1000, 1000), np.float32, "test_a")          # larger than before: a new one
    assert big.shape == (1000, 1000) and not np.shares_memory(a, big)
    assert np.shares_memory(big, scratch((10,), np.float32, "test_a"))


def test_threads_get_their_own_buffers():
    here = scratch((16,), np.float32, "test_threads")
    there = []
    thread = threading.Thread(target=lambda: there.append(scratch((16,), np.float32,
                                                                  "test_threads")))
    thread.start()
    thread.join()
    assert not np.shares_memory(here, there[0])


def test_above_the_limit_nothing_is_kept():
    n = SCRATCH_MAX_BYTES // 4 + 1
    a, b = scratch((n,), np.float32, "test_big"), scratch((n,), np.float32, "test_big")
    assert a.shape == (n,) and not np.shares_memory(a, b)


def test_convolution_allocates_no_columns_after_its_first_call():
    """LeNet's first layer: 3.7 MB of columns per 64 images against a 0.9 MB output. After a
    first call, a call allocates its output (and small arrays), not the columns."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 1, 28, 28)).astype(np.float32)
    w = rng.standard_normal((6, 1, 5, 5)).astype(np.float32)
    args = ((1, 1), (0, 0), (1, 1), 1)
    conv.conv2d_fwd_numba(x, w, *args)
    tracemalloc.start()
    try:
        y = conv.conv2d_fwd_numba(x, w, *args)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 1.5 * y.nbytes, (peak, y.nbytes)


def test_convolutions_in_several_user_threads_at_once():
    """Each user thread has its own scratch buffers: four threads running the three kernels on
    different inputs at the same time get the single-threaded answers."""
    rng = np.random.default_rng(1)
    args = ((1, 1), (1, 1), (1, 1), 1)
    cases = []
    for _ in range(4):
        x = rng.standard_normal((6, 3, 9, 9))
        w = rng.standard_normal((5, 3, 3, 2))
        gy = rng.standard_normal((6, 5, 9, 10))
        expected = (conv.conv2d_fwd(x, w, *args), conv.conv2d_bwd_weight(x, gy, w.shape, *args),
                    conv.conv2d_bwd_input(gy, w, x.shape, *args))
        cases.append((x, w, gy, expected))
    errors = []

    def run(x, w, gy, expected):
        try:
            for _ in range(20):
                got = (conv.conv2d_fwd_numba(x, w, *args),
                       conv.conv2d_bwd_weight_numba(x, gy, w.shape, *args),
                       conv.conv2d_bwd_input_numba(gy, w, x.shape, *args))
                for g, e in zip(got, expected):
                    np.testing.assert_allclose(g, e, rtol=1e-10, atol=1e-10)
        except AssertionError as error:
            errors.append(error)
    threads = [threading.Thread(target=run, args=case) for case in cases]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors[0]
