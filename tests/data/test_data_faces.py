"""lfw-faces (scikit-image's 100 face crops, the `faces` extra), ImageDataset (uint8 storage,
mirrored copies) and resize_images."""
import sys

import numpy as np
import pytest

from tinygen.cli import main
from tinygen.data import ImageDataset, MissingExtraError, load, resize_images, status
from tinygen.data import faces


def _skimage_faces():
    data = pytest.importorskip("skimage.data", reason="the faces extra (scikit-image)")
    return np.asarray(data.lfw_subset())[:100]               # (100, 25, 25) in [0, 1]


def test_lfw_faces_splits_shapes_and_values():
    real = _skimage_faces()
    train, test = load("lfw-faces", "train"), load("lfw-faces", "test")
    assert len(train) == 180 and len(test) == 10              # 90 faces and their mirror images
    x, y = train.tensors
    x, y = x.numpy(), y.numpy()
    assert x.shape == (180, 1, 32, 32) and x.dtype == np.float32
    assert 0 <= x.min() and x.max() <= 1 and x.std() > 0.1
    assert y.dtype == np.int64 and (y == 0).all() and train.num_classes is None
    np.testing.assert_array_equal(x[90:], x[:90, :, :, ::-1])  # sample i + 90: i mirrored
    assert test.tensors[0].shape == (10, 1, 32, 32)
    # at the native 25 px the pixels are scikit-image's, in order: faces 0..89, then 90..99
    native = load("lfw-faces", "train", size=25, hflip=False).tensors[0].numpy()
    np.testing.assert_array_equal(native[:, 0], real[:90].astype(np.float32))
    native_test = load("lfw-faces", "test", size=25).tensors[0].numpy()
    np.testing.assert_array_equal(native_test[:, 0], real[90:].astype(np.float32))


@pytest.mark.parametrize("size", [28, 32, 64])
def test_lfw_faces_resized(size):
    _skimage_faces()
    x = load("lfw-faces", "test", size=size).tensors[0].numpy()
    assert x.shape == (10, 1, size, size) and 0 <= x.min() and x.max() <= 1
    native = load("lfw-faces", "test", size=25).tensors[0].numpy()
    assert abs(x.mean() - native.mean()) < 0.01                 # resizing keeps the brightness


def test_lfw_faces_bad_arguments():
    _skimage_faces()
    with pytest.raises(ValueError, match="lfw-faces: unknown split 'val'; expected one of train"):
        load("lfw-faces", "val")
    with pytest.raises(ValueError, match="lfw-faces: image size 4 is out of range"):
        load("lfw-faces", size=4)
    with pytest.raises(ValueError, match="size and hflip apply only to the image datasets"):
        load("moons", hflip=True)


def test_without_scikit_image_the_error_says_how_to_install(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(faces, "_subset_file", lambda: None)
    monkeypatch.setitem(sys.modules, "skimage", None)            # `import skimage` fails
    monkeypatch.setitem(sys.modules, "skimage.data", None)
    with pytest.raises(MissingExtraError, match=r"pip install 'tinygen\[faces\]'"):
        load("lfw-faces")
    assert main(["train", "dcgan", "--data", "lfw-faces", "--out", str(tmp_path / "r")]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "pip install 'tinygen[faces]'" in err
    monkeypatch.setattr(faces, "faces_available", lambda: False)
    monkeypatch.setattr("tinygen.data.catalog.faces_available", lambda: False)
    assert ("lfw-faces", "needs the faces extra: pip install 'tinygen[faces]'") in status()


def test_image_dataset_uint8_and_mirrors():
    images = np.arange(2 * 3 * 2 * 2, dtype=np.uint8).reshape(2, 3, 2, 2) * 10
    ds = ImageDataset(images, np.array([4, 7]), hflip=True, num_classes=8)
    assert len(ds) == 4
    x, y = (t.numpy() for t in ds.take(np.array([3, 0, -1])))
    assert x.dtype == np.float32 and y.tolist() == [7, 4, 7]
    np.testing.assert_allclose(x[1], images[0] / 255, rtol=1e-6)
    np.testing.assert_allclose(x[0], images[1, :, :, ::-1] / 255, rtol=1e-6)
    sample_x, sample_y = ds[2]
    assert tuple(sample_x.shape) == (3, 2, 2) and sample_y.item() == 4
    with pytest.raises(IndexError):
        ds[4]
    with pytest.raises(ValueError, match=r"expected labels \(2,\) for 2 images"):
        ImageDataset(images, np.zeros(3))
    with pytest.raises(ValueError, match="expected images .* of uint8 or float32, got float64"):
        ImageDataset(images.astype(np.float64), np.zeros(2))


def test_resize_images():
    rng = np.random.default_rng(0)
    x = rng.random((3, 2, 25, 25), dtype=np.float32)
    y = resize_images(x, 32)
    assert y.shape == (3, 2, 32, 32) and y.dtype == np.float32
    assert x.min() <= y.min() and y.max() <= x.max()          # bilinear: no overshoot
    assert resize_images(x, 25) is x
    u = rng.integers(0, 256, (2, 3, 40, 30), dtype=np.uint8)
    assert resize_images(u, 16).shape == (2, 3, 16, 16)
    flat = np.full((1, 3, 40, 40), 77, np.uint8)
    assert (resize_images(flat, 64) == 77).all()
    with pytest.raises(ValueError, match=r"expected \(N, C, H, W\) images"):
        resize_images(x[0], 8)


def test_a_shuffled_epoch_sees_every_image_both_ways():
    from tinygen.data import DataLoader
    images = np.random.default_rng(0).integers(0, 256, (7, 1, 3, 4), dtype=np.uint8)
    ds = ImageDataset(images, np.arange(7), hflip=True, num_classes=7)
    loader = DataLoader(ds, batch_size=3, shuffle=True, seed=0)
    x, y = (np.concatenate([t.numpy() for t in column]) for column in zip(*loader))
    assert len(x) == 14
    seen = sorted((int(label), (pixels * 255).round().astype(np.uint8).tobytes())
                  for label, pixels in zip(y, x))
    expected = sorted([(i, images[i].tobytes()) for i in range(7)]
                      + [(i, images[i][..., ::-1].tobytes()) for i in range(7)])
    assert seen == expected
    assert ds.take([-1])[1].numpy().tolist() == [6]            # the last: image 6 mirrored
    with pytest.raises(IndexError):
        ds.take(np.array([14]))
