"""`tinygen train ddpm` on the offline digits (issue #17's CI check): a few hundred steps lower
the denoising loss, samples are finite images in [0, 1], resume is exact, and the sample command
takes --steps, --class and --guidance."""
import json
import os
import signal

import numpy as np
import pytest

from tinygen.cli import main

SMALL = ["--set", "channels=16,32", "--set", "sample_steps=5"]


def _rows(out):
    with open(os.path.join(out, "metrics.jsonl")) as f:
        return [json.loads(line) for line in f]


@pytest.fixture(scope="module")
def ddpm_run(tmp_path_factory):
    out = str(tmp_path_factory.mktemp("ddpm") / "run")
    assert main(["train", "ddpm", "--out", out, "--steps", "300", "--log-every", "10",
                 *SMALL]) == 0
    return out


def test_a_few_hundred_steps_lower_the_denoising_loss(ddpm_run):
    rows = _rows(ddpm_run)
    train = [r["loss"] for r in rows if r["split"] == "train"]
    test = [r["test_denoising_loss"] for r in rows if r["split"] == "test"]
    # measured: about 0.40 over the first 30 steps, 0.13 over the last 50
    assert np.mean(train[-5:]) < 0.5 * np.mean(train[:3]), train
    assert test[-1] < 0.75 * test[0], test                     # the EMA weights, on test images


def test_samples_are_images_and_the_sampler_options_work(ddpm_run, tmp_path):
    out = str(tmp_path / "s.npy")
    assert main(["sample", ddpm_run, "-n", "6", "--out", out, "--steps", "4", "--class", "3",
                 "--guidance", "2.5"]) == 0
    x = np.load(out)
    assert x.shape == (6, 1, 8, 8) and np.isfinite(x).all() and 0 <= x.min() and x.max() <= 1
    assert main(["sample", ddpm_run, "-n", "2", "--out", out, "--force", "--class", "12"]) == 2
    assert main(["eval", ddpm_run]) == 0
    with open(os.path.join(ddpm_run, "eval.json")) as f:
        record = json.load(f)
    assert np.isfinite(record["metrics"]["test_denoising_loss"])
    assert "DDIM, 5 steps" in record["sampler"]


def test_an_interrupted_run_resumes_exactly(tmp_path, monkeypatch):
    """Ctrl-C mid-run, then --resume: the same log as a run never stopped (the EMA weights are
    in the checkpoint: the test rows of the EMA model must match too)."""
    from tinygen.train.recipes.diffusion import DiffusionRecipe
    whole, split = str(tmp_path / "whole"), str(tmp_path / "split")
    common = ["--log-every", "1", "--batch-size", "128", "--epochs", "2", "--set",
              "sample_steps=2", "--set", "channels=8,16"]
    assert main(["train", "ddpm", "--out", whole, *common]) == 0
    original = DiffusionRecipe.train_step

    def interrupted(self, batch, step):
        if step == 15:                                 # in the second epoch, after a checkpoint
            os.kill(os.getpid(), signal.SIGINT)
        return original(self, batch, step)

    monkeypatch.setattr(DiffusionRecipe, "train_step", interrupted)
    assert main(["train", "ddpm", "--out", split, *common]) == 130
    monkeypatch.setattr(DiffusionRecipe, "train_step", original)
    assert main(["train", "ddpm", "--out", split, "--resume", *common]) == 0
    assert _rows(split) == _rows(whole)
