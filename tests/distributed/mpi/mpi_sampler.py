"""DistributedSampler and the workbench helpers inside a real process group (run under mpiexec)."""
import numpy as np
import pytest

import tinygen as tg
import tinygen.distributed as dist
from tinygen.data import DataLoader, DistributedSampler, TensorDataset

RANK, SIZE = dist.get_rank(), dist.get_world_size()


def gathered_indices(sampler):
    mine = np.fromiter(sampler, np.int64)
    out = [tg.zeros(len(mine), dtype=tg.int64) for _ in range(SIZE)]
    dist.all_gather(out, tg.tensor(mine))
    return np.stack([o.numpy() for o in out])                 # (world, num_samples)


@pytest.mark.parametrize("n", [1, 2, 7, 12, 13])
@pytest.mark.parametrize("drop_last", [False, True])
def test_ranks_share_one_epoch(n, drop_last):
    sampler = DistributedSampler(range(n), shuffle=True, seed=4, drop_last=drop_last)
    assert (sampler.num_replicas, sampler.rank) == (SIZE, RANK)
    every = gathered_indices(sampler)                         # same length on every rank
    if drop_last:
        assert every.size == n - n % SIZE
        assert len(set(every.ravel().tolist())) == every.size  # disjoint, nothing repeated
    else:
        assert set(every.ravel().tolist()) == set(range(n))    # everything, padded by repeats
        assert every.size == -(-n // SIZE) * SIZE


def test_every_rank_draws_the_same_permutation_and_epochs_differ():
    n = 20 * SIZE                                             # divides evenly: no padding
    sampler = DistributedSampler(range(n), seed=9)
    first = gathered_indices(sampler)
    sampler.set_epoch(1)
    second = gathered_indices(sampler)
    order0 = first.T.ravel()                                  # interleave back: the epoch order
    assert sorted(order0.tolist()) == list(range(n))
    assert order0.tolist() == np.random.Generator(np.random.PCG64(9)).permutation(n).tolist()
    assert not np.array_equal(first, second)


def test_loader_with_sampler_gives_this_ranks_batches():
    data = TensorDataset(tg.arange(11))
    sampler = DistributedSampler(data, shuffle=False)
    batches = [b[0].tolist() for b in DataLoader(data, batch_size=2, sampler=sampler)]
    expected = [i % 11 for i in range(RANK, -(-11 // SIZE) * SIZE, SIZE)]
    assert sum(batches, []) == expected


def test_average_metrics_and_main_process():
    out = dist.utils.average_metrics({"loss": float(RANK), "acc": 1.0})
    assert out == pytest.approx({"loss": (SIZE - 1) / 2, "acc": 1.0})
    weighted = dist.utils.average_metrics({"loss": float(RANK)}, count=RANK + 1)
    ranks = np.arange(SIZE)
    assert weighted["loss"] == pytest.approx((ranks * (ranks + 1)).sum() / (ranks + 1).sum())
    assert dist.utils.is_main_process() == (RANK == 0)
