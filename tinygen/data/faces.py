"""`lfw-faces`: the 100 face crops that scikit-image ships inside its wheel, offline.

`skimage.data.lfw_subset()` holds 200 grayscale 25 x 25 crops from Labeled Faces in the Wild
(Huang et al. 2012): the first 100 are faces, the last 100 background patches (not used here).
The values are float64 in [0, 1]; here float32. Split fixed by position (no random state, so every
machine agrees): faces 0..89 are `train`, 90..99 `test`.

A smoke set, not a benchmark: 100 faces are enough to see a GAN or a diffusion model learn the
shape of a face in minutes on a CPU, far too few to measure sample quality against.

Resized once at load (bilinear, tinygen/data/transforms.py) to `size` (default 32; 25 is the
native size; the strided conv models need a multiple of 4: 28, 32, 64). The train split adds the
mirror image of each face (hflip, tinygen.data.ImageDataset): 180 samples.

scikit-image is the optional extra `faces` (`pip install 'tinygen[faces]'`); without it,
`load("lfw-faces")` raises MissingExtraError, whose message says that.
"""
from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np

from .dataset import ImageDataset, MissingExtraError
from .transforms import resize_images

FACES = 100                  # the first 100 crops of lfw_subset are faces
TRAIN_FACES = 90
NATIVE_SIZE = 25
DEFAULT_SIZE = 32
SPLITS = {"train": slice(0, TRAIN_FACES), "test": slice(TRAIN_FACES, FACES)}


def _subset_file() -> Path | None:
    """scikit-image's bundled lfw_subset.npy, found without importing scikit-image (~0.5 s)."""
    spec = importlib.util.find_spec("skimage")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "data" / "lfw_subset.npy"
    return path if path.is_file() else None


def faces_available() -> bool:
    """Whether lfw-faces can load here (scikit-image, the `faces` extra, is installed)."""
    return importlib.util.find_spec("skimage") is not None


def _lfw_subset() -> np.ndarray:
    """(200, 25, 25) float64 in [0, 1], as scikit-image ships it."""
    path = _subset_file()
    if path is not None:
        array = np.load(path, allow_pickle=False)
        if array.shape == (2 * FACES, NATIVE_SIZE, NATIVE_SIZE):
            return array
    try:     # a future scikit-image may move the file: ask its public loader
        from skimage.data import lfw_subset  # lazy: optional extra `faces`
    except ImportError:
        raise MissingExtraError("the lfw-faces dataset ships with scikit-image: "
                                "pip install 'tinygen[faces]' (or scikit-image)") from None
    return np.asarray(lfw_subset())


def load_lfw_faces(split: str = "train", size: int | None = None,
                   hflip: bool | None = None) -> ImageDataset:
    """One split of lfw-faces as an ImageDataset of float32 (N, 1, size, size) in [0, 1] with
    labels 0 (unlabelled: num_classes None). hflip: add mirrored copies (default: train only).

        >>> ds = load_lfw_faces("train")                 # doctest: +SKIP
        >>> len(ds), ds[0][0].shape
        (180, (1, 32, 32))
    """
    if split not in SPLITS:
        raise ValueError(f"lfw-faces: unknown split {split!r}; expected one of train, test")
    size = DEFAULT_SIZE if size is None else int(size)
    if not 8 <= size <= 256:
        raise ValueError(f"lfw-faces: image size {size} is out of range; expected 8..256 "
                         f"(native {NATIVE_SIZE}; 28, 32 or 64 for the conv models)")
    faces = _lfw_subset()[SPLITS[split]]
    if faces.min() < 0 or faces.max() > 1:
        raise ValueError("lfw-faces: scikit-image's lfw_subset is not in [0, 1]; "
                         "this scikit-image version stores it differently")
    images = resize_images(faces.astype(np.float32)[:, None], size)     # (N, 1, size, size)
    hflip = split == "train" if hflip is None else bool(hflip)
    return ImageDataset(images, np.zeros(len(images), np.int64), hflip=hflip, num_classes=None)
