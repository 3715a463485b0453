"""Image loaders: MNIST / Fashion-MNIST from ../shared/data, the offline `digits`, the errors."""
import gzip

import numpy as np
import pytest

import tinygen as tg
from tinygen.data import DEFAULT_IMAGE_DATASET, TensorDataset, load

MNIST_TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
MNIST_TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


def _raw_idx(path, header):
    return np.frombuffer(gzip.open(path).read(), dtype=np.uint8, offset=header)


@pytest.fixture(scope="module")
def mnist_train(mnist_root):
    return load("mnist", "train", root=mnist_root)


def test_mnist_train_shapes_values_and_counts(mnist_train, mnist_root):
    ds = mnist_train
    assert isinstance(ds, TensorDataset) and len(ds) == 60000
    x, y = ds.tensors
    assert isinstance(x, tg.Tensor) and isinstance(y, tg.Tensor)
    assert tuple(x.shape) == (60000, 1, 28, 28) and x.dtype == tg.float32
    assert tuple(y.shape) == (60000,) and y.dtype == tg.int64
    x, y = x.numpy(), y.numpy()
    assert x.min() == 0.0 and x.max() == 1.0
    raw = _raw_idx(mnist_root / "mnist" / "train-images-idx3-ubyte.gz", 16).reshape(60000, 28, 28)
    for i in (0, 1, 12345, 59999):
        np.testing.assert_array_equal(x[i, 0], raw[i].astype(np.float32) / 255)
    assert np.bincount(y, minlength=10).tolist() == MNIST_TRAIN_COUNTS


def test_mnist_test_split(mnist_root):
    x, y = (t.numpy() for t in load("mnist", "test", root=mnist_root).tensors)
    assert x.shape == (10000, 1, 28, 28)
    raw = _raw_idx(mnist_root / "mnist" / "t10k-images-idx3-ubyte.gz", 16).reshape(10000, 28, 28)
    np.testing.assert_array_equal(x[:, 0], raw.astype(np.float32) / 255)
    labels = _raw_idx(mnist_root / "mnist" / "t10k-labels-idx1-ubyte.gz", 8)
    np.testing.assert_array_equal(y, labels)
    assert np.bincount(y, minlength=10).tolist() == MNIST_TEST_COUNTS


def test_mnist_sample_indexing(mnist_train):
    x, y = mnist_train[7]
    assert tuple(x.shape) == (1, 28, 28) and tuple(y.shape) == ()
    assert int(y.item()) == int(mnist_train.tensors[1].numpy()[7])


def test_fashion_mnist_test_split(shared_data):
    if not (shared_data / "fashion-mnist" / "t10k-images-idx3-ubyte.gz").is_file():
        pytest.skip("fashion-mnist not in the shared data")
    x, y = (t.numpy() for t in load("fashion-mnist", "test", root=shared_data).tensors)
    assert x.shape == (10000, 1, 28, 28) and x.dtype == np.float32
    assert np.bincount(y).tolist() == [1000] * 10


def test_root_from_environment(mnist_root, monkeypatch):
    monkeypatch.setenv("TINYGEN_DATA", str(mnist_root))
    assert len(load("mnist", "test")) == 10000


def test_digits_is_the_offline_default():
    assert DEFAULT_IMAGE_DATASET == "digits"
    train = load("digits")                      # split="train" is the default
    assert len(train) == 1500 and len(load("digits", "test")) == 297
    x, y = (t.numpy() for t in train.tensors)
    assert x.shape == (1500, 1, 8, 8) and x.dtype == np.float32
    assert y.dtype == np.int64 and set(np.unique(y)) == set(range(10))
    assert x.min() == 0.0 and x.max() == 1.0
    # the first image is a zero in scikit-learn's file (pixel values / 16)
    assert y[0] == 0 and x[0, 0, 0, 2] == 5 / 16
    assert set(np.unique(x * 16)) <= set(range(17))


def test_digits_matches_scikit_learn():
    from sklearn.datasets import load_digits

    bunch = load_digits()
    x_test, y_test = (t.numpy() for t in load("digits", "test").tensors)
    np.testing.assert_array_equal(x_test[:, 0], (bunch.images[1500:] / 16).astype(np.float32))
    np.testing.assert_array_equal(y_test, bunch.target[1500:])


def test_missing_files_error_names_path_and_command(tmp_path):
    with pytest.raises(FileNotFoundError) as info:
        load("mnist", "train", root=tmp_path)
    message = str(info.value)
    assert str(tmp_path / "mnist" / "train-images-idx3-ubyte.gz") in message
    assert f"tinygen data download mnist --root {tmp_path}" in message


def test_unknown_name_and_split(tmp_path):
    with pytest.raises(ValueError, match="unknown dataset 'cifar100'.*mnist.*digits.*moons"):
        load("cifar100")
    with pytest.raises(ValueError, match="unknown split 'val'"):
        load("digits", "val")
    with pytest.raises(ValueError, match="only to the toy datasets"):
        load("digits", n=10)
    with pytest.raises(FileNotFoundError, match="no such text file"):
        load(str(tmp_path / "absent.txt"))
