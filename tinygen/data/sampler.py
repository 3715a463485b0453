"""Samplers: which dataset indices an epoch visits, in which order (torch.utils.data.sampler and
torch.utils.data.distributed).

    sampler = DistributedSampler(dataset, seed=0)        # rank and world size from the group
    loader = DataLoader(dataset, batch_size=32, sampler=sampler)
    for epoch in range(epochs):
        sampler.set_epoch(epoch)                    # a new shuffle each epoch, the same on all ranks
        for x, y in loader:
            ...

A sampler is any iterable of indices with a length; DataLoader(sampler=...) batches its indices
in order.
"""
from __future__ import annotations

import math

import numpy as np

from ..distributed import group as _group


class Sampler:
    """Base class: __iter__ yields dataset indices, __len__ says how many."""

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

