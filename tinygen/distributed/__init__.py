"""tinygen.distributed: process groups and collectives over MPI (mpi4py) and NCCL (CuPy), in
torch.distributed's dialect.

    # mpiexec -n 2 python train.py
    import tinygen.distributed as dist
    from tinygen.nn.parallel import DistributedDataParallel as DDP
    from tinygen.data import DataLoader, DistributedSampler

    dist.init_process_group("mpi")
    model = DDP(model)                              # rank 0's weights everywhere
    sampler = DistributedSampler(dataset, seed=0)   # this rank's share of each epoch
    loader = DataLoader(dataset, batch_size=64, sampler=sampler)
    for epoch in range(epochs):
        sampler.set_epoch(epoch)
        for x, y in loader:
            loss = F.cross_entropy(model(x), y)
            opt.zero_grad()
            loss.backward()                         # gradients averaged over ranks
            opt.step()
    dist.destroy_process_group()

Importing this package needs neither mpi4py nor CuPy: they are imported by init_process_group
(`pip install 'tinygen[distributed]'` for MPI, `'tinygen[cuda]'` for NCCL).
"""
from .collectives import (
    all_gather, all_gather_into_tensor, all_gather_object, all_reduce, barrier, broadcast,
    broadcast_coalesced, reduce_scatter, reduce_scatter_tensor,
)
from .group import (
    ProcessGroup, abort, destroy_process_group, get_backend, get_rank, get_world_size,
    init_process_group, is_available, is_initialized, is_mpi_available, is_nccl_available,
    launched_by_mpi,
)
from . import utils
from .work import ReduceOp, Work

__all__ = [
    "init_process_group", "destroy_process_group", "is_available", "is_initialized",
    "is_mpi_available", "is_nccl_available", "launched_by_mpi", "get_rank", "get_world_size",
    "get_backend", "abort", "ProcessGroup", "ReduceOp", "Work", "all_reduce", "broadcast",
    "broadcast_coalesced",
    "all_gather", "all_gather_into_tensor", "all_gather_object", "reduce_scatter",
    "reduce_scatter_tensor", "barrier",
    "utils",
]
