"""Datasets: the abstract `Dataset` and `TensorDataset`, PyTorch's two basic kinds.

All array work in tinygen.data is NumPy; Tensors are made only at the edge, by `to_tensor`, so a
CPU `TensorDataset` keeps plain arrays that a whole batch is gathered from in one fancy-indexing
call.
"""
from __future__ import annotations

import numpy as np

from ..creation import from_numpy
from ..tensor import Tensor


class MissingExtraError(ImportError):
    """A dataset needs an optional extra that is not installed; the message is one line with the
    pip command (the `tinygen` commands print it as it is)."""


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
    """

    def __len__(self) -> int:
        raise NotImplementedError(f"{type(self).__name__} must implement __len__")

    def __getitem__(self, index):
        raise NotImplementedError(f"{type(self).__name__} must implement __getitem__")


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
            raise ValueError(f"TensorDataset: size mismatch in the first dim: {lengths}")
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
