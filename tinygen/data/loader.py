"""DataLoader: batches from a dataset, shuffled by its own seeded generator, optionally prefetched.

Two ways to make a batch:
  - a `TensorDataset` without a `collate_fn`: `dataset.take(indices)`, one fancy-indexing call per
    tensor for the whole batch (no Python loop over samples);
  - any other dataset: `[dataset[i] for i in indices]`, then `collate_fn` (default:
    `default_collate`, which stacks matching fields into Tensors).

Shuffling draws one permutation per epoch from the loader's own `np.random.Generator` (PCG64),
seeded with `seed`; so epochs differ from each other, and two loaders with the same seed give the
same sequence of epochs. `state_dict()` records where the loader stands (the epoch, the batches of
it already handed out, the generator state before that epoch's permutation), and
`load_state_dict()` continues from there: same permutation, next batch.
"""
from __future__ import annotations

import math
import queue
import threading
from collections.abc import Mapping

import numpy as np

from ..backend.random import generator
from ..ops.shape import stack
from .dataset import TensorDataset, cpu_array, is_tensor, to_tensor

PREFETCH_DEPTH = 2
_END, _ERROR = object(), object()


def default_collate(samples):
    """Stack a list of samples into a batch, field by field.

    Tensors and arrays are stacked along a new first dim; Python ints become int64, floats float32
    (PyTorch gives float64 here; tinygen keeps its float32 default), bools bool; tuples, lists and
    dicts are collated per field, keeping their type; strings stay a list.
    """
    first = samples[0]
    if is_tensor(first):
        arrays = [cpu_array(s) for s in samples]
        if any(a is None for a in arrays):          # on a GPU: stack there, never via the host
            return stack(list(samples))
        return to_tensor(np.stack(arrays))
    if isinstance(first, (np.ndarray, np.generic)):
        return to_tensor(np.stack([np.asarray(s) for s in samples]))
    if isinstance(first, bool):
        return to_tensor(np.array(samples, dtype=np.bool_))
    if isinstance(first, int):
        return to_tensor(np.array(samples, dtype=np.int64))
    if isinstance(first, float):
        return to_tensor(np.array(samples, dtype=np.float32))
    if isinstance(first, (str, bytes)):
        return list(samples)
    if isinstance(first, Mapping):
        return {key: default_collate([s[key] for s in samples]) for key in first}
    if isinstance(first, (tuple, list)):
        if any(len(s) != len(first) for s in samples):
            raise ValueError("default_collate: samples have different numbers of fields")
        fields = [default_collate(list(column)) for column in zip(*samples, strict=True)]
        if isinstance(first, tuple) and hasattr(first, "_fields"):     # namedtuple
            return type(first)(*fields)
        return tuple(fields) if isinstance(first, tuple) else fields
    raise TypeError(f"default_collate: cannot batch samples of type {type(first).__name__}")


def _to_device(batch, device):
    if is_tensor(batch):
        return batch.to(device)
    if isinstance(batch, Mapping):
        return {key: _to_device(value, device) for key, value in batch.items()}
    if isinstance(batch, (tuple, list)):
        moved = [_to_device(item, device) for item in batch]
        if isinstance(batch, tuple) and hasattr(batch, "_fields"):
            return type(batch)(*moved)
        return type(batch)(moved)
    return batch


def _prefetch(batches, depth=PREFETCH_DEPTH):
    """Iterate `batches` in one background thread, up to `depth` batches ahead of the consumer.

    The thread is a daemon and checks a stop event between batches, and the `finally` below runs
    when the consumer stops early (break, exception, garbage collection), so no thread outlives
    its iterator for longer than the batch it is making. Errors in the thread re-raise here.
    """
    slots = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(item) -> bool:
        while not stop.is_set():
            try:
                slots.put(item, timeout=0.05)
                return True
            except queue.Full:
                continue
        return False

    def work():
        try:
            for batch in batches:
                if not put(batch):
                    return
            put(_END)
        except BaseException as error:   # noqa: BLE001 - handed to the consumer, re-raised there
            put((_ERROR, error))
        finally:
            batches.close()

    thread = threading.Thread(target=work, name="tinygen-data-prefetch", daemon=True)
    thread.start()
    try:
        while True:
            try:
                item = slots.get(timeout=0.05)
            except queue.Empty:
                if not thread.is_alive() and slots.empty():
                    raise RuntimeError("DataLoader: the prefetch thread died") from None
                continue
            if item is _END:
                return
            if isinstance(item, tuple) and len(item) == 2 and item[0] is _ERROR:
                raise item[1]
            yield item
    finally:
        stop.set()
        while not slots.empty():     # free the worker if it waits on a full queue
            slots.get_nowait()
        thread.join(timeout=10.0)


class DataLoader:
    """Batches of `dataset`, `len(loader)` of them per epoch.

        loader = DataLoader(load("mnist"), batch_size=128, shuffle=True, seed=0)
        for x, y in loader:          # x: (128, 1, 28, 28) float32, y: (128,) int64
            ...

    batch_size: samples per batch; the last one is smaller unless `drop_last`.
    shuffle: a new permutation each epoch from the loader's own generator, seeded by `seed`
        (None: a seed drawn from tinygen's global CPU generator, so `tg.manual_seed` fixes it).
    prefetch: make the next batches in one background thread (queue depth 2) while the step runs.
    collate_fn: list of samples -> batch (default `default_collate`); disables the TensorDataset
        fast path.
    device: if given, every Tensor of a batch is moved there with `.to(device)` (in the prefetch
        thread when prefetching).
    sampler: the indices of an epoch, in order (any sized iterable, e.g. DistributedSampler);
        mutually exclusive with shuffle.
    Deviation from PyTorch: no worker processes; `seed`, `prefetch` and `device` added.
    """

    def __init__(self, dataset, batch_size=1, shuffle=False, drop_last=False, seed=None,
                 prefetch=False, collate_fn=None, device=None, sampler=None):
        if int(batch_size) != batch_size or batch_size < 1:
            raise ValueError(
                f"DataLoader: batch_size must be a positive integer, got {batch_size!r}")
        if sampler is not None and shuffle:
            raise ValueError("DataLoader: sampler option is mutually exclusive with shuffle "
                             "(the sampler decides the order; DistributedSampler shuffles)")
        self.sampler = sampler
        self.dataset = dataset
        self.batch_size = int(batch_size)
        self.shuffle = bool(shuffle)
        self.drop_last = bool(drop_last)
        self.prefetch = bool(prefetch)
        self.collate_fn = collate_fn
        self.device = device
        if seed is None:
            seed = int(generator("cpu").integers(2**63))
        self.seed = int(seed)
        self.generator = np.random.Generator(np.random.PCG64(self.seed))
        self._epoch = 0          # the epoch the next __iter__ starts
        self._skip = 0           # batches of that epoch already handed out (after a resume)
        self._current = None     # [epoch, generator state before its permutation, batches out]

    def __len__(self) -> int:
        n = len(self.dataset) if self.sampler is None else len(self.sampler)
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)

    @property
    def epoch(self) -> int:
        """The number of epochs started so far (the index of the next one)."""
        return self._epoch

    def __iter__(self):
        epoch, start_state, skip = self._epoch, self.generator.bit_generator.state, self._skip
        self._epoch, self._skip = epoch + 1, 0
        if self.sampler is not None:
            order = np.fromiter(self.sampler, dtype=np.int64, count=len(self.sampler))
        else:
            n = len(self.dataset)
            order = self.generator.permutation(n) if self.shuffle else np.arange(n)
        batches = self._batches(order, skip)
        if self.prefetch:
            batches = _prefetch(batches)
        record = [epoch, start_state, skip]
        self._current = record
        return self._track(batches, record)

    def _batches(self, order, skip):
        fast = isinstance(self.dataset, TensorDataset) and self.collate_fn is None
        collate = self.collate_fn or default_collate
        for b in range(skip, len(self)):
            indices = order[b * self.batch_size:(b + 1) * self.batch_size]
            if fast:
                batch = self.dataset.take(indices)
            else:
                batch = collate([self.dataset[int(i)] for i in indices])
            if self.device is not None:
                batch = _to_device(batch, self.device)
            yield batch

    def _track(self, batches, record):
        try:
            for batch in batches:
                record[2] += 1           # counted before the yield: the consumer now holds it
                yield batch
            if self._current is record:
                self._current = None
        finally:
            batches.close()

    def state_dict(self) -> dict:
        """Where the loader stands, as plain Python values (JSON-serialisable):
        `epoch` (the epoch to continue), `batch` (batches of it already handed out), `generator`
        (the PCG64 state before that epoch's permutation) and `seed`."""
        record = self._current
        if record is not None and record[2] < len(self):
            epoch, state, batch = record
        else:
            epoch, state, batch = self._epoch, self.generator.bit_generator.state, self._skip
        return {"epoch": int(epoch), "batch": int(batch), "generator": state, "seed": self.seed}

    def load_state_dict(self, state: dict) -> None:
        """Continue from `state`: the next __iter__ gives the rest of that epoch, in its order."""
        self.generator.bit_generator.state = state["generator"]
        self._epoch = int(state["epoch"])
        self._skip = int(state.get("batch", 0))
        self.seed = int(state.get("seed", self.seed))
        self._current = None

    def __repr__(self):
        return (f"DataLoader({type(self.dataset).__name__} of {len(self.dataset)}, "
                f"batch_size={self.batch_size}, shuffle={self.shuffle}, "
                f"drop_last={self.drop_last}, prefetch={self.prefetch})")
