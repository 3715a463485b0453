"""Datasets (torch.utils.data.dataset): map-style `Dataset` and `TensorDataset`, `IterableDataset`,
and the combinators `Subset`, `ConcatDataset`, `ChainDataset`, `StackDataset`, `random_split`.

All array work in tinygen.data is NumPy; Tensors are made only at the edge, by `to_tensor`, so a
CPU `TensorDataset` keeps plain arrays that a whole batch is gathered from in one fancy-indexing
call.
"""
from __future__ import annotations

import bisect
import itertools
import math
import warnings

import numpy as np

from ..backend.random import Generator
from ..backend.random import generator as global_generator
from ..creation import from_numpy
from ..tensor import Tensor


class MissingExtraError(ImportError):
    """A dataset needs an optional extra that is not installed; the message is one line with the
    pip command (the `tinygen` commands print it as it is)."""


class DatasetValueError(ValueError, AssertionError):
    """Refused dataset arguments: a ValueError, and the AssertionError PyTorch raises for them
    (TensorDataset's size mismatch, an empty ConcatDataset), so either `except` catches it."""


class DatasetTypeError(TypeError, AssertionError):
    """A dataset of the wrong kind: a TypeError, and PyTorch's AssertionError (ConcatDataset of
    an IterableDataset, ChainDataset of a map-style one)."""


def to_tensor(array):
    """A NumPy array (or NumPy scalar) as a tinygen Tensor on the CPU, sharing memory if it can."""
    array = np.asarray(array)            # not ascontiguousarray: it turns 0-d into 1-d
    if not array.flags.c_contiguous:
        array = np.array(array, order="C")
    return from_numpy(array)


def is_tensor(x) -> bool:
    return isinstance(x, Tensor)


def cpu_array(x):
    """The NumPy array behind `x` (an array, a CPU Tensor, or anything np.asarray accepts), or None
    for a Tensor that lives on another device (its data must not leave the device silently)."""
    if is_tensor(x):
        device = getattr(x, "device", "cpu")
        if getattr(device, "type", str(device)) != "cpu":
            return None
        if getattr(x, "requires_grad", False):
            x = x.detach()
        return x.numpy()
    return np.asarray(x)


class Dataset:
    """A map-style dataset: `len(ds)` samples, `ds[i]` the i-th (usually a tuple of Tensors).

    Subclasses implement both methods, as in PyTorch. `DataLoader` collates samples into batches.
    There is no default __len__ (PyTorch's has none either): `hasattr(ds, "__len__")` tells
    whether a dataset, an IterableDataset above all, knows its length.
    """

    def __getitem__(self, index):
        raise NotImplementedError(f"{type(self).__name__} must implement __getitem__")

    def __add__(self, other):
        return ConcatDataset([self, other])


class TensorDataset(Dataset):
    """Samples are rows of the given Tensors (or NumPy arrays), which share their first dim.

        >>> ds = TensorDataset(np.zeros((5, 2), np.float32), np.arange(5))
        >>> len(ds), ds[1][0].shape                       # doctest: +SKIP
        (5, (2,))

    `.tensors` holds them as Tensors (created on first use from arrays). `take(indices)` gathers a
    whole batch with one indexing call per tensor; `DataLoader` uses it instead of collating
    samples one by one.
    """

    def __init__(self, *tensors):
        if not tensors:
            raise ValueError("TensorDataset needs at least one tensor")
        # a column is a NumPy array (arrays and CPU Tensors) or a Tensor kept on its device
        self._columns = []
        self._given = []          # the Tensor passed in for a column, or None when an array was
        for t in tensors:
            array = cpu_array(t)
            self._columns.append(t if array is None else array)
            self._given.append(t if is_tensor(t) else None)
        lengths = [_length(c) for c in self._columns]
        if any(n != lengths[0] for n in lengths):
            raise DatasetValueError(f"TensorDataset: size mismatch in the first dim: {lengths}")
        self._length = lengths[0]

    @property
    def tensors(self) -> tuple:
        for i, column in enumerate(self._columns):
            if self._given[i] is None:
                self._given[i] = to_tensor(column)
        return tuple(self._given)

    @property
    def arrays(self) -> tuple:
        """The columns as NumPy arrays (CPU data only; no copy)."""
        if any(not isinstance(c, np.ndarray) for c in self._columns):
            raise TypeError("TensorDataset.arrays: some tensors live on a non-CPU device")
        return tuple(self._columns)

    def __len__(self) -> int:
        return self._length

    def __getitem__(self, index):
        if isinstance(index, (int, np.integer)) and not -self._length <= index < self._length:
            raise IndexError(f"index {index} is out of range for a dataset of {self._length}")
        return self.take(index)

    def take(self, indices) -> tuple:
        """Rows `indices` (int, slice, or int array) of every column, as a tuple of Tensors."""
        out = []
        for column in self._columns:
            if isinstance(column, np.ndarray):
                out.append(to_tensor(np.asarray(column[indices])))
            else:
                out.append(column[indices])
        return tuple(out)

    def __repr__(self):
        shapes = ", ".join(str(tuple(c.shape)) for c in self._columns)
        return f"{type(self).__name__}({len(self)} samples: {shapes})"


def _length(column) -> int:
    shape = tuple(column.shape)
    if not shape:
        raise ValueError("TensorDataset: a 0-d tensor has no samples")
    return int(shape[0])


class ImageDataset(TensorDataset):
    """Images kept compact, served as float32 in [0, 1]: (N, C, H, W) uint8 (0..255, divided by
    255 per batch) or float32, with int64 labels (N,).

    hflip=True adds each image's mirror image (flipped left to right) as a sample of its own:
    len(ds) = 2N, sample i + N is sample i mirrored, so a shuffled epoch sees every image both
    ways and the augmentation is fixed by the loader's seed (exact on resume). Nothing is copied:
    a batch is gathered and flipped when `take` asks for it.

    num_classes: the number of classes the labels name, or None for an unlabelled set (whose
    labels are all 0). `.tensors` builds every sample as float32 at once (for small test sets);
    a loader uses `take`.

        >>> ds = ImageDataset(np.zeros((5, 3, 4, 4), np.uint8), np.zeros(5, np.int64), hflip=True)
        >>> len(ds), ds[7][0].shape                                  # doctest: +SKIP
        (10, (3, 4, 4))
    """

    def __init__(self, images, labels, *, hflip=False, num_classes=None):
        images, labels = np.asarray(images), np.asarray(labels)
        if images.ndim != 4 or images.dtype not in (np.uint8, np.float32):
            raise ValueError(f"ImageDataset: expected images (N, C, H, W) of uint8 or float32, got "
                             f"{images.dtype} {images.shape}")
        if labels.shape != (len(images),):
            raise ValueError(f"ImageDataset: expected labels ({len(images)},) for "
                             f"{len(images)} images, got {labels.shape}")
        self.images, self.labels = images, labels.astype(np.int64, copy=False)
        self.hflip, self.num_classes = bool(hflip), num_classes
        self._length = len(images) * (2 if self.hflip else 1)
        self._columns, self._given = [], []          # TensorDataset's: built on demand only

    def take(self, indices) -> tuple:
        """Samples `indices` (int, slice or int array) as (float32 images, int64 labels)."""
        if isinstance(indices, slice):
            positions = np.arange(*indices.indices(self._length))
        else:
            positions = np.asarray(indices, dtype=np.int64)
            if ((positions < -self._length) | (positions >= self._length)).any():
                raise IndexError(f"index out of range for a dataset of {self._length}")
            positions = np.where(positions < 0, positions + self._length, positions)
        scalar = positions.ndim == 0
        positions = np.atleast_1d(positions)
        n = len(self.images)
        source = positions % n
        x = self.images[source]                                    # (B, C, H, W), a copy
        if x.dtype == np.uint8:
            x = x.astype(np.float32) / np.float32(255)
        mirrored = positions >= n
        if mirrored.any():
            x[mirrored] = x[mirrored][..., ::-1]                   # flip the width axis
        y = self.labels[source]
        if scalar:
            x, y = x[0], y[0]
        return to_tensor(x), to_tensor(y)

    @property
    def tensors(self) -> tuple:
        if not self._given:
            self._given = list(self.take(slice(None)))
        return tuple(self._given)

    @property
    def arrays(self) -> tuple:
        """Every sample as NumPy arrays (float32 images, int64 labels), built at once."""
        return tuple(t.numpy() for t in self.tensors)

    def __repr__(self):
        return (f"{type(self).__name__}({len(self)} samples of {tuple(self.images.shape[1:])}, "
                f"{self.images.dtype} stored{', mirrored copies' if self.hflip else ''})")


class IterableDataset(Dataset):
    """A stream of samples: subclasses implement `__iter__` (and `__len__` if they know it).

    `DataLoader` batches what the iterator yields, in order. With `num_workers > 0` every worker
    iterates its own copy of the dataset, so an `__iter__` that does not split the work by
    `get_worker_info()` yields every sample once per worker, as in PyTorch.
    `ds1 + ds2` chains two of them (`ChainDataset`).
    """

    def __iter__(self):
        raise NotImplementedError(f"{type(self).__name__} must implement __iter__")

    def __getitem__(self, index):
        raise TypeError(f"{type(self).__name__} is an IterableDataset: iterate over it, it has no "
                        "__getitem__")

    def __add__(self, other):
        return ChainDataset([self, other])


class Subset(Dataset):
    """The samples of `dataset` at `indices`, in that order: `Subset(ds, [4, 0])[1] is ds[0]`."""

    def __init__(self, dataset, indices):
        self.dataset = dataset
        self.indices = indices

    def __getitem__(self, index):
        if isinstance(index, list):
            return [self.dataset[self.indices[i]] for i in index]
        return self.dataset[self.indices[index]]

    def __len__(self):
        return len(self.indices)


class ConcatDataset(Dataset):
    """Map-style datasets one after another: index i falls in the first dataset whose cumulative
    size exceeds it (`cumulative_sizes`); negative indices count from the end."""

    def __init__(self, datasets):
        self.datasets = list(datasets)
        if not self.datasets:
            raise DatasetValueError("ConcatDataset: datasets should not be an empty iterable")
        for d in self.datasets:
            if isinstance(d, IterableDataset):
                raise DatasetTypeError("ConcatDataset does not support IterableDataset (use "
                                       "ChainDataset)")
        self.cumulative_sizes = list(itertools.accumulate(len(d) for d in self.datasets))

    def __len__(self):
        return self.cumulative_sizes[-1]

    def __getitem__(self, index):
        if index < 0:
            if -index > len(self):
                raise ValueError("absolute value of index should not exceed dataset length")
            index = len(self) + index
        if index >= len(self):
            raise IndexError(f"index {index} is out of range for a ConcatDataset of {len(self)}")
        which = bisect.bisect_right(self.cumulative_sizes, index)
        start = self.cumulative_sizes[which - 1] if which > 0 else 0
        return self.datasets[which][index - start]


class ChainDataset(IterableDataset):
    """Iterable datasets one after another, chained lazily (for streams)."""

    def __init__(self, datasets):
        self.datasets = datasets

    def __iter__(self):
        for d in self.datasets:
            if not isinstance(d, IterableDataset):
                raise DatasetTypeError(f"ChainDataset only supports IterableDataset, got "
                                       f"{type(d).__name__}")
            yield from d

    def __len__(self):
        total = 0
        for d in self.datasets:
            if not isinstance(d, IterableDataset):
                raise DatasetTypeError(f"ChainDataset only supports IterableDataset, got "
                                       f"{type(d).__name__}")
            total += len(d)
        return total


class StackDataset(Dataset):
    """Several datasets of one length side by side: `StackDataset(a, b)[i] == (a[i], b[i])`,
    `StackDataset(image=a, text=b)[i] == {"image": a[i], "text": b[i]}`."""

    def __init__(self, *args, **kwargs):
        if args and kwargs:
            raise ValueError("StackDataset: give datasets as positional arguments (samples are "
                             "tuples) or as keyword arguments (samples are dicts), not both")
        if not args and not kwargs:
            raise ValueError("StackDataset: at least one dataset should be passed")
        self.datasets = args if args else kwargs
        lengths = [len(d) for d in (args or kwargs.values())]
        if any(n != lengths[0] for n in lengths):
            raise ValueError(f"StackDataset: size mismatch between datasets: {lengths}")
        self._length = lengths[0]

    def __getitem__(self, index):
        if isinstance(self.datasets, dict):
            return {key: d[index] for key, d in self.datasets.items()}
        return tuple(d[index] for d in self.datasets)

    def __len__(self):
        return self._length


def random_split(dataset, lengths, generator=None):
    """Split `dataset` into non-overlapping `Subset`s of the given lengths (ints summing to
    len(dataset)) or fractions (summing to 1: floors, then the remainder handed out one by one
    from the first split on, as PyTorch does).

    generator: a tg.Generator; the split is then PyTorch's for the same seed. None: a seed drawn
    from tinygen's global stream (so `tg.manual_seed` fixes it; PyTorch's global stream differs).
    Negative lengths are refused (ValueError); PyTorch accepts them when they sum to the length
    and returns overlapping subsets: a deliberate difference.
    """
    n = len(dataset)
    lengths = list(lengths)
    if math.isclose(sum(lengths), 1) and sum(lengths) <= 1:
        lengths = _lengths_from_fractions(lengths, n)
    if any(int(x) != x or x < 0 for x in lengths):
        raise ValueError(f"random_split: lengths must be non-negative integers or fractions "
                         f"summing to 1, got {lengths}")
    if sum(lengths) != n:
        raise ValueError(f"random_split: sum of input lengths ({sum(lengths)}) does not equal "
                         f"the length of the input dataset ({n})")
    order = seeded_generator(generator).randperm(n).tolist()
    ends = itertools.accumulate(int(x) for x in lengths)
    return [Subset(dataset, order[end - int(x):end]) for end, x in zip(ends, lengths, strict=True)]


def _lengths_from_fractions(fractions, n):
    lengths = []
    for i, fraction in enumerate(fractions):
        if fraction < 0 or fraction > 1:
            raise ValueError(f"random_split: fraction at index {i} is not between 0 and 1")
        lengths.append(int(math.floor(n * fraction)))
    for i in range(n - sum(lengths)):
        lengths[i % len(lengths)] += 1
    for i, length in enumerate(lengths):
        if length == 0:
            warnings.warn(f"random_split: length of split at index {i} is 0; this might result "
                          "in an empty dataset", stacklevel=3)
    return lengths


def seeded_generator(generator):
    """`generator` itself, or (None) a tg.Generator seeded from tinygen's global CPU stream."""
    if generator is None:
        return Generator().manual_seed(int(global_generator("cpu").integers(2**63)))
    if not isinstance(generator, Generator):
        raise TypeError(f"generator must be a tg.Generator, got {type(generator).__name__}")
    return generator
