"""DataLoader: length, drop_last, seeded shuffling, collation, prefetch, resume."""
import json
import threading
import time

import numpy as np
import pytest

import tinygen as tg
from tinygen.data import DataLoader, Dataset, TensorDataset, default_collate


def _dataset(n=10):
    x = np.arange(n * 3, dtype=np.float32).reshape(n, 3)
    y = np.arange(n, dtype=np.int64)
    return TensorDataset(x, y)


class Squares(Dataset):
    """A generic dataset: each sample a (Tensor, int, float) tuple, built in Python."""

    def __init__(self, n):
        self.n = n

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        return tg.from_numpy(np.full((2,), i, dtype=np.float32)), i, float(i * i)


def _ids(loader):
    return [b[-1].numpy().tolist() if isinstance(b[-1], tg.Tensor) else b for b in loader]


def _prefetch_threads():
    return [t for t in threading.enumerate() if t.name == "tinygen-data-prefetch"]


@pytest.mark.parametrize("n,batch_size,drop_last,expected", [
    (10, 3, False, [3, 3, 3, 1]), (10, 3, True, [3, 3, 3]), (9, 3, False, [3, 3, 3]),
    (9, 3, True, [3, 3, 3]), (2, 5, False, [2]), (2, 5, True, []),
])
def test_len_and_drop_last(n, batch_size, drop_last, expected):
    loader = DataLoader(_dataset(n), batch_size=batch_size, drop_last=drop_last)
    assert len(loader) == len(expected)
    assert [len(y.numpy()) for _, y in loader] == expected


def test_batches_are_tensors_in_order_and_copies():
    ds = _dataset(10)
    x, y = next(iter(DataLoader(ds, batch_size=4)))
    assert isinstance(x, tg.Tensor) and tuple(x.shape) == (4, 3) and x.dtype == tg.float32
    assert y.dtype == tg.int64 and y.numpy().tolist() == [0, 1, 2, 3]
    x.numpy()[:] = -1                                   # a batch never aliases the dataset
    assert ds.arrays[0][0, 0] == 0


def test_shuffle_covers_every_sample_once_and_epochs_differ():
    loader = DataLoader(_dataset(103), batch_size=10, shuffle=True, seed=3)
    epochs = [np.concatenate(_ids(loader)) for _ in range(3)]
    for order in epochs:
        assert sorted(order.tolist()) == list(range(103))
    assert not np.array_equal(epochs[0], epochs[1]) and not np.array_equal(epochs[1], epochs[2])
    assert not np.array_equal(epochs[0], np.arange(103))
    assert loader.epoch == 3


def test_shuffle_reproducible_with_seed():
    def run(seed):
        loader = DataLoader(_dataset(50), batch_size=7, shuffle=True, seed=seed)
        return [np.concatenate(_ids(loader)).tolist() for _ in range(2)]

    assert run(0) == run(0)
    assert run(0) != run(1)


def test_seed_none_follows_manual_seed():
    def first_epoch():
        return np.concatenate(_ids(DataLoader(_dataset(40), batch_size=8, shuffle=True))).tolist()

    tg.manual_seed(123)
    a = first_epoch()
    tg.manual_seed(123)
    assert first_epoch() == a


def test_generic_dataset_collates_fields():
    loader = DataLoader(Squares(5), batch_size=2)
    batches = list(loader)
    assert len(batches) == 3
    vectors, ints, floats = batches[0]
    assert tuple(vectors.shape) == (2, 2) and vectors.dtype == tg.float32
    assert ints.dtype == tg.int64 and ints.numpy().tolist() == [0, 1]
    assert floats.dtype == tg.float32 and floats.numpy().tolist() == [0.0, 1.0]
    assert batches[-1][1].numpy().tolist() == [4]


def test_default_collate_kinds():
    batch = default_collate([{"a": np.ones(2), "s": "x", "b": True},
                             {"a": np.zeros(2), "s": "y", "b": False}])
    assert tuple(batch["a"].shape) == (2, 2) and batch["s"] == ["x", "y"]
    assert batch["b"].numpy().tolist() == [True, False]
    assert isinstance(default_collate([[1, 2], [3, 4]]), list)
    with pytest.raises(TypeError, match="cannot batch"):
        default_collate([object(), object()])


def test_custom_collate_fn_and_generic_path_agree_with_fast_path():
    ds = _dataset(23)
    fast = list(DataLoader(ds, batch_size=5, shuffle=True, seed=1))
    slow = list(DataLoader(ds, batch_size=5, shuffle=True, seed=1, collate_fn=default_collate))
    for (xf, yf), (xs, ys) in zip(fast, slow, strict=True):
        np.testing.assert_array_equal(xf.numpy(), xs.numpy())
        np.testing.assert_array_equal(yf.numpy(), ys.numpy())
    lengths = DataLoader(ds, batch_size=5, collate_fn=len)
    assert list(lengths) == [5, 5, 5, 5, 3]


@pytest.mark.parametrize("shuffle", [False, True])
def test_prefetch_gives_the_same_batches(shuffle):
    ds = _dataset(37)
    plain = DataLoader(ds, batch_size=4, shuffle=shuffle, seed=9)
    ahead = DataLoader(ds, batch_size=4, shuffle=shuffle, seed=9, prefetch=True)
    for _ in range(2):
        a, b = list(plain), list(ahead)
        assert len(a) == len(b) == 10
        for (xa, ya), (xb, yb) in zip(a, b, strict=True):
            np.testing.assert_array_equal(xa.numpy(), xb.numpy())
            np.testing.assert_array_equal(ya.numpy(), yb.numpy())
    assert not _prefetch_threads()


def test_prefetch_stops_its_thread_when_iteration_stops_early():
    loader = DataLoader(Squares(1000), batch_size=2, prefetch=True)
    for i, _ in enumerate(loader):
        if i == 3:
            break
    deadline = time.monotonic() + 5
    while _prefetch_threads() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not _prefetch_threads()
    iterator = iter(loader)
    next(iterator)
    assert len(_prefetch_threads()) == 1
    iterator.close()
    assert not _prefetch_threads()


def test_prefetch_reraises_dataset_errors():
    class Broken(Squares):
        def __getitem__(self, i):
            if i == 5:
                raise KeyError("sample 5 is broken")
            return super().__getitem__(i)

    seen = []
    with pytest.raises(KeyError, match="sample 5 is broken"):
        for batch in DataLoader(Broken(10), batch_size=2, prefetch=True):
            seen.append(batch)
    assert len(seen) == 2 and not _prefetch_threads()


@pytest.mark.parametrize("prefetch", [False, True])
def test_state_dict_resume_between_epochs(prefetch):
    reference = DataLoader(_dataset(30), batch_size=4, shuffle=True, seed=5)
    orders = [_ids(reference) for _ in range(3)]
    first = DataLoader(_dataset(30), batch_size=4, shuffle=True, seed=5, prefetch=prefetch)
    assert _ids(first) == orders[0]
    state = json.loads(json.dumps(first.state_dict()))        # survives a JSON round trip
    assert state["epoch"] == 1 and state["batch"] == 0
    resumed = DataLoader(_dataset(30), batch_size=4, shuffle=True, seed=999, prefetch=prefetch)
    resumed.load_state_dict(state)
    assert _ids(resumed) == orders[1] and _ids(resumed) == orders[2]


def test_state_dict_resume_mid_epoch():
    reference = DataLoader(_dataset(30), batch_size=4, shuffle=True, seed=5)
    orders = [_ids(reference) for _ in range(2)]
    loader = DataLoader(_dataset(30), batch_size=4, shuffle=True, seed=5)
    iterator = iter(loader)
    taken = [next(iterator)[1].numpy().tolist() for _ in range(3)]
    assert taken == orders[0][:3]
    state = loader.state_dict()
    assert state["epoch"] == 0 and state["batch"] == 3
    resumed = DataLoader(_dataset(30), batch_size=4, shuffle=True)
    resumed.load_state_dict(state)
    assert resumed.state_dict() == state
    assert _ids(resumed) == orders[0][3:]
    assert _ids(resumed) == orders[1]


def test_device_argument_moves_each_tensor():
    x, y = next(iter(DataLoader(_dataset(6), batch_size=3, device="cpu")))
    assert str(x.device) == "cpu" and str(y.device) == "cpu"


def test_tensor_dataset_from_tensors_and_errors():
    x = tg.from_numpy(np.arange(12, dtype=np.float32).reshape(6, 2))
    ds = TensorDataset(x, np.arange(6))
    assert ds.tensors[0] is x and len(ds) == 6
    sample = ds[-1]
    assert sample[0].numpy().tolist() == [10.0, 11.0] and int(sample[1].item()) == 5
    with pytest.raises(IndexError):
        ds[6]
    with pytest.raises(ValueError, match="size mismatch"):
        TensorDataset(np.zeros(3), np.zeros(4))
    with pytest.raises(ValueError, match="batch_size"):
        DataLoader(ds, batch_size=0)
