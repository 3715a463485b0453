"""The Reducer: gradients averaged over ranks in buckets, each started as soon as it is complete.

What DistributedDataParallel runs during backward (PyTorch's reducer, in a few hundred lines):
  1. Buckets. The parameters, in reverse registration order (about the order backward produces
     their gradients), are packed into flat buffers of at most bucket_cap bytes, one dtype and
     device each; the first bucket is small (1 MiB, as PyTorch), so communication starts early.
  2. Hooks. Each parameter's post-accumulate-grad hook (the engine calls it mid-backward, right
     after .grad is final for this pass) copies .grad into its bucket. When a bucket is complete
     its all-reduce (AVG) is started, non-blocking; buckets are started strictly in bucket order,
     the same on every rank, as MPI and NCCL require of collectives.
  3. Overlap. The rest of backward runs while the all-reduces travel; every hook also calls the
     group's progress() (MPICH advances a non-blocking collective only inside MPI calls).
  4. Finalize. When the last bucket has started, the reducer waits for every bucket and copies the
     averages back into .grad: before backward returns, so before the optimiser step.
A forward through DDP arms the reducer for the next backward ("prepare_for_backward"); a forward
under no_sync() does not, so gradients accumulate locally until a synced backward averages them.
"""
from __future__ import annotations

import time
import zlib

import numpy as np

from ..autograd.function import wrap
from ..backend.device import array_module
from ..tensor import Tensor
from .work import ReduceOp

FIRST_BUCKET_BYTES = 1024 * 1024           # PyTorch's dist._DEFAULT_FIRST_BUCKET_BYTES


def assign_buckets(sizes, keys, caps):
    """Indices of tensors grouped into buckets, PyTorch's compute_bucket_assignment_by_size.

    sizes: bytes of each tensor, in the order their gradients are expected; keys: a (device,
    dtype) per tensor (a bucket holds one key); caps: byte limits of a key's 1st, 2nd, ... bucket
    (the last repeats). A bucket closes once it reaches its cap. Returns lists of indices, ordered
    by their first index (the order the buckets are expected to complete)."""
    open_buckets = {}                      # key -> [indices, bytes, how many closed before]
    closed = []
    for i, (size, key) in enumerate(zip(sizes, keys)):
        bucket = open_buckets.setdefault(key, [[], 0, 0])
        bucket[0].append(i)
        bucket[1] += size
        if bucket[1] >= caps[min(bucket[2], len(caps) - 1)]:
            closed.append(bucket[0])
            open_buckets[key] = [[], 0, bucket[2] + 1]
    closed += [indices for indices, _, _ in open_buckets.values() if indices]
    return sorted(closed, key=min)


class Bucket:
    """One flat buffer of gradients: params[i] lives at flat[offsets[i]:offsets[i] + numels[i]]."""

    def __init__(self, params, names):
        self.params, self.names = params, names
        self.numels = [int(p._data.size) for p in params]
        self.offsets = [int(o) for o in np.cumsum([0] + self.numels[:-1])]
        xp = array_module(params[0]._data)
        self.flat = xp.zeros(sum(self.numels), params[0]._data.dtype)     # (total,)
        self.reset()

    def reset(self):
        self.ready = [False] * len(self.params)
        self.used = [False] * len(self.params)    # got a gradient this pass (not zero-filled)
        self.pending = len(self.params)
        self.work = None

    def put(self, i, grad):
        o, n = self.offsets[i], self.numels[i]
        if grad is None:
            self.flat[o:o + n] = 0
        else:
            self.flat[o:o + n] = grad._data.reshape(-1)
        self.ready[i] = True
        self.pending -= 1


class Reducer:
    """Averages the gradients of `params` over the ranks of `group` during backward.

    params, names: the parameters that require grad, in registration order, and their names.
    bucket_cap_bytes: the size of every bucket after the first (the first holds at most 1 MiB).
    find_unused_parameters: after
    each forward, parameters its outputs do not reach are counted as ready (zero gradient), so a
    model that uses part of itself per step still completes every bucket."""

    def __init__(self, params, names, group, bucket_cap_bytes, find_unused_parameters=False,
                 first_bucket_bytes=FIRST_BUCKET_BYTES):
        self.group, self.find_unused_parameters = group, find_unused_parameters
        order = list(range(len(params)))[::-1]          # reverse registration order
        sizes = [params[i]._data.nbytes for i in order]
        keys = [(str(params[i].device), params[i]._data.dtype.str) for i in order]
        self.buckets = [Bucket([params[order[j]] for j in indices],
                               [names[order[j]] for j in indices])
                        for indices in assign_buckets(sizes, keys,
                                                      [min(first_bucket_bytes, bucket_cap_bytes),
                                                       bucket_cap_bytes])]
        self._slot = {id(p): (b, i) for b, bucket in enumerate(self.buckets)
                      for i, p in enumerate(bucket.params)}
        self._handles = [p.register_post_accumulate_grad_hook(self._on_grad) for p in params]
        self.armed, self.next_bucket = False, 0
        self.stats = {"syncs": 0, "wait_seconds": 0.0, "bytes": 0}
        self.timeline = None       # a list: (start, end) of each wait in time.monotonic() (bench)

    # ---- called by DistributedDataParallel.forward -------------------------------------------
    def prepare_for_backward(self):
        """Arm for the next backward; a reduction left half-done by the previous one is an error
        (some parameter got no gradient: its bucket never completed)."""
        if self.armed and any(b.pending < len(b.params) for b in self.buckets):
            missing = [f"{name} {tuple(p.shape)}" for b in self.buckets
                       for p, name, ready in zip(b.params, b.names, b.ready) if not ready]
            for bucket in self.buckets:    # start afresh if the caller goes on after the error
                bucket.reset()
            self.armed, self.next_bucket = False, 0
            raise RuntimeError(
                "DistributedDataParallel: the previous backward pass gave gradients to only some "
                f"parameters, so their all-reduce could not finish (rank {self.group.rank}). "
                f"No gradient reached: {', '.join(missing[:10])}"
                + (" ..." if len(missing) > 10 else "")
                + ". Make every parameter take part in the loss, or pass "
                "find_unused_parameters=True.")
        self.armed = True

    def mark_unused(self, outputs):
        """find_unused_parameters: parameters the outputs' graph does not reach are ready now
        (so one forward per backward: a parameter that only a second forward uses would be
        counted twice, an error, as in PyTorch)."""
        reached = _reachable_leaves(outputs)
        for bucket_index, bucket in enumerate(self.buckets):
            for i, p in enumerate(bucket.params):
                if id(p) not in reached and not bucket.ready[i]:
                    self._mark_ready(bucket_index, i, None)

    # ---- the hook, mid-backward --------------------------------------------------------------
    def _on_grad(self, p):
        if not self.armed:
            return                         # no_sync, or a backward without a DDP forward
        b, i = self._slot[id(p)]
        bucket = self.buckets[b]
        if bucket.ready[i]:
            raise RuntimeError(f"DistributedDataParallel: parameter {bucket.names[i]} received "
                               "its gradient twice before the reduction finished (two backward "
                               "passes after one forward?); run forward again before backward")
        bucket.used[i] = True
        self._mark_ready(b, i, p.grad)
        self.group.progress()

    def _mark_ready(self, b, i, grad):
        bucket = self.buckets[b]
        bucket.put(i, grad)
        if bucket.pending == 0:
            self._launch_ready_buckets()

    def _launch_ready_buckets(self):
        """Start every complete bucket from next_bucket on, in order (the same on every rank)."""
        while self.next_bucket < len(self.buckets) and self.buckets[self.next_bucket].pending == 0:
            bucket = self.buckets[self.next_bucket]
            backend = self.group.backend_for(bucket.flat, "DistributedDataParallel")
            bucket.work = backend.all_reduce(bucket.flat, ReduceOp.AVG,
                                             f"DDP all_reduce of bucket {self.next_bucket}")
            self.next_bucket += 1
        if self.next_bucket == len(self.buckets):
            self._finalize()

    def _finalize(self):
        """Wait for every bucket, then write the averages into .grad (before backward returns)."""
        start = time.monotonic()
        for bucket in self.buckets:
            bucket.work.wait()
        end = time.monotonic()
        self.stats["wait_seconds"] += end - start
        if self.timeline is not None:
            self.timeline.append((start, end))
        self.stats["syncs"] += 1
        self.stats["bytes"] += sum(int(b.flat.nbytes) for b in self.buckets)
        used = self._globally_used() if self.find_unused_parameters else None
        for bucket_index, bucket in enumerate(self.buckets):
            for i, p in enumerate(bucket.params):
                if used is not None and not used[bucket_index][i]:
                    continue               # no rank used it: leave .grad as it was (None)
                _write_grad(p, bucket.flat[bucket.offsets[i]:bucket.offsets[i] + bucket.numels[i]])
            bucket.reset()
        self.armed, self.next_bucket = False, 0

    def _globally_used(self):
        """Per bucket, per parameter: did any rank give it a gradient (a MAX over ranks)?"""
        flags = np.concatenate([np.asarray(b.used, np.uint8) for b in self.buckets])
        xp = array_module(self.buckets[0].flat)
        flags = xp.asarray(flags)
        self.group.backend_for(flags, "DDP unused parameters").all_reduce(
            flags, ReduceOp.MAX, "DDP unused parameters").wait()
        flags = [bool(f) for f in flags.tolist()]
        splits = np.cumsum([len(b.params) for b in self.buckets])[:-1]
        return [list(part) for part in np.split(np.asarray(flags), splits)]

    def remove_hooks(self):
        for handle in self._handles:
            handle.remove()


def _write_grad(p, values):
    """p.grad <- values (flat), in place where p has a gradient array already."""
    values = values.reshape(p._data.shape)
    if p.grad is None:
        p.grad = wrap(values.copy())
    else:
        p.grad._data[...] = values
        p.grad._version[0] += 1


def _reachable_leaves(outputs):
    """ids of the leaf tensors whose gradient the outputs' graph reaches (iterative walk)."""
    stack, seen, leaves = [], set(), set()
    for t in _tensors(outputs):
        if t.grad_fn is None:
            leaves.add(id(t))
        else:
            stack.append(t.grad_fn)
    while stack:
        fn = stack.pop()
        if fn in seen:
            continue
        seen.add(fn)
        for node, _ in fn.next_functions:
            if isinstance(node, Tensor):
                leaves.add(id(node))
            elif node is not None:
                stack.append(node)
    return leaves


def _tensors(value):
    """The Tensors in a forward's output (a Tensor, or tuples, lists and dicts of them)."""
    if isinstance(value, Tensor):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from _tensors(v)
    elif isinstance(value, (list, tuple)):
        for v in value:
            yield from _tensors(v)


def verify_same_parameters(params, names, group, name="DistributedDataParallel"):
    """Every rank must hold parameters of the same shapes and dtypes, in the same order, or the
    broadcast and the buckets would mix them up (or hang): compare a fingerprint over ranks."""
    description = repr([(tuple(p.shape), str(p.dtype)) for p in params])
    record = [len(params), sum(int(p._data.size) for p in params),
              zlib.crc32(description.encode())]
    xp = array_module(params[0]._data) if params else np
    mine = xp.asarray(record, np.int64)
    every = xp.zeros((group.size, 3), np.int64)
    group.backend_for(mine, name).all_gather(every, mine, f"{name} parameter check").wait()
    every = every.tolist()
    if any(row != every[0] for row in every):
        ranks = "; ".join(f"rank {r}: {row[0]} parameters, {row[1]} values"
                          for r, row in enumerate(every))
        raise RuntimeError(f"{name}: the model differs across ranks ({ranks}; or the same "
                           "counts with different shapes or dtypes). Build the same model on "
                           f"every rank. This rank ({group.rank}) has: "
                           + ", ".join(f"{n} {tuple(p.shape)}" for n, p in zip(names, params)))
