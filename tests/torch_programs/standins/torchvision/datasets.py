"""torchvision.datasets stand-ins: MNIST and FakeData (see the package docstring)."""
import gzip
import os
import sys

import numpy as np
import torch

_FILES = {True: ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
          False: ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}
_CACHE = {}


def _read_idx(path):
    if path not in _CACHE:
        opener = gzip.open if path.endswith(".gz") else open
        with opener(path, "rb") as f:
            raw = f.read()
        ndim = raw[3]
        shape = tuple(int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim))
        _CACHE[path] = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(shape)
    return _CACHE[path]


def _find(folders, name):
    for folder in folders:
        for candidate in (os.path.join(folder, name), os.path.join(folder, name + ".gz")):
            if os.path.isfile(candidate):
                return candidate
    return None


def _synthetic_digits(train):
    """A fixed 28x28 pattern per class, plus noise: learnable, so a loss can fall."""
    rng = np.random.default_rng(0)
    templates = rng.random((10, 28, 28)) < 0.25
    n = 6000 if train else 1000
    labels = np.random.default_rng(1 if train else 2).integers(0, 10, n)
    noise = np.random.default_rng(3 if train else 4).random((n, 28, 28)) < 0.05
    images = (templates[labels] ^ noise).astype(np.uint8) * 255
    return images, labels.astype(np.int64)


class MNIST:
    """(image, label) pairs: image a (28, 28) uint8 array (through `transform`), label an int.
    `.data` (N, 28, 28) uint8 and `.targets` (N,) int64 are tensors, as in torchvision."""

    classes = [f"{i} - {name}" for i, name in enumerate(
        "zero one two three four five six seven eight nine".split())]

    def __init__(self, root, train=True, transform=None, target_transform=None, download=False):
        self.root, self.train = root, train
        self.transform, self.target_transform = transform, target_transform
        folders = [os.path.join(root, "MNIST", "raw"), os.path.join(root, "mnist")]
        shared = os.environ.get("TORCHVISION_STANDIN_DATA")
        if shared:
            folders.append(os.path.join(shared, "mnist"))
        paths = [_find(folders, name) for name in _FILES[train]]
        self.synthetic = None in paths
        if self.synthetic:
            print(f"torchvision stand-in: MNIST files not found in {folders}; using synthetic "
                  "digits", file=sys.stderr)
            images, labels = _synthetic_digits(train)
        else:
            images, labels = _read_idx(paths[0]), _read_idx(paths[1]).astype(np.int64)
        self._images = images
        self.data = torch.from_numpy(np.array(images))
        self.targets = torch.from_numpy(np.array(labels, dtype=np.int64))
        self._labels = labels

    def __len__(self):
        return len(self._labels)

    def __getitem__(self, index):
        image, target = self._images[index], int(self._labels[index])
        if self.transform is not None:
            image = self.transform(image)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return image, target


class FakeData:
    """`size` random images of `image_size` (C, H, W) as uint8 (H, W, C) arrays, and labels."""

    def __init__(self, size=1000, image_size=(3, 224, 224), num_classes=10, transform=None,
                 target_transform=None, random_offset=0):
        self.size, self.image_size, self.num_classes = size, tuple(image_size), num_classes
        self.transform, self.target_transform = transform, target_transform
        self.random_offset = random_offset

    def __len__(self):
        return self.size

    def __getitem__(self, index):
        if not 0 <= index < self.size:
            raise IndexError(f"{type(self).__name__} index out of range")
        rng = np.random.default_rng(index + self.random_offset)
        channels, height, width = self.image_size
        image = np.clip(rng.standard_normal((height, width, channels)) * 64 + 128, 0, 255)
        image = image.astype(np.uint8)
        target = int(rng.integers(0, self.num_classes))
        if channels == 1:
            image = image[:, :, 0]
        if self.transform is not None:
            image = self.transform(image)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return image, target
