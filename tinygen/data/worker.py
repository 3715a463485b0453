"""Worker processes for DataLoader(num_workers > 0) (torch.utils.data._utils.worker).

    def worker_init_fn(worker_id):
        info = get_worker_info()          # id, num_workers, seed, dataset (this worker's copy)
        ...
    loader = DataLoader(dataset, batch_size=64, num_workers=2, worker_init_fn=worker_init_fn)

How it works: each worker owns an index queue; the main process hands out batch tasks
round-robin, keeping `prefetch_factor` tasks per worker in flight, and puts the results (which
arrive in any order) back in task order. A result is pickled in the worker itself, so an
unpicklable batch becomes a clear error instead of a lost message. A worker exits when told to,
when its parent dies, or with the pool; the main process notices a worker that died (killed,
out of memory) and raises instead of waiting forever.

Seeding, as PyTorch: each epoch's iterator has a base seed (see DataLoader._base_seed); worker i
seeds Python's `random`, tinygen's global stream and NumPy's legacy global stream with
base_seed + i (NumPy's with its low 32 bits), so workers draw different augmentations, epochs
differ, and a seeded run repeats.
"""
from __future__ import annotations

import os
import pickle
import queue
import random
import traceback
from dataclasses import dataclass

import numpy as np

from ..backend.random import manual_seed
from .fetch import Exhausted

_POLL_S = 0.1
_worker_info = None


@dataclass(frozen=True)
class WorkerInfo:
    """What `get_worker_info()` returns inside a worker process."""
    id: int
    num_workers: int
    seed: int
    dataset: object


def get_worker_info():
    """This worker's WorkerInfo in a DataLoader worker process; None in the main process."""
    return _worker_info


class WorkerError:
    """An exception raised in a worker, carried to the main process with its traceback."""

    def __init__(self, error, worker_id, where):
        self.exc_type = type(error)
        self.message = (f"Caught {type(error).__name__} {where} in DataLoader worker process "
                        f"{worker_id}.\nOriginal {traceback.format_exc()}")
        try:
            pickle.dumps(self.exc_type)
        except Exception:  # noqa: BLE001 - a class defined in a function: RuntimeError carries it
            self.exc_type = RuntimeError

    def reraise(self):
        message = self.message
        if self.exc_type is KeyError:  # KeyError's str() quotes its message: keep the newlines
            message = _KeyErrorMessage(message)
        try:
            error = self.exc_type(message)
        except Exception:  # noqa: BLE001 - an exception type that wants other arguments
            error = RuntimeError(message)
        raise error


class _KeyErrorMessage(str):
    """A str whose repr is itself, so a KeyError carrying it prints its lines (PyTorch's)."""

    def __repr__(self):
        return self


def _seed_worker(seed):
    random.seed(seed)
    manual_seed(seed)
    np.random.seed(seed & 0xFFFFFFFF)


def worker_loop(fetcher, index_queue, result_queue, worker_id, num_workers, seed, init_fn):
    """The body of worker process `worker_id`: seed, run init_fn, then serve tasks.

    Tasks: (epoch, idx, what) -> result (epoch, idx, pickled batch | WorkerError | Exhausted);
    ("reset", epoch) restarts an iterable dataset's stream (persistent workers, next epoch);
    None ends the loop."""
    global _worker_info
    _seed_worker(seed)
    _worker_info = WorkerInfo(worker_id, num_workers, seed, fetcher.dataset)
    init_error = None
    if init_fn is not None:
        try:
            init_fn(worker_id)
        except Exception as error:  # noqa: BLE001 - reported as the first task's result
            init_error = WorkerError(error, worker_id, "in worker_init_fn")
    parent = os.getppid()
    while True:
        try:
            task = index_queue.get(timeout=1.0)
        except queue.Empty:
            if os.getppid() != parent:          # the main process is gone: stop
                return
            continue
        if task is None:
            return
        if task[0] == "reset":
            fetcher.reset()
            continue
        epoch, idx, what = task
        result_queue.put((epoch, idx, init_error or _serve(fetcher, what, worker_id)))


def _serve(fetcher, what, worker_id):
    try:
        return pickle.dumps(fetcher.fetch(what), protocol=pickle.HIGHEST_PROTOCOL)
    except Exhausted:
        return Exhausted
    except Exception as error:  # noqa: BLE001 - re-raised in the main process
        return WorkerError(error, worker_id, "while making a batch")


class WorkerPool:
    """num_workers processes serving one fetcher; `run(tasks, epoch)` yields their results in
    task order. Stopped by `shutdown()` (or when the process exits: workers are daemons)."""

    def __init__(self, fetcher, num_workers, seed, init_fn, context, prefetch_factor, timeout):
        self.num_workers = num_workers
        self.prefetch_factor = prefetch_factor
        self.timeout = timeout
        self.result_queue = context.Queue()
        self.index_queues, self.processes = [], []
        for worker_id in range(num_workers):
            index_queue = context.Queue()
            process = context.Process(
                target=worker_loop, name=f"tinygen-data-worker-{worker_id}", daemon=True,
                args=(fetcher, index_queue, self.result_queue, worker_id, num_workers,
                      seed + worker_id, init_fn))
            process.start()
            self.index_queues.append(index_queue)
            self.processes.append(process)
        self.epoch = 0

    def run(self, tasks, iterable):
        """Results of `tasks` (an iterator of what to fetch), in order. iterable: tasks are batch
        sizes for a stream, so a worker that reports Exhausted gets no more tasks."""
        self.epoch += 1
        epoch, active = self.epoch, list(range(self.num_workers))
        if iterable and epoch > 1:
            for index_queue in self.index_queues:
                index_queue.put(("reset", epoch))
        tasks = iter(tasks)
        owner, ready = [], {}             # owner[i]: the worker task i went to
        received, turn = 0, 0
        while True:
            while active and len(owner) - received < self.prefetch_factor * len(active):
                task = next(tasks, None)
                if task is None:
                    break
                worker = active[turn % len(active)]
                turn += 1
                self.index_queues[worker].put((epoch, len(owner), task))
                owner.append(worker)
            if received == len(owner):
                return
            while received not in ready:
                got_epoch, idx, result = self._get()
                if got_epoch == epoch:            # drop results of an epoch abandoned early
                    ready[idx] = result
            result = ready.pop(received)
            received += 1
            if result is Exhausted:
                active = [w for w in active if w != owner[received - 1]]
            elif isinstance(result, WorkerError):
                result.reraise()
            else:
                yield pickle.loads(result)

    def _get(self):
        waited = 0.0
        while True:
            try:
                return self.result_queue.get(timeout=_POLL_S)
            except queue.Empty:
                waited += _POLL_S
            dead = [p for p in self.processes if p.exitcode is not None]
            if dead:
                self.shutdown()
                raise RuntimeError(f"DataLoader worker (pid {dead[0].pid}) exited unexpectedly "
                                   f"with exit code {dead[0].exitcode}")
            if self.timeout and waited >= self.timeout:
                raise RuntimeError(f"DataLoader timed out after {self.timeout} seconds")

    def shutdown(self):
        for index_queue in self.index_queues:
            try:
                index_queue.put(None)
            except (OSError, ValueError):       # already closed
                pass
        for process in self.processes:
            process.join(timeout=5.0)
            if process.is_alive():
                process.terminate()
                process.join(timeout=1.0)
        for q in self.index_queues + [self.result_queue]:
            q.cancel_join_thread()
            q.close()
        self.processes, self.index_queues = [], []
