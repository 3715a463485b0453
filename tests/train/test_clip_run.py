"""`tinygen train clip` and `simclr` on the offline digits (issue #18's CI check).

clip: 80 steps (about 13 epochs of the 1,500 training digits, ~15 s on 1 core) take zero-shot
accuracy on the 297 test digits from chance (0.10) to at least 0.60 (measured: 0.93 with seed 0);
`tinygen eval` reports every metric of the issue; `tinygen embed` writes embeddings; resume is
exact (the captions are drawn from a stream seeded by the step).
simclr: 60 steps lower the NT-Xent of the test views.
"""
import json
import os
import signal

import numpy as np
import pytest

from tinygen.cli import main

ZERO_SHOT_THRESHOLD = 0.60       # chance is 0.10; measured 0.93 at 80 steps (seed 0)


def _rows(out):
    with open(os.path.join(out, "metrics.jsonl")) as f:
        return [json.loads(line) for line in f]


@pytest.fixture(scope="module")
def clip_run(tmp_path_factory):
    out = str(tmp_path_factory.mktemp("clip") / "run")
    assert main(["train", "clip", "--out", out, "--steps", "80", "--log-every", "5"]) == 0
    return out


def test_a_short_run_raises_zero_shot_accuracy_well_above_chance(clip_run):
    rows = _rows(clip_run)
    zero_shot = [r["zero_shot_acc"] for r in rows if r["split"] == "test"]
    assert zero_shot[-1] >= ZERO_SHOT_THRESHOLD, zero_shot
    train = [r for r in rows if r["split"] == "train"]
    assert train[-1]["loss"] < train[0]["loss"] - 0.5, [r["loss"] for r in train]
    assert all(r["logit_scale"] <= np.log(100) + 1e-6 for r in train)


def test_eval_reports_zero_shot_probe_and_retrieval(clip_run):
    assert main(["eval", clip_run, "--set", "probe_epochs=10"]) == 0
    with open(os.path.join(clip_run, "eval.json")) as f:
        record = json.load(f)
    metrics = record["metrics"]
    assert set(metrics) == {"zero_shot_acc", "zero_shot_heldout_acc", "linear_probe_acc",
                            "image_to_text_r1",
                            "image_to_text_r5", "text_to_image_r1", "text_to_image_r5"}
    assert metrics["zero_shot_acc"] >= ZERO_SHOT_THRESHOLD
    assert metrics["linear_probe_acc"] >= 0.8                 # measured 0.94
    for way in ("image_to_text", "text_to_image"):
        assert 0.3 < metrics[f"{way}_r1"] <= metrics[f"{way}_r5"] <= 1
    assert "prompt ensemble" in record["zero_shot"] and record["samples"] == 297


def test_embed_writes_normalised_embeddings_that_match_captions(clip_run, tmp_path, capsys):
    texts = str(tmp_path / "t.npy")
    assert main(["embed", clip_run, "--text", "a handwritten 7", "--text", "the digit seven",
                 "--text", "a handwritten 0", "--out", texts]) == 0
    t = np.load(texts)
    assert t.shape == (3, 64) and t.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(t, axis=1), 1, rtol=1e-5)
    assert t[0] @ t[1] > t[0] @ t[2]                 # two sevens closer than a seven and a zero
    from tinygen.data import load
    x, y = load("digits", "test").tensors
    images = str(tmp_path / "x.npy")
    np.save(images, x.numpy()[:20])
    assert main(["embed", clip_run, "--images", images, "--out", str(tmp_path / "e.npy")]) == 0
    e = np.load(str(tmp_path / "e.npy"))
    assert e.shape == (20, 64)
    capsys.readouterr()
    np.save(images, x.numpy()[:2] * 255)
    assert main(["embed", clip_run, "--images", images, "--out", str(tmp_path / "f.npy")]) == 2
    assert "expected pixels in [0, 1]" in capsys.readouterr().err
    np.save(images, np.zeros((2, 1, 28, 28), np.float32))
    assert main(["embed", clip_run, "--images", images, "--out", str(tmp_path / "f.npy")]) == 2
    assert "expected float images of shape (N, 1, 8, 8)" in capsys.readouterr().err
    assert main(["embed", clip_run, "--text", "a caf\u00e9", "--out", str(tmp_path / "g")]) == 2
    assert "outside the vocabulary" in capsys.readouterr().err
    assert main(["embed", clip_run, "--text", "a 7", "--out", texts]) == 2
    assert "exists; pass --force" in capsys.readouterr().err


def test_an_interrupted_run_resumes_exactly(tmp_path, monkeypatch):
    from tinygen.train.recipes.clip import CLIPRecipe
    whole, split = str(tmp_path / "whole"), str(tmp_path / "split")
    common = ["--log-every", "1", "--steps", "14", "--set", "width=8", "--set", "text_width=16",
              "--set", "text_layers=1"]
    assert main(["train", "clip", "--out", whole, *common]) == 0
    original = CLIPRecipe.train_step

    def interrupted(self, batch, step):
        if step == 9:                                  # in the second epoch, after a checkpoint
            os.kill(os.getpid(), signal.SIGINT)
        return original(self, batch, step)

    monkeypatch.setattr(CLIPRecipe, "train_step", interrupted)
    assert main(["train", "clip", "--out", split, *common]) == 130
    monkeypatch.setattr(CLIPRecipe, "train_step", original)
    assert main(["train", "clip", "--out", split, "--resume", *common]) == 0
    assert _rows(split) == _rows(whole)


def test_clip_needs_a_captioned_dataset(capsys):
    assert main(["train", "clip", "--data", "moons", "--steps", "1"]) == 2
    assert "clip trains on image data" in capsys.readouterr().err


def test_simclr_lowers_the_test_nt_xent(tmp_path):
    out = str(tmp_path / "simclr")
    assert main(["train", "simclr", "--out", out, "--steps", "60", "--set", "width=16"]) == 0
    test = [r["test_nt_xent"] for r in _rows(out) if r["split"] == "test"]
    assert test[-1] < test[0] - 0.3, test


def test_embed_refuses_a_run_without_embeddings(tmp_path, capsys):
    out = str(tmp_path / "classifier")
    assert main(["train", "classifier", "--out", out, "--steps", "1", "--set", "width=4",
                 "--set", "hidden=8"]) == 0
    capsys.readouterr()
    assert main(["embed", out, "--text", "a 7", "--out", str(tmp_path / "e.npy")]) == 1
    assert "a classifier run has no embeddings" in capsys.readouterr().err
    assert main(["embed", out, "--out", str(tmp_path / "e.npy")]) == 2     # --text or --images
