"""The collectives on Tensors, in torch.distributed's dialect: every rank calls the same function
in the same order; results are written in place into the given tensors.

    x = tg.tensor([float(rank)])
    dist.all_reduce(x)                             # x = [0 + 1 + ... + (world_size - 1)]
    work = dist.all_reduce(y, op=dist.ReduceOp.AVG, async_op=True)
    ...                                            # overlap: compute meanwhile
    work.wait()                                    # y holds the mean over ranks

Tensors must be contiguous (as in PyTorch), and a collective's tensors share one device and dtype.
A host tensor goes over MPI, a CUDA tensor over NCCL (see group.py). async_op=True returns a Work
(wait(), is_completed()); otherwise the call returns None once the result is in place.
Collectives are not recorded by autograd (as torch.distributed's are not).
"""
from __future__ import annotations

import pickle

import numpy as np

from ..backend.device import array_module, device_of
from ..tensor import Tensor
from .group import default_group
from .work import ReduceOp


def all_reduce(tensor, op=ReduceOp.SUM, group=None, async_op=False):
    """tensor <- op over every rank's tensor (any shape), in place on every rank."""
    pg = default_group("all_reduce", group)
    arr = _array(tensor, "all_reduce")
    work = pg.backend_for(arr, "all_reduce").all_reduce(arr, op, "all_reduce")
    return _result(work, [tensor], async_op)


def broadcast(tensor, src, group=None, async_op=False):
    """tensor <- rank src's tensor, in place on every rank."""
    pg = default_group("broadcast", group)
    _check_rank(src, pg, "broadcast", "src")
    arr = _array(tensor, "broadcast")
    work = pg.backend_for(arr, "broadcast").broadcast(arr, src, "broadcast")
    return _result(work, [tensor], async_op)


def all_gather(tensor_list, tensor, group=None, async_op=False):
    """tensor_list[r] <- rank r's tensor, for r in 0..world_size-1, on every rank. Every rank's
    tensor has the same shape; tensor_list holds world_size tensors of that shape."""
    pg = default_group("all_gather", group)
    arr = _array(tensor, "all_gather")
    _check_list(tensor_list, tensor, pg.size, "all_gather", "tensor_list")
    out = array_module(arr).empty((pg.size,) + arr.shape, arr.dtype)       # (world, *shape)
    work = pg.backend_for(arr, "all_gather").all_gather(out, arr, "all_gather")
    work.then(lambda: _unpack(out, tensor_list))
    return _result(work, tensor_list, async_op)


def all_gather_object(object_list, obj, group=None):
    """object_list[r] <- rank r's `obj` (any picklable object), on every rank
    (torch.distributed.all_gather_object). Pickled into bytes: two all-gathers over the host
    backend (the lengths, then the bytes padded to the longest). For small objects (a checkpoint's
    RNG states), not for tensors; like PyTorch's, it unpickles what other ranks send, so use it
    only inside one trusted job."""
    pg = default_group("all_gather_object", group)
    if not isinstance(object_list, list) or len(object_list) != pg.size:
        got = len(object_list) if isinstance(object_list, list) else type(object_list).__name__
        raise ValueError(f"all_gather_object: object_list must be a list of world_size={pg.size} "
                         f"items, got {got}")
    xp = pg.xp
    data = np.frombuffer(pickle.dumps(obj), np.uint8)
    length = xp.asarray([data.size], dtype=np.int64)
    lengths = xp.zeros(pg.size, dtype=np.int64)                        # (world,)
    pg.backend_for(length, "all_gather_object").all_gather(lengths, length,
                                                           "all_gather_object").wait()
    lengths = [int(n) for n in lengths.tolist()]
    mine = xp.zeros(max(lengths), dtype=np.uint8)
    mine[:data.size] = xp.asarray(data)
    every = xp.zeros((pg.size, max(lengths)), dtype=np.uint8)          # (world, longest)
    pg.backend_for(mine, "all_gather_object").all_gather(every, mine, "all_gather_object").wait()
    for r, n in enumerate(lengths):
        row = every[r, :n]
        row = row.get() if hasattr(row, "get") else row                 # CuPy -> NumPy
        object_list[r] = pickle.loads(row.tobytes())


def all_gather_into_tensor(output_tensor, input_tensor, group=None, async_op=False):
    """output_tensor <- the input tensors of ranks 0, 1, ... concatenated (output_tensor holds
    world_size times input_tensor's elements: (world_size * n, ...) or (world_size, n, ...))."""
    pg = default_group("all_gather_into_tensor", group)
    arr = _array(input_tensor, "all_gather_into_tensor", "input_tensor")
    out = _array(output_tensor, "all_gather_into_tensor", "output_tensor")
    _check_sizes(out, arr, pg.size, "all_gather_into_tensor", "output_tensor", "input_tensor")
    work = pg.backend_for(arr, "all_gather_into_tensor").all_gather(out, arr,
                                                                    "all_gather_into_tensor")
    return _result(work, [output_tensor], async_op)


def reduce_scatter(output, input_list, op=ReduceOp.SUM, group=None, async_op=False):
    """output <- op over ranks of their input_list[rank]: rank r gets the reduction of every
    rank's r-th input. input_list holds world_size tensors of output's shape."""
    pg = default_group("reduce_scatter", group)
    out = _array(output, "reduce_scatter", "output")
    _check_list(input_list, output, pg.size, "reduce_scatter", "input_list")
    xp = array_module(out)
    inp = xp.concatenate([xp.ravel(t._data) for t in input_list])     # (world * n,) by rank
    work = pg.backend_for(out, "reduce_scatter").reduce_scatter(out, inp, op, "reduce_scatter")
    return _result(work, [output], async_op)


def reduce_scatter_tensor(output, input, op=ReduceOp.SUM, group=None, async_op=False):
    """output <- op over ranks of their input's rank-th block (input holds world_size times
    output's elements, blocks in rank order)."""
    pg = default_group("reduce_scatter_tensor", group)
    out = _array(output, "reduce_scatter_tensor", "output")
    inp = _array(input, "reduce_scatter_tensor", "input")
    _check_sizes(inp, out, pg.size, "reduce_scatter_tensor", "input", "output")
    work = pg.backend_for(out, "reduce_scatter_tensor").reduce_scatter(out, inp, op,
                                                                       "reduce_scatter_tensor")
    return _result(work, [output], async_op)


def broadcast_coalesced(tensors, src=0, group=None):
    """Every tensor of `tensors` <- rank src's, with one broadcast per (device, dtype): packed into
    one flat buffer, sent, unpacked (what DistributedDataParallel does with parameters and
    buffers: one collective, not one per BatchNorm statistic). Tensors need not be contiguous."""
    pg = default_group("broadcast_coalesced", group)
    _check_rank(src, pg, "broadcast_coalesced", "src")
    groups = {}
    for i, t in enumerate(tensors):
        if not isinstance(t, Tensor):
            raise TypeError(f"broadcast_coalesced: tensors[{i}] must be a tinygen Tensor, got "
                            f"{type(t).__name__}")
        groups.setdefault((str(t.device), t._data.dtype.str), []).append(t)
    for same in groups.values():                       # in first-seen order: the same on all ranks
        xp = array_module(same[0]._data)
        flat = xp.concatenate([xp.ravel(t._data) for t in same])      # (total,)
        pg.backend_for(flat, "broadcast_coalesced").broadcast(flat, src,
                                                              "broadcast_coalesced").wait()
        offset = 0
        for t in same:
            n = t._data.size
            t._data[...] = flat[offset:offset + n].reshape(t._data.shape)
            t._version[0] += 1
            offset += n


def barrier(group=None, async_op=False):
    """Return once every rank has called barrier()."""
    pg = default_group("barrier", group)
    work = (pg.mpi or pg.nccl).barrier("barrier")
    return _result(work, [], async_op)


# ---- checks and helpers ----------------------------------------------------------------------
def _array(tensor, name, what="tensor"):
    """The tensor's array, written in place by the collective; a clear error if it cannot be."""
    if not isinstance(tensor, Tensor):
        raise TypeError(f"{name}: {what} must be a tinygen Tensor, got {type(tensor).__name__}")
    arr = tensor._data
    if not arr.flags.c_contiguous:
        raise ValueError(f"{name}: {what} (shape {tuple(arr.shape)}, {tensor.dtype}) must be "
                         "contiguous; collectives write into its memory in place, so pass "
                         "t.contiguous() and copy the result back")
    if not getattr(arr.flags, "writeable", True):
        raise ValueError(f"{name}: {what} (shape {tuple(arr.shape)}) is read-only (a broadcast "
                         "view?); pass a tensor that owns its memory, e.g. t.clone()")
    return arr


def _check_rank(rank, pg, name, what):
    if not isinstance(rank, int) or not 0 <= rank < pg.size:
        raise ValueError(f"{name}: {what}={rank!r} is not a rank of this group "
                         f"(0..{pg.size - 1})")


def _check_list(tensors, like, size, name, what):
    """tensors: world_size tensors with like's shape, dtype and device."""
    if not isinstance(tensors, (list, tuple)) or len(tensors) != size:
        got = len(tensors) if isinstance(tensors, (list, tuple)) else type(tensors).__name__
        raise ValueError(f"{name}: {what} must be a list of world_size={size} tensors, got {got}")
    for i, t in enumerate(tensors):
        _array(t, name, f"{what}[{i}]")
        if (tuple(t.shape), t.dtype, t.device) != (tuple(like.shape), like.dtype, like.device):
            raise ValueError(f"{name}: {what}[{i}] is {tuple(t.shape)} {t.dtype} on {t.device}; "
                             f"expected {tuple(like.shape)} {like.dtype} on {like.device}, "
                             "like the tensor")


def _check_sizes(big, small, size, name, big_name, small_name):
    if big.size != size * small.size or big.dtype != small.dtype or \
            device_of(big) != device_of(small):
        raise ValueError(f"{name}: {big_name} must hold world_size={size} times the elements of "
                         f"{small_name} with its dtype and device; got {big_name} "
                         f"{tuple(big.shape)} {big.dtype} on {device_of(big)} and {small_name} "
                         f"{tuple(small.shape)} {small.dtype} on {device_of(small)}")


def _unpack(out, tensors):
    for part, t in zip(out, tensors):
        t._data[...] = part


def _result(work, written, async_op):
    """Bump the version counters of the tensors written (autograd sees the in-place change),
    then hand back the Work (async_op) or wait for it."""
    for t in written:
        t._version[0] += 1
    if async_op:
        return work
    work.wait()
    return None
