"""The training workbench end to end, on the offline default data (no network, seconds each)."""
import json
import os
import signal

import numpy as np
import pytest

from tinygen.cli import main


def _metrics(out):
    with open(os.path.join(out, "metrics.jsonl")) as f:
        return [json.loads(line) for line in f if line.strip()]


def test_train_vae_writes_every_file(tmp_path):
    out = str(tmp_path / "vae")
    assert main(["train", "vae", "--steps", "30", "--out", out, "--log-every", "5"]) == 0
    for name in ["config.json", "metrics.jsonl", "checkpoint.safetensors",
                 "optimizer.safetensors", "samples.png", "curves.png"]:
        assert os.path.getsize(os.path.join(out, name)) > 0, name
    rows = _metrics(out)
    assert [r["step"] for r in rows if r["split"] == "train"] == [5, 10, 15, 20, 25, 30]
    with open(os.path.join(out, "config.json")) as f:
        config = json.load(f)
    assert config["model_config"]["latent"] == 20 and config["resolved"]["batch_size"] == 128
    assert rows[-1]["split"] == "test" and rows[-1]["test_nelbo_nats"] > 0


def test_resume_reproduces_an_uninterrupted_run_bitwise(tmp_path, monkeypatch):
    from tinygen.train.workbench import Workbench
    full, split = str(tmp_path / "full"), str(tmp_path / "split")
    common = ["--epochs", "2", "--set", "hidden=64", "--log-every", "3", "--seed", "3"]
    assert main(["train", "classifier", "--out", full] + common) == 0

    original = Workbench._end_of_epoch

    def stop_after_first_epoch(self, epoch_done, progress):
        original(self, epoch_done, progress)
        if epoch_done == 1:
            os.kill(os.getpid(), signal.SIGINT)      # Ctrl-C: checkpoint, then exit 130

    monkeypatch.setattr(Workbench, "_end_of_epoch", stop_after_first_epoch)
    assert main(["train", "classifier", "--out", split] + common) == 130
    monkeypatch.setattr(Workbench, "_end_of_epoch", original)
    assert main(["train", "classifier", "--out", split, "--resume"]) == 0
    assert _metrics(split) == _metrics(full)


def test_interrupt_mid_epoch_resumes_exactly(tmp_path, monkeypatch):
    """Ctrl-C in the middle of an epoch: the data order and RNG continue from that batch."""
    from tinygen.train.recipes.vae import VAERecipe
    full, split = str(tmp_path / "full"), str(tmp_path / "split")
    common = ["--steps", "20", "--log-every", "1", "--seed", "5"]
    assert main(["train", "vae", "--out", full] + common) == 0
    original = VAERecipe.train_step

    def interrupted(self, batch, step):
        if step == 7:
            os.kill(os.getpid(), signal.SIGINT)      # Ctrl-C arrives in the middle of a step
        return original(self, batch, step)

    monkeypatch.setattr(VAERecipe, "train_step", interrupted)
    assert main(["train", "vae", "--out", split] + common) == 130
    monkeypatch.setattr(VAERecipe, "train_step", original)
    assert main(["train", "vae", "--out", split, "--resume"]) == 0
    assert _metrics(split) == _metrics(full)


def test_sample_and_eval(tmp_path):
    out = str(tmp_path / "vae")
    assert main(["train", "vae", "--steps", "12", "--out", out]) == 0
    npy = str(tmp_path / "s.npy")
    assert main(["sample", out, "-n", "5", "--out", npy]) == 0
    x = np.load(npy)
    assert x.shape == (5, 1, 8, 8) and x.dtype == np.float32 and 0 <= x.min() and x.max() <= 1
    assert main(["eval", out, "--set", "iw_samples=8"]) == 0
    with open(os.path.join(out, "eval.json")) as f:
        ev = json.load(f)["metrics"]
    # the importance-weighted bound is tighter than the ELBO (up to Monte Carlo noise)
    assert ev["test_iw_nll_nats"] < ev["test_nelbo_nats"] + 1.0


def test_resume_without_a_run_is_a_clear_error(tmp_path, capsys):
    assert main(["train", "vae", "--out", str(tmp_path / "none"), "--resume"]) == 1
    assert "no run" in capsys.readouterr().err
    for command in ("sample", "eval"):
        assert main([command, str(tmp_path / "none")]) == 1
        assert f"tinygen {command}: error: {tmp_path / 'none'}: no such folder" in \
            capsys.readouterr().err
        os.makedirs(tmp_path / "empty", exist_ok=True)
        assert main([command, str(tmp_path / "empty")]) == 1
        assert f"tinygen {command}: error: {tmp_path / 'empty'}: no run in" in \
            capsys.readouterr().err
