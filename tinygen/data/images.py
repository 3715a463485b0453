"""Image datasets as (N, C, H, W) float32 in [0, 1] with int64 labels.

- `mnist`, `fashion-mnist`: the four standard IDX files under ROOT/<name>/; pixels are the IDX
  bytes / 255. 60,000 train and 10,000 test images of 1 x 28 x 28.
- `digits`: the 8x8 handwritten digits that scikit-learn bundles (1,797 images, UCI optdigits
  test set, 16 grey levels 0..16, here / 16). Works offline right after `pip install`, so it is
  the default image dataset. Split: the first 1,500 images are `train`, the last 297 `test`
  (fixed by position: no random state, so every version and machine agrees; each class has
  146-153 train and 27-33 test images).
"""
from __future__ import annotations

import gzip
import importlib.util
from pathlib import Path

import numpy as np

from .idx import IMAGES_MAGIC, LABELS_MAGIC, DataFormatError, read_idx
from .sources import REMOTE_DATASETS, download_hint

IDX_FILES = {   # split -> (images file, labels file), the same names for MNIST and Fashion-MNIST
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}
DIGITS_TRAIN_SIZE = 1500


def _check_split(name, split, allowed=("train", "test")):
    if split not in allowed:
        raise ValueError(f"{name}: unknown split {split!r}; expected one of {', '.join(allowed)}")


def idx_dataset_paths(name: str, split: str, root=None) -> tuple[Path, Path]:
    """The (images, labels) paths of one split of `mnist` or `fashion-mnist` under the root."""
    _check_split(name, split)
    folder = REMOTE_DATASETS[name].folder(root)
    images, labels = IDX_FILES[split]
    return folder / images, folder / labels


def load_idx_arrays(name: str, split: str = "train", root=None):
    """`mnist` / `fashion-mnist` as NumPy arrays: float32 (N, 1, 28, 28) in [0, 1], int64 (N,).
    Raises FileNotFoundError (with the download command) for a missing file, DataFormatError
    naming the file for a malformed one."""
    images_path, labels_path = idx_dataset_paths(name, split, root)
    for path in (images_path, labels_path):
        if not path.is_file():
            raise FileNotFoundError(
                f"{name}: missing {path}; run `{download_hint(name, root)}` "
                f"or pass download=True")
    images = read_idx(images_path, IMAGES_MAGIC, (None, 28, 28))
    labels = read_idx(labels_path, LABELS_MAGIC, (None,))
    if len(images) != len(labels):
        raise DataFormatError(
            f"{images_path} has {len(images)} images but {labels_path} has {len(labels)} labels")
    if labels.size and labels.max() > 9:
        raise DataFormatError(f"{labels_path}: label {labels.max()} is not a class 0..9")
    pixels = images.astype(np.float32)                  # (N, 28, 28)
    pixels /= np.float32(255)                           # in place; == float32(b) / 255 exactly
    return pixels[:, None, :, :], labels.astype(np.int64)   # (N, 1, 28, 28)


def _digits_csv() -> Path | None:
    """scikit-learn's bundled digits file, found without importing scikit-learn (~1 s)."""
    spec = importlib.util.find_spec("sklearn")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "datasets" / "data" / "digits.csv.gz"
    return path if path.is_file() else None


def _digits_table() -> np.ndarray:
    """(1797, 65): 64 pixel values 0..16 then the label, as scikit-learn ships them."""
    path = _digits_csv()
    if path is not None:
        with gzip.open(path, "rt") as f:
            table = np.loadtxt(f, delimiter=",", dtype=np.int64)
        if table.ndim == 2 and table.shape[1] == 65:
            return table
    try:     # a future scikit-learn may move the file: ask its public loader
        from sklearn.datasets import load_digits  # lazy: optional; the CSV above is the rule
    except ImportError as e:
        raise ImportError("the `digits` dataset comes bundled with scikit-learn: "
                          "pip install scikit-learn") from e
    bunch = load_digits()
    return np.concatenate([bunch.data.astype(np.int64), bunch.target[:, None]], axis=1)


def load_digits_arrays(split: str = "train"):
    """scikit-learn's 8x8 digits: float32 (N, 1, 8, 8) in [0, 1] (= value / 16), int64 (N,).
    train: the first 1,500 images; test: the remaining 297."""
    _check_split("digits", split)
    table = _digits_table()
    rows = slice(0, DIGITS_TRAIN_SIZE) if split == "train" else slice(DIGITS_TRAIN_SIZE, None)
    pixels = table[rows, :64].astype(np.float32) / np.float32(16)
    labels = table[rows, 64].astype(np.int64)
    return pixels.reshape(-1, 1, 8, 8), labels          # (N, 1, 8, 8)
