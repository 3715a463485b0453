"""DistributedDataParallel against one process on the concatenated batch (run under mpiexec).

Every rank builds the same reference model and the same global batches (seeded), runs the
reference on the whole global batch in-process, and DDP on its own slice; in float64 the two must
agree to 1e-10."""
import numpy as np
import pytest

import tinygen as tg
import tinygen.distributed as dist
import tinygen.nn as nn
import tinygen.nn.functional as F
from tinygen.data import DataLoader, DistributedSampler, TensorDataset
from tinygen.nn.parallel import DistributedDataParallel as DDP

RANK, SIZE = dist.get_rank(), dist.get_world_size()
TOL = dict(rtol=1e-10, atol=1e-12)


class Net(nn.Module):
    """Conv, norm-free MLP head: several parameter shapes, a few buckets when the cap is small."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(2, 4, 3, padding=1)
        self.fc1 = nn.Linear(4 * 5 * 5, 16)
        self.fc2 = nn.Linear(16, 3)

    def forward(self, x):                                   # (N, 2, 5, 5) -> (N, 3)
        h = F.relu(self.conv(x)).flatten(1)
        return self.fc2(F.gelu(self.fc1(h)))


def build(seed, cls=Net):
    tg.manual_seed(seed)
    return cls().double()


def global_batch(step, n_per_rank=4):
    rng = np.random.default_rng([7, step])
    x = rng.standard_normal((n_per_rank * SIZE, 2, 5, 5))
    y = rng.integers(0, 3, n_per_rank * SIZE)
    return tg.tensor(x), tg.tensor(y)


def local(t, n_per_rank=4):
    return t[RANK * n_per_rank:(RANK + 1) * n_per_rank]


def params_of(model):
    return [p.numpy().copy() for p in model.parameters()]


def gather(values):
    """values (float64 array) from every rank: (world, *shape)."""
    out = [tg.zeros(values.shape, dtype=tg.float64) for _ in range(SIZE)]
    dist.all_gather(out, tg.tensor(np.ascontiguousarray(values, dtype=np.float64)))
    return np.stack([o.numpy() for o in out])


def test_construction_broadcasts_rank0_parameters():
    model = build(seed=100 + RANK)                          # a different start on every rank
    rank0 = params_of(build(seed=100))
    DDP(model)
    for p, q in zip(params_of(model), rank0):
        np.testing.assert_array_equal(p, q)


@pytest.mark.parametrize("bucket_cap_mb", [25, 1e-5])
def test_gradients_equal_single_process_on_concatenated_batch(bucket_cap_mb):
    reference, model = build(0), build(RANK)             # DDP makes every rank rank 0's
    ddp = DDP(model, bucket_cap_mb=bucket_cap_mb)
    if bucket_cap_mb < 1:
        assert len(ddp.reducer.buckets) == 6                # one per parameter: 6 all-reduces
    x, y = global_batch(0)
    F.cross_entropy(reference(x), y).backward()
    F.cross_entropy(ddp(local(x)), local(y)).backward()
    for (name, p), q in zip(model.named_parameters(), reference.parameters()):
        np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), **TOL, err_msg=name)


def test_twenty_steps_equal_twenty_single_process_steps():
    reference, model = build(0), build(0)
    ddp = DDP(model, bucket_cap_mb=0.001)
    opt_ref = tg.optim.Adam(reference.parameters(), lr=1e-2)
    opt = tg.optim.Adam(ddp.parameters(), lr=1e-2)
    for step in range(20):
        x, y = global_batch(step)
        opt_ref.zero_grad()
        F.cross_entropy(reference(x), y).backward()
        opt_ref.step()
        opt.zero_grad()
        F.cross_entropy(ddp(local(x)), local(y)).backward()
        opt.step()
    assert ddp.reducer.stats["syncs"] == 20
    for p, q in zip(params_of(model), params_of(reference)):
        np.testing.assert_allclose(p, q, **TOL)
    moved = max(float(np.abs(p - q).max()) for p, q in zip(params_of(model), params_of(build(0))))
    assert moved > 1e-2                                     # the test trained something


def test_uneven_dataset_with_distributed_sampler_equals_single_process():
    """A dataset that does not divide by the world size: the sampler pads, every rank runs the
    same number of steps (no rank waits for a missing all-reduce), and the steps are those of
    one process on the concatenated per-rank batches."""
    n, batch = 6 * SIZE + 1, 4
    rng = np.random.default_rng(3)
    data = TensorDataset(tg.tensor(rng.standard_normal((n, 2, 5, 5))),
                         tg.tensor(rng.integers(0, 3, n)))
    reference, model = build(0), build(0)
    ddp = DDP(model)
    opt_ref = tg.optim.SGD(reference.parameters(), lr=0.1, momentum=0.9)
    opt = tg.optim.SGD(ddp.parameters(), lr=0.1, momentum=0.9)
    samplers = [DistributedSampler(data, SIZE, r, shuffle=True, seed=5) for r in range(SIZE)]
    mine = DistributedSampler(data, shuffle=True, seed=5)           # rank, size from the group
    loader = DataLoader(data, batch_size=batch, sampler=mine)
    steps = 0
    for epoch in range(2):
        mine.set_epoch(epoch)
        per_rank = []
        for s in samplers:
            s.set_epoch(epoch)
            per_rank.append(np.fromiter(s, np.int64))
        for b, (x, y) in enumerate(loader):
            opt.zero_grad()
            F.cross_entropy(ddp(x), y).backward()
            opt.step()
            idx = np.concatenate([order[b * batch:(b + 1) * batch] for order in per_rank])
            xr, yr = data.take(idx)
            opt_ref.zero_grad()
            F.cross_entropy(reference(xr), yr).backward()
            opt_ref.step()
            steps += 1
    assert steps == 2 * len(loader) == 2 * -(-mine.num_samples // batch)
    np.testing.assert_array_equal(gather(np.array([steps], np.float64))[:, 0], steps)
    for p, q in zip(params_of(model), params_of(reference)):
        np.testing.assert_allclose(p, q, **TOL)


def test_no_sync_accumulates_locally_then_averages_the_sum():
    reference, model = build(0), build(0)
    local_only = build(0)
    ddp = DDP(model)
    batches = [global_batch(step) for step in range(3)]
    for x, y in batches:                        # gradient of the sum of the three global means
        F.cross_entropy(reference(x), y).backward()
    with ddp.no_sync():
        for x, y in batches[:2]:
            F.cross_entropy(ddp(local(x)), local(y)).backward()
            F.cross_entropy(local_only(local(x)), local(y)).backward()
    assert ddp.reducer.stats["syncs"] == 0      # no communication inside no_sync
    for p, q in zip(model.parameters(), local_only.parameters()):
        np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), **TOL)   # this rank's own
    if SIZE > 1:
        spread = gather(next(model.parameters()).grad.numpy().ravel()).std(0).max()
        assert spread > 1e-6                    # ranks really differ before the synced step
    x, y = batches[2]
    F.cross_entropy(ddp(local(x)), local(y)).backward()
    assert ddp.reducer.stats["syncs"] == 1
    for p, q in zip(model.parameters(), reference.parameters()):
        np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), **TOL)


class BNNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(3, 4)
        self.bn = nn.BatchNorm1d(4)

    def forward(self, x):
        return self.bn(self.fc(x))


@pytest.mark.parametrize("broadcast_buffers", [True, False])
def test_batchnorm_buffers_come_from_rank0_at_each_forward(broadcast_buffers):
    model = build(0, BNNet)
    ddp = DDP(model, broadcast_buffers=broadcast_buffers)
    seen = []
    model.bn.register_forward_pre_hook(
        lambda module, args: seen.append(module.running_mean.numpy().copy()))
    x = tg.tensor(np.random.default_rng(RANK).standard_normal((6, 3)))
    for _ in range(2):
        with tg.no_grad():
            model.bn.running_mean.fill_(float(RANK + 1))      # the ranks drift apart...
        ddp(x).sum().backward()
    expected = 1.0 if broadcast_buffers else float(RANK + 1)  # ...until rank 0's are broadcast
    for values in seen:
        np.testing.assert_array_equal(values, np.full(4, expected))
    assert int(model.bn.num_batches_tracked.item()) == 2


def test_construction_broadcasts_buffers():
    model = build(0, BNNet)
    with tg.no_grad():
        model.bn.running_var.fill_(float(RANK + 3))
    DDP(model)
    np.testing.assert_array_equal(model.bn.running_var.numpy(), np.full(4, 3.0))


def test_state_dict_has_module_prefix_and_loads_back():
    model = build(0, BNNet)
    ddp = DDP(model)
    assert list(ddp.state_dict()) == ["module." + k for k in model.state_dict()]
    other = DDP(build(1, BNNet))
    other.load_state_dict(ddp.state_dict())
    for (k, a), b in zip(ddp.state_dict().items(), other.state_dict().values()):
        np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=k)
    assert ddp.module is model


class TwoHeads(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Linear(3, 4)
        self.head_a = nn.Linear(4, 1)
        self.head_b = nn.Linear(4, 1)
        self.spare = nn.Linear(4, 1)          # never used by any rank

    def forward(self, x, use_b):
        h = self.body(x).tanh()
        return (self.head_b if use_b else self.head_a)(h)


def test_find_unused_parameters_averages_what_some_ranks_used():
    reference, model = build(0, TwoHeads), build(0, TwoHeads)
    ddp = DDP(model, find_unused_parameters=True, bucket_cap_mb=0.0001)
    x = global_batch(0)[0].reshape(SIZE * 4, -1)[:, :3]
    ddp(local(x), use_b=RANK == 0).sum().backward()       # head_b on rank 0 only
    for r in range(SIZE):                                   # reference: the mean over ranks
        (reference(local_rows(x, r), use_b=r == 0).sum() / SIZE).backward()
    for name in ("body.weight", "head_a.weight", "head_b.bias"):
        a, b = model.get_parameter(name).grad, reference.get_parameter(name).grad
        if SIZE == 1 and name.startswith("head_a"):
            assert a is None
            continue
        np.testing.assert_allclose(a.numpy(), b.numpy(), **TOL, err_msg=name)
    assert model.spare.weight.grad is None                  # no rank used it: left alone


def local_rows(x, r, n=4):
    return x[r * n:(r + 1) * n]


def test_unused_parameter_without_the_flag_is_a_clear_error():
    ddp = DDP(build(0, TwoHeads), bucket_cap_mb=0.0001)
    x = tg.ones(2, 3, dtype=tg.float64)
    ddp(x, use_b=False).sum().backward()                   # head_b and spare get nothing
    with pytest.raises(RuntimeError, match=r"No gradient reached: .*head_b\.(weight|bias).*"
                                           r"find_unused_parameters=True"):
        ddp(x, use_b=False)


def test_models_that_differ_across_ranks_are_refused_on_every_rank():
    class Odd(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(3, 4 if RANK == 0 else 5)

    if SIZE == 1:
        pytest.skip("needs two ranks")
    with pytest.raises(RuntimeError, match=r"differs across ranks \(rank 0: 2 parameters, 16 "
                                           r"values; rank 1: 2 parameters, 20 values"):
        DDP(Odd())


def test_forward_without_grad_communicates_nothing():
    """Rank 0 alone evaluating through the wrapper (no_grad) must not start a collective."""
    ddp = DDP(build(0, BNNet))
    if RANK == 0:
        with tg.no_grad():
            ddp.eval()
            ddp(tg.ones(2, 3, dtype=tg.float64))
            ddp.train()
    dist.barrier()


def test_gan_two_wrapped_models_equal_single_process():
    """DCGAN's pattern: D runs twice before one backward, and the G step's backward passes through
    D (D's hooks fire there too): five alternating steps, each equal to one process's."""
    def make(seed):
        tg.manual_seed(seed)
        return (nn.Sequential(nn.Linear(2, 8), nn.ReLU(), nn.Linear(8, 3)).double(),
                nn.Sequential(nn.Linear(3, 8), nn.LeakyReLU(0.2), nn.Linear(8, 1)).double())

    (g_ref, d_ref), (g, d) = make(0), make(0)
    g_ddp, d_ddp = DDP(g), DDP(d)
    opts = [tg.optim.Adam(m.parameters(), lr=1e-2) for m in (g_ref, d_ref, g, d)]
    for step in range(5):
        rng = np.random.default_rng([11, step])
        z = tg.tensor(rng.standard_normal((4 * SIZE, 2)))
        real = tg.tensor(rng.random((4 * SIZE, 3)))
        _gan_step(g_ref, d_ref, opts[0], opts[1], z, real)
        _gan_step(g_ddp, d_ddp, opts[2], opts[3], local(z), local(real))
    for p, q in zip(params_of(g) + params_of(d), params_of(g_ref) + params_of(d_ref)):
        np.testing.assert_allclose(p, q, **TOL)


def _gan_step(generator, discriminator, opt_g, opt_d, z, real):
    fake = generator(z)
    ones, zeros = tg.ones(real.shape[0], 1, dtype=tg.float64), tg.zeros(real.shape[0], 1,
                                                                      dtype=tg.float64)
    loss_d = (F.binary_cross_entropy_with_logits(discriminator(real), ones)
              + F.binary_cross_entropy_with_logits(discriminator(fake.detach()), zeros))
    opt_d.zero_grad()
    loss_d.backward()
    opt_d.step()
    loss_g = F.binary_cross_entropy_with_logits(discriminator(fake), ones)
    opt_g.zero_grad()
    loss_g.backward()
    opt_g.step()
