"""Collectives on CuPy arrays over NCCL (cupy.cuda.nccl), one GPU per process.

NCCL calls are queued on a CUDA stream of their own, so communication overlaps the compute queued
on the current stream:
  1. before a collective, the communication stream waits for an event recorded on the current
     stream (the data the collective reads has been computed);
  2. the NCCL call is queued on the communication stream, then an event recorded after it;
  3. Work.wait() makes the current stream wait for that event: later kernels see the result, and
     the host is not blocked (torch.distributed's meaning of wait() for NCCL). A barrier, and
     is_completed(), ask the host itself.
A Work keeps its arrays alive until it is waited on, so CuPy's memory pool cannot hand their memory
to a kernel before NCCL is done with it.

Everything that touches CUDA goes through `CupyStreams`, and the communicator is passed in: the
logic here (dtypes, ops, counts, pointers, layouts) is tested without a GPU against a fake
communicator that reduces host memory; it runs on NCCL for real only where a GPU is lent.
"""
from __future__ import annotations

from .work import ReduceOp, Work, check_reduce_op

# numpy dtype name -> the name of cupy.cuda.nccl's constant (bool travels as uint8)
NCCL_DTYPES = {"int8": "NCCL_INT8", "uint8": "NCCL_UINT8", "bool": "NCCL_UINT8",
               "int32": "NCCL_INT32", "uint32": "NCCL_UINT32", "int64": "NCCL_INT64",
               "uint64": "NCCL_UINT64", "float16": "NCCL_FLOAT16", "float32": "NCCL_FLOAT32",
               "float64": "NCCL_FLOAT64", "bfloat16": "NCCL_BFLOAT16"}
NCCL_OPS = {ReduceOp.SUM: "NCCL_SUM", ReduceOp.PRODUCT: "NCCL_PROD", ReduceOp.MAX: "NCCL_MAX",
            ReduceOp.MIN: "NCCL_MIN", ReduceOp.AVG: "NCCL_AVG"}     # AVG: NCCL >= 2.10


class NcclBackend:
    """The collectives of one NCCL communicator on contiguous CuPy arrays of one GPU.

    comm: a cupy.cuda.nccl.NcclCommunicator (or a stand-in with its methods); nccl: the module
    whose constants name dtypes and ops; streams: a CupyStreams (or a stand-in)."""

    name = "nccl"

    def __init__(self, comm, rank, size, nccl, streams, device_index=0):
        self.comm, self.rank, self.size = comm, rank, size
        self.nccl, self.streams, self.device_index = nccl, streams, device_index

    def all_reduce(self, arr, op, name="all_reduce"):
        op = check_reduce_op(op, arr.dtype, name)
        dtype, ptr = self._dtype(arr, name), self.streams.pointer(arr)
        nccl_op = self._op(op)
        return self._launch(name, lambda stream: self.comm.allReduce(
            ptr, ptr, arr.size, dtype, nccl_op, stream), keep=arr)

    def broadcast(self, arr, src, name="broadcast"):
        dtype, ptr = self._dtype(arr, name), self.streams.pointer(arr)
        return self._launch(name, lambda stream: self.comm.bcast(ptr, arr.size, dtype, src,
                                                                 stream), keep=arr)

    def all_gather(self, out, arr, name="all_gather"):
        """out (world_size * arr.size values) <- the arrays of ranks 0, 1, ... in order."""
        dtype = self._dtype(arr, name)
        send, recv = self.streams.pointer(arr), self.streams.pointer(out)
        return self._launch(name, lambda stream: self.comm.allGather(
            send, recv, arr.size, dtype, stream), keep=(out, arr))

    def reduce_scatter(self, out, inp, op, name="reduce_scatter"):
        """out (n values) <- op over ranks of inp[rank * n:(rank + 1) * n]."""
        op = check_reduce_op(op, inp.dtype, name)
        dtype, nccl_op = self._dtype(inp, name), self._op(op)
        send, recv = self.streams.pointer(inp), self.streams.pointer(out)
        return self._launch(name, lambda stream: self.comm.reduceScatter(
            send, recv, out.size, dtype, nccl_op, stream), keep=(out, inp))

    def barrier(self, name="barrier"):
        """An all-reduce of one byte, waited on by the host (NCCL has no barrier of its own)."""
        token = self.streams.zeros_u8(1)
        ptr, dtype, nccl_op = self.streams.pointer(token), self.nccl.NCCL_UINT8, self.nccl.NCCL_SUM
        return self._launch(name, lambda stream: self.comm.allReduce(
            ptr, ptr, 1, dtype, nccl_op, stream), keep=token, host_waits=True)

    def progress(self):
        """Nothing to do: NCCL runs on the GPU by itself."""

    def destroy(self):
        self.comm.destroy()

    # ---- helpers -------------------------------------------------------------------------------
    def _dtype(self, arr, name):
        key = NCCL_DTYPES.get(arr.dtype.name)
        if key is None or not hasattr(self.nccl, key):
            raise TypeError(f"{name} (NCCL): no NCCL type for a {arr.dtype} tensor of shape "
                            f"{tuple(arr.shape)}; NCCL moves "
                            + ", ".join(k for k, v in NCCL_DTYPES.items() if hasattr(self.nccl, v)))
        return getattr(self.nccl, key)

    def _op(self, op):
        return getattr(self.nccl, NCCL_OPS[op])

    def _launch(self, name, call, keep, host_waits=False):
        stream = self.streams.begin()
        try:
            call(stream)
        except Exception as e:   # cupy's NcclError: say which collective, rank and arrays
            raise RuntimeError(f"{name} (NCCL) failed on rank {self.rank} of {self.size}: "
                               f"{e}") from e
        event = self.streams.end()
        wait = self.streams.synchronize if host_waits else self.streams.wait
        return Work(name, wait=lambda: wait(event), test=lambda: self.streams.done(event),
                    keep=keep)


class CupyStreams:
    """The CUDA side of NcclBackend: one communication stream, events between it and the
    current stream, and device pointers."""

    def __init__(self, cupy, device_index):
        self.cp = cupy
        with cupy.cuda.Device(device_index):
            self.stream = cupy.cuda.Stream(non_blocking=True)

    def pointer(self, arr):
        return arr.data.ptr

    def zeros_u8(self, n):
        return self.cp.zeros(n, self.cp.uint8)

    def begin(self):
        """The communication stream waits for the work queued so far; its handle for NCCL."""
        ready = self.cp.cuda.Event(disable_timing=True)
        ready.record(self.cp.cuda.get_current_stream())
        self.stream.wait_event(ready)
        return self.stream.ptr

    def end(self):
        done = self.cp.cuda.Event(disable_timing=True)
        done.record(self.stream)
        return done

    def wait(self, event):
        self.cp.cuda.get_current_stream().wait_event(event)

    def done(self, event):
        return event.done

    def synchronize(self, event):
        event.synchronize()


def unique_id_to_bytes(uid):
    """NCCL's unique id (cupy: a tuple of 128 C chars) as 128 bytes to send to the other ranks."""
    return bytes(int(v) & 0xFF for v in uid)


def unique_id_from_bytes(data):
    """128 bytes back to cupy's tuple of signed chars (x86's char is signed)."""
    return tuple(b - 256 if b > 127 else b for b in data)


def create_nccl_backend(rank, size, device_index, share_id):
    """An NcclBackend on GPU `device_index`. share_id(bytes or None) -> bytes hands rank 0's
    NCCL unique id to every rank (over MPI, or a TCP rendezvous)."""
    try:
        import cupy  # lazy: CuPy is optional (the `cuda` extra)
        from cupy.cuda import nccl  # lazy: needs CuPy built with NCCL
    except ImportError as e:
        raise RuntimeError(f"backend 'nccl' needs CuPy with NCCL ({e}); install the extra with: "
                           "pip install 'tinygen[cuda]'") from e
    device_index %= cupy.cuda.runtime.getDeviceCount()    # LOCAL_RANK 5 on a 4-GPU node: GPU 1
    # this process's GPU becomes its current device (torch.cuda.set_device(local_rank)), so that
    # tensors made on "cuda" land on the GPU its NCCL communicator serves
    cupy.cuda.Device(device_index).use()
    uid = unique_id_to_bytes(nccl.get_unique_id()) if rank == 0 else None
    uid = unique_id_from_bytes(share_id(uid))
    comm = nccl.NcclCommunicator(size, uid, rank)
    return NcclBackend(comm, rank, size, nccl, CupyStreams(cupy, device_index), device_index)
