"""DistributedDataParallel: one model replica per process, gradients averaged over ranks.

    dist.init_process_group("mpi")                 # under mpiexec -n N
    model = DistributedDataParallel(Net())         # rank 0's weights and buffers on every rank
    loss = F.cross_entropy(model(x), y)            # x, y: this rank's share of the batch
    loss.backward()                                # .grad = the mean over ranks of their .grad
    opt.step()                                     # the same step on every rank

Every rank then holds the gradient of the mean loss over the global batch (for equal per-rank
batches and a loss that is a mean), so N ranks take the steps one process would take on the
concatenated batch. How the gradients travel (buckets, all-reduce during backward) is
tinygen/distributed/reducer.py.
"""
from __future__ import annotations

import contextlib

from ...autograd.grad_mode import is_grad_enabled
from ...distributed.collectives import broadcast_coalesced
from ...distributed.group import default_group
from ...distributed.reducer import Reducer, verify_same_parameters
from ..modules.module import Module


class DistributedDataParallel(Module):
    """Wraps `module` (torch.nn.parallel.DistributedDataParallel's signature).

    module: the model; reached as `.module`, and its state_dict keys get a `module.` prefix.
    broadcast_buffers: before each forward that records a graph, broadcast rank 0's buffers
        (BatchNorm's running statistics) to every rank, as PyTorch does by default.
    bucket_cap_mb: bucket size in MiB (default 25); the first bucket is 1 MiB.
    find_unused_parameters: allow parameters that a forward does not use (their gradient counts
        as zero on that rank; a parameter no rank used keeps .grad as it was); one forward per
        backward then, as in PyTorch.
    device_ids, output_device, dim, check_reduction, gradient_as_bucket_view, static_graph:
        accepted for PyTorch's signature; one device per process is all tinygen does.
    """

    def __init__(self, module, device_ids=None, output_device=None, dim=0, broadcast_buffers=True,
                 process_group=None, bucket_cap_mb=None, find_unused_parameters=False,
                 check_reduction=False, gradient_as_bucket_view=False, static_graph=False):
        super().__init__()
        if not isinstance(module, Module):
            raise TypeError(f"DistributedDataParallel: module must be a tinygen nn.Module, got "
                            f"{type(module).__name__}")
        group = default_group("DistributedDataParallel", process_group)
        named = [(n, p) for n, p in module.named_parameters() if p.requires_grad]
        if not named:
            raise RuntimeError("DistributedDataParallel: the module has no parameter that "
                               "requires grad; there is nothing to average")
        self.module = module
        self.broadcast_buffers = bool(broadcast_buffers)
        self.find_unused_parameters = bool(find_unused_parameters)
        self.require_backward_grad_sync = True
        self.bucket_cap_mb = 25 if bucket_cap_mb is None else float(bucket_cap_mb)
        names, params = [n for n, _ in named], [p for _, p in named]
        self.process_group = group
        verify_same_parameters(params, names, group)
        self._sync_module_states()
        self.reducer = Reducer(params, names, group, int(self.bucket_cap_mb * 1024 * 1024),
                               find_unused_parameters=self.find_unused_parameters)

    def forward(self, *inputs, **kwargs):
        sync = is_grad_enabled() and self.require_backward_grad_sync
        if is_grad_enabled() and self.broadcast_buffers and self.process_group.size > 1:
            self._sync_buffers()
        if sync:
            self.reducer.prepare_for_backward()
        output = self.module(*inputs, **kwargs)
        if sync and self.find_unused_parameters:
            self.reducer.mark_unused(output)
        return output

    @contextlib.contextmanager
    def no_sync(self):
        """Forwards inside this context arm no all-reduce: their backward passes accumulate
        gradients locally; the first synced backward after it averages the accumulated sum.

            with ddp.no_sync():
                for x in micro_batches[:-1]:
                    ddp(x).sum().backward()        # local accumulation, no communication
            ddp(micro_batches[-1]).sum().backward()   # all-reduce of the accumulated gradients
        """
        previous = self.require_backward_grad_sync
        self.require_backward_grad_sync = False
        try:
            yield
        finally:
            self.require_backward_grad_sync = previous

    def _sync_module_states(self):
        """Rank 0's parameters and buffers on every rank (at construction)."""
        broadcast_coalesced(list(self.module.parameters()) + list(self.module.buffers()), 0)

    def _sync_buffers(self):
        """Rank 0's buffers on every rank: one broadcast per dtype (BatchNorm's statistics and
        counters), each one point where the ranks wait for each other."""
        buffers = list(self.module.buffers())
        if buffers:
            broadcast_coalesced(buffers, 0)

    def extra_repr(self):
        return (f"world_size={self.process_group.size}, bucket_cap_mb={self.bucket_cap_mb:g}, "
                f"broadcast_buffers={self.broadcast_buffers}")
