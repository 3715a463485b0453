"""Character-level text datasets (tinyshakespeare, or any UTF-8 text file).

The vocabulary is the sorted set of characters of the whole file, shared by both splits, so ids
mean the same thing in train and validation. The split is nanoGPT's: the first 90% of the
characters are `train`, the last 10% are `val` (also reachable as `test`).

A `TextDataset` is a `TensorDataset` of one 1-D int64 tensor (sample i = the i-th character id),
which is not what a language model trains on. Two ways to get (x, y) pairs, with y = x shifted by
one character:
  - `ds.get_batch(batch_size, block_size, generator)`: random windows, nanoGPT's `get_batch`,
    for step-based training;
  - `ds.blocks(block_size)`: the split cut into non-overlapping windows, a `TensorDataset(x, y)`
    to feed a `DataLoader` (for example to evaluate on every character of the validation split).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..backend.random import generator as global_generator
from .dataset import TensorDataset, cpu_array, is_tensor, to_tensor

TRAIN_FRACTION = 0.9
SPLITS = ("train", "val", "test")    # "test" is the same held-out 10% as "val"


def random_windows(ids: np.ndarray, block_size: int, batch_size: int, rng: np.random.Generator):
    """`batch_size` random windows of `ids`: x, y int64 (batch_size, block_size), where y is x
    shifted by one (the next character). Pure NumPy; `TextDataset.get_batch` wraps it in Tensors."""
    if len(ids) <= block_size:
        raise ValueError(f"a text of {len(ids)} characters has no window of {block_size} + 1")
    starts = rng.integers(0, len(ids) - block_size, size=batch_size)         # (B,)
    offsets = starts[:, None] + np.arange(block_size)[None, :]              # (B, T)
    return ids[offsets], ids[offsets + 1]


class TextDataset(TensorDataset):
    """One split of a character-level text: `data` (int64 ids, (N,)) and its vocabulary.

        >>> ds = load("tinyshakespeare", split="train", root=ROOT)     # doctest: +SKIP
        >>> ds.decode(ds.encode("Hello")), ds.vocab_size
        ('Hello', 65)
        >>> x, y = ds.get_batch(batch_size=4, block_size=8)            # (4, 8) int64 each
    """

    def __init__(self, ids: np.ndarray, vocab: list[str], split: str = "train", source=None):
        super().__init__(np.asarray(ids, dtype=np.int64))
        self.vocab = list(vocab)
        self.stoi = {ch: i for i, ch in enumerate(self.vocab)}
        self.itos = dict(enumerate(self.vocab))
        self.split = split
        self.source = source

    @property
    def vocab_size(self) -> int:
        return len(self.vocab)

    @property
    def data(self):
        """The split's character ids as an int64 Tensor, shape (N,)."""
        return self.tensors[0]

    @property
    def ids(self) -> np.ndarray:
        """The same ids as a NumPy array (no copy)."""
        return self.arrays[0]

    def encode(self, text: str) -> list[int]:
        try:
            return [self.stoi[ch] for ch in text]
        except KeyError as e:
            raise ValueError(f"character {e.args[0]!r} is not in the vocabulary "
                             f"of {self.source}") from None

    def decode(self, ids) -> str:
        """ids: a list of ints, a NumPy array or a Tensor (any shape; read in row-major order)."""
        if is_tensor(ids):
            array = cpu_array(ids)
            ids = ids.cpu().numpy() if array is None else array
        return "".join(self.itos[int(i)] for i in np.asarray(ids).reshape(-1))

    def get_batch(self, batch_size: int, block_size: int, generator=None, device=None):
        """Random windows as Tensors: x, y int64 (batch_size, block_size), y = x shifted by one.
        generator: an np.random.Generator, an int seed, or None (tinygen's global CPU generator).
        device: where the batch goes (default the CPU); the windows are drawn on the CPU either
        way, so a seed gives the same batch on every device."""
        if generator is None:
            generator = global_generator("cpu")
        elif not isinstance(generator, np.random.Generator):
            generator = np.random.default_rng(generator)
        x, y = random_windows(self.ids, block_size, batch_size, generator)
        x, y = to_tensor(x), to_tensor(y)
        if device is not None:
            x, y = x.to(device), y.to(device)
        return x, y

    def blocks(self, block_size: int) -> TensorDataset:
        """The split as non-overlapping windows: TensorDataset(x, y), int64 (K, T) each, with
        K = (N - 1) // T. Window k is x = ids[k*T : k*T + T], y = ids[k*T + 1 : k*T + T + 1]; a
        tail too short for a window is dropped."""
        count = (len(self) - 1) // block_size
        if count < 1:
            raise ValueError(f"a text of {len(self)} characters has no window of {block_size} + 1")
        offsets = np.arange(count)[:, None] * block_size + np.arange(block_size)[None, :]  # (K, T)
        return TensorDataset(self.ids[offsets], self.ids[offsets + 1])

    def __repr__(self):
        return (f"TextDataset({self.source}, split={self.split!r}: {len(self)} characters, "
                f"vocab_size={self.vocab_size})")


def encode_text(text: str) -> tuple[np.ndarray, list[str]]:
    """All ids (int64, (len(text),)) and the sorted vocabulary, vectorised over code points."""
    codes = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)
    alphabet = np.unique(codes)                    # sorted code points = sorted(set(text))
    ids = np.searchsorted(alphabet, codes).astype(np.int64)
    return ids, [chr(c) for c in alphabet]


def load_text(path, split: str = "train") -> TextDataset:
    """A UTF-8 text file as a character-level TextDataset (90% train / 10% val = test)."""
    if split not in SPLITS:
        raise ValueError(f"text: unknown split {split!r}; expected one of {', '.join(SPLITS)}")
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise ValueError(f"{path}: not UTF-8 text ({e.reason} at byte {e.start})") from None
    if len(text) < 2:
        raise ValueError(f"{path}: too short for a text dataset ({len(text)} characters)")
    ids, vocab = encode_text(text)
    n_train = int(len(ids) * TRAIN_FRACTION)
    part = ids[:n_train] if split == "train" else ids[n_train:]
    return TextDataset(part, vocab, split=split, source=str(path))
