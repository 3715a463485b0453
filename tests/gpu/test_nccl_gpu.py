"""tinygen.distributed over real NCCL (only where CuPy sees a GPU; tests/distributed/test_nccl.py
checks the same logic everywhere against a fake communicator). One GPU: a world of one rank
started from environment variables (its TCP rendezvous, NCCL's calls on its stream). Two GPUs or
more: two MPI ranks, CUDA tensors over NCCL, DDP gradients against one process."""
import importlib.util
import os
import socket
import subprocess
import sys

import numpy as np
import pytest

import tinygen as tg
import tinygen.distributed as dist
import tinygen.nn as nn
import tinygen.nn.functional as F
from tinygen.distributed import ReduceOp
from tinygen.distributed.utils import find_mpiexec, launch_command
from tinygen.nn.parallel import DistributedDataParallel as DDP

pytestmark = pytest.mark.gpu
HERE = os.path.dirname(os.path.abspath(__file__))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def nccl_world_of_one(monkeypatch):
    for var in ("PMI_RANK", "PMI_SIZE", "OMPI_COMM_WORLD_RANK", "PMIX_RANK"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("RANK", "0")
    monkeypatch.setenv("WORLD_SIZE", "1")
    monkeypatch.setenv("MASTER_ADDR", "127.0.0.1")
    monkeypatch.setenv("MASTER_PORT", str(free_port()))
    dist.init_process_group("nccl")
    yield
    dist.destroy_process_group()


def test_collectives_on_one_gpu(nccl_world_of_one):
    assert dist.get_backend() == "nccl" and dist.get_world_size() == 1
    x = tg.tensor([1.0, -2.0, 3.0], device="cuda")
    for op in (ReduceOp.SUM, ReduceOp.AVG, ReduceOp.MAX, ReduceOp.MIN):
        dist.all_reduce(x, op=op)
        np.testing.assert_array_equal(x.cpu().numpy(), [1.0, -2.0, 3.0])
    flags = tg.tensor([True, False], device="cuda")
    dist.all_reduce(flags)
    assert flags.cpu().tolist() == [True, False]
    dist.broadcast(x, 0)
    out = [tg.zeros(3, device="cuda")]
    dist.all_gather(out, x)
    np.testing.assert_array_equal(out[0].cpu().numpy(), x.cpu().numpy())
    y = x * 2
    work = dist.all_reduce(y, op=ReduceOp.AVG, async_op=True)
    assert work.wait() is True                         # the current stream now waits for NCCL
    np.testing.assert_array_equal(y.cpu().numpy(), [2.0, -4.0, 6.0])
    dist.barrier()
    with pytest.raises(RuntimeError, match="moves CUDA tensors only"):
        dist.all_reduce(tg.ones(2))


def test_ddp_on_one_gpu_keeps_the_gradients(nccl_world_of_one):
    tg.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 2)).to("cuda")
    reference = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 2)).to("cuda")
    reference.load_state_dict(model.state_dict())
    x = tg.randn(5, 4, device="cuda")
    F.mse_loss(DDP(model)(x), tg.zeros(5, 2, device="cuda")).backward()
    F.mse_loss(reference(x), tg.zeros(5, 2, device="cuda")).backward()
    for p, q in zip(model.parameters(), reference.parameters()):
        np.testing.assert_allclose(p.grad.cpu().numpy(), q.grad.cpu().numpy(), rtol=1e-6)


@pytest.mark.skipif(find_mpiexec() is None or importlib.util.find_spec("mpi4py") is None,
                    reason="needs mpi4py and mpiexec")
def test_two_ranks_on_two_gpus():
    if tg.cuda.device_count() < 2:
        pytest.skip("NCCL needs one GPU per rank: this machine has one")
    env = dict(os.environ, OMP_NUM_THREADS="1")
    script = os.path.join(HERE, "nccl_two_ranks.py")
    proc = subprocess.run(launch_command(2, [sys.executable, script]), env=env,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    assert proc.stdout.count("OK") == 2, proc.stdout
