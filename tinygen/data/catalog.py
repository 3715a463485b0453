"""`load(name, split, root, download)`: every dataset tinygen knows, by name, as a TensorDataset.

    name              split               returns
    mnist             train | test        float32 (N, 1, 28, 28) in [0, 1], int64 labels (N,)
    fashion-mnist     train | test        the same
    digits (default)  train | test        float32 (N, 1, 8, 8) in [0, 1], int64 labels; offline
    lfw-faces         train | test        float32 (N, 1, S, S) in [0, 1], S = size (default 32),
                                          labels 0 (unlabelled); 90 + 10 faces, the train split
                                          with mirrored copies (180); offline with the `faces`
                                          extra (scikit-image)
    cifar10           train | test        float32 (N, 3, 32, 32) in [0, 1], labels 0..9
    celeba            train | valid | test  float32 (N, 3, 64, 64), unlabelled, train mirrored
    lfw               train | test        float32 (N, 3, 64, 64), unlabelled, train mirrored
                                          (the three by download: tinygen/data/colour.py)
    tinyshakespeare   train | val | test  TextDataset: int64 ids (N,), vocab, encode/decode
    <path to a text file>                 the same, for any UTF-8 text
    moons, circles, 8gaussians,           float32 points (n, 2), int64 component labels (n,);
    checkerboard, spirals                 n (default 10,000 train / 2,000 test) and seed (default
                                          0 train / 1 test) as keyword arguments

Image datasets take `size` (resize once at load, to size x size) and `hflip` (add mirrored
copies; default: the train split of the face datasets).
"""
from __future__ import annotations

import os
from pathlib import Path

from .colour import COLOUR_DATASETS, cache_ready, load_colour
from .dataset import ImageDataset, TensorDataset
from .download import download as download_dataset
from .faces import faces_available, load_lfw_faces
from .images import load_digits_arrays, load_idx_arrays
from .sources import REMOTE_DATASETS, data_root, download_hint
from .text import TextDataset, load_text
from .toy import DEFAULT_SEED, DEFAULT_SIZE, TOY_ALIASES, TOYS, make_toy
from .transforms import resize_images

DEFAULT_IMAGE_DATASET = "digits"
DEFAULT_TEXT_DATASET = "tinyshakespeare"
IMAGE_DATASETS = ("mnist", "fashion-mnist", "digits", "lfw-faces") + COLOUR_DATASETS
UNLABELLED_DATASETS = ("lfw-faces", "celeba", "lfw")
TEXT_DATASETS = ("tinyshakespeare",)
TOY_DATASETS = tuple(TOYS)
DATASETS = IMAGE_DATASETS + TEXT_DATASETS + TOY_DATASETS
_ALIASES = {"fashion_mnist": "fashion-mnist", "fashionmnist": "fashion-mnist",
            "shakespeare": "tinyshakespeare", "lfw_faces": "lfw-faces", "lfwfaces": "lfw-faces",
            "cifar-10": "cifar10", "cifar_10": "cifar10", "celeb-a": "celeba", "celeb_a": "celeba",
            **TOY_ALIASES}


def canonical_name(name: str) -> str | None:
    """The registered name for `name` (case-insensitive, a few aliases), or None."""
    key = str(name).lower()
    key = _ALIASES.get(key, key)
    return key if key in DATASETS else None


def _ensure_files(name: str, root, download: bool) -> None:
    spec = REMOTE_DATASETS[name]
    missing = spec.missing(root)
    if not missing:
        return
    if not download:
        more = f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""
        raise FileNotFoundError(f"{name}: missing {missing[0]}{more}; "
                                f"run `{download_hint(name, root)}` or pass download=True")
    download_dataset(name, root=root)


def load(name, split: str = "train", root=None, download: bool = False, *, n: int | None = None,
         seed: int | None = None, size: int | None = None,
         hflip: bool | None = None) -> TensorDataset:
    """Dataset `name` (see the table above), one split, as a TensorDataset.

    root: the cache root (default `$TINYGEN_DATA`, else `~/.cache/tinygen`); download: fetch
    missing files first (SHA-256 checked). n, seed: only for the 2-D toys. size: image datasets
    only, resize to size x size once at load; hflip: image datasets only, add each image's mirror
    image (default: on for the train split of the face datasets).
    Raises ValueError for an unknown name or split, FileNotFoundError (naming the path and the
    download command) for missing files, MissingExtraError (naming the pip extra) for a dataset
    whose optional package is not installed.

        >>> x, y = load("digits", "train").tensors       # doctest: +SKIP
        >>> x.shape, y.shape
        ((1500, 1, 8, 8), (1500,))
    """
    key = canonical_name(name) if isinstance(name, str) else None
    if (size is not None or hflip is not None) and key not in IMAGE_DATASETS:
        raise ValueError(f"load({name!r}): size and hflip apply only to the image datasets "
                         f"({', '.join(IMAGE_DATASETS)})")
    if key in TOY_DATASETS:
        if split not in DEFAULT_SEED:
            raise ValueError(f"{key}: unknown split {split!r}; expected train or test")
        size = DEFAULT_SIZE[split] if n is None else n
        points, labels = make_toy(key, size, DEFAULT_SEED[split] if seed is None else seed)
        return TensorDataset(points, labels)
    if n is not None or seed is not None:
        raise ValueError(f"load({name!r}): n and seed apply only to the toy datasets "
                         f"({', '.join(TOY_DATASETS)})")
    if key == "lfw-faces":
        return load_lfw_faces(split, size=size, hflip=hflip)
    if key in COLOUR_DATASETS:
        return load_colour(key, split, root, download, size=size, hflip=hflip)
    if key in ("mnist", "fashion-mnist"):
        _ensure_files(key, root, download)
        return _image_dataset(*load_idx_arrays(key, split, root), size, hflip)
    if key == "digits":
        return _image_dataset(*load_digits_arrays(split), size, hflip)
    if key == "tinyshakespeare":
        _ensure_files(key, root, download)
        return load_text(REMOTE_DATASETS[key].folder(root) / "input.txt", split)
    return _load_text_path(name, split)


def _image_dataset(images, labels, size, hflip) -> TensorDataset:
    """A labelled dataset as loaded before (a TensorDataset) unless resized or mirrored."""
    if size is None and not hflip:
        return TensorDataset(images, labels)
    if size is not None:
        if not 4 <= int(size) <= 256:
            raise ValueError(f"image size {size} is out of range; expected 4..256 pixels")
        images = resize_images(images, int(size))
    return ImageDataset(images, labels, hflip=bool(hflip), num_classes=int(labels.max()) + 1)


def _load_text_path(name, split) -> TextDataset:
    path = Path(os.path.expanduser(os.fspath(name)))
    if path.is_file():
        return load_text(path, split)
    looks_like_path = isinstance(name, os.PathLike) or os.sep in str(name) or path.suffix != ""
    if looks_like_path:
        raise FileNotFoundError(f"no such text file: {path}")
    raise ValueError(f"unknown dataset {name!r}; known: {', '.join(DATASETS)} "
                     f"(or the path of a text file)")


def status(root=None) -> list[tuple[str, str]]:
    """(name, state) for every dataset: 'bundled', 'generated', 'cached at PATH' or 'not cached'."""
    rows = []
    for name in DATASETS:
        if name in COLOUR_DATASETS:
            spec = REMOTE_DATASETS[name]
            state = (f"cached at {spec.folder(root)}" if cache_ready(name, root) else
                     "downloaded, not decoded yet" if not spec.missing(root) else "not cached")
        elif name in REMOTE_DATASETS:
            spec = REMOTE_DATASETS[name]
            state = "not cached" if spec.missing(root) else f"cached at {spec.folder(root)}"
        elif name in TOY_DATASETS:
            state = "generated by code"
        elif name == "lfw-faces":
            state = ("bundled with scikit-image" if faces_available()
                     else "needs the faces extra: pip install 'tinygen[faces]'")
        else:
            state = "bundled with scikit-learn"
        rows.append((name, state))
    return rows


__all__ = ["load", "DATASETS", "DEFAULT_IMAGE_DATASET", "UNLABELLED_DATASETS",
           "DEFAULT_TEXT_DATASET", "data_root",
           "canonical_name", "status"]
