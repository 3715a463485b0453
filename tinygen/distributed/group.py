"""The default process group: this process's rank, the world size, and who moves which arrays.

    import tinygen.distributed as dist
    dist.init_process_group("mpi")       # under `mpiexec -n 4 python train.py`
    dist.get_rank(), dist.get_world_size()   # 0..3, 4

Two backends, chosen per array by where it lives:
  - host arrays (cpu, test) go over MPI (mpi4py, COMM_WORLD): init_process_group("mpi"), ranks
    from mpiexec;
  - CuPy arrays go over NCCL, one GPU per process. With backend="mpi" the NCCL communicator is
    made on first use of a CUDA tensor (its unique id sent over MPI). With backend="nccl" it is
    made at once: ranks from MPI when launched by mpiexec (host tensors then go over MPI too), or
    from RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT (torchrun's variables; CUDA tensors only).

An uncaught exception on one rank of an MPI job would leave every other rank waiting forever in
its next collective; so init_process_group installs a sys.excepthook that prints the traceback
(with the rank) and calls MPI_Abort, which ends every process of the job.
"""
from __future__ import annotations

import importlib.util
import os
import sys
import time

import numpy as np

from ..backend.device import device_of
from .mpi import MpiBackend
from .nccl import create_nccl_backend
from .rendezvous import share_from_rank0

BACKENDS = ("mpi", "nccl")
INSTALL_HINT = "pip install 'tinygen[distributed]' (mpi4py and the MPICH wheels)"
# what launchers set: MPICH's hydra (PMI_*), Open MPI (OMPI_COMM_WORLD_*), PMIx
_MPI_LAUNCH_VARS = ("PMI_RANK", "PMI_SIZE", "OMPI_COMM_WORLD_RANK", "PMIX_RANK")
_LOCAL_RANK_VARS = ("LOCAL_RANK", "MPI_LOCALRANKID", "OMPI_COMM_WORLD_LOCAL_RANK")

ABORT_GRACE_SECONDS = 0.5          # for mpiexec to forward the failing rank's last output
_WORLD = None                      # the default ProcessGroup once initialised


class ProcessGroup:
    """The world of this job: rank, size, and the backend object for each kind of array."""

    def __init__(self, backend, rank, size, mpi=None, nccl=None, nccl_factory=None):
        self.backend, self.rank, self.size = backend, rank, size
        self.mpi, self.nccl, self._nccl_factory = mpi, nccl, nccl_factory
        self._previous_excepthook = None

    def backend_for(self, arr, name):
        """The backend that moves `arr`: NCCL for a CuPy array, MPI for a host array."""
        dev = device_of(arr)
        if dev.type == "cuda":
            if self.nccl is None:
                if self._nccl_factory is None:
                    raise RuntimeError(f"{name}: a tensor on {dev}, but this process group has no "
                                       "NCCL communicator")
                self.nccl = self._nccl_factory()
            if dev.index != self.nccl.device_index:
                raise RuntimeError(
                    f"{name}: the tensor is on {dev}, but rank {self.rank}'s NCCL communicator is "
                    f"on cuda:{self.nccl.device_index} (one GPU per process; set LOCAL_RANK or "
                    "init_process_group(device_id=...))")
            return self.nccl
        if self.mpi is None:
            raise RuntimeError(
                f"{name}: a tensor on {dev}, but backend 'nccl' started from environment "
                "variables moves CUDA tensors only; move it with .cuda(), or launch with mpiexec "
                "so that host tensors go over MPI")
        return self.mpi

    def progress(self):
        if self.mpi is not None:
            self.mpi.progress()

    @property
    def xp(self):
        """The array module for small arrays of bookkeeping (metrics, flags): numpy where MPI is
        there, cupy under NCCL alone."""
        return self.nccl.streams.cp if self.mpi is None else np

    def __repr__(self):
        return f"<ProcessGroup {self.backend} rank {self.rank} of {self.size}>"


# ---- asking about the world ----------------------------------------------------------------------
def is_available() -> bool:
    """True: tinygen.distributed is always importable (whether a backend is, is asked below)."""
    return True


def is_mpi_available() -> bool:
    return importlib.util.find_spec("mpi4py") is not None


def is_nccl_available() -> bool:
    return importlib.util.find_spec("cupy") is not None


def is_initialized() -> bool:
    return _WORLD is not None


def default_group(name="this call", group=None) -> ProcessGroup:
    """The initialised default group, or a clear error saying what to do."""
    if _WORLD is None:
        raise ValueError(f"{name}: the default process group has not been initialized; call "
                         "tinygen.distributed.init_process_group('mpi') first (and launch with "
                         "mpiexec -n N)")
    if group is not None and group is not _WORLD:
        raise ValueError(f"{name}: only the default process group (group=None) is supported, "
                         f"got {group!r}")
    return _WORLD


def get_rank(group=None) -> int:
    return default_group("get_rank", group).rank


def get_world_size(group=None) -> int:
    return default_group("get_world_size", group).size


def get_backend(group=None) -> str:
    return default_group("get_backend", group).backend


def launched_by_mpi() -> bool:
    """True when this process was started by mpiexec (its launcher's variables are set)."""
    return any(v in os.environ for v in _MPI_LAUNCH_VARS)


# ---- starting and ending -------------------------------------------------------------------------
def init_process_group(backend=None, init_method=None, timeout=None, world_size=-1, rank=-1,
                       store=None, group_name="", device_id=None):
    """Join the job's default process group (torch.distributed's signature).

    backend: "mpi" (the default) or "nccl". world_size and rank, when given, must agree with what
    the launcher says. init_method: "env://" (the default) or "tcp://HOST:PORT" for the NCCL
    rendezvous. timeout: seconds (or a timedelta) for that rendezvous. device_id: this rank's GPU
    (default: LOCAL_RANK, else the launcher's local rank, modulo the number of GPUs).
    Deviation from PyTorch: no gloo backend, no store, no subgroups.
    """
    global _WORLD
    if _WORLD is not None:
        raise RuntimeError("init_process_group: trying to initialize the default process group "
                           f"twice (it is {_WORLD!r}); call destroy_process_group() first")
    backend = "mpi" if backend is None else str(backend).lower()
    if backend not in BACKENDS:
        raise ValueError(f"init_process_group: unknown backend {backend!r}; tinygen has "
                         f"{', '.join(map(repr, BACKENDS))} (use 'mpi' where PyTorch uses gloo)")
    if store is not None:
        raise ValueError("init_process_group: store= is not supported; use init_method")
    seconds = _seconds(timeout)
    if backend == "nccl" and not (launched_by_mpi() and is_mpi_available()):
        group = _init_nccl_from_env(init_method, world_size, rank, device_id, seconds)
    else:
        group = _init_mpi(backend, world_size, rank, device_id)
        if group.size > 1:
            group._previous_excepthook = _abort_on_uncaught_exception(group)
    _WORLD = group
    return None


def destroy_process_group(group=None):
    """Leave the default group: free the NCCL communicator, restore sys.excepthook. MPI itself is
    finalised by mpi4py when the process exits."""
    global _WORLD
    world = default_group("destroy_process_group", group)
    if world.nccl is not None:
        world.nccl.destroy()
    if world._previous_excepthook is not None:
        sys.excepthook = world._previous_excepthook
    _WORLD = None


def abort(exit_code=1):
    """End every process of the job now (MPI_Abort): for a rank that cannot go on while the
    others may be waiting in a collective. Without MPI (NCCL from environment variables) only
    this process exits."""
    world = _WORLD
    sys.stdout.flush()
    sys.stderr.flush()
    if world is not None and world.mpi is not None:
        # MPI_Abort kills every process at once, the pipes mpiexec forwards output through
        # included: without a moment's grace the traceback just written is often lost
        time.sleep(ABORT_GRACE_SECONDS)
        world.mpi.comm.Abort(exit_code)
    os._exit(exit_code)


def _import_mpi(backend):
    try:
        from mpi4py import MPI  # lazy: mpi4py is optional (the `distributed` extra)
    except ImportError as e:
        raise RuntimeError(f"init_process_group(backend={backend!r}) needs mpi4py and an MPI "
                           f"library: {INSTALL_HINT}; then launch with "
                           f"mpiexec -n N python script.py ({e})") from None
    return MPI


def _init_mpi(backend, world_size, rank, device_id):
    MPI = _import_mpi(backend)
    mpi = MpiBackend(MPI.COMM_WORLD, MPI)
    for what, asked, actual in (("world_size", world_size, mpi.size), ("rank", rank, mpi.rank)):
        if asked is not None and asked >= 0 and asked != actual:
            raise ValueError(f"init_process_group: {what}={asked} was asked for, but MPI says "
                             f"{actual} (mpiexec -n decides the world size and the ranks)")
    local = _local_rank(device_id, mpi.rank)

    def factory():                 # NCCL's unique id travels over MPI
        return create_nccl_backend(mpi.rank, mpi.size, local, lambda data: _mpi_share(mpi, data))

    group = ProcessGroup(backend, mpi.rank, mpi.size, mpi=mpi, nccl_factory=factory)
    if backend == "nccl":
        group.nccl = factory()
    return group


def _init_nccl_from_env(init_method, world_size, rank, device_id, seconds):
    rank = _from_env(rank, "RANK")
    size = _from_env(world_size, "WORLD_SIZE")
    if not 0 <= rank < size:
        raise ValueError(f"init_process_group: rank {rank} is not in [0, {size}) "
                         f"(world_size {size})")
    addr, port = _master_address(init_method)

    def share(data):               # NCCL's unique id travels over TCP from rank 0
        return share_from_rank0(data, rank, size, addr, port, seconds)

    nccl = create_nccl_backend(rank, size, _local_rank(device_id, rank), share)
    return ProcessGroup("nccl", rank, size, nccl=nccl)


def _mpi_share(mpi, data):
    """Rank 0's bytes to every rank, over MPI (the length first, then the bytes)."""
    length = np.array([0 if data is None else len(data)], np.int64)
    mpi.broadcast(length, 0, "nccl id").wait()
    buf = np.frombuffer(bytearray(data) if data is not None else bytearray(int(length[0])),
                        np.uint8)
    mpi.broadcast(buf, 0, "nccl id").wait()
    return buf.tobytes()


def _from_env(value, var):
    if value is not None and value >= 0:
        return int(value)
    if var not in os.environ:
        raise ValueError(f"init_process_group(backend='nccl'): {var} is not set; launch with "
                         f"mpiexec (ranks from MPI) or set RANK, WORLD_SIZE, MASTER_ADDR and "
                         "MASTER_PORT for every process (as torchrun does)")
    return int(os.environ[var])


def _master_address(init_method):
    if init_method and init_method.startswith("tcp://"):
        host, _, port = init_method[len("tcp://"):].rpartition(":")
        return host, int(port)
    if init_method not in (None, "env://"):
        raise ValueError(f"init_process_group: init_method {init_method!r} is not supported; "
                         "use 'env://' or 'tcp://HOST:PORT'")
    if "MASTER_PORT" not in os.environ:
        raise ValueError("init_process_group(backend='nccl'): MASTER_PORT is not set (and "
                         "MASTER_ADDR, the host of rank 0); or pass init_method='tcp://HOST:PORT'")
    return os.environ.get("MASTER_ADDR", "127.0.0.1"), int(os.environ["MASTER_PORT"])


def _local_rank(device_id, rank):
    """This process's GPU index (before the modulo by the number of GPUs)."""
    if device_id is not None:
        return int(getattr(device_id, "index", device_id) or 0)
    for var in _LOCAL_RANK_VARS:
        if var in os.environ:
            return int(os.environ[var])
    return rank


def _seconds(timeout):
    if timeout is None:
        return 300.0
    return float(timeout.total_seconds() if hasattr(timeout, "total_seconds") else timeout)


def _abort_on_uncaught_exception(group):
    """sys.excepthook: print the traceback with this rank, then MPI_Abort the whole job."""
    previous = sys.excepthook

    def hook(kind, value, traceback):
        sys.stderr.write(f"tinygen.distributed: uncaught {kind.__name__} on rank {group.rank} of "
                         f"{group.size}; aborting every rank (MPI_Abort) so none waits forever\n")
        previous(kind, value, traceback)
        abort(1)

    sys.excepthook = hook
    return previous
