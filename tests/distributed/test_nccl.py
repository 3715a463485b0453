"""The NCCL path's logic without a GPU: NcclBackend (dtypes, ops, counts, pointers, layouts, AVG,
bool, errors) against a fake communicator with cupy.cuda.nccl's methods, whose ranks are threads
of this process and which reduces host memory read through the pointers it is given. The CUDA
side (streams, events) is a stand-in with CupyStreams' methods. On a GPU, tests/gpu runs the real
thing."""
import ctypes
import threading
import types

import numpy as np
import pytest

from tinygen.distributed import ReduceOp
from tinygen.distributed.nccl import (
    NcclBackend, unique_id_from_bytes, unique_id_to_bytes,
)

# cupy.cuda.nccl's constants (cupy_backends/cuda/libs/nccl.pxd)
FAKE_NCCL = types.SimpleNamespace(
    NCCL_SUM=0, NCCL_PROD=1, NCCL_MAX=2, NCCL_MIN=3, NCCL_AVG=4, NCCL_INT8=0, NCCL_UINT8=1,
    NCCL_INT32=2, NCCL_UINT32=3, NCCL_INT64=4, NCCL_UINT64=5, NCCL_FLOAT16=6, NCCL_FLOAT32=7,
    NCCL_FLOAT64=8)
NP_OF = {0: np.int8, 1: np.uint8, 2: np.int32, 3: np.uint32, 4: np.int64, 5: np.uint64,
         6: np.float16, 7: np.float32, 8: np.float64}
REDUCE = {0: np.sum, 1: np.prod, 2: np.max, 3: np.min, 4: np.mean}


def memory(ptr, count, code):
    """count values of NCCL type `code` at address ptr, as a writable NumPy view."""
    dtype = np.dtype(NP_OF[code])
    raw = (ctypes.c_char * (count * dtype.itemsize)).from_address(ptr)
    return np.frombuffer(raw, dtype=dtype)


class FakeWorld:
    """Collectives between threads: every rank deposits its call, each computes its own result
    from everyone's inputs, all have read before any writes (in-place calls are safe)."""

    def __init__(self, size):
        self.size, self.calls, self.inputs = size, [None] * size, {}
        self.sync = threading.Barrier(size, timeout=30)

    def run(self, rank, name, compute, write, signature):
        self.calls[rank] = (name, signature, compute)
        self.sync.wait()
        names = {(c[0], c[1]) for c in self.calls}
        if len(names) != 1:
            raise RuntimeError(f"mismatched collectives across ranks: {sorted(names)}")
        result = compute(rank)
        self.sync.wait()
        write(result)
        self.sync.wait()


class FakeComm:
    """cupy.cuda.nccl.NcclCommunicator's collective methods on host memory."""

    def __init__(self, world, rank, fail=False):
        self.world, self.rank, self.fail, self.streams = world, rank, fail, []

    def _collective(self, name, send, count, code, recv, recv_count, compute):
        if self.fail:
            raise RuntimeError("NCCL_ERROR_INVALID_ARGUMENT: invalid argument")
        self.world.inputs[self.rank] = memory(send, count, code).copy()
        self.world.run(self.rank, name, compute, lambda out: memory(recv, recv_count, code)
                       .__setitem__(slice(None), out), (count, code))

    def allReduce(self, send, recv, count, code, op, stream):
        self.streams.append(stream)

        def compute(rank):
            everyone = np.stack([self.world.inputs[r] for r in range(self.world.size)])
            return REDUCE[op](everyone, axis=0).astype(NP_OF[code])

        self._collective("allReduce", send, count, code, recv, count, compute)

    def bcast(self, buff, count, code, root, stream):
        self._collective("bcast", buff, count, code, buff, count,
                         lambda rank: self.world.inputs[root])

    def allGather(self, send, recv, count, code, stream):
        self._collective("allGather", send, count, code, recv, count * self.world.size,
                         lambda rank: np.concatenate([self.world.inputs[r]
                                                      for r in range(self.world.size)]))

    def reduceScatter(self, send, recv, recv_count, code, op, stream):
        size = self.world.size

        def compute(rank):
            blocks = [self.world.inputs[r][rank * recv_count:(rank + 1) * recv_count]
                      for r in range(size)]
            return REDUCE[op](np.stack(blocks), axis=0).astype(NP_OF[code])

        self._collective("reduceScatter", send, recv_count * size, code, recv, recv_count,
                         compute)

    def destroy(self):
        pass


class FakeStreams:
    """CupyStreams' methods for host arrays: no streams, events that are always done."""

    def pointer(self, arr):
        return arr.ctypes.data

    def zeros_u8(self, n):
        return np.zeros(n, np.uint8)

    def begin(self):
        return 12345                                   # the stream handle NCCL would get

    def end(self):
        return "event"

    def wait(self, event):
        assert event == "event"

    def done(self, event):
        return True

    def synchronize(self, event):
        assert event == "event"


def on_ranks(size, body):
    """body(rank, backend) on `size` threads, each with its NcclBackend; their results in rank
    order (an exception in any thread is raised here)."""
    world = FakeWorld(size)
    results, errors = [None] * size, []

    def run(rank):
        try:
            backend = NcclBackend(FakeComm(world, rank), rank, size, FAKE_NCCL, FakeStreams())
            results[rank] = body(rank, backend)
        except BaseException as e:                     # noqa: BLE001 - re-raised below
            errors.append(e)
            world.sync.abort()

    threads = [threading.Thread(target=run, args=(r,)) for r in range(size)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    if errors:
        raise errors[0]
    return results


def draw(rank, shape, dtype):
    rng = np.random.default_rng([5, rank])
    if dtype == np.bool_:
        return rng.random(shape) < 0.5
    if np.issubdtype(dtype, np.integer):
        return rng.integers(1, 4, shape).astype(dtype)
    return rng.standard_normal(shape).astype(dtype)


@pytest.mark.parametrize("op", list(ReduceOp))
@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64, np.int32, np.int64,
                                   np.uint8, np.bool_])
def test_all_reduce(op, dtype):
    size, shape = 3, (2, 5)
    if op is ReduceOp.AVG and dtype not in (np.float16, np.float32, np.float64):
        with pytest.raises(TypeError, match="AVG"):
            on_ranks(1, lambda rank, b: b.all_reduce(draw(rank, shape, dtype), op))
        return

    def body(rank, backend):
        arr = draw(rank, shape, dtype)
        backend.all_reduce(arr, op).wait()
        return arr

    stack = np.stack([draw(r, shape, dtype) for r in range(size)])
    if dtype == np.bool_:
        expected = stack.any(0) if op in (ReduceOp.SUM, ReduceOp.MAX) else stack.all(0)
    else:
        fn = {ReduceOp.SUM: np.sum, ReduceOp.AVG: np.mean, ReduceOp.PRODUCT: np.prod,
              ReduceOp.MIN: np.min, ReduceOp.MAX: np.max}[op]
        expected = fn(stack, axis=0).astype(dtype)
    for got in on_ranks(size, body):
        np.testing.assert_allclose(got, expected, rtol=2e-3 if dtype == np.float16 else 1e-6)
        assert got.dtype == dtype


def test_broadcast_all_gather_reduce_scatter_barrier():
    size = 3

    def body(rank, backend):
        b = draw(rank, (4,), np.float64)
        backend.broadcast(b, 2).wait()
        out = np.zeros((size, 2, 3), np.float32)
        backend.all_gather(out, draw(rank, (2, 3), np.float32)).wait()
        inp = draw(rank, (size * 4,), np.float64)
        scattered = np.zeros(4)
        backend.reduce_scatter(scattered, inp, ReduceOp.AVG).wait()
        work = backend.barrier()
        assert work.wait() and work.is_completed()
        return b, out, scattered

    results = on_ranks(size, body)
    every = np.stack([draw(r, (size * 4,), np.float64) for r in range(size)]).mean(0)
    for rank, (b, out, scattered) in enumerate(results):
        np.testing.assert_array_equal(b, draw(2, (4,), np.float64))
        np.testing.assert_array_equal(out, np.stack([draw(r, (2, 3), np.float32)
                                                     for r in range(size)]))
        np.testing.assert_allclose(scattered, every[rank * 4:(rank + 1) * 4], rtol=1e-12)


def test_collectives_run_on_the_communication_stream():
    def body(rank, backend):
        backend.all_reduce(np.ones(3), ReduceOp.SUM).wait()
        return backend.comm.streams

    assert on_ranks(2, body) == [[12345], [12345]]


def test_unsupported_dtype_and_nccl_errors_are_named():
    with pytest.raises(TypeError, match=r"all_reduce \(NCCL\): no NCCL type for a complex64 "
                                        r"tensor of shape \(3,\).*float32"):
        on_ranks(1, lambda rank, b: b.all_reduce(np.ones(3, np.complex64), ReduceOp.SUM))
    world = FakeWorld(1)
    backend = NcclBackend(FakeComm(world, 0, fail=True), 0, 1, FAKE_NCCL, FakeStreams())
    with pytest.raises(RuntimeError, match=r"broadcast \(NCCL\) failed on rank 0 of 1: "
                                           "NCCL_ERROR_INVALID_ARGUMENT"):
        backend.broadcast(np.ones(3), 0)


def test_unique_id_survives_the_trip_as_bytes():
    uid = tuple(int(v) for v in np.random.default_rng(0).integers(-128, 128, 128))
    data = unique_id_to_bytes(uid)
    assert isinstance(data, bytes) and len(data) == 128
    assert unique_id_from_bytes(data) == uid
