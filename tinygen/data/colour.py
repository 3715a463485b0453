"""The downloadable colour image sets, decoded once into arrays: `cifar10`, `celeba`, `lfw`.

    name      source files (tinygen/data/sources.py)          splits               stored as
    cifar10   cifar-10-python.tar.gz (the python batches)     train 50,000         (N, 3, 32, 32)
                                                              test 10,000          labels 0..9
    celeba    img_align_celeba.zip (aligned and cropped       train 162,770        (N, 3, 64, 64)
              178 x 218 JPEGs), list_eval_partition.txt       valid 19,867         unlabelled
                                                              test 19,962
    lfw       lfw-deepfunneled.tgz (250 x 250 JPEGs),         train (4,038 people) (N, 3, 64, 64)
              peopleDevTrain.txt, peopleDevTest.txt           test (1,711 people)  unlabelled

CelebA: the central 178 x 178 square of each aligned picture (what torchvision's Resize(64) +
CenterCrop(64) of the DCGAN example keeps), resized to 64 x 64 (JPEG draft decoding at half size,
then Pillow's antialiased bicubic). LFW: the central 150 x 150 square of the deep-funneled
picture (the face and a margin), resized to 64 x 64. The LFW split is the official
identity-disjoint development split (no person in both).

The arrays are decoded once, after the download, into ROOT/NAME/arrays/: SPLIT-images.npy (uint8
(N, 3, S, S)) and SPLIT-labels.npy (int64 (N,)) for each split, written under temporary names and
renamed when complete, then manifest.json (written last, atomically) with each file's shape and
SHA-256. Loading checks the manifest, the shapes and the SHA-256 of every array file, and maps the
images from disk (np.load mmap_mode="r"): an epoch gathers its batches from there and never
decodes a JPEG again. A file that fails the check is an error naming it, never loaded.

Decoding holds a split's pictures in memory twice at its peak (CelebA's train split: about
4 GB), once per `tinygen data download`.

The CIFAR batches are pickles: they are read from the checksummed archive only, with an unpickler
that accepts nothing but NumPy arrays, dicts, lists and strings.
"""
from __future__ import annotations

import codecs
import io
import json
import pickle
import tarfile
import zipfile
from pathlib import Path

import numpy as np

from ..io.atomic import atomic_write
from .dataset import ImageDataset
from .download import download as download_files
from .download import sha256_of, verify_file
from .idx import DataFormatError
from .sources import REMOTE_DATASETS, download_hint
from .transforms import center_crop_box, resize_images

COLOUR_DATASETS = ("cifar10", "celeba", "lfw")
SPLITS = {"cifar10": ("train", "test"), "celeba": ("train", "valid", "test"),
          "lfw": ("train", "test")}
SIZES = {"cifar10": 32, "celeba": 64, "lfw": 64}
CLASSES = {"cifar10": 10, "celeba": None, "lfw": None}
HFLIP = {"cifar10": False, "celeba": True, "lfw": True}     # the train split's default
CROPS = {"celeba": 178, "lfw": 150}
MANIFEST = "manifest.json"
FORMAT = 1


def arrays_folder(name: str, root=None) -> Path:
    return REMOTE_DATASETS[name].folder(root) / "arrays"


def _read_manifest(name, root):
    path = arrays_folder(name, root) / MANIFEST
    if not path.is_file():
        return None
    try:
        manifest = json.loads(path.read_text())
    except ValueError:
        raise DataFormatError(f"{path}: not JSON; delete {path.parent} and run "
                              f"`{download_hint(name, root)}` to decode the arrays again") from None
    if manifest.get("format") != FORMAT or manifest.get("dataset") != name:
        return None                              # an older layout: decode again
    return manifest


def cache_ready(name: str, root=None) -> bool:
    """Whether the decoded arrays of `name` are there (listed in their manifest)."""
    manifest = _read_manifest(name, root)
    return manifest is not None and all(
        (arrays_folder(name, root) / entry["file"]).is_file()
        for split in manifest["splits"].values() for entry in split.values())


# -- decoding the archives ---------------------------------------------------------------------
class _ArrayUnpickler(pickle.Unpickler):
    """Unpickles NumPy arrays and plain containers only (CIFAR's batch files): any other global
    a pickle names is refused, so a pickle cannot run code."""

    ALLOWED = {("numpy.core.multiarray", "_reconstruct"),
               ("numpy._core.multiarray", "_reconstruct"),
               ("numpy", "ndarray"), ("numpy", "dtype"),
               ("_codecs", "encode")}             # how protocol 2 spells bytes from Python 3

    def find_class(self, module, name):
        if (module, name) not in self.ALLOWED:
            raise pickle.UnpicklingError(f"refusing {module}.{name} in a CIFAR batch")
        if name == "_reconstruct":
            return np.zeros(0).__reduce__()[0]      # numpy's own _reconstruct, whatever its module
        if module == "_codecs":
            return codecs.encode
        return getattr(np, name)


def _decode_cifar10(folder: Path, log):
    """{split: (uint8 (N, 3, 32, 32), int64 (N,))} from the python tarball."""
    members = {"train": [f"data_batch_{i}" for i in range(1, 6)], "test": ["test_batch"]}
    batches = {}
    with tarfile.open(folder / "cifar-10-python.tar.gz", "r:gz") as archive:
        for member in archive:
            name = Path(member.name).name
            if member.isfile() and name.startswith(("data_batch_", "test_batch")):
                raw = archive.extractfile(member).read()
                batch = _ArrayUnpickler(io.BytesIO(raw), encoding="latin1").load()
                batches[name] = batch
    out = {}
    for split, names in members.items():
        missing = [n for n in names if n not in batches]
        if missing:
            raise DataFormatError(f"{folder / 'cifar-10-python.tar.gz'}: no {missing[0]} in it")
        data = np.concatenate([np.asarray(batches[n]["data"], dtype=np.uint8) for n in names])
        labels = np.concatenate([np.asarray(batches[n]["labels"], dtype=np.int64) for n in names])
        if data.ndim != 2 or data.shape[1] != 3 * 32 * 32 or len(labels) != len(data):
            raise DataFormatError(f"cifar10: a {split} batch holds {data.shape} pixels for "
                                  f"{len(labels)} labels; expected (N, 3072) and N labels")
        if labels.size and (labels.min() < 0 or labels.max() > 9):
            raise DataFormatError(f"cifar10: label {labels.max()} is not a class 0..9")
        # each row: 1024 red, 1024 green, 1024 blue values, each a 32 x 32 image row by row
        out[split] = (data.reshape(-1, 3, 32, 32), labels)
        log(f"cifar10 {split}: {len(data)} images")
    return out


def _picture(file, crop: int, size: int) -> np.ndarray:
    """One JPEG -> uint8 (3, size, size): the central crop x crop square, resized (antialiased)."""
    from PIL import Image  # lazy: start-up time (Pillow is a dependency)
    with Image.open(file) as picture:
        width, height = picture.size
        if crop > min(width, height):
            raise DataFormatError(f"a {width}x{height} picture is smaller than the {crop} px crop")
        # JPEG: let the decoder scale by 1/2, 1/4, 1/8 while the crop stays >= size pixels
        picture.draft("RGB", (size * width // crop, size * height // crop))
        picture = picture.convert("RGB")
        side = round(crop * picture.width / width)          # the crop, at the decoded scale
        box = center_crop_box(picture.width, picture.height, side)
        picture = picture.crop(box).resize((size, size), Image.BICUBIC)
        return np.asarray(picture, dtype=np.uint8).transpose(2, 0, 1)        # (3, size, size)


def _decode_celeba(folder: Path, log):
    """{split: (uint8 (N, 3, 64, 64), zeros (N,))} from the zip and the official partition."""
    partition = {}
    for number, line in enumerate((folder / "list_eval_partition.txt").read_text().splitlines(), 1):
        parts = line.split()
        if not parts:
            continue
        if len(parts) != 2 or parts[1] not in ("0", "1", "2"):
            raise DataFormatError(f"{folder / 'list_eval_partition.txt'}:{number}: expected "
                                  f"'NAME.jpg 0|1|2', got {line!r}")
        partition[parts[0]] = ("train", "valid", "test")[int(parts[1])]
    pictures = {split: [] for split in SPLITS["celeba"]}
    with zipfile.ZipFile(folder / "img_align_celeba.zip") as archive:
        members = sorted((m for m in archive.namelist() if m.lower().endswith(".jpg")),
                         key=lambda m: Path(m).name)
        for k, member in enumerate(members):
            split = partition.get(Path(member).name)
            if split is None:
                raise DataFormatError(f"celeba: {member} is in no split of "
                                      "list_eval_partition.txt")
            with archive.open(member) as file:
                pictures[split].append(_picture(file, CROPS["celeba"], SIZES["celeba"]))
            if (k + 1) % 10000 == 0:
                log(f"celeba: {k + 1} of {len(members)} pictures decoded")
    if sum(map(len, pictures.values())) != len(partition):
        raise DataFormatError(f"celeba: the zip holds {len(members)} pictures, the partition "
                              f"lists {len(partition)}")
    return {split: (np.stack(p) if p else np.zeros((0, 3, 64, 64), np.uint8),
                    np.zeros(len(p), np.int64)) for split, p in pictures.items()}


def _people(path: Path) -> set[str]:
    """The names in an LFW people file: a count, then 'Name<TAB>images' lines."""
    names = set()
    for line in path.read_text().splitlines()[1:]:
        parts = line.split()
        if len(parts) == 2 and parts[1].isdigit():
            names.add(parts[0])
        elif parts:
            raise DataFormatError(f"{path}: expected 'Name<TAB>count' lines, got {line!r}")
    return names


def _decode_lfw(folder: Path, log):
    """{split: (uint8 (N, 3, 64, 64), zeros (N,))}: the pictures of the people of each split."""
    people = {"train": _people(folder / "peopleDevTrain.txt"),
              "test": _people(folder / "peopleDevTest.txt")}
    if people["train"] & people["test"]:
        raise DataFormatError("lfw: the people files share a name; the split must not")
    pictures = {"train": [], "test": []}
    with tarfile.open(folder / "lfw-deepfunneled.tgz", "r:gz") as archive:
        for member in archive:
            path = Path(member.name)
            if not (member.isfile() and path.suffix.lower() == ".jpg"):
                continue
            person = path.parent.name
            split = next((s for s, names in people.items() if person in names), None)
            if split is not None:
                picture = _picture(archive.extractfile(member), CROPS["lfw"], SIZES["lfw"])
                pictures[split].append((path.name, picture))
    out = {}
    for split, items in pictures.items():
        items.sort(key=lambda item: item[0])              # by file name: Person_0001.jpg ...
        images = np.stack([p for _, p in items]) if items else np.zeros((0, 3, 64, 64), np.uint8)
        out[split] = (images, np.zeros(len(items), np.int64))
        log(f"lfw {split}: {len(items)} pictures")
    return out


DECODERS = {"cifar10": _decode_cifar10, "celeba": _decode_celeba, "lfw": _decode_lfw}


def build_cache(name: str, root=None, log=None) -> Path:
    """Decode the (checksummed) archives of `name` into ROOT/NAME/arrays/ and return that folder.
    The archives must be there and verified (see `prepare`)."""
    log = log or (lambda line: None)
    folder = REMOTE_DATASETS[name].folder(root)
    target = arrays_folder(name, root)
    target.mkdir(parents=True, exist_ok=True)
    (target / MANIFEST).unlink(missing_ok=True)        # the old manifest goes first
    decoded = DECODERS[name](folder, log)
    manifest = {"dataset": name, "format": FORMAT, "size": SIZES[name],
                "num_classes": CLASSES[name], "splits": {}}
    for split, (images, labels) in decoded.items():
        entry = {}
        for kind, array in (("images", images), ("labels", labels)):
            path = target / f"{split}-{kind}.npy"
            with atomic_write(path, "wb") as f:
                np.save(f, np.ascontiguousarray(array), allow_pickle=False)
            entry[kind] = {"file": path.name, "shape": list(array.shape),
                           "dtype": str(array.dtype), "sha256": sha256_of(path)}
        manifest["splits"][split] = entry
    with atomic_write(target / MANIFEST) as f:
        json.dump(manifest, f, indent=1)
    log(f"{name}: arrays in {target}")
    return target


def prepare(name: str, root=None, download: bool = False, mirror=None, log=None, **fetch):
    """Make the arrays of `name` ready: decoded already, or decoded now from verified archives
    (downloaded first when `download`). FileNotFoundError naming the download command when the
    archives are missing and `download` is false."""
    if cache_ready(name, root):
        return arrays_folder(name, root)
    spec = REMOTE_DATASETS[name]
    if download:
        download_files(name, root=root, mirror=mirror, log=log, **fetch)
    else:
        bad = [f for f in spec.files if not verify_file(spec, f, root)]
        if bad:
            path = spec.folder(root) / bad[0].name
            state = "has the wrong checksum" if path.is_file() else "is missing"
            raise FileNotFoundError(f"{name}: {path} {state}; run `{download_hint(name, root)}` "
                                    "or pass download=True")
    return build_cache(name, root, log)


def _checked(name, root, manifest, entry, mmap):
    path = arrays_folder(name, root) / entry["file"]
    if not path.is_file():
        raise DataFormatError(f"{path}: missing; run `{download_hint(name, root)}` to decode "
                              "the arrays again")
    if sha256_of(path) != entry["sha256"]:
        raise DataFormatError(f"{path}: its SHA-256 is not the one in {MANIFEST} (a corrupt "
                              f"file); delete {path.parent} and run `{download_hint(name, root)}`")
    array = np.load(path, mmap_mode="r" if mmap else None, allow_pickle=False)
    if list(array.shape) != entry["shape"] or str(array.dtype) != entry["dtype"]:
        raise DataFormatError(f"{path}: holds {array.dtype} {array.shape}, the manifest says "
                              f"{entry['dtype']} {tuple(entry['shape'])}")
    return array


def load_colour(name: str, split: str = "train", root=None, download: bool = False,
                size: int | None = None, hflip: bool | None = None) -> ImageDataset:
    """One split of cifar10, celeba or lfw as an ImageDataset: uint8 (N, 3, S, S) on disk, served
    as float32 in [0, 1]. size: resize at load (from the stored 32 or 64 px; the array is then
    held in memory); hflip: mirrored copies (default: the train split of the face sets)."""
    if split not in SPLITS[name]:
        raise ValueError(f"{name}: unknown split {split!r}; expected one of "
                         f"{', '.join(SPLITS[name])}")
    prepare(name, root, download)
    manifest = _read_manifest(name, root)
    entry = manifest["splits"][split]
    images = _checked(name, root, manifest, entry["images"], mmap=True)
    labels = np.array(_checked(name, root, manifest, entry["labels"], mmap=False))
    if size is not None and int(size) != images.shape[-1]:
        if not 8 <= int(size) <= 256:
            raise ValueError(f"{name}: image size {size} is out of range; expected 8..256")
        images = resize_images(np.asarray(images), int(size))
    hflip = (split == "train" and HFLIP[name]) if hflip is None else bool(hflip)
    return ImageDataset(images, labels, hflip=hflip, num_classes=manifest["num_classes"])
