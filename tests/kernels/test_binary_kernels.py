"""kernels/binary.py's add: NumPy's bits on its paths (the same shape; a run of a's values per
value of b; the same shape with images apart; b repeated over a's leading axes), with the ranges
split over threads, and the reference for everything else; and the ops that reach it (Add on
large tensors, the backward's gradient sums)."""
import numpy as np
import pytest

import tinygen as tg
from tinygen.autograd import engine
from tinygen.ops import binary as ops_binary
from tinygen_kernels import _numba, _threads, binary, registry

from helpers import needs_one_pool

pytestmark = pytest.mark.skipif(not _numba.HAVE_NUMBA, reason="numba is not installed")


@pytest.fixture
def split(monkeypatch):
    """Every loop of add over 3 ranges, on tinygen's threads."""
    monkeypatch.setattr(_numba, "PARALLEL_MIN_ELEMENTS", 1)
    monkeypatch.setattr(_threads, "split_threads", lambda pieces, **_: min(3, pieces))


@pytest.mark.parametrize("a_shape, b_shape", [
    ((5, 7, 3, 4), (5, 7, 3, 4)),        # the same shape
    ((5, 7, 3, 4), (5, 7, 1, 1)),        # a time embedding's broadcast
    ((5, 7, 3, 4), (5, 1, 1, 1)),
    ((5, 7, 1, 4), (5, 7, 1, 1)),        # a 1 in both
    ((5, 7, 1, 1), (5, 7, 3, 4)),        # the small one first
    ((5, 7, 3, 4), (3, 4)),              # repeated over the leading axes (a position embedding)
    ((5, 7, 3, 4), (1, 7, 3, 4)),
    ((7, 3, 4), (5, 7, 3, 4)),
    ((4, 3), (1, 3)),                    # a row added to every row
])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_add_equals_numpy_bit_for_bit(split, a_shape, b_shape, dtype):
    rng = np.random.default_rng(0)
    a, b = (rng.standard_normal(s).astype(dtype) for s in (a_shape, b_shape))
    a.flat[:3] = [np.inf, np.nan, -0.0]
    got = binary.add_numba(a, b)
    want = a + b
    assert got.dtype == want.dtype and got.shape == want.shape
    np.testing.assert_array_equal(got.view(np.uint8), want.view(np.uint8))


def _channels(shape, dtype, start, rng):
    """An array of `shape` cut out of a batch with twice its channels: each image contiguous,
    images 2 * C * H * W values apart (a slice of Cat's gradient)."""
    n, c = shape[:2]
    whole = rng.standard_normal((n, 2 * c) + shape[2:]).astype(dtype)
    return whole[:, start:start + c]


@pytest.mark.parametrize("strided", ["a", "b", "both"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_add_of_batch_strided_arrays_equals_numpy_bit_for_bit(split, strided, dtype):
    rng = np.random.default_rng(2)
    shape = (5, 3, 4, 6)
    a = _channels(shape, dtype, 3, rng) if strided in ("a", "both") else \
        rng.standard_normal(shape).astype(dtype)
    b = _channels(shape, dtype, 0, rng) if strided in ("b", "both") else \
        rng.standard_normal(shape).astype(dtype)
    a[0, 0, 0, :3] = [np.inf, np.nan, -0.0]
    assert not (a.flags.c_contiguous and b.flags.c_contiguous)
    got = binary.add_numba(a, b)
    want = a + b
    assert got.dtype == want.dtype and got.shape == want.shape and got.flags.c_contiguous
    np.testing.assert_array_equal(got.view(np.uint8), want.view(np.uint8))


@pytest.mark.parametrize("a, b", [
    (np.ones((4, 3), np.float32), np.ones((4, 3), np.float64)),      # promotion
    (np.ones((4, 3), np.float32), np.ones((4, 3), np.float32)[:, ::-1]),   # rows reversed
    (np.ones((4, 3), np.float32), np.ones((3, 4), np.float32).T),     # rows not contiguous
    (np.ones((4, 3, 2), np.float32), np.ones((4, 3, 4), np.float32)[:, :, ::2]),
    (np.ones((4, 3, 2), np.float32), np.ones((1, 3, 1), np.float32)),   # a broadcast in the middle
    (np.ones((3, 2), np.float32), np.ones((1, 3, 2), np.float32)),      # the result has more axes
    (np.ones((4, 3), np.int64), np.ones((4, 3), np.int64)),
    (np.ones((0, 3), np.float32), np.ones((0, 3), np.float32)),
])
def test_add_leaves_the_rest_to_the_reference(a, b):
    assert binary.add_numba(a, b) is NotImplemented


def test_large_add_and_gradient_sum_go_through_the_kernel(monkeypatch):
    calls = []
    monkeypatch.setattr(ops_binary, "_ADD_KERNEL_MIN", 100)
    monkeypatch.setattr(engine, "_ACCUMULATE_BY_OP", 100)
    monkeypatch.setitem(registry.references()["add"].impls, ("cpu", "numba_v1"),
                        lambda a, b: (calls.append((a.shape, b.shape)), binary.add_numba(a, b))[1])
    monkeypatch.setattr(registry, "_CACHE", {})           # dispatch finds the spy
    rng = np.random.default_rng(1)
    x = tg.tensor(rng.standard_normal((4, 5, 6, 7)).astype(np.float32), requires_grad=True)
    t = tg.tensor(rng.standard_normal((4, 5, 1, 1)).astype(np.float32))
    ((x + t) * x).sum().backward()          # x used twice: its two gradients are summed
    assert calls == [((4, 5, 6, 7), (4, 5, 1, 1)), ((4, 5, 6, 7), (4, 5, 6, 7))]
    np.testing.assert_allclose(x.grad.numpy(), (2 * x + t).detach().numpy(), rtol=1e-6)


@needs_one_pool
def test_add_prange_twins_give_one_threads_bits(monkeypatch):
    # in one_pool() add's loops run as their prange twins on numba's pool: the same bits as the
    # one-thread loops, on every path
    monkeypatch.setattr(_threads, "ONE_POOL", True)
    rng = np.random.default_rng(3)
    a = rng.standard_normal((6, 4, 5, 3)).astype(np.float32)
    cases = [(a, rng.standard_normal(a.shape).astype(np.float32)),
             (a, rng.standard_normal((6, 4, 1, 1)).astype(np.float32)),
             (_channels(a.shape, np.float32, 4, rng), a),
             (a, rng.standard_normal((5, 3)).astype(np.float32))]
    ran = []
    for name in ("_add_flat_parallel", "_add_runs_parallel", "_add_rows_parallel"):
        twin = getattr(binary, name)
        monkeypatch.setattr(binary, name, lambda *args, _t=twin, _n=name: (ran.append(_n),
                                                                             _t(*args))[1])
    results = []
    for min_ns in (0, 1 << 60):                          # the pool, then one thread
        monkeypatch.setattr(_threads, "ONE_POOL_MIN_NS", min_ns)
        results.append([binary.add_numba(x, y) for x, y in cases])
    assert ran == ["_add_flat_parallel", "_add_runs_parallel", "_add_rows_parallel",
                   "_add_rows_parallel"]
    for pooled, serial, (x, y) in zip(*results, cases):
        np.testing.assert_array_equal(pooled, serial)
        np.testing.assert_array_equal(pooled, x + y)
