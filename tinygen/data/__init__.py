"""tinygen.data: datasets, the DataLoader, checksummed downloads and the dataset cache.

    from tinygen.data import DataLoader, load
    train = load("mnist", split="train", root="~/data", download=True)   # TensorDataset
    for x, y in DataLoader(train, batch_size=128, shuffle=True, seed=0):
        ...                                  # x: (128, 1, 28, 28) float32, y: (128,) int64

Nothing is read, generated or downloaded at import; NumPy is the only third-party import.
"""
from .catalog import (
    DATASETS, DEFAULT_IMAGE_DATASET, DEFAULT_TEXT_DATASET, IMAGE_DATASETS, TEXT_DATASETS,
    TOY_DATASETS, UNLABELLED_DATASETS, canonical_name, load, status,
)
from .dataset import Dataset, ImageDataset, MissingExtraError, TensorDataset
from .download import ChecksumError, DownloadError, download, fetch_file, sha256_of
from .idx import DataFormatError, read_idx, write_idx
from .loader import DataLoader, default_collate
from .sampler import DistributedSampler, Sampler, SequentialSampler
from .sources import REMOTE_DATASETS, data_root
from .text import TextDataset, load_text, random_windows
from .toy import make_toy
from .transforms import resize_images

__all__ = [
    "Dataset", "TensorDataset", "ImageDataset", "TextDataset", "DataLoader", "default_collate",
    "Sampler", "SequentialSampler", "DistributedSampler",
    "load", "load_text", "make_toy", "random_windows", "download", "fetch_file", "sha256_of",
    "read_idx", "write_idx", "resize_images", "data_root", "canonical_name", "status",
    "DATASETS", "IMAGE_DATASETS", "TEXT_DATASETS", "TOY_DATASETS", "DEFAULT_IMAGE_DATASET",
    "DEFAULT_TEXT_DATASET", "REMOTE_DATASETS", "UNLABELLED_DATASETS",
    "DownloadError", "ChecksumError", "DataFormatError", "MissingExtraError",
]
