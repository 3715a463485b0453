"""DistributedSampler's index arithmetic against PyTorch's, and DataLoader(sampler=...)."""
import numpy as np
import pytest

import tinygen as tg
from tinygen.data import DataLoader, DistributedSampler, SequentialSampler, TensorDataset

torch_sampler = pytest.importorskip("torch.utils.data.distributed")
CASES = [(n, k, drop_last) for n in (0, 1, 2, 3, 5, 10, 11, 12, 13, 31)
         for k in (1, 2, 3, 4, 5, 8) for drop_last in (False, True)]


@pytest.mark.parametrize("n,replicas,drop_last", CASES)
def test_unshuffled_indices_equal_pytorchs(n, replicas, drop_last):
    for rank in range(replicas):
        ours = DistributedSampler(range(n), replicas, rank, shuffle=False, drop_last=drop_last)
        theirs = torch_sampler.DistributedSampler(range(n), replicas, rank, shuffle=False,
                                                  drop_last=drop_last)
        assert list(ours) == list(theirs)
        assert len(ours) == len(theirs) == ours.num_samples
        assert ours.total_size == theirs.total_size


@pytest.mark.parametrize("n,replicas,drop_last", CASES[::3])
def test_shuffled_indices_are_pytorchs_arithmetic_on_our_permutation(n, replicas, drop_last):
    """PyTorch pads and slices the order list; with the identity order its output is positions
    into the order, so ours must be our permutation at PyTorch's positions."""
    for epoch in (0, 3):
        order = np.random.Generator(np.random.PCG64(7 + epoch)).permutation(n)
        for rank in range(replicas):
            ours = DistributedSampler(range(n), replicas, rank, seed=7, drop_last=drop_last)
            ours.set_epoch(epoch)
            positions = list(torch_sampler.DistributedSampler(range(n), replicas, rank,
                                                              shuffle=False, drop_last=drop_last))
            assert list(ours) == order[positions].tolist()


def test_bad_arguments():
    with pytest.raises(ValueError, match=r"invalid rank 3, rank should be in the interval "
                                         r"\[0, 2\]"):
        DistributedSampler(range(4), num_replicas=3, rank=3)
    with pytest.raises(ValueError, match="num_replicas must be a positive integer"):
        DistributedSampler(range(4), num_replicas=0, rank=0)


def _data(n=10):
    return TensorDataset(np.arange(n, dtype=np.float32)[:, None], np.arange(n, dtype=np.int64))


def test_loader_batches_the_samplers_indices_in_order():
    data = _data(11)
    sampler = DistributedSampler(data, num_replicas=3, rank=1, seed=2)
    loader = DataLoader(data, batch_size=2, sampler=sampler)
    assert len(loader) == 2                                   # ceil(4 / 2)
    ids = [y.tolist() for _, y in loader]
    assert sum(ids, []) == list(sampler)
    assert DataLoader(data, batch_size=3, sampler=sampler, drop_last=True).__len__() == 1


def test_loader_takes_any_sized_iterable_and_generic_datasets():
    data = _data(6)
    assert [y.tolist() for _, y in DataLoader(data, batch_size=4, sampler=[5, 0, 3])] == [[5, 0, 3]]
    seq = DataLoader(data, batch_size=4, sampler=SequentialSampler(data), collate_fn=None)
    assert [y.tolist() for _, y in seq] == [[0, 1, 2, 3], [4, 5]]


def test_sampler_and_shuffle_are_mutually_exclusive():
    with pytest.raises(ValueError, match="sampler option is mutually exclusive with shuffle"):
        DataLoader(_data(), batch_size=2, shuffle=True, sampler=[0, 1])


def test_set_epoch_changes_the_loaders_order_and_resume_continues_it():
    data = _data(20)
    sampler = DistributedSampler(data, num_replicas=2, rank=0, seed=1)
    loader = DataLoader(data, batch_size=3, sampler=sampler)
    first = [y.tolist() for _, y in loader]
    sampler.set_epoch(1)
    second = [y.tolist() for _, y in loader]
    assert first != second and sorted(sum(first, [])) != sum(first, [])
    it = iter(loader)
    next(it)
    state = loader.state_dict()
    resumed = DataLoader(data, batch_size=3, sampler=sampler)
    resumed.load_state_dict(state)
    assert [y.tolist() for _, y in resumed] == second[1:]
    assert tg.is_tensor(next(iter(loader))[0])
