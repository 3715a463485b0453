"""tinygen.distributed in one process, without starting MPI: importing without mpi4py, the errors
before initialisation, ReduceOp rules, Work, and the launch helpers."""
import subprocess
import sys

import numpy as np
import pytest

import tinygen as tg
import tinygen.distributed as dist
import tinygen.nn as nn
from tinygen.data import DistributedSampler
from tinygen.distributed import ReduceOp
from tinygen.distributed.work import Work, check_reduce_op
from tinygen.nn.parallel import DistributedDataParallel

WITHOUT_MPI4PY = """
import sys
sys.modules["mpi4py"] = None                  # as if mpi4py were not installed
import tinygen.distributed as dist
import tinygen.nn.parallel
from tinygen.data import DistributedSampler
try:
    dist.init_process_group("mpi")
except RuntimeError as e:
    print("ERROR:", e)
print("initialized:", dist.is_initialized())
"""


def test_import_works_without_mpi4py_and_init_says_what_to_install():
    out = subprocess.run([sys.executable, "-c", WITHOUT_MPI4PY], capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "pip install 'tinygen[distributed]'" in out.stdout
    assert "init_process_group(backend='mpi') needs mpi4py" in out.stdout
    assert "initialized: False" in out.stdout


def test_importing_tinygen_does_not_import_mpi4py():
    code = "import tinygen, tinygen.nn, tinygen.distributed, sys; print('mpi4py' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.stdout.strip() == "False", out.stderr


def test_everything_before_init_process_group_is_a_clear_error():
    assert not dist.is_initialized() and dist.is_available()
    for call in (dist.get_rank, dist.get_world_size, dist.barrier,
                 lambda: dist.all_reduce(tg.ones(2))):
        with pytest.raises(ValueError, match="init_process_group"):
            call()
    with pytest.raises(ValueError, match="not been initialized"):
        DistributedDataParallel(nn.Linear(2, 2))
    with pytest.raises(ValueError, match="pass num_replicas= and rank="):
        DistributedSampler(range(4))


def test_unknown_backend_and_twice_the_same_rank_are_refused_before_mpi_starts():
    with pytest.raises(ValueError, match="unknown backend 'gloo'.*'mpi'"):
        dist.init_process_group("gloo")
    with pytest.raises(ValueError, match="store= is not supported"):
        dist.init_process_group("mpi", store=object())


def test_nccl_from_environment_names_what_is_missing(monkeypatch):
    for var in ("RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT", "PMI_RANK", "PMI_SIZE",
                "OMPI_COMM_WORLD_RANK", "PMIX_RANK"):
        monkeypatch.delenv(var, raising=False)
    with pytest.raises(ValueError, match="RANK is not set"):
        dist.init_process_group("nccl")
    monkeypatch.setenv("RANK", "2")
    monkeypatch.setenv("WORLD_SIZE", "2")
    with pytest.raises(ValueError, match=r"rank 2 is not in \[0, 2\)"):
        dist.init_process_group("nccl")
    monkeypatch.setenv("RANK", "0")
    with pytest.raises(ValueError, match="MASTER_PORT is not set"):
        dist.init_process_group("nccl")
    with pytest.raises(ValueError, match="init_method 'file:///x' is not supported"):
        dist.init_process_group("nccl", init_method="file:///x")
    assert not dist.is_initialized()


def test_utils_without_a_process_group_are_one_process():
    assert dist.utils.is_main_process()
    assert dist.utils.average_metrics({"loss": np.float32(1.5), "n": 3}) == {"loss": 1.5, "n": 3.0}


def test_launch_command_uses_the_environments_mpiexec():
    if dist.utils.find_mpiexec() is None:
        with pytest.raises(RuntimeError, match="tinygen\\[distributed\\]"):
            dist.utils.launch_command(2, ["python"])
        return
    argv = dist.utils.launch_command(2, ["python", "train.py"])
    assert argv[1:] == ["-n", "2", "python", "train.py"] and argv[0].endswith("mpiexec")
    with pytest.raises(ValueError, match="positive integer"):
        dist.utils.launch_command(0, ["python"])


# ---- ReduceOp and Work -----------------------------------------------------------------------
def test_reduce_op_rules():
    f32, i64, b = np.dtype("float32"), np.dtype("int64"), np.dtype("bool")
    assert check_reduce_op(ReduceOp.AVG, f32, "x") is ReduceOp.AVG
    assert check_reduce_op(ReduceOp.SUM, b, "x") is ReduceOp.MAX          # or
    assert check_reduce_op(ReduceOp.PRODUCT, b, "x") is ReduceOp.MIN      # and
    with pytest.raises(TypeError, match="all_reduce: ReduceOp.AVG needs a floating-point .*int64"):
        check_reduce_op(ReduceOp.AVG, i64, "all_reduce")
    with pytest.raises(TypeError, match="ReduceOp.AVG is not defined for a bool"):
        check_reduce_op(ReduceOp.AVG, b, "x")
    with pytest.raises(TypeError, match="must be a tinygen.distributed.ReduceOp"):
        check_reduce_op("sum", f32, "x")
    assert repr(ReduceOp.SUM) == "ReduceOp.SUM"


def test_work_runs_finish_steps_once_in_order():
    log, done = [], [False]
    work = Work("op", wait=lambda: log.append("wait"), test=lambda: done[0],
                finish=lambda: log.append("finish"))
    work.then(lambda: log.append("then"))
    assert not work.is_completed()
    done[0] = True
    assert work.is_completed()
    assert work.wait() is True and work.wait() is True
    assert log == ["finish", "then"]                    # completed by the test: wait not needed
    late = []
    work.then(lambda: late.append(1))                   # added after completion: runs at once
    assert late == [1]
