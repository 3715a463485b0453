"""The MPI suite: these files (mpi_*.py, not collected by a plain `pytest`) run under
`mpiexec -n N python -m pytest ...`, started by tests/distributed/test_mpi.py. Every rank runs the
same tests in the same order, so their collectives match.

The process group is initialised once per run. A test that fails on one rank while the others go
on would leave them waiting forever in their next collective, so a failure prints its report with
the rank and aborts the whole job (MPI_Abort): the launching test sees the report and a non-zero
exit status, never a hang. With TINYGEN_MPI_RESULTS=DIR each rank writes its counts to
DIR/rank<r>.json (the ranks' terminal output interleaves, so it is not parsed).
"""
import json
import os
import sys

import pytest

import tinygen.distributed as dist


def pytest_configure(config):
    if dist.launched_by_mpi() and not dist.is_initialized():
        dist.init_process_group("mpi")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.failed and dist.is_initialized() and dist.get_world_size() > 1:
        sys.stderr.write(f"\n[rank {dist.get_rank()}] FAILED {item.nodeid} ({report.when})\n"
                         f"{report.longreprtext}\n")
        dist.abort(1)


def pytest_sessionfinish(session, exitstatus):
    folder = os.environ.get("TINYGEN_MPI_RESULTS")
    if folder and dist.is_initialized():
        stats = session.config.pluginmanager.get_plugin("terminalreporter").stats
        counts = {k: len(stats.get(k, [])) for k in ("passed", "failed", "skipped", "error")}
        with open(os.path.join(folder, f"rank{dist.get_rank()}.json"), "w") as f:
            json.dump({"exitstatus": int(exitstatus), **counts}, f)


@pytest.fixture
def rank():
    return dist.get_rank()


@pytest.fixture
def world():
    return dist.get_world_size()
