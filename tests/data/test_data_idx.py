"""The IDX parser on small files the tests write: good, wrong magic, wrong dims, truncated."""
import gzip

import numpy as np
import pytest

from tinygen.data import DataFormatError, load, read_idx, write_idx
from tinygen.data.idx import IMAGES_MAGIC, LABELS_MAGIC


def _images(n=5, seed=0):
    return np.random.default_rng(seed).integers(0, 256, size=(n, 28, 28), dtype=np.uint8)


def test_round_trip_gzip_and_raw(tmp_path):
    images = _images()
    for name in ("x-images-idx3-ubyte.gz", "x-images-idx3-ubyte"):
        path = write_idx(tmp_path / name, images)
        out = read_idx(path, IMAGES_MAGIC, (None, 28, 28))
        assert out.dtype == np.uint8 and out.shape == (5, 28, 28)
        np.testing.assert_array_equal(out, images)
        out[0, 0, 0] = 7                      # writable: not a view of an immutable buffer
    labels = np.arange(5, dtype=np.uint8)
    path = write_idx(tmp_path / "y-labels-idx1-ubyte.gz", labels)
    np.testing.assert_array_equal(read_idx(path, LABELS_MAGIC, (None,)), labels)


def test_wrong_magic_names_the_file(tmp_path):
    path = write_idx(tmp_path / "labels-as-images.gz", np.arange(10, dtype=np.uint8))
    with pytest.raises(DataFormatError, match=r"labels-as-images\.gz.*magic number 2049.*2051"):
        read_idx(path, IMAGES_MAGIC, (None, 28, 28))


def test_wrong_dims(tmp_path):
    path = write_idx(tmp_path / "small.gz", np.zeros((3, 8, 8), np.uint8))
    wanted = r"small\.gz: IDX dims \(3, 8, 8\), expected \(N, 28, 28\)"
    with pytest.raises(DataFormatError, match=wanted):
        read_idx(path, IMAGES_MAGIC, (None, 28, 28))


def test_truncated_payload_and_trailing_bytes(tmp_path):
    good = write_idx(tmp_path / "good", _images(), compress=False).read_bytes()
    short = tmp_path / "short-idx3-ubyte.gz"
    short.write_bytes(gzip.compress(good[:-100]))
    with pytest.raises(DataFormatError, match=r"short-idx3-ubyte\.gz: truncated"):
        read_idx(short, IMAGES_MAGIC, (None, 28, 28))
    long = tmp_path / "long.gz"
    long.write_bytes(gzip.compress(good + b"\0"))
    with pytest.raises(DataFormatError, match=r"long\.gz: has trailing bytes"):
        read_idx(long, IMAGES_MAGIC, (None, 28, 28))
    header_only = tmp_path / "header.gz"
    header_only.write_bytes(gzip.compress(good[:10]))
    with pytest.raises(DataFormatError, match=r"header\.gz: truncated IDX header"):
        read_idx(header_only, IMAGES_MAGIC, (None, 28, 28))


def test_truncated_gzip_and_not_gzip(tmp_path):
    blob = write_idx(tmp_path / "a.gz", _images()).read_bytes()
    cut = tmp_path / "cut.gz"
    cut.write_bytes(blob[: len(blob) // 2])
    with pytest.raises(DataFormatError, match=r"cut\.gz: corrupt or truncated gzip"):
        read_idx(cut, IMAGES_MAGIC, (None, 28, 28))
    plain = tmp_path / "plain.gz"
    plain.write_bytes(b"IDX? no")
    with pytest.raises(DataFormatError, match=r"plain\.gz: not a gzip file"):
        read_idx(plain, IMAGES_MAGIC, (None, 28, 28))


def _write_mnist_like(root, name="mnist", n_train=12, n_test=4):
    folder = root / name
    folder.mkdir(parents=True)
    rng = np.random.default_rng(1)
    arrays = {}
    for split, prefix, n in (("train", "train", n_train), ("test", "t10k", n_test)):
        images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
        labels = rng.integers(0, 10, size=n, dtype=np.uint8)
        write_idx(folder / f"{prefix}-images-idx3-ubyte.gz", images)
        write_idx(folder / f"{prefix}-labels-idx1-ubyte.gz", labels)
        arrays[split] = images, labels
    return arrays


@pytest.mark.parametrize("name", ["mnist", "fashion-mnist"])
def test_load_small_written_dataset(tmp_path, name):
    arrays = _write_mnist_like(tmp_path, name)
    for split in ("train", "test"):
        x, y = (t.numpy() for t in load(name, split, root=tmp_path).tensors)
        images, labels = arrays[split]
        assert x.shape == (len(images), 1, 28, 28) and x.dtype == np.float32
        assert y.dtype == np.int64
        np.testing.assert_array_equal(x[:, 0], images.astype(np.float32) / 255)
        np.testing.assert_array_equal(y, labels)


def test_load_mismatched_counts(tmp_path):
    _write_mnist_like(tmp_path)
    write_idx(tmp_path / "mnist" / "t10k-labels-idx1-ubyte.gz", np.zeros(3, np.uint8))
    with pytest.raises(DataFormatError, match="4 images but .*t10k-labels-idx1-ubyte.gz has 3"):
        load("mnist", "test", root=tmp_path)
