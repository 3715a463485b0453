"""Run by test_nccl_gpu.py under mpiexec -n 2 on a machine with two GPUs: backend 'nccl' with ranks
from MPI; all_reduce and DDP gradients on CUDA tensors against one process's (float64)."""
import numpy as np

import tinygen as tg
import tinygen.distributed as dist
import tinygen.nn as nn
import tinygen.nn.functional as F
from tinygen.nn.parallel import DistributedDataParallel as DDP

dist.init_process_group("nccl")
rank, size = dist.get_rank(), dist.get_world_size()
x = tg.tensor([float(rank + 1)] * 4, device=f"cuda:{rank}")
dist.all_reduce(x)
assert x.cpu().tolist() == [3.0] * 4, x
tg.manual_seed(0)
model = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 2)).double()
reference = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 2)).double()
reference.load_state_dict(model.state_dict())
model.to(f"cuda:{rank}")
rng = np.random.default_rng(0)
data, target = rng.standard_normal((4 * size, 4)), rng.standard_normal((4 * size, 2))
ddp = DDP(model)
F.mse_loss(ddp(tg.tensor(data[rank * 4:(rank + 1) * 4], device=f"cuda:{rank}")),
           tg.tensor(target[rank * 4:(rank + 1) * 4], device=f"cuda:{rank}")).backward()
F.mse_loss(reference(tg.tensor(data)), tg.tensor(target)).backward()
for p, q in zip(model.parameters(), reference.parameters()):
    np.testing.assert_allclose(p.grad.cpu().numpy(), q.grad.numpy(), rtol=1e-10, atol=1e-12)
print(f"rank {rank} OK", flush=True)
dist.destroy_process_group()
