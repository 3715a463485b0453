"""The MPI suite (tests/distributed/mpi/mpi_*.py) under `mpiexec -n 2` and `mpiexec -n 3`, and a
rank's uncaught exception ending the whole job. Each launch has a timeout (a hang fails the test
and the job's processes are killed). Skipped cleanly where mpi4py or mpiexec is missing:
pip install 'tinygen[distributed]'."""
import glob
import json
import os
import sys

import pytest

from mpi_run import needs_mpi, run_mpi

HERE = os.path.dirname(os.path.abspath(__file__))
SUITE = sorted(glob.glob(os.path.join(HERE, "mpi", "mpi_*.py")))

pytestmark = needs_mpi


@pytest.mark.parametrize("n", [2, 3])
def test_mpi_suite(n, tmp_path):
    code, out = run_mpi(n, ["-m", "pytest", "-p", "no:cacheprovider", "-o", "addopts=", "-q",
                            "-W", "error::RuntimeWarning"] + SUITE, timeout=600,
                        TINYGEN_MPI_RESULTS=str(tmp_path))
    assert code == 0, out[-8000:]
    results = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in range(n)]
    assert all(r == results[0] for r in results), results    # every rank ran the same tests
    assert results[0]["exitstatus"] == 0 and results[0]["failed"] == results[0]["error"] == 0
    assert results[0]["passed"] > 100, results              # the suite really ran


def test_launch_runs_n_processes_and_returns_their_status(capfd):
    from tinygen.distributed.utils import launch
    # one write per rank (a pipe write under 4 KiB is atomic): print('rank', r) writes its pieces
    # separately when stdout is unbuffered, and two ranks' pieces interleaved ("rankrank 0")
    code = ("import os; from mpi4py import MPI; "
            "os.write(1, f'rank {MPI.COMM_WORLD.Get_rank()}\\n'.encode())")
    assert launch(2, [sys.executable, "-c", code], timeout=120) == 0
    out = capfd.readouterr().out
    assert sorted(line for line in out.splitlines() if line.startswith("rank ")) == \
        ["rank 0", "rank 1"], out
    assert launch(2, [sys.executable, "-c", "raise SystemExit(3)"], timeout=120) != 0


@pytest.mark.parametrize("n", [2, 3])
def test_an_exception_on_one_rank_ends_the_whole_job(n):
    code, out = run_mpi(n, [os.path.join(HERE, "scripts", "raise_on_last_rank.py")], timeout=120)
    assert code != 0, out
    # (the script's barrier makes sure every rank started; the output of the ranks that were
    # killed may be lost, so it is not counted here)
    # (Python writes a traceback's last line in pieces, and the other ranks' lines may fall
    # between them: "ValueError: rank 1 of 3 ready\ndeliberate failure on rank 2" was seen)
    assert "ValueError" in out and f"deliberate failure on rank {n - 1}" in out, out
    assert f"uncaught ValueError on rank {n - 1} of {n}; aborting every rank" in out, out
    assert "got past the all_reduce" not in out, out        # the waiting ranks were ended
