"""`tinygen launch -n N -- CMD...` (tinygen.distributed.utils.launch): CMD as N MPI processes,
its exit status; without mpiexec or mpi4py, or without a command, one line saying what to do."""
import sys

import pytest

import tinygen.cli
from mpi_run import needs_mpi
from tinygen.cli import main


def _one_line(capsys):
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


def test_missing_mpiexec_is_one_line_naming_the_extra(monkeypatch, capsys):
    monkeypatch.setattr(tinygen.cli.dist_utils, "find_mpiexec", lambda: None)
    assert main(["launch", "-n", "2", "--", "tinygen", "train", "gpt"]) == 1
    line = _one_line(capsys)
    assert line.startswith("tinygen launch: error: no mpiexec")
    assert "pip install 'tinygen[distributed]'" in line


def test_missing_mpi4py_is_one_line_naming_the_extra(monkeypatch, capsys):
    monkeypatch.setattr(tinygen.cli.dist_utils, "find_mpiexec", lambda: "/usr/bin/mpiexec")
    monkeypatch.setattr(tinygen.cli, "is_mpi_available", lambda: False)
    assert main(["launch", "-n", "2", "--", "tinygen", "train", "gpt"]) == 1
    line = _one_line(capsys)
    assert "mpi4py is not installed" in line and "tinygen[distributed]" in line


@pytest.mark.parametrize("argv, needle", [
    (["launch", "-n", "2"], "no command; put it after --"),
    (["launch", "-n", "2", "--"], "no command; put it after --"),
    (["launch", "-n", "0", "--", "true"], "must be a positive integer, got 0"),
    (["launch", "--", "true"], "the following arguments are required: -n"),
])
def test_bad_launch_command_lines_exit_2_in_one_line(argv, needle, capsys):
    assert main(argv) == 2
    assert needle in _one_line(capsys)


@needs_mpi
def test_launch_runs_the_command_as_n_ranks_and_returns_its_status(capfd):
    # one os.write per rank (atomic on a pipe): print's pieces from two ranks can interleave
    code = ("import os; from mpi4py import MPI; "
            "os.write(1, f'rank {MPI.COMM_WORLD.Get_rank()}\\n'.encode())")
    assert main(["launch", "-n", "2", "--", sys.executable, "-c", code]) == 0
    out = capfd.readouterr().out
    assert sorted(line for line in out.splitlines() if line.startswith("rank ")) == \
        ["rank 0", "rank 1"], out
    assert main(["launch", "-n", "2", "--", sys.executable, "-c", "raise SystemExit(3)"]) != 0
