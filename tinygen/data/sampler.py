"""Samplers: which dataset indices an epoch visits, in which order (torch.utils.data.sampler and
torch.utils.data.distributed).

    sampler = DistributedSampler(dataset, seed=0)        # rank and world size from the group
    loader = DataLoader(dataset, batch_size=32, sampler=sampler)
    for epoch in range(epochs):
        sampler.set_epoch(epoch)                    # a new shuffle each epoch, the same on all ranks
        for x, y in loader:
            ...

A sampler is any iterable of indices with a length; DataLoader(sampler=...) batches its indices
in order; DataLoader(batch_sampler=...) takes whole batches of indices from a BatchSampler.

Given a `tg.Generator`, RandomSampler, SubsetRandomSampler and WeightedRandomSampler (with
replacement) give PyTorch's exact index sequences for the same seed: they consume the Mersenne
Twister's outputs as PyTorch's randperm / randint / multinomial kernels do (tests compare them
with torch). Without one, they seed a fresh tg.Generator from tinygen's global stream (so
`tg.manual_seed` fixes the order; it differs from PyTorch's, whose global stream differs).
"""
from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from ..distributed import group as _group
from .dataset import seeded_generator


class Sampler:
    """Base class: __iter__ yields dataset indices, __len__ says how many."""

    def __init__(self, data_source=None):
        pass

    def __iter__(self):
        raise NotImplementedError

    def __len__(self):
        raise NotImplementedError


class SequentialSampler(Sampler):
    """0, 1, ..., len(dataset) - 1."""

    def __init__(self, data_source):
        self.data_source = data_source

    def __iter__(self):
        return iter(range(len(self.data_source)))

    def __len__(self):
        return len(self.data_source)


class RandomSampler(Sampler):
    """Indices of `data_source` in random order.

    replacement=False: whole permutations, one after another, until num_samples (default
    len(data_source)) are out. replacement=True: num_samples independent uniform draws, made in
    chunks of 32 as PyTorch does. generator: a tg.Generator (PyTorch's order for its seed).
    num_samples=True is refused (PyTorch reads it as 1, by accident of isinstance(True, int);
    its BatchSampler and WeightedRandomSampler refuse bools): a deliberate difference.
    """

    def __init__(self, data_source, replacement=False, num_samples=None, generator=None):
        _check_bool("RandomSampler", "replacement", replacement, TypeError)
        self.data_source = data_source
        self.replacement = replacement
        self._num_samples = num_samples
        self.generator = generator
        _check_positive_int("RandomSampler", "num_samples", self.num_samples)

    @property
    def num_samples(self):
        return len(self.data_source) if self._num_samples is None else self._num_samples

    def __iter__(self):
        n = len(self.data_source)
        if n == 0 and self.replacement:       # (without: ZeroDivisionError, as PyTorch's)
            raise RuntimeError(f"RandomSampler: cannot draw {self.num_samples} samples with "
                               "replacement from an empty dataset")
        generator = seeded_generator(self.generator)
        if self.replacement:
            for _ in range(self.num_samples // 32):
                yield from generator.randint(0, n, 32).tolist()
            yield from generator.randint(0, n, self.num_samples % 32).tolist()
            return
        for _ in range(self.num_samples // n):
            yield from generator.randperm(n).tolist()
        # drawn even when nothing of it is used: PyTorch does, and its streams stay ours
        yield from generator.randperm(n).tolist()[:self.num_samples % n]

    def __len__(self):
        return self.num_samples


class SubsetRandomSampler(Sampler):
    """The given indices, in a random order (a new one each epoch)."""

    def __init__(self, indices, generator=None):
        self.indices = indices
        self.generator = generator

    def __iter__(self):
        for i in seeded_generator(self.generator).randperm(len(self.indices)).tolist():
            yield self.indices[i]

    def __len__(self):
        return len(self.indices)


class WeightedRandomSampler(Sampler):
    """num_samples indices 0..len(weights)-1, index i drawn with probability proportional to
    weights[i] (weights need not sum to 1).

    replacement=True (default): inverse-CDF draws, PyTorch's multinomial algorithm, so PyTorch's
    indices for a tg.Generator of the same seed (for num_samples >= 2; PyTorch draws a single
    sample by another method). replacement=False: no index twice, drawn by the exponential-race
    method (Efraimidis-Spirakis), the distribution PyTorch's multinomial gives; its exact draws
    differ from PyTorch's.
    Deliberate difference: weights (negative, inf, NaN, all zero) and num_samples beyond the
    non-zero weights without replacement are refused here (ValueError); PyTorch accepts them
    and its multinomial refuses at the first iteration (RuntimeError), or, for the latter
    (2.13), draws zero-weight indices.
    """

    def __init__(self, weights, num_samples, replacement=True, generator=None):
        _check_positive_int("WeightedRandomSampler", "num_samples", num_samples)
        _check_bool("WeightedRandomSampler", "replacement", replacement)
        weights = np.asarray(_as_numbers(weights), dtype=np.float64)
        if weights.ndim != 1:
            raise ValueError(f"WeightedRandomSampler: weights should be a 1-d sequence but given "
                             f"weights have shape {tuple(weights.shape)}")
        if weights.size == 0 or (weights < 0).any() or not np.isfinite(weights).all() or \
                weights.sum() <= 0:
            raise ValueError("WeightedRandomSampler: weights must be finite, non-negative and "
                             "not all zero")
        if not replacement and num_samples > np.count_nonzero(weights):
            raise ValueError(f"WeightedRandomSampler: cannot draw {num_samples} samples without "
                             f"replacement from {np.count_nonzero(weights)} non-zero weights")
        self.weights = weights
        self.num_samples = num_samples
        self.replacement = replacement
        self.generator = generator

    def __iter__(self):
        generator = seeded_generator(self.generator)
        if self.replacement:
            cumulative = np.cumsum(self.weights)
            cumulative /= cumulative[-1]
            cumulative[-1] = 1.0          # the last bucket ends at 1, whatever the rounding
            picks = np.searchsorted(cumulative, generator.uniform(self.num_samples), side="left")
        else:
            # each index's arrival time is Exp(rate w_i); the first num_samples to arrive win
            arrival = -np.log1p(-generator.uniform(len(self.weights)))
            race = np.full(len(self.weights), np.inf)
            positive = self.weights > 0
            race[positive] = arrival[positive] / self.weights[positive]
            picks = np.argsort(race, kind="stable")[:self.num_samples]
        yield from picks.tolist()

    def __len__(self):
        return self.num_samples


class BatchSampler(Sampler):
    """Groups the indices of `sampler` into lists of `batch_size` (the last one shorter unless
    drop_last): `list(BatchSampler(range(5), 2, False)) == [[0, 1], [2, 3], [4]]`."""

    def __init__(self, sampler, batch_size, drop_last):
        _check_positive_int("BatchSampler", "batch_size", batch_size)
        _check_bool("BatchSampler", "drop_last", drop_last)
        self.sampler = sampler
        self.batch_size = batch_size
        self.drop_last = drop_last

    def __iter__(self):
        batch = []
        for index in self.sampler:
            batch.append(index)
            if len(batch) == self.batch_size:
                yield batch
                batch = []
        if batch and not self.drop_last:
            yield batch

    def __len__(self):
        if self.drop_last:
            return len(self.sampler) // self.batch_size
        return (len(self.sampler) + self.batch_size - 1) // self.batch_size


def _check_positive_int(owner, name, value):
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(f"{owner}: {name} should be a positive integer value, but got "
                         f"{name}={value!r}")


def _check_bool(owner, name, value, error=ValueError):
    if not isinstance(value, bool):
        raise error(f"{owner}: {name} should be a boolean value, but got {name}={value!r}")


def _as_numbers(values):
    """A Tensor, array or sequence of numbers as something np.asarray reads."""
    if hasattr(values, "detach") and hasattr(values, "numpy"):
        return values.detach().cpu().numpy()
    if isinstance(values, (np.ndarray, Sequence)) or hasattr(values, "__array__"):
        return values
    raise TypeError(f"WeightedRandomSampler: weights should be a sequence of numbers, got "
                    f"{type(values).__name__}")


class DistributedSampler(Sampler):
    """This rank's share of the dataset: a disjoint (up to padding) slice of each epoch's order,
    the same number of indices on every rank, so every rank runs the same number of steps.

    num_replicas, rank: default to the process group's world size and rank.
    shuffle: each epoch's order is a permutation drawn from seed + epoch (set_epoch), the same on
        every rank; otherwise 0..N-1.
    drop_last: drop the tail so that N divides evenly; otherwise pad by repeating the first
        indices of the order (so some samples are seen twice in an epoch).
    Rank r takes every num_replicas-th index starting at r: PyTorch's arithmetic exactly.
    Deviation from PyTorch: the permutation comes from NumPy's PCG64 (seeded with seed + epoch),
    so a shuffled order differs from torch.randperm's; unshuffled orders are identical.
    """

    def __init__(self, dataset, num_replicas=None, rank=None, shuffle=True, seed=0,
                 drop_last=False):
        if num_replicas is None or rank is None:
            if not _group.is_initialized():
                raise ValueError("DistributedSampler: num_replicas and rank default to the process "
                                 "group's, but it is not initialized; call tinygen.distributed."
                                 "init_process_group() first, or pass num_replicas= and rank=")
            num_replicas = _group.get_world_size() if num_replicas is None else num_replicas
            rank = _group.get_rank() if rank is None else rank
        if int(num_replicas) != num_replicas or num_replicas < 1:
            raise ValueError(f"DistributedSampler: num_replicas must be a positive integer, got "
                             f"{num_replicas!r}")
        if int(rank) != rank or not 0 <= rank < num_replicas:
            raise ValueError(f"DistributedSampler: invalid rank {rank!r}, rank should be in the "
                             f"interval [0, {num_replicas - 1}]")
        self.dataset = dataset
        self.num_replicas, self.rank = int(num_replicas), int(rank)
        self.shuffle, self.seed, self.drop_last = bool(shuffle), int(seed), bool(drop_last)
        self.epoch = 0
        n = len(dataset)
        if self.drop_last and n % self.num_replicas != 0:
            # the largest multiple of num_replicas that fits: every rank drops the same tail
            self.num_samples = math.ceil((n - self.num_replicas) / self.num_replicas)
        else:
            self.num_samples = math.ceil(n / self.num_replicas)
        self.total_size = self.num_samples * self.num_replicas

    def __iter__(self):
        n = len(self.dataset)
        if self.shuffle:
            generator = np.random.Generator(np.random.PCG64(self.seed + self.epoch))
            indices = generator.permutation(n).tolist()
        else:
            indices = list(range(n))
        if not self.drop_last:
            padding = self.total_size - len(indices)
            if padding <= len(indices):
                indices += indices[:padding]
            else:                       # fewer samples than ranks: repeat the order whole
                indices += (indices * math.ceil(padding / len(indices)))[:padding]
        else:
            indices = indices[:self.total_size]
        indices = indices[self.rank:self.total_size:self.num_replicas]
        return iter(indices)

    def __len__(self):
        return self.num_samples

    def set_epoch(self, epoch):
        """Call before each epoch: the shuffle is drawn from seed + epoch."""
        self.epoch = int(epoch)

    def __repr__(self):
        return (f"DistributedSampler({len(self.dataset)} samples, rank {self.rank} of "
                f"{self.num_replicas}, {self.num_samples} each, shuffle={self.shuffle}, "
                f"drop_last={self.drop_last})")

