"""benchmarks/runs.py (`tinygen bench runs`): the commands it times, and a PyTorch twin that does a
run's work (steps, evaluation, samples, curves, checkpoint) on a few steps. No timing is
asserted."""
from __future__ import annotations

import json
import os
import sys

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
DATA = os.path.join(ROOT, "..", "shared", "data")
sys.path.insert(0, os.path.join(ROOT, "benchmarks"))

import runs  # noqa: E402
import runs_torch  # noqa: E402


def test_commands_time_tinygen_train_and_the_twin(tmp_path):
    mine, twin = runs.commands("vae", "/data", str(tmp_path), 2, compiled=True)
    assert mine[1:5] == ["-m", "tinygen", "train", "vae"] and "--no-compile" not in mine
    assert ["--data", "mnist", "--epochs", "1"] == mine[5:9]
    assert twin[1].endswith("runs_torch.py") and twin[2] == "vae" and "--threads" in twin
    eager, _ = runs.commands("gpt", "/data", str(tmp_path), 2, compiled=False)
    assert "--no-compile" in eager and ["--steps", "2000"] == eager[5:7]


def test_the_gpt_twin_does_a_runs_work(tmp_path):
    torch = pytest.importorskip("torch")
    if not os.path.isdir(os.path.join(DATA, "tinyshakespeare")):
        pytest.skip("tinyshakespeare is not beside the repository (../shared/data)")
    out = str(tmp_path / "twin")
    runs_torch.gpt(torch, torch.nn, torch.nn.functional, runs_torch.Run(out), DATA, 0,
                   steps=20, interval=10, eval_batches=2)
    with open(os.path.join(out, "metrics.jsonl")) as f:
        rows = [json.loads(line) for line in f]
    assert [r["step"] for r in rows if r["split"] == "test"] == [10, 20]
    assert [r["step"] for r in rows if r["split"] == "train"] == [10, 20]
    for name in ("samples.txt", "curves.png", "checkpoint.pt"):
        assert os.path.getsize(os.path.join(out, name)) > 0, name
    state = torch.load(os.path.join(out, "checkpoint.pt"))
    assert set(state) == {"modules", "optimizers"}
