"""2-D toy densities: shapes, dtypes, determinism, and that each looks like its definition."""
import numpy as np
import pytest

from tinygen.data import TOY_DATASETS, load, make_toy


@pytest.mark.parametrize("name", TOY_DATASETS)
def test_shapes_dtypes_and_determinism(name):
    train, test = load(name), load(name, "test")
    x, y = (t.numpy() for t in train.tensors)
    assert x.shape == (10000, 2) and x.dtype == np.float32 and np.isfinite(x).all()
    assert y.shape == (10000,) and y.dtype == np.int64
    assert len(test) == 2000
    np.testing.assert_array_equal(load(name).tensors[0].numpy(), x)            # same seed
    assert not np.array_equal(test.tensors[0].numpy(), x[:2000])               # other split
    small = load(name, n=7, seed=42).tensors[0].numpy()
    np.testing.assert_array_equal(small, make_toy(name, 7, seed=42)[0])
    assert not np.array_equal(small, make_toy(name, 7, seed=43)[0])
    assert small.shape == (7, 2)


def test_eight_gaussians():
    x, y = make_toy("8gaussians", 8000, seed=0)
    assert set(np.unique(y)) == set(range(8))
    radius = np.linalg.norm(x, axis=1) * 1.414
    assert abs(np.median(radius) - 4) < 0.1
    for k in range(8):                                   # each component's std is 0.5 / 1.414
        assert abs(x[y == k].std(axis=0).mean() - 0.5 / 1.414) < 0.03


def test_checkerboard_cells():
    x, y = make_toy("checkerboard", 5000, seed=0)
    assert np.abs(x).max() <= 4
    column, row = np.floor(x[:, 0] / 2) + 2, np.floor(x[:, 1] / 2) + 2
    assert ((column + row) % 2 == 0).all()               # only the "black" squares
    assert set(np.unique(y)) == set(range(8))


def test_moons_circles_spirals():
    x, y = make_toy("circles", 4000, seed=0)
    radius = np.linalg.norm(x, axis=1)
    assert abs(np.median(radius[y == 0]) - 3) < 0.1 and abs(np.median(radius[y == 1]) - 1.5) < 0.1
    x, y = make_toy("moons", 4000, seed=0)
    assert abs(x[:, 0].mean()) < 0.2 and np.bincount(y).tolist() == [2000, 2000]
    x, y = make_toy("spirals", 4001, seed=0)
    assert np.bincount(y).tolist() == [2001, 2000] and np.abs(x).max() < 6
    assert abs(x.mean(axis=0)).max() < 0.1               # the two arms are point-symmetric


def test_aliases_and_errors():
    assert len(load("2spirals", n=5)) == 5
    with pytest.raises(ValueError, match="unknown split"):
        load("moons", "val")
    with pytest.raises(ValueError, match="positive integer"):
        make_toy("moons", 0, seed=0)
