"""kernels/binary.py's add: NumPy's bits on both of its paths (the same shape; a run of a's
values per value of b), with the ranges split over threads, and the reference for everything
else; and the ops that reach it (Add on large tensors, the backward's gradient sums)."""
import numpy as np
import pytest

import tinygen as tg
from tinygen.autograd import engine
from tinygen.ops import binary as ops_binary
from tinygen_kernels import _numba, _threads, binary, registry

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


@pytest.mark.parametrize("a, b", [
    (np.ones((4, 3), np.float32), np.ones((1, 3), np.float32)),      # broadcast along rows
    (np.ones((4, 3), np.float32), np.ones((4, 3), np.float64)),      # promotion
    (np.ones((4, 3), np.float32), np.ones((4, 3), np.float32)[:, ::-1]),   # not contiguous
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
