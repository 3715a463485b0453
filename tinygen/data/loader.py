"""DataLoader, default_collate, default_convert (torch.utils.data.dataloader).

PyTorch's structure: a sampler gives an epoch's indices, a BatchSampler groups them, a fetcher
(fetch.py) makes each batch, in this process or in worker processes (worker.py). Two ways to make
a batch:
  - a `TensorDataset` without a `collate_fn`: `dataset.take(indices)`, one fancy-indexing call per
    tensor for the whole batch (no Python loop over samples);
  - any other dataset: `[dataset[i] for i in indices]`, then `collate_fn` (default:
    `default_collate`, which stacks matching fields into Tensors).

Without a `generator=`, shuffling draws one permutation per epoch from the loader's own
`np.random.Generator` (PCG64), seeded with `seed`; so epochs differ from each other, and two
loaders with the same seed give the same sequence of epochs. `state_dict()` records where the
loader stands (the epoch, the batches of it already handed out, the generator state before that
epoch's permutation), and `load_state_dict()` continues from there: same permutation, next batch.
With `generator=` (a tg.Generator) the order is PyTorch's for the same seed instead.
"""
from __future__ import annotations

import copy
import functools
import itertools
import math
import multiprocessing
import queue
import threading
from collections.abc import Mapping, MutableMapping, MutableSequence, Sequence

import numpy as np

from ..backend.dtypes import float32, promote_types
from ..backend.random import generator as generator_for
from ..creation import tensor
from ..ops.shape import stack
from .dataset import IterableDataset, cpu_array, is_tensor, to_tensor
from .fetch import Exhausted, IterableFetcher, MapFetcher
from .sampler import (BatchSampler, RandomSampler, Sampler, SequentialSampler,
                      _check_positive_int)
from .worker import WorkerPool, get_worker_info  # noqa: F401  (get_worker_info: re-exported)

PREFETCH_DEPTH = 2
_END, _ERROR = object(), object()
_NUMPY_DTYPE_OF = {bool: np.bool_, int: np.int64, float: np.float32}
_NOT_BATCHABLE = ("default_collate: batch must contain tensors, numpy arrays, numbers, dicts or "
                  "lists")


class EmptyBatchError(IndexError, TypeError):
    """default_collate([]): PyTorch's IndexError, and the TypeError tinygen raised first."""


def default_convert(data):
    """NumPy arrays and NumPy scalars (anywhere inside dicts, lists, tuples, namedtuples) become
    Tensors; everything else is left as it is. The collate_fn when batch_size=None.
    As in PyTorch, a tuple comes back as a list (a namedtuple stays one); arrays of strings or
    objects stay arrays; other mappings and sequences keep their type (a copy of a mutable one,
    so a defaultdict keeps its default_factory)."""
    if isinstance(data, (np.ndarray, np.generic)):
        return data if np.asarray(data).dtype.kind in "SaUO" else to_tensor(np.array(data))
    if isinstance(data, Mapping):
        return _same_mapping(data, {key: default_convert(value) for key, value in data.items()})
    if isinstance(data, tuple) and hasattr(data, "_fields"):
        return type(data)(*(default_convert(d) for d in data))
    if isinstance(data, tuple):
        return [default_convert(d) for d in data]
    if isinstance(data, Sequence) and not isinstance(data, (str, bytes)):
        return _same_sequence(data, [default_convert(d) for d in data])
    return data


def default_collate(samples):
    """Stack a list of samples into a batch, field by field, as PyTorch's default_collate.

    Tensors are stacked along a new first dim (all must have one shape; dtypes promote as in
    torch.stack); NumPy arrays likewise (each converted as torch.as_tensor would); a batch of
    NumPy scalars or Python numbers becomes a tensor as tensor(batch) infers it (bools bool, ints
    int64, NumPy scalars their dtype), except that a batch whose first element is a Python float
    is float32 (PyTorch gives float64 there; tinygen keeps its float32 default, so a batch of
    float targets meets float32 outputs: a deliberate difference); strings and bytes stay as they
    are (the list of them); dicts (any Mapping) are collated per key, keeping their type (a copy
    of a mutable one); namedtuples per field, keeping their type; tuples per position, into a
    list, other sequences into their own type (PyTorch's rule: `x, y = batch` works either way).
    An empty batch raises EmptyBatchError: an IndexError, as PyTorch's (which reads batch[0]),
    and a TypeError, as tinygen's was.
    Numbers are read by tinygen's tensor(), whose rules differ from torch.tensor's in two corners
    (deliberately): one-element tensors or arrays among Python numbers are refused (PyTorch reads
    them as numbers), and NumPy bools among ints are read as ints (PyTorch raises TypeError).
    """
    if not isinstance(samples, Sequence):
        raise TypeError(f"default_collate: expected a list of samples, got {samples!r}")
    if not samples:
        raise EmptyBatchError("default_collate: expected a non-empty list of samples, got []")
    first = samples[0]
    if is_tensor(first):
        return _stack_tensors(samples)
    if isinstance(first, (str, bytes)):  # (NumPy's str_ and bytes_ too: before np.generic)
        return samples                  # as it came: a list, or a tuple from a field of tuples
    if isinstance(first, np.ndarray):
        return _stack_array_batch(samples)
    if isinstance(first, np.generic) and np.asarray(first).dtype.kind not in "SaUO":
        return tensor(list(samples))               # (before float: np.float64 is a float)
    if isinstance(first, (bool, int, float)):      # as torch.tensor(batch)
        return _number_batch(samples, first)
    if isinstance(first, Mapping):
        return _same_mapping(first, {key: default_collate([s[key] for s in samples])
                                     for key in first})
    if isinstance(first, tuple) and hasattr(first, "_fields"):     # namedtuple
        return type(first)(*(default_collate(column) for column in zip(*samples)))
    if isinstance(first, Sequence):
        if any(len(s) != len(first) for s in samples):
            raise RuntimeError("default_collate: each element in list of batch should be of "
                               f"equal size, got sizes {sorted({len(s) for s in samples})}")
        fields = [default_collate(column) for column in zip(*samples, strict=True)]
        return fields if isinstance(first, tuple) else _same_sequence(first, fields)
    raise TypeError(f"default_collate: cannot batch samples of type {type(first).__name__} "
                    f"({_NOT_BATCHABLE[len('default_collate: '):]})")


def _number_batch(samples, first):
    """Python numbers as tensor(batch) reads them (a float first: float32); a batch of one type
    is made by NumPy directly (the same dtype, without tensor()'s checks: the usual labels)."""
    kinds = {type(s) for s in samples}
    if len(kinds) == 1 and type(first) in _NUMPY_DTYPE_OF:
        try:
            return to_tensor(np.array(samples, dtype=_NUMPY_DTYPE_OF[type(first)]))
        except OverflowError:           # an int beyond int64: tensor() refuses it as PyTorch
            pass
    return tensor(list(samples), dtype=float32 if isinstance(first, float) else None)


def _stack_tensors(samples):
    arrays = [cpu_array(s) if is_tensor(s) else _not_a_tensor(i, s) for i, s in enumerate(samples)]
    if any(a is None for a in arrays):          # on a GPU: stack there, never via the host
        return stack(list(samples))
    return _stack_arrays(arrays)


def _not_a_tensor(i, sample):
    raise TypeError(f"default_collate: expected a Tensor as element {i} of the batch (its first "
                    f"is one), got {type(sample).__name__}")


def _stack_array_batch(samples):
    """A batch whose first sample is a NumPy array: every sample converted as torch.as_tensor
    would (arrays of strings or objects refused), then stacked as tensors are."""
    if {type(s) for s in samples} == {np.ndarray}:        # the usual batch
        dtypes = {s.dtype for s in samples}
        if all(d.kind not in "SaUO" for d in dtypes):
            return _stack_arrays(samples, dtypes)
    for i, s in enumerate(samples):
        if isinstance(s, (np.ndarray, np.generic)) and s.dtype.kind in "SaUO":
            raise TypeError(f"{_NOT_BATCHABLE}; found an array of dtype {s.dtype} at element {i}")
    return _stack_tensors([to_tensor(s) if isinstance(s, (np.ndarray, np.generic)) else
                           s if is_tensor(s) else tensor(s) for s in samples])


def _stack_arrays(arrays, dtypes=None):
    shapes = {a.shape for a in arrays}
    if len(shapes) > 1:
        raise RuntimeError(f"default_collate: samples must all have one shape to be stacked, got "
                           f"{sorted(shapes)} (pad them, or pass a collate_fn)")
    dtypes = {a.dtype for a in arrays} if dtypes is None else dtypes
    if len(dtypes) > 1:                 # torch.stack's promotion, not NumPy's
        dtype = functools.reduce(promote_types, dtypes)
        arrays = [a.astype(dtype, copy=False) for a in arrays]
    return to_tensor(np.stack(arrays))


def _same_mapping(like, items):
    """`items` as the mapping type of `like`: a copy of a mutable one updated with them (so a
    defaultdict keeps its factory), else rebuilt where it can be, else a dict (PyTorch's rule)."""
    try:
        if isinstance(like, MutableMapping):
            clone = copy.copy(like)
            clone.update(items)
            return clone
        return type(like)(items)
    except TypeError:
        return items


def _same_sequence(like, items):
    if type(like) is list:
        return items
    try:
        if isinstance(like, MutableSequence):
            clone = copy.copy(like)
            clone[:] = items
            return clone
        return type(like)(items)
    except TypeError:
        return items


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
    """Batches of `dataset`, `len(loader)` of them per epoch; PyTorch's arguments and meanings.

        loader = DataLoader(load("mnist"), batch_size=128, shuffle=True, seed=0)
        for x, y in loader:          # x: (128, 1, 28, 28) float32, y: (128,) int64
            ...

    batch_size: samples per batch; the last one is smaller unless `drop_last`. None: no batching,
        each sample goes through collate_fn (default `default_convert`) alone.
    shuffle: a new order each epoch. With `generator=` (a tg.Generator) the order is PyTorch's
        for the same seed (a RandomSampler on it); otherwise it comes from the loader's own
        NumPy generator seeded by `seed` (None: drawn from tinygen's global CPU stream, so
        `tg.manual_seed` fixes it), which `state_dict()` can resume mid-epoch.
    sampler: the indices of an epoch, in order (any sized iterable: RandomSampler,
        DistributedSampler...); batch_sampler: lists of indices, one per batch (then batch_size,
        shuffle, sampler and drop_last keep their defaults).
    collate_fn: list of samples -> batch (default `default_collate`). A TensorDataset without a
        collate_fn is gathered a batch at a time with one indexing call per tensor.
    num_workers > 0: batches are made in that many worker processes (see tinygen.data.worker),
        `prefetch_factor` (default 2) batches each in flight, `worker_init_fn(worker_id)` called
        first in each, `persistent_workers` keeping them between epochs, `timeout` seconds to
        wait for a batch (0: forever), `multiprocessing_context` ("fork", "spawn", ...).
        Each epoch has a base seed (drawn from `generator`, else derived from `seed` and the
        epoch); worker i is seeded with base seed + i.
    An IterableDataset is batched in the order it yields (no sampler, no shuffle).
    The first round's positional form DataLoader(dataset, batch_size, shuffle, drop_last, seed)
    (../shared/API.md) is read as such: a bool where PyTorch has `sampler` is drop_last, and an
    int after it the seed.
    Added in tinygen: `seed`, `prefetch` (make the next batches in one background thread) and
    `device` (every Tensor of a batch moved there). `pin_memory`, `pin_memory_device` and
    `in_order=False` are accepted and have no effect (there is no pinned memory; batches always
    come in order).
    """

    def __init__(self, dataset, batch_size=1, shuffle=None, sampler=None, batch_sampler=None,
                 num_workers=0, collate_fn=None, pin_memory=False, drop_last=False, timeout=0,
                 worker_init_fn=None, multiprocessing_context=None, generator=None, *,
                 prefetch_factor=None, persistent_workers=False, pin_memory_device="",
                 in_order=True, seed=None, prefetch=False, device=None):
        if isinstance(sampler, bool):
            # the first round's positional form, DataLoader(dataset, batch_size, shuffle,
            # drop_last, seed) (../shared/API.md), still works: a sampler is never a bool
            drop_last, sampler = sampler, None
            if isinstance(batch_sampler, (int, np.integer)) and not isinstance(batch_sampler,
                                                                                bool):
                seed, batch_sampler = batch_sampler, None
        _check_worker_options(num_workers, timeout, prefetch_factor, persistent_workers)
        self.dataset = dataset
        self.num_workers, self.timeout = int(num_workers), timeout
        self.prefetch_factor = 2 if prefetch_factor is None and num_workers else prefetch_factor
        self.persistent_workers = bool(persistent_workers)
        self.worker_init_fn = worker_init_fn
        self.multiprocessing_context = _check_context(multiprocessing_context, num_workers)
        self.pin_memory, self.pin_memory_device, self.in_order = pin_memory, pin_memory_device, True
        self.generator = generator
        self.prefetch = bool(prefetch)
        self.device = device
        self.seed = int(generator_for("cpu").integers(2**63)) if seed is None else int(seed)
        self._iterable = isinstance(dataset, IterableDataset)
        batch_size, drop_last = self._check_batching(batch_size, shuffle, sampler, batch_sampler,
                                                     drop_last)
        self.batch_size, self.drop_last = batch_size, drop_last
        self.shuffle = bool(shuffle)
        self.sampler = self._make_sampler(sampler, self.shuffle, generator)
        if batch_sampler is None and batch_size is not None and not self._iterable:
            batch_sampler = BatchSampler(self.sampler, batch_size, drop_last)
        self.batch_sampler = batch_sampler
        auto_collation = batch_sampler is not None or (self._iterable and batch_size is not None)
        self.collate_fn = collate_fn or (default_collate if auto_collation else default_convert)
        if self._iterable:
            self._fetcher = IterableFetcher(dataset, self.collate_fn, auto_collation, drop_last)
        else:
            self._fetcher = MapFetcher(dataset, self.collate_fn, auto_collation,
                                       fast=collate_fn is None)
        self._pool = None
        self._epoch = 0          # the epoch the next __iter__ starts
        self._skip = 0           # batches of that epoch already handed out (after a resume)
        self._current = None     # [epoch, shuffle state before its order, batches out]

    def _check_batching(self, batch_size, shuffle, sampler, batch_sampler, drop_last):
        if self._iterable and shuffle not in (None, False):
            raise ValueError(f"DataLoader with IterableDataset: expected unspecified shuffle "
                             f"option, but got shuffle={shuffle}")
        if self._iterable and (sampler is not None or batch_sampler is not None):
            raise ValueError("DataLoader with IterableDataset: expected unspecified sampler and "
                             "batch_sampler options (the dataset decides the order)")
        for name, value in (("sampler", sampler), ("batch_sampler", batch_sampler)):
            if value is not None and not hasattr(value, "__iter__"):
                raise TypeError(f"DataLoader: {name} must be an iterable of indices, got "
                                f"{value!r} (PyTorch's positional order is dataset, batch_size, "
                                "shuffle, sampler, batch_sampler, ...: pass drop_last= and "
                                "seed= by keyword)")
        if sampler is not None and shuffle:
            raise ValueError("DataLoader: sampler option is mutually exclusive with shuffle "
                             "(the sampler decides the order; DistributedSampler shuffles)")
        if batch_sampler is not None:
            if batch_size != 1 or shuffle or sampler is not None or drop_last:
                raise ValueError("DataLoader: batch_sampler option is mutually exclusive with "
                                 "batch_size, shuffle, sampler, and drop_last")
            return None, False
        if batch_size is None:
            if drop_last:
                raise ValueError("DataLoader: batch_size=None option disables auto-batching and "
                                 "is mutually exclusive with drop_last")
            return None, False
        _check_positive_int("DataLoader", "batch_size", batch_size)   # 2.0 too, as PyTorch
        return batch_size, bool(drop_last)

    def _make_sampler(self, sampler, shuffle, generator):
        if self._iterable:
            return None
        if sampler is not None:
            return sampler
        if shuffle and generator is not None:
            return RandomSampler(self.dataset, generator=generator)
        if shuffle:
            return SeededShuffle(self.dataset, self.seed)
        return SequentialSampler(self.dataset)

    def __len__(self) -> int:
        if self._iterable:
            if not hasattr(self.dataset, "__len__"):
                raise TypeError(f"{type(self.dataset).__name__} is an IterableDataset without a "
                                "length: define __len__ if the stream's length is known")
            n = len(self.dataset)
            if self.batch_size is None:
                return n
            return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)
        return len(self.batch_sampler if self.batch_sampler is not None else self.sampler)

    @property
    def epoch(self) -> int:
        """The number of epochs started so far (the index of the next one)."""
        return self._epoch

    def __iter__(self):
        epoch, skip = self._epoch, self._skip
        start_state = self.sampler.state if isinstance(self.sampler, SeededShuffle) else None
        self._epoch, self._skip = epoch + 1, 0
        base_seed = self._base_seed(epoch)
        tasks = self._tasks(skip)
        pool = None if self.num_workers == 0 else self._worker_pool(base_seed)
        batches = self._serial(tasks) if pool is None else pool.run(tasks, self._iterable)
        batches = self._finish(batches, pool)
        if self.prefetch:
            batches = _prefetch(batches)
        record = [epoch, start_state, skip]
        self._current = record
        return self._track(batches, record)

    def _base_seed(self, epoch):
        """The seed of this epoch's workers. With a generator, drawn as PyTorch draws it (one
        random64 from it, so the sampler's order stays PyTorch's). Without one, derived from the
        loader's seed and the epoch: it never touches tinygen's global stream, so adding workers
        or resuming mid-epoch leaves the training's random draws as they were."""
        if self.generator is not None:
            return int(self.generator.random64(1)[0] % (2**63))
        state = np.random.SeedSequence([self.seed, epoch]).generate_state(2, np.uint32)
        return int(state[0]) << 31 | int(state[1]) >> 1

    def _tasks(self, skip):
        """What to fetch, batch by batch: index lists, single indices, or (a stream) counts."""
        if self._iterable:
            return itertools.repeat(self.batch_size or 1)
        tasks = iter(self.batch_sampler if self.batch_sampler is not None else self.sampler)
        return itertools.islice(tasks, skip, None)

    def _serial(self, tasks):
        """The batches, made in this process. A stream starts anew for every iterator (a copy
        of the fetcher: its own iter(dataset)), as PyTorch's: each epoch, and two iterators at
        once, read the whole stream."""
        fetcher = self._fetcher
        if self._iterable:
            fetcher = copy.copy(fetcher)
            fetcher.reset()
        for task in tasks:
            try:
                batch = fetcher.fetch(task)
            except Exhausted:
                return
            yield batch

    def _worker_pool(self, base_seed):
        if self._pool is None or not self.persistent_workers:
            context = self.multiprocessing_context
            if context is None or isinstance(context, str):
                context = multiprocessing.get_context(context)
            self._pool = WorkerPool(self._fetcher, self.num_workers, base_seed,
                                    self.worker_init_fn, context, self.prefetch_factor,
                                    self.timeout)
        return self._pool

    def _finish(self, batches, pool):
        """Move each batch to the device; stop this iterator's workers at its end (unless
        persistent), never those of an iterator started since (each has a pool of its own)."""
        try:
            for batch in batches:
                yield batch if self.device is None else _to_device(batch, self.device)
        finally:
            batches.close()
            if pool is not None and not self.persistent_workers:
                pool.shutdown()
                if self._pool is pool:
                    self._pool = None

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
        (the shuffle's PCG64 state before that epoch's order; None without the loader's own
        shuffle) and `seed`. Resuming mid-epoch gives the same order only where the sampler is
        deterministic for the epoch (the loader's own shuffle, DistributedSampler, sequential)."""
        record = self._current
        shuffle = self.sampler if isinstance(self.sampler, SeededShuffle) else None
        if record is not None and record[2] < len(self):
            epoch, state, batch = record
        else:
            epoch, batch = self._epoch, self._skip
            state = shuffle.state if shuffle is not None else None
        return {"epoch": int(epoch), "batch": int(batch), "generator": state, "seed": self.seed}

    def load_state_dict(self, state: dict) -> None:
        """Continue from `state`: the next __iter__ gives the rest of that epoch, in its order."""
        if isinstance(self.sampler, SeededShuffle) and state.get("generator") is not None:
            self.sampler.state = state["generator"]
        self._epoch = int(state["epoch"])
        self._skip = int(state.get("batch", 0))
        self.seed = int(state.get("seed", self.seed))
        self._current = None

    def __del__(self):
        pool = getattr(self, "_pool", None)
        if pool is not None:
            pool.shutdown()

    def __repr__(self):
        try:
            size = len(self.dataset)
        except TypeError:                # an IterableDataset without a length
            size = "?"
        return (f"DataLoader({type(self.dataset).__name__} of {size}, "
                f"batch_size={self.batch_size}, shuffle={self.shuffle}, "
                f"drop_last={self.drop_last}, num_workers={self.num_workers})")


class SeededShuffle(Sampler):
    """The loader's own shuffle: a permutation per epoch from a NumPy PCG64 generator seeded with
    `seed`, whose `state` (before an epoch's permutation) DataLoader.state_dict records."""

    def __init__(self, data_source, seed):
        self.data_source = data_source
        self.rng = np.random.Generator(np.random.PCG64(seed))

    @property
    def state(self):
        return self.rng.bit_generator.state

    @state.setter
    def state(self, value):
        self.rng.bit_generator.state = value

    def __iter__(self):
        return iter(self.rng.permutation(len(self.data_source)).tolist())

    def __len__(self):
        return len(self.data_source)


def _check_context(context, num_workers):
    """multiprocessing_context as PyTorch checks it: only with num_workers > 0; a start method's
    name becomes its context."""
    if context is None:
        return None
    if not num_workers:
        raise ValueError("DataLoader: multiprocessing_context can only be used with "
                         "multi-process loading (num_workers > 0), but got "
                         f"num_workers={num_workers}")
    if isinstance(context, str):
        methods = multiprocessing.get_all_start_methods()
        if context not in methods:
            raise ValueError(f"DataLoader: multiprocessing_context option should specify a "
                             f"valid start method in {methods!r}, but got "
                             f"multiprocessing_context={context!r}")
        context = multiprocessing.get_context(context)
    if not isinstance(context, multiprocessing.context.BaseContext):
        raise TypeError("DataLoader: multiprocessing_context option should be a valid context "
                        "object or a string specifying the start method, but got "
                        f"multiprocessing_context={context!r}")
    return context


def _check_worker_options(num_workers, timeout, prefetch_factor, persistent_workers):
    if isinstance(num_workers, bool) or int(num_workers) != num_workers or num_workers < 0:
        raise ValueError("DataLoader: num_workers option should be a non-negative integer; use "
                         "num_workers=0 to disable multiprocessing")
    if timeout < 0:
        raise ValueError("DataLoader: timeout option should be non-negative")
    if num_workers == 0 and prefetch_factor is not None:
        raise ValueError("DataLoader: prefetch_factor option could only be specified in "
                         "multiprocessing. let num_workers > 0 to enable multiprocessing, "
                         "otherwise set prefetch_factor to None.")
    if prefetch_factor is not None and prefetch_factor < 1:
        raise ValueError("DataLoader: prefetch_factor option should be a positive integer")
    if persistent_workers and num_workers == 0:
        raise ValueError("DataLoader: persistent_workers option needs num_workers > 0")
