"""torch.utils.data's names in tinygen.data, against PyTorch (skipped without torch).

Exact parity where PyTorch's algorithm is reproducible with NumPy: tg.Generator is PyTorch's
Mersenne Twister, so randperm, randint, RandomSampler, SubsetRandomSampler, random_split,
BatchSampler, WeightedRandomSampler with replacement and DataLoader(shuffle=True, generator=g)
give PyTorch's index sequences for the same seed. Not reproducible, so tested for structure and
distribution instead: WeightedRandomSampler without replacement (PyTorch's kernel draws
exponentials through its own vectorised path), and anything seeded from the global stream
(tinygen's is PCG64, PyTorch's is its own).
"""
from __future__ import annotations

import collections

import numpy as np
import pytest

import tinygen as tg
from tinygen.data import (
    BatchSampler, ChainDataset, ConcatDataset, DataLoader, Dataset, IterableDataset,
    RandomSampler, StackDataset, Subset, SubsetRandomSampler, TensorDataset,
    WeightedRandomSampler, default_collate, default_convert, random_split,
)

Point = collections.namedtuple("Point", "x y")


def _torch():
    return pytest.importorskip("torch")


def _lists(batches):
    return [b.tolist() if hasattr(b, "tolist") else b for b in batches]


# ---- the generator ------------------------------------------------------------------------------
@pytest.mark.parametrize("seed", [0, 1, 42, 2**40 + 7])
@pytest.mark.parametrize("n", [1, 2, 10, 1000])
def test_randperm_and_randint_with_a_generator_are_pytorchs(seed, n):
    torch = _torch()
    ours = tg.randperm(n, generator=tg.Generator().manual_seed(seed))
    theirs = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    assert ours.tolist() == theirs.tolist() and ours.dtype == tg.int64
    ours = tg.randint(3, 3 + n, (4, 5), generator=tg.Generator().manual_seed(seed))
    theirs = torch.randint(3, 3 + n, (4, 5), generator=torch.Generator().manual_seed(seed))
    assert ours.tolist() == theirs.tolist()


def test_generator_default_seed_state_and_errors():
    torch = _torch()
    assert tg.randperm(20, generator=tg.Generator()).tolist() == \
        torch.randperm(20, generator=torch.Generator()).tolist()
    g = tg.Generator().manual_seed(9)
    state = g.get_state()
    first = tg.randperm(30, generator=g).tolist()
    assert tg.randperm(30, generator=g.set_state(state)).tolist() == first
    assert g.initial_seed() == 9
    with pytest.raises(ValueError, match="device='cpu'"):
        tg.Generator("cuda")
    with pytest.raises(TypeError, match="int seed"):
        tg.Generator().manual_seed(1.5)


# ---- samplers -----------------------------------------------------------------------------------
@pytest.mark.parametrize("kwargs", [{}, {"replacement": True}, {"num_samples": 25},
                                    {"num_samples": 7}, {"replacement": True, "num_samples": 70}])
def test_random_sampler_is_pytorchs(kwargs):
    torch = _torch()
    from torch.utils import data as tud
    ours = RandomSampler(range(10), generator=tg.Generator().manual_seed(3), **kwargs)
    theirs = tud.RandomSampler(range(10), generator=torch.Generator().manual_seed(3), **kwargs)
    for _ in range(2):                                  # the generator carries on across epochs
        assert list(ours) == list(theirs)
    assert len(ours) == len(theirs)


def test_subset_and_weighted_samplers_are_pytorchs():
    torch = _torch()
    from torch.utils import data as tud
    ours = SubsetRandomSampler([5, 7, 9, 11, 13], generator=tg.Generator().manual_seed(1))
    theirs = tud.SubsetRandomSampler([5, 7, 9, 11, 13], generator=torch.Generator().manual_seed(1))
    assert [list(ours) for _ in range(3)] == [list(theirs) for _ in range(3)]
    weights = [0.1, 3.0, 0.0, 2.0, 5.5]
    for weights_as in (list, np.asarray, tg.tensor):
        ours = WeightedRandomSampler(weights_as(weights), 50,
                                     generator=tg.Generator().manual_seed(4))
        theirs = tud.WeightedRandomSampler(weights, 50, generator=torch.Generator().manual_seed(4))
        assert list(ours) == list(theirs) and len(ours) == 50


def test_weighted_sampler_without_replacement_structure_and_distribution():
    """Not PyTorch's draws (see the module docstring): each draw is a set of distinct indices
    with non-zero weight, and the first pick is i with probability w_i / sum(w)."""
    weights = np.array([1.0, 2.0, 0.0, 3.0, 4.0])
    sampler = WeightedRandomSampler(weights, 3, replacement=False,
                                    generator=tg.Generator().manual_seed(0))
    firsts = []
    for _ in range(4000):
        picks = list(sampler)
        assert len(set(picks)) == 3 and 2 not in picks
        firsts.append(picks[0])
    frequency = np.bincount(firsts, minlength=5) / len(firsts)
    np.testing.assert_allclose(frequency, weights / weights.sum(), atol=0.03)
    with pytest.raises(ValueError, match="without replacement"):
        WeightedRandomSampler(weights, 5, replacement=False)


def test_sampler_errors_name_what_was_expected():
    with pytest.raises(ValueError, match="num_samples should be a positive integer"):
        RandomSampler(range(3), num_samples=0)
    with pytest.raises(TypeError, match="replacement should be a boolean"):
        RandomSampler(range(3), replacement=1)
    with pytest.raises(ValueError, match="non-negative"):
        WeightedRandomSampler([1.0, -1.0], 2)
    with pytest.raises(ValueError, match="1-d"):
        WeightedRandomSampler([[1.0, 2.0]], 2)
    with pytest.raises(ValueError, match="batch_size should be a positive integer"):
        BatchSampler(range(3), 0, False)
    with pytest.raises(TypeError, match="tg.Generator"):
        list(RandomSampler(range(3), generator=np.random.default_rng(0)))


@pytest.mark.parametrize("drop_last", [False, True])
def test_batch_sampler_is_pytorchs(drop_last):
    torch = _torch()
    from torch.utils import data as tud
    ours = BatchSampler(range(10), 3, drop_last)
    theirs = tud.BatchSampler(range(10), 3, drop_last)
    assert list(ours) == list(theirs) and len(ours) == len(theirs)


def test_global_seed_makes_unseeded_samplers_reproducible():
    tg.manual_seed(5)
    a = list(RandomSampler(range(50)))
    tg.manual_seed(5)
    assert list(RandomSampler(range(50))) == a and sorted(a) == list(range(50))


# ---- datasets -----------------------------------------------------------------------------------
@pytest.mark.parametrize("lengths", [[3, 7], [0.3, 0.7], [0.25, 0.25, 0.5], [0.33, 0.33, 0.34]])
def test_random_split_is_pytorchs(lengths):
    torch = _torch()
    from torch.utils import data as tud
    ours = random_split(range(10), lengths, generator=tg.Generator().manual_seed(2))
    theirs = tud.random_split(range(10), lengths, generator=torch.Generator().manual_seed(2))
    assert [list(s.indices) for s in ours] == [list(s.indices) for s in theirs]
    assert [s.dataset for s in ours] == [range(10)] * len(lengths)
    with pytest.raises(ValueError, match="does not equal the length"):
        random_split(range(10), [3, 3])
    with pytest.raises(ValueError, match="between 0 and 1"):
        random_split(range(10), [1.5, -0.5])


def test_concat_subset_chain_stack_are_pytorchs():
    torch = _torch()
    from torch.utils import data as tud
    a, b = list(range(3)), [10, 11]
    ours, theirs = ConcatDataset([a, b, a]), tud.ConcatDataset([a, b, a])
    assert [ours[i] for i in range(-8, 8)] == [theirs[i] for i in range(-8, 8)]
    assert ours.cumulative_sizes == theirs.cumulative_sizes == [3, 5, 8]
    with pytest.raises(IndexError):
        ours[8]
    subset = Subset(b + a, [4, 0])
    assert [subset[0], subset[1], subset[[1, 0]], len(subset)] == [2, 10, [10, 2], 2]
    stacked = StackDataset([1, 2], ["x", "y"])
    assert stacked[1] == tud.StackDataset([1, 2], ["x", "y"])[1] == (2, "y")
    assert StackDataset(image=[1, 2], text=["x", "y"])[0] == {"image": 1, "text": "x"}
    with pytest.raises(ValueError, match="size mismatch"):
        StackDataset([1], [1, 2])

    class Count(IterableDataset):
        def __init__(self, n):
            self.n = n

        def __iter__(self):
            return iter(range(self.n))

        def __len__(self):
            return self.n

    chain = Count(2) + Count(3)
    assert isinstance(chain, ChainDataset) and list(chain) == [0, 1, 0, 1, 2] and len(chain) == 5
    with pytest.raises(TypeError, match="does not support IterableDataset"):
        ConcatDataset([Count(2)])
    assert isinstance(TensorDataset(np.zeros(2)) + TensorDataset(np.ones(3)), ConcatDataset)


# ---- collation ----------------------------------------------------------------------------------
def _as_plain(value):
    """Tensors (ours or torch's) as (dtype name, nested lists); containers kept."""
    if hasattr(value, "tolist") and hasattr(value, "dtype"):
        return (str(value.dtype).split(".")[-1], value.tolist())
    if isinstance(value, dict):
        return {k: _as_plain(v) for k, v in value.items()}
    if isinstance(value, tuple) and hasattr(value, "_fields"):
        return (type(value).__name__,) + tuple(_as_plain(v) for v in value)
    if isinstance(value, (list, tuple)):
        return type(value)(_as_plain(v) for v in value)
    return value


COLLATE_CASES = {
    "tuples": [(np.ones(2, np.float32), 1), (np.zeros(2, np.float32), 2)],
    "dicts": [{"a": np.int32(1), "s": "x", "b": True}, {"a": np.int32(2), "s": "y", "b": False}],
    "namedtuples": [Point(1, np.array([1.5])), Point(2, np.array([2.5]))],
    "nested lists": [[[1, 2], (3, "u")], [[4, 5], (6, "v")]],
    "numpy scalars": [np.float64(1.0), np.float64(2.0)],
    "uint8 arrays": [np.arange(4, dtype=np.uint8).reshape(2, 2)] * 3,
    "strings": ["ab", "cd"],
}


@pytest.mark.parametrize("case", list(COLLATE_CASES))
def test_default_collate_is_pytorchs(case):
    torch = _torch()
    from torch.utils.data import default_collate as torch_collate
    samples = COLLATE_CASES[case]
    assert _as_plain(default_collate(samples)) == _as_plain(torch_collate(samples))


def test_default_collate_floats_are_float32_on_purpose():
    """PyTorch collates Python floats to float64; tinygen keeps its float32 default."""
    batch = default_collate([1.5, 2.5])
    assert batch.dtype == tg.float32 and batch.tolist() == [1.5, 2.5]


@pytest.mark.parametrize("case", list(COLLATE_CASES))
def test_default_convert_is_pytorchs(case):
    torch = _torch()
    from torch.utils.data import default_convert as torch_convert
    for sample in COLLATE_CASES[case]:
        assert _as_plain(default_convert(sample)) == _as_plain(torch_convert(sample))


def test_collate_errors_say_what_was_expected():
    with pytest.raises(RuntimeError, match="one shape"):
        default_collate([np.zeros(2), np.zeros(3)])
    with pytest.raises(RuntimeError, match="equal size"):
        default_collate([[1, 2], [3]])
    with pytest.raises(TypeError, match="tensors, numpy arrays, numbers, dicts or lists"):
        default_collate([np.array(["a"]), np.array(["b"])])
    with pytest.raises(TypeError, match="non-empty list"):
        default_collate([])


# ---- DataLoader ---------------------------------------------------------------------------------
def test_loader_with_a_generator_shuffles_as_pytorch_epoch_after_epoch():
    torch = _torch()
    from torch.utils import data as tud
    ours = DataLoader(list(range(23)), batch_size=5, shuffle=True,
                      generator=tg.Generator().manual_seed(5))
    theirs = tud.DataLoader(list(range(23)), batch_size=5, shuffle=True,
                            generator=torch.Generator().manual_seed(5))
    for _ in range(3):
        assert _lists(ours) == _lists(theirs)
    assert isinstance(ours.sampler, RandomSampler) and isinstance(ours.batch_sampler, BatchSampler)


def test_loader_batch_sampler_sampler_and_no_batching_are_pytorchs():
    torch = _torch()
    from torch.utils import data as tud
    data = [(i, float(i) / 2) for i in range(7)]
    batch_sampler = [[0, 1], [6, 2, 3], [4]]
    ours = DataLoader(data, batch_sampler=batch_sampler)
    theirs = tud.DataLoader(data, batch_sampler=batch_sampler)
    assert len(ours) == 3
    assert [[x.tolist() for x in b] for b in ours] == [[x.tolist() for x in b] for b in theirs]
    sampler = [6, 5, 0, 1, 2]
    assert _lists(x for x, _ in DataLoader(data, sampler=sampler, batch_size=2, drop_last=True)) \
        == _lists(x for x, _ in tud.DataLoader(data, sampler=sampler, batch_size=2,
                                                drop_last=True))
    unbatched = list(DataLoader([np.float32(1), np.float32(2)], batch_size=None))
    assert [b.tolist() for b in unbatched] == [1.0, 2.0] and isinstance(unbatched[0], tg.Tensor)
    assert list(DataLoader(data, batch_size=3, collate_fn=len)) == [3, 3, 1]


def test_loader_argument_errors_are_pytorchs_messages():
    data = list(range(4))
    with pytest.raises(ValueError, match="batch_sampler option is mutually exclusive"):
        DataLoader(data, batch_size=2, batch_sampler=[[0]])
    with pytest.raises(ValueError, match="mutually exclusive with drop_last"):
        DataLoader(data, batch_size=None, drop_last=True)
    with pytest.raises(ValueError, match="num_workers option should be"):
        DataLoader(data, num_workers=-1)
    with pytest.raises(ValueError, match="persistent_workers option needs num_workers > 0"):
        DataLoader(data, persistent_workers=True)
    with pytest.raises(ValueError, match="prefetch_factor option could only be specified"):
        DataLoader(data, prefetch_factor=2)
    with pytest.raises(TypeError, match="sampler must be an iterable of indices"):
        DataLoader(data, 2, False, 3)                # not a sampler


def test_the_first_rounds_positional_form_still_works():
    """API.md's DataLoader(dataset, batch_size, shuffle, drop_last, seed): a bool in sampler's
    place is drop_last, an int after it the seed."""
    data = TensorDataset(tg.arange(10))
    loader = DataLoader(data, 4, True, True, 123)
    assert loader.drop_last and loader.seed == 123 and loader.sampler is not None
    first = [b[0].tolist() for b in loader]
    assert [len(b) for b in first] == [4, 4] and first != [[0, 1, 2, 3], [4, 5, 6, 7]]
    assert first == [b[0].tolist() for b in DataLoader(data, 4, True, True, 123)]   # the seed
    assert [len(b[0]) for b in DataLoader(data, 4, False, False)] == [4, 4, 2]


class Stream(IterableDataset):
    """0..n-1, split between workers by get_worker_info(), as PyTorch's docs show."""

    def __init__(self, n):
        self.n = n

    def __iter__(self):
        info = tg.data.get_worker_info()
        start, step = (0, 1) if info is None else (info.id, info.num_workers)
        return iter(range(start, self.n, step))


def test_iterable_dataset_in_the_loader():
    assert _lists(DataLoader(Stream(10), batch_size=4)) == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    assert _lists(DataLoader(Stream(10), batch_size=4, drop_last=True)) == [[0, 1, 2, 3],
                                                                             [4, 5, 6, 7]]
    assert list(DataLoader(Stream(3), batch_size=None)) == [0, 1, 2]     # ints stay ints
    with pytest.raises(ValueError, match="expected unspecified shuffle"):
        DataLoader(Stream(3), shuffle=True)
    with pytest.raises(ValueError, match="expected unspecified sampler"):
        DataLoader(Stream(3), sampler=[0])
    with pytest.raises(TypeError, match="without a length"):
        len(DataLoader(Stream(3)))


# ---- worker processes ---------------------------------------------------------------------------
class WhoMadeMe(Dataset):
    """Sample i: (i, this process's id, the worker's id, a draw from tinygen's global stream)."""

    def __len__(self):
        return 12

    def __getitem__(self, i):
        info = tg.data.get_worker_info()
        import os
        return i, os.getpid(), -1 if info is None else info.id, float(tg.rand(1).item())


def test_workers_give_the_same_batches_in_order():
    data = TensorDataset(np.arange(40, dtype=np.float32).reshape(20, 2), np.arange(20))
    serial = list(DataLoader(data, batch_size=3, shuffle=True, seed=4))
    parallel = list(DataLoader(data, batch_size=3, shuffle=True, seed=4, num_workers=2))
    assert [y.tolist() for _, y in serial] == [y.tolist() for _, y in parallel]
    assert _lists(DataLoader(Stream(10), batch_size=3, num_workers=2)) == \
        [[0, 2, 4], [1, 3, 5], [6, 8], [7, 9]]            # PyTorch's round-robin order


def test_worker_ids_seeds_and_init_fn():
    calls = []
    tg.manual_seed(0)
    loader = DataLoader(WhoMadeMe(), batch_size=2, num_workers=3,
                        worker_init_fn=lambda worker_id: calls.append(worker_id))
    batches = list(loader)
    index, pids, workers, draws = (sum((b[k].tolist() for b in batches), []) for k in range(4))
    assert index == list(range(12)) and workers == [0, 0, 1, 1, 2, 2] * 2
    assert len(set(pids)) == 3 and calls == []          # init_fn ran in the workers, not here
    assert len(set(draws)) == 12                        # each worker has its own stream
    tg.manual_seed(0)
    again = list(DataLoader(WhoMadeMe(), batch_size=2, num_workers=3))
    assert sum((b[3].tolist() for b in again), []) == draws     # and a seeded run repeats


def test_workers_leave_the_global_stream_alone_and_reseed_each_epoch():
    loader = DataLoader(WhoMadeMe(), batch_size=6, num_workers=2, seed=1)
    state = tg.get_rng_state()
    first = sum((b[3].tolist() for b in loader), [])
    assert tg.get_rng_state() == state
    second = sum((b[3].tolist() for b in loader), [])
    assert first != second
    assert sum((b[3].tolist() for b in DataLoader(WhoMadeMe(), batch_size=6, num_workers=2,
                                                   seed=1)), []) == first


def test_worker_init_fn_sees_worker_info():
    def init(worker_id):
        info = tg.data.get_worker_info()
        assert info.id == worker_id and info.num_workers == 2
        info.dataset.offset = 100 * (worker_id + 1)

    class Offset(Dataset):
        offset = 0

        def __len__(self):
            return 4

        def __getitem__(self, i):
            return i + self.offset

    batches = _lists(DataLoader(Offset(), batch_size=1, num_workers=2, worker_init_fn=init))
    assert batches == [[100], [201], [102], [203]]
    assert tg.data.get_worker_info() is None


def test_persistent_workers_live_across_epochs():
    loader = DataLoader(WhoMadeMe(), batch_size=4, num_workers=2, persistent_workers=True)
    first = {p for b in loader for p in b[1].tolist()}
    second = {p for b in loader for p in b[1].tolist()}
    assert first == second and len(first) == 2
    fresh = DataLoader(WhoMadeMe(), batch_size=4, num_workers=2)
    assert {p for b in fresh for p in b[1].tolist()}.isdisjoint(first)
    iterable = DataLoader(Stream(6), batch_size=2, num_workers=2, persistent_workers=True)
    assert _lists(iterable) == _lists(iterable) == [[0, 2], [1, 3], [4], [5]]


def test_worker_errors_reraise_with_the_worker_and_traceback():
    class Broken(Dataset):
        def __len__(self):
            return 6

        def __getitem__(self, i):
            if i == 4:
                raise KeyError("sample 4 is broken")
            return i

    with pytest.raises(KeyError, match="(?s)in DataLoader worker process 0.*sample 4 is broken") \
            as caught:
        list(DataLoader(Broken(), batch_size=2, num_workers=2))
    assert "\nOriginal Traceback" in str(caught.value)   # lines, not KeyError's quoted repr

    class Dies(Broken):
        def __getitem__(self, i):
            import os
            os._exit(3)

    with pytest.raises(RuntimeError, match="exited unexpectedly with exit code 3"):
        list(DataLoader(Dies(), batch_size=2, num_workers=1))


def test_spawned_workers():
    data = TensorDataset(np.arange(10, dtype=np.float32))
    loader = DataLoader(data, batch_size=4, num_workers=1, multiprocessing_context="spawn")
    assert [x.tolist() for (x,) in loader] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]


def test_pytorch_module_paths():
    from tinygen.data.dataloader import DataLoader as PathDataLoader
    from tinygen.data.dataloader import default_collate as path_collate
    from tinygen.data.dataset import ConcatDataset as PathConcat
    from tinygen.data.distributed import DistributedSampler
    from tinygen.data.sampler import RandomSampler as PathRandomSampler
    assert PathDataLoader is DataLoader and path_collate is default_collate
    assert PathConcat is ConcatDataset and PathRandomSampler is RandomSampler
    assert DistributedSampler is tg.data.DistributedSampler


# ---- found by a review against PyTorch ---------------------------------------------------------
class _Stream(IterableDataset):
    def __iter__(self):
        return iter(range(5))


def test_a_stream_starts_anew_for_every_iterator_as_torch():
    """num_workers=0: the second epoch read nothing (the fetcher kept the first epoch's spent
    iterator), and two iterators at once shared one stream."""
    torch = _torch()
    ours, theirs = DataLoader(_Stream(), batch_size=2), torch.utils.data.DataLoader(
        type("S", (torch.utils.data.IterableDataset,), {"__iter__": _Stream.__iter__})(),
        batch_size=2)
    assert [[b.tolist() for b in ours] for _ in range(2)] == \
        [[b.tolist() for b in theirs] for _ in range(2)]
    a, b = iter(ours), iter(ours)
    assert next(a).tolist() == next(b).tolist() == [0, 1]
    assert "of ?" in repr(DataLoader(_Stream()))          # no length: repr still works


@pytest.mark.parametrize("samples", [[{"y": 0}, {"y": 0.7}], [1, 2.5], [True, 2], [True, 0.5],
                                     [False, True], [3, 4]])
def test_default_collate_promotes_python_numbers_over_the_batch(samples):
    """As torch.tensor(batch) (a float in the batch makes it float: tinygen's float32)."""
    torch = _torch()
    ours, theirs = default_collate(samples), torch.utils.data.default_collate(samples)
    if isinstance(ours, dict):
        ours, theirs = ours["y"], theirs["y"]
    np.testing.assert_allclose(ours.numpy().astype(np.float64), theirs.numpy(), rtol=1e-7)
    kind = {"b": "bool", "i": "int64", "f": "float32"}[theirs.numpy().dtype.kind]
    assert ours.dtype.name == kind


def test_default_collate_keeps_numpy_strings_and_tensor_dataset_subclasses_own_getitem():
    assert default_collate([np.str_("a"), np.str_("b")]) == ["a", "b"]

    class Scaled(TensorDataset):
        def __getitem__(self, i):
            (x,) = super().__getitem__(i)
            return (x * 10,)
    (batch,) = next(iter(DataLoader(Scaled(tg.tensor([1.0, 2.0, 3.0])), batch_size=3)))
    assert batch.tolist() == [10.0, 20.0, 30.0]
