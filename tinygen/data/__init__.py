"""tinygen.data: datasets, the DataLoader, checksummed downloads and the dataset cache.

    from tinygen.data import DataLoader, load
    train = load("mnist", split="train", root="~/data", download=True)   # TensorDataset
    for x, y in DataLoader(train, batch_size=128, shuffle=True, seed=0):
        ...                                  # x: (128, 1, 28, 28) float32, y: (128,) int64

torch.utils.data's API under its names and module paths (tinygen.data.dataset, .sampler,
.dataloader, .distributed): Subset, random_split, ConcatDataset, IterableDataset, ChainDataset,
StackDataset, RandomSampler, SubsetRandomSampler, WeightedRandomSampler, BatchSampler,
default_collate / default_convert, DataLoader with worker processes and get_worker_info().

Nothing is read, generated or downloaded at import; NumPy is the only third-party import.
"""
from .catalog import (
    DATASETS, DEFAULT_IMAGE_DATASET, DEFAULT_TEXT_DATASET, IMAGE_DATASETS, TEXT_DATASETS,
    TOY_DATASETS, UNLABELLED_DATASETS, canonical_name, load, status,
)
from .dataset import (
    ChainDataset, ConcatDataset, Dataset, ImageDataset, IterableDataset, MissingExtraError,
    StackDataset, Subset, TensorDataset, random_split,
)
from .download import ChecksumError, DownloadError, download, fetch_file, sha256_of
from .idx import DataFormatError, read_idx, write_idx
from .loader import DataLoader, default_collate, default_convert
from .sampler import (
    BatchSampler, DistributedSampler, RandomSampler, Sampler, SequentialSampler,
    SubsetRandomSampler, WeightedRandomSampler,
)
from .sources import REMOTE_DATASETS, data_root
from .text import TextDataset, load_text, random_windows
from .toy import make_toy
from .transforms import resize_images
from .worker import WorkerInfo, get_worker_info
from . import dataloader, distributed  # noqa: E402,F401  (PyTorch's module paths)

__all__ = [
    "Dataset", "TensorDataset", "ImageDataset", "TextDataset", "IterableDataset", "Subset",
    "ConcatDataset", "ChainDataset", "StackDataset", "random_split",
    "DataLoader", "default_collate", "default_convert", "get_worker_info", "WorkerInfo",
    "Sampler", "SequentialSampler", "RandomSampler", "SubsetRandomSampler",
    "WeightedRandomSampler", "BatchSampler", "DistributedSampler",
    "load", "load_text", "make_toy", "random_windows", "download", "fetch_file", "sha256_of",
    "read_idx", "write_idx", "resize_images", "data_root", "canonical_name", "status",
    "DATASETS", "IMAGE_DATASETS", "TEXT_DATASETS", "TOY_DATASETS", "DEFAULT_IMAGE_DATASET",
    "DEFAULT_TEXT_DATASET", "REMOTE_DATASETS", "UNLABELLED_DATASETS",
    "DownloadError", "ChecksumError", "DataFormatError", "MissingExtraError",
]
