"""The last rank raises while the others wait in a collective that can never complete: the
excepthook that init_process_group installs must end the whole job (MPI_Abort), not hang it."""
import sys

import tinygen as tg
import tinygen.distributed as dist

dist.init_process_group("mpi")
rank, size = dist.get_rank(), dist.get_world_size()
dist.barrier()
print(f"rank {rank} of {size} ready", flush=True)
if rank == size - 1:
    raise ValueError(f"deliberate failure on rank {rank}")
dist.all_reduce(tg.ones(3))                 # waits forever for the last rank, unless aborted
print(f"rank {rank} got past the all_reduce: the job was not aborted", flush=True)
sys.exit(0)
