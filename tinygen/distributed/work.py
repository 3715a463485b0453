"""ReduceOp (what a reduction computes) and Work (what an asynchronous collective returns).

Both backends (MPI for host arrays, NCCL for CuPy arrays) return a `Work`: the collective has been
started; `wait()` blocks until its result is in the output tensor(s). Anything that must happen
after the data has arrived (ReduceOp.AVG's division under MPI, unpacking an all_gather into a list
of tensors) is the Work's `finish`, run once by the first `wait()`.
"""
from __future__ import annotations

import enum


class ReduceOp(enum.Enum):
    """The reduction of all_reduce and reduce_scatter, as torch.distributed.ReduceOp.

    SUM, PRODUCT, MIN, MAX elementwise over ranks; AVG is SUM divided by the world size
    (floating-point tensors only). On bool tensors SUM and MAX are a logical or, PRODUCT and MIN a
    logical and (PyTorch's meaning)."""

    SUM = "sum"
    AVG = "avg"
    PRODUCT = "product"
    MIN = "min"
    MAX = "max"

    def __repr__(self):
        return f"ReduceOp.{self.name}"


# bool arrays travel as uint8 (MPI and NCCL define no sum of booleans): or = max, and = min
BOOL_OP = {ReduceOp.SUM: ReduceOp.MAX, ReduceOp.MAX: ReduceOp.MAX,
           ReduceOp.PRODUCT: ReduceOp.MIN, ReduceOp.MIN: ReduceOp.MIN}


def check_reduce_op(op, dtype, name):
    """The ReduceOp to run for an array of `dtype`, or a clear error."""
    if not isinstance(op, ReduceOp):
        raise TypeError(f"{name}: op must be a tinygen.distributed.ReduceOp (SUM, AVG, PRODUCT, "
                        f"MIN, MAX), got {op!r}")
    if dtype.kind == "b":
        if op is ReduceOp.AVG:
            raise TypeError(f"{name}: ReduceOp.AVG is not defined for a bool tensor")
        return BOOL_OP[op]
    if op is ReduceOp.AVG and dtype.kind not in "fc" and dtype.name != "bfloat16":
        raise TypeError(f"{name}: ReduceOp.AVG needs a floating-point tensor, got {dtype}; "
                        "use ReduceOp.SUM and divide by get_world_size() as you need")
    return op


class Work:
    """A started collective (async_op=True). wait() blocks until its result is in place and
    returns True; is_completed() asks without blocking.

        work = dist.all_reduce(t, async_op=True)
        ...                                 # compute something else meanwhile
        work.wait()                         # t now holds the sum over ranks
    """

    def __init__(self, name, wait, test=None, finish=None, on_done=None, keep=None):
        self.name = name
        self._wait, self._test, self._finish, self._on_done = wait, test, finish, on_done
        self._done = False
        self.keep = keep        # the arrays the collective reads and writes: alive until done

    def wait(self, timeout=None):
        """Block until the collective is complete (timeout is accepted for PyTorch's signature
        and not enforced: an MPI collective cannot be abandoned half-way)."""
        if not self._done:
            self._wait()
            self._complete()
        return True

    def then(self, fn):
        """Run fn() once the collective is complete (after what is already queued); returns
        self. For what a caller must do with the data once it has arrived (unpack, divide)."""
        previous = self._finish

        def finish():
            if previous is not None:
                previous()
            fn()

        self._finish = finish
        if self._done:
            fn()
        return self

    def is_completed(self) -> bool:
        if not self._done and self._test is not None and self._test():
            self._complete()
        return self._done

    def _complete(self):
        self._done = True
        if self._finish is not None:
            self._finish()
        if self._on_done is not None:
            self._on_done(self)

    def __repr__(self):
        return f"<Work {self.name} {'completed' if self._done else 'in flight'}>"

