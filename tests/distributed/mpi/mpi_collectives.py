"""Every collective equals its NumPy definition, on every rank (run under mpiexec, see conftest).

Each rank's input is drawn from a generator seeded by (test seed, rank), so every rank can also
draw every other rank's input and compute the expected result with NumPy."""
import numpy as np
import pytest

import tinygen as tg
import tinygen.distributed as dist
from tinygen.distributed import ReduceOp

RANK, SIZE = dist.get_rank(), dist.get_world_size()
FLOATS = (np.float16, np.float32, np.float64)


def draw(rank, shape, dtype, seed=0):
    rng = np.random.default_rng([seed, rank])
    if dtype == np.bool_:
        return rng.random(shape) < 0.5
    if np.issubdtype(dtype, np.integer):
        return rng.integers(-3, 4, shape).astype(dtype)
    return rng.standard_normal(shape).astype(dtype)


def everyone(shape, dtype, seed=0):
    return np.stack([draw(r, shape, dtype, seed) for r in range(SIZE)])       # (world, *shape)


def reduce_reference(stack, op):
    """The definition of each ReduceOp over the first axis (ranks)."""
    if stack.dtype == np.bool_:
        return {ReduceOp.SUM: stack.any(0), ReduceOp.MAX: stack.any(0),
                ReduceOp.PRODUCT: stack.all(0), ReduceOp.MIN: stack.all(0)}[op]
    wide = stack.astype(np.float64) if stack.dtype.kind == "f" else stack
    out = {ReduceOp.SUM: lambda: wide.sum(0), ReduceOp.AVG: lambda: wide.mean(0),
           ReduceOp.PRODUCT: lambda: wide.prod(0), ReduceOp.MIN: lambda: wide.min(0),
           ReduceOp.MAX: lambda: wide.max(0)}[op]()
    return np.asarray(out).astype(stack.dtype)


def assert_matches(actual, expected):
    if expected.dtype.kind == "f":
        rtol = {2: 2e-3, 4: 1e-6, 8: 1e-13}[expected.dtype.itemsize]
        np.testing.assert_allclose(actual, expected, rtol=rtol, atol=rtol)
    else:
        np.testing.assert_array_equal(actual, expected)
    assert actual.dtype == expected.dtype


@pytest.mark.parametrize("shape", [(), (7,), (3, 4, 5)])
@pytest.mark.parametrize("dtype", FLOATS + (np.int32, np.int64, np.bool_))
@pytest.mark.parametrize("op", list(ReduceOp))
def test_all_reduce_equals_numpy(op, dtype, shape):
    t = tg.tensor(draw(RANK, shape, dtype))
    if op is ReduceOp.AVG and dtype not in FLOATS:
        with pytest.raises(TypeError, match="AVG"):        # refused before any communication
            dist.all_reduce(t, op=op)
        return
    assert dist.all_reduce(t, op=op) is None
    assert_matches(t.numpy(), reduce_reference(everyone(shape, dtype), op))


@pytest.mark.parametrize("src", range(4))
def test_broadcast_equals_rank_src(src):
    src = src % SIZE
    t = tg.tensor(draw(RANK, (2, 3), np.float64, seed=src))
    dist.broadcast(t, src)
    np.testing.assert_array_equal(t.numpy(), draw(src, (2, 3), np.float64, seed=src))


@pytest.mark.parametrize("dtype", [np.float32, np.int64, np.bool_])
def test_all_gather_equals_stack(dtype):
    out = [tg.zeros((4, 2), dtype=tg.tensor(np.zeros(1, dtype)).dtype) for _ in range(SIZE)]
    dist.all_gather(out, tg.tensor(draw(RANK, (4, 2), dtype)))
    expected = everyone((4, 2), dtype)
    for r in range(SIZE):
        np.testing.assert_array_equal(out[r].numpy(), expected[r])


def test_all_gather_into_tensor_equals_concatenate():
    out = tg.zeros(SIZE * 3, 2, dtype=tg.float64)
    dist.all_gather_into_tensor(out, tg.tensor(draw(RANK, (3, 2), np.float64)))
    np.testing.assert_array_equal(out.numpy(), np.concatenate(list(everyone((3, 2), np.float64))))


@pytest.mark.parametrize("op", [ReduceOp.SUM, ReduceOp.AVG, ReduceOp.MAX])
def test_reduce_scatter_equals_numpy(op):
    inputs = [tg.tensor(draw(RANK, (5,), np.float64, seed=k)) for k in range(SIZE)]
    out = tg.zeros(5, dtype=tg.float64)
    dist.reduce_scatter(out, inputs, op=op)
    # rank RANK gets the reduction over ranks of their RANK-th input
    expected = reduce_reference(np.stack([draw(r, (5,), np.float64, seed=RANK)
                                          for r in range(SIZE)]), op)
    assert_matches(out.numpy(), expected)


def test_reduce_scatter_tensor_equals_numpy():
    inp = tg.tensor(draw(RANK, (SIZE * 4,), np.float32))
    out = tg.zeros(4)
    dist.reduce_scatter_tensor(out, inp)
    expected = everyone((SIZE * 4,), np.float32).astype(np.float64).sum(0)
    assert_matches(out.numpy(), expected[RANK * 4:(RANK + 1) * 4].astype(np.float32))


def test_async_ops_overlap_and_complete_in_any_wait_order():
    a = tg.tensor(draw(RANK, (1000,), np.float64, seed=1))
    b = tg.tensor(draw(RANK, (10,), np.float64, seed=2))
    c = tg.tensor(draw(RANK, (3,), np.float64, seed=3))
    works = [dist.all_reduce(a, async_op=True), dist.all_reduce(b, op=ReduceOp.AVG, async_op=True),
             dist.broadcast(c, SIZE - 1, async_op=True)]
    assert all(isinstance(w, dist.Work) for w in works)
    np.linalg.svd(np.random.default_rng(RANK).standard_normal((60, 60)))   # work meanwhile
    for w in reversed(works):
        assert w.wait() is True
        assert w.is_completed()
    assert_matches(a.numpy(), everyone((1000,), np.float64, seed=1).sum(0))
    assert_matches(b.numpy(), everyone((10,), np.float64, seed=2).mean(0))
    np.testing.assert_array_equal(c.numpy(), draw(SIZE - 1, (3,), np.float64, seed=3))


def test_async_all_gather_fills_the_list_on_wait():
    out = [tg.zeros(3, dtype=tg.float64) for _ in range(SIZE)]
    work = dist.all_gather(out, tg.tensor(draw(RANK, (3,), np.float64)), async_op=True)
    work.wait()
    for r in range(SIZE):
        np.testing.assert_array_equal(out[r].numpy(), draw(r, (3,), np.float64))


def test_broadcast_coalesced_sends_rank0s_tensors_of_every_dtype():
    tensors = [tg.tensor(draw(RANK, (2, 3), np.float32, seed=1)),
               tg.tensor(draw(RANK, (4,), np.int64, seed=2)),
               tg.tensor(draw(RANK, (3, 2), np.float32, seed=3)).t(),       # not contiguous
               tg.tensor(draw(RANK, (), np.float64, seed=4))]
    dist.broadcast_coalesced(tensors, src=SIZE - 1)
    expected = [draw(SIZE - 1, (2, 3), np.float32, seed=1), draw(SIZE - 1, (4,), np.int64, seed=2),
                draw(SIZE - 1, (3, 2), np.float32, seed=3).T, draw(SIZE - 1, (), np.float64, seed=4)]
    for t, e in zip(tensors, expected):
        np.testing.assert_array_equal(t.numpy(), e)
        assert t.numpy().dtype == e.dtype


def test_all_gather_object_returns_every_ranks_object_in_rank_order():
    # objects of different pickled lengths on each rank (a longer string on higher ranks)
    mine = {"rank": RANK, "text": "x" * (10 * RANK + 1),
            "state": draw(RANK, (3,), np.int64).tolist()}
    gathered = [None] * SIZE
    dist.all_gather_object(gathered, mine)
    assert gathered == [{"rank": r, "text": "x" * (10 * r + 1),
                         "state": draw(r, (3,), np.int64).tolist()} for r in range(SIZE)]
    with pytest.raises(ValueError, match="list of world_size"):
        dist.all_gather_object([None] * (SIZE + 1), mine)


def test_barrier_and_async_barrier():
    assert dist.barrier() is None
    dist.barrier(async_op=True).wait()


def test_the_test_device_goes_over_mpi_and_stays_on_it():
    t = tg.tensor(draw(RANK, (4,), np.float64), device="test")
    dist.all_reduce(t)
    assert t.device == tg.device("test")
    assert_matches(t.cpu().numpy(), everyone((4,), np.float64).sum(0))


def test_group_queries():
    assert dist.is_initialized() and dist.is_available()
    assert dist.get_backend() == "mpi"
    assert 0 <= dist.get_rank() < dist.get_world_size() == SIZE
    with pytest.raises(RuntimeError, match="twice"):
        dist.init_process_group("mpi")


# ---- clear errors, raised on every rank before any communication (so nothing hangs) ---------
def test_non_contiguous_tensor_is_refused():
    t = tg.zeros(2, 3).t()
    with pytest.raises(ValueError, match=r"all_reduce: tensor \(shape \(3, 2\).*contiguous"):
        dist.all_reduce(t)


def test_bad_arguments_are_named():
    t = tg.zeros(3)
    with pytest.raises(ValueError, match=rf"src={SIZE} is not a rank of this group "
                                         rf"\(0..{SIZE - 1}\)"):
        dist.broadcast(t, SIZE)
    with pytest.raises(ValueError, match=rf"world_size={SIZE} tensors, got {SIZE + 1}"):
        dist.all_gather([tg.zeros(3) for _ in range(SIZE + 1)], t)
    with pytest.raises(ValueError, match=r"tensor_list\[0\] is \(4,\) tinygen.float32"):
        dist.all_gather([tg.zeros(4)] + [tg.zeros(3) for _ in range(SIZE - 1)], t)
    with pytest.raises(TypeError, match="must be a tinygen Tensor, got ndarray"):
        dist.all_reduce(np.zeros(3))
    with pytest.raises(TypeError, match="ReduceOp"):
        dist.all_reduce(t, op="sum")
    with pytest.raises(ValueError, match="only the default process group"):
        dist.all_reduce(t, group=object())


def test_in_place_change_of_a_saved_tensor_is_caught_by_autograd():
    x = tg.ones(3, requires_grad=True)
    y = x * 2
    z = (y * y).sum()                       # saves y for backward
    dist.all_reduce(y.detach())             # y's memory changes in place: its version moves on
    with pytest.raises(RuntimeError, match="modified by an inplace operation|in-place|version"):
        z.backward()
