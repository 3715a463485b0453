"""benchmarks/threads.py (`tinygen bench threads`): every way of handing work to a second thread
runs in its own process and lands in the table. No timing is asserted."""
from __future__ import annotations

import os
import sys

import pytest

from tinygen.cli import main as cli_main

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.join(ROOT, "benchmarks"))

import threads  # noqa: E402


def test_each_way_gets_a_row(tmp_path):
    pytest.importorskip("numba")
    out = tmp_path / "threads.md"
    assert threads.main(["--repeats", "5", "--out", str(out)]) == 0
    rows = [line for line in out.read_text().splitlines() if line.startswith("| ")][1:]
    assert [r.split(" | ")[0][2:] for r in rows] == list(threads.WAYS)
    for row in rows[:3]:              # tinygen's own ways and numba's default layer always run
        back_to_back = row.split(" | ")[1]
        assert float(back_to_back) > 0, row


def test_the_command_runs_it(tmp_path, monkeypatch):
    pytest.importorskip("numba")
    monkeypatch.chdir(ROOT)
    out = tmp_path / "threads.md"
    assert cli_main(["bench", "threads", "--repeats", "3", "--out", str(out)]) == 0
    assert "Handing work to a second thread" in out.read_text()
