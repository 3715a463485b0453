"""Collectives on host arrays (NumPy, and the test device's) over MPI, with mpi4py.

mpi4py's buffer interface (the upper-case methods) only: the array's memory goes to MPI as it is,
no pickling, and every collective works in place on the tensor's own array (MPI.IN_PLACE). Every
collective is started non-blocking (Iallreduce, Ibcast, ...) and returned as a Work; a blocking
call is that Work's wait(). One code path, and DistributedDataParallel can start a bucket's
all-reduce mid-backward and wait for it before the optimiser step.

MPICH moves a non-blocking collective forward only while the process is inside an MPI call (there
is no progress thread unless one is asked for, and one would spin on a core that training needs),
so `progress()` tests every collective still in flight: DDP calls it from its gradient hooks, so
a bucket's all-reduce advances during the rest of the backward pass.
"""
from __future__ import annotations

from .work import ReduceOp, Work, check_reduce_op


class MpiBackend:
    """The collectives of one MPI communicator (COMM_WORLD) on contiguous host arrays."""

    name = "mpi"

    def __init__(self, comm, mpi):
        self.comm, self.MPI = comm, mpi          # the communicator, and the mpi4py.MPI module
        self.rank, self.size = comm.Get_rank(), comm.Get_size()
        self._ops = {ReduceOp.SUM: mpi.SUM, ReduceOp.AVG: mpi.SUM, ReduceOp.PRODUCT: mpi.PROD,
                     ReduceOp.MIN: mpi.MIN, ReduceOp.MAX: mpi.MAX}
        self._in_flight = []

    # ---- the collectives (arrays in, a started Work out) -----------------------------------
    def all_reduce(self, arr, op, name="all_reduce"):
        """arr (any shape, contiguous) <- op over ranks of arr, in place."""
        op = check_reduce_op(op, arr.dtype, name)
        request = self._start(name, arr, self.comm.Iallreduce, self.MPI.IN_PLACE, _buffer(arr),
                              op=self._ops[op])
        return self._work(name, request, _average(arr, self.size) if op is ReduceOp.AVG else None,
                          keep=arr)

    def broadcast(self, arr, src, name="broadcast"):
        """arr <- rank src's arr, in place on every rank."""
        request = self._start(name, arr, self.comm.Ibcast, _buffer(arr), root=src)
        return self._work(name, request, keep=arr)

    def all_gather(self, out, arr, name="all_gather"):
        """out (world_size * arr.size values, contiguous) <- the arrays of ranks 0, 1, ... in
        order."""
        request = self._start(name, arr, self.comm.Iallgather, _buffer(arr), _buffer(out))
        return self._work(name, request, keep=(out, arr))

    def reduce_scatter(self, out, inp, op, name="reduce_scatter"):
        """out (n values) <- op over ranks of inp[rank * n:(rank + 1) * n], where inp holds
        world_size * n values."""
        op = check_reduce_op(op, inp.dtype, name)
        request = self._start(name, inp, self.comm.Ireduce_scatter_block, _buffer(inp),
                              _buffer(out), op=self._ops[op])
        return self._work(name, request, _average(out, self.size) if op is ReduceOp.AVG else None,
                          keep=(out, inp))

    def barrier(self, name="barrier"):
        return self._work(name, self._start(name, None, self.comm.Ibarrier))

    # ---- requests ------------------------------------------------------------------------------
    def progress(self):
        """Test every collective still in flight: MPICH advances them only inside MPI calls."""
        for work in list(self._in_flight):
            work.is_completed()

    def _start(self, name, arr, start, *args, **kwargs):
        try:
            return start(*args, **kwargs)
        except self.MPI.Exception as e:
            what = "" if arr is None else f" on a {arr.dtype} array of shape {tuple(arr.shape)}"
            raise RuntimeError(f"{name} (MPI) failed on rank {self.rank} of {self.size}{what}: "
                               f"{e.Get_error_string().strip()}") from None

    def _work(self, name, request, finish=None, keep=None):
        work = Work(name, wait=request.Wait, test=request.Test, finish=finish,
                    on_done=self._in_flight.remove, keep=keep)
        self._in_flight.append(work)
        return work


def _buffer(arr):
    """What MPI reads and writes: the array itself; a bool array as its bytes (MPI defines no
    sum or max of C booleans, and the reduction ops are mapped to max/min for bools)."""
    return arr.view("u1") if arr.dtype.kind == "b" else arr


def _average(arr, size):
    def finish():
        arr[...] /= size                   # AVG = SUM / world size, once the sum has arrived
    return finish
