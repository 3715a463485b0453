"""Fetchers: how one batch is made from its indices (map-style) or from the stream (iterable),
the same code in the main process and in worker processes (torch.utils.data._utils.fetch).

A fetcher is a plain object, so it pickles into a spawned worker along with its dataset.
"""
from __future__ import annotations

import itertools

from .dataset import TensorDataset


class MapFetcher:
    """Map-style: `fetch(indices)` -> collate_fn([dataset[i] for i in indices]); with
    auto-collation off (batch_size=None), `fetch(index)` -> collate_fn(dataset[index]).

    A TensorDataset without a collate_fn takes a whole batch in one indexing call per tensor
    (`take`), which is what default_collate would build, without the Python loop over samples
    (not a subclass whose own __getitem__ would see each sample, unless it has its own take).
    """

    def __init__(self, dataset, collate_fn, auto_collation, fast):
        self.dataset = dataset
        self.collate_fn = collate_fn
        self.auto_collation = auto_collation
        # a subclass that overrides __getitem__ (a transform) and not take: one sample at a time
        kind = type(dataset)
        self.fast = (fast and auto_collation and isinstance(dataset, TensorDataset)
                     and (kind.__getitem__ is TensorDataset.__getitem__
                          or kind.take is not TensorDataset.take))

    def reset(self):
        pass

    def fetch(self, indices):
        if not self.auto_collation:
            return self.collate_fn(self.dataset[indices])
        if self.fast:
            return list(self.dataset.take(indices))
        getitems = getattr(self.dataset, "__getitems__", None)
        samples = getitems(indices) if getitems else [self.dataset[i] for i in indices]
        return self.collate_fn(samples)


class Exhausted(Exception):
    """The stream of an IterableDataset has ended (in this process)."""


class IterableFetcher:
    """Iterable: `fetch(n)` -> the next n samples of the stream, collated (the last batch shorter
    unless drop_last); with auto-collation off, the next sample, converted. Raises Exhausted."""

    def __init__(self, dataset, collate_fn, auto_collation, drop_last):
        self.dataset = dataset
        self.collate_fn = collate_fn
        self.auto_collation = auto_collation
        self.drop_last = drop_last
        self.iterator = None

    def reset(self):
        self.iterator = iter(self.dataset)

    def fetch(self, count):
        if self.iterator is None:
            self.reset()
        if not self.auto_collation:
            try:
                return self.collate_fn(next(self.iterator))
            except StopIteration:
                raise Exhausted from None
        samples = list(itertools.islice(self.iterator, count))
        if not samples or (self.drop_last and len(samples) < count):
            raise Exhausted
        return self.collate_fn(samples)
