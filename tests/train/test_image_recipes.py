"""CI check of issue #22: `tinygen train dcgan|conv-vae|ddpm --data lfw-faces` offline (where the
`faces` extra is installed), and each image recipe (dcgan, conv-vae, ddpm) trains a couple of steps at 1
and 3 channels and 28, 32 and 64 px end to end through `tinygen train` (tiny widths), writes an
RGB samples.png for colour data, and `tinygen sample` gives images of the data's shape.

The data is synthetic (random uint8 pictures in an ImageDataset, put where the workbench loads
its data): 3-channel data with two classes (the diffusion model's conditional path), 1-channel
data unlabelled (its unconditional path, as lfw-faces)."""
import json
import os

import numpy as np
import pytest
from PIL import Image

import tinygen.train.workbench as workbench
from tinygen.cli import main
from tinygen.data import ImageDataset
from tinygen.train.recipes import DataInfo

TINY = {"dcgan": ["--set", "width=4", "--set", "latent=8"],
        "conv-vae": ["--set", "width=4", "--set", "hidden=16", "--set", "latent=4"],
        "ddpm": ["--set", "channels=8,16", "--set", "sample_steps=1"]}


def _synthetic(channels, size, n=12, seed=0):
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, (n, channels, size, size), dtype=np.uint8)
    if channels == 3:                                  # labelled: 2 classes
        return ImageDataset(images, np.arange(n) % 2, num_classes=2)
    return ImageDataset(images, np.zeros(n, np.int64), hflip=True, num_classes=None)


@pytest.fixture
def synthetic_data(monkeypatch):
    def use(channels, size):
        def load_data(name, recipe_cls, data_dir=None, options=None):
            train, test = _synthetic(channels, size), _synthetic(channels, size, n=4, seed=1)
            return DataInfo(f"synthetic-{channels}x{size}", train, test,
                            shape=(channels, size, size), num_classes=train.num_classes)
        monkeypatch.setattr(workbench, "load_data", load_data)
    return use


@pytest.mark.parametrize("size", [28, 32, 64])
@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("model", ["dcgan", "conv-vae", "ddpm"])
def test_image_recipe_trains_at_any_shape(model, channels, size, synthetic_data, tmp_path):
    synthetic_data(channels, size)
    out = str(tmp_path / "run")
    assert main(["train", model, "--steps", "2", "--batch-size", "4", "--log-every", "1",
                 "--out", out, *TINY[model]]) == 0
    with open(os.path.join(out, "metrics.jsonl")) as f:
        rows = [json.loads(line) for line in f]
    train = [r for r in rows if r["split"] == "train"]
    assert [r["step"] for r in train] == [1, 2]
    assert all(np.isfinite(v) for r in train for k, v in r.items() if k not in ("split",))
    with open(os.path.join(out, "config.json")) as f:
        config = json.load(f)["model_config"]
    assert (config["in_channels"], config["image_size"]) == (channels, size)
    grid = Image.open(os.path.join(out, "samples.png"))
    assert grid.mode == ("RGB" if channels == 3 else "L")
    samples = str(tmp_path / "samples.npy")
    sample_args = ["--steps", "1"] if model == "ddpm" else []
    assert main(["sample", out, "-n", "3", "--out", samples, *sample_args]) == 0
    x = np.load(samples)
    assert x.shape == (3, channels, size, size) and x.dtype == np.float32
    assert np.isfinite(x).all() and 0 <= x.min() and x.max() <= 1


def test_dcgan_logs_the_discriminators_accuracy(synthetic_data, tmp_path):
    synthetic_data(3, 32)
    out = str(tmp_path / "run")
    assert main(["train", "dcgan", "--steps", "3", "--batch-size", "4", "--log-every", "1",
                 "--out", out, *TINY["dcgan"]]) == 0
    with open(os.path.join(out, "metrics.jsonl")) as f:
        accuracy = [json.loads(line).get("acc_d") for line in f]
    accuracy = [a for a in accuracy if a is not None]
    # a fraction of the 2 x 4 images of a batch: k / 8
    assert len(accuracy) == 3 and all(0 <= a <= 1 and (a * 8) % 1 == 0 for a in accuracy)


def test_eval_every_spaces_the_evaluations(synthetic_data, tmp_path):
    """12 images and their mirror images make epochs of 6 steps: --eval-every 2 evaluates, draws samples and saves
    a checkpoint after epochs 2 and 4 and after the last (5) only; --resume keeps the setting."""
    synthetic_data(1, 28)
    out = str(tmp_path / "run")
    common = ["--batch-size", "4", "--log-every", "1", "--out", out, *TINY["conv-vae"]]
    assert main(["train", "conv-vae", "--epochs", "5", "--eval-every", "2", *common]) == 0
    with open(os.path.join(out, "metrics.jsonl")) as f:
        rows = [json.loads(line) for line in f]
    assert [r["step"] for r in rows if r["split"] == "test"] == [12, 24, 30]
    assert len([r for r in rows if r["split"] == "train"]) == 30
    with open(os.path.join(out, "config.json")) as f:
        assert json.load(f)["eval_every"] == 2
    assert main(["train", "conv-vae", "--epochs", "7", "--resume", *common]) == 0
    with open(os.path.join(out, "metrics.jsonl")) as f:
        rows = [json.loads(line) for line in f]
    assert [r["step"] for r in rows if r["split"] == "test"] == [12, 24, 30, 36, 42]


@pytest.mark.parametrize("model,tiny", [
    ("dcgan", ["--set", "width=4"]),
    ("conv-vae", ["--set", "width=4", "--set", "hidden=16"]),
    ("ddpm", ["--set", "channels=8,16", "--set", "sample_steps=1"])])
def test_train_on_lfw_faces_offline(model, tiny, tmp_path):
    pytest.importorskip("skimage", reason="the faces extra (scikit-image)")
    out = str(tmp_path / model)
    assert main(["train", model, "--data", "lfw-faces", "--steps", "2", "--batch-size", "8",
                 "--out", out, *tiny]) == 0
    samples = str(tmp_path / "s.npy")
    assert main(["sample", out, "-n", "2", "--out", samples]) == 0
    assert np.load(samples).shape == (2, 1, 32, 32)
    # 30 px: the strided conv models refuse it (a usage error), the U-Net crops its odd sides
    assert main(["train", model, "--data", "lfw-faces", "--set", "image_size=30", "--steps",
                 "1", "--out", str(tmp_path / "bad"), *tiny]) == (0 if model == "ddpm" else 2)


def test_classifier_refuses_unlabelled_faces(tmp_path, capsys):
    pytest.importorskip("skimage", reason="the faces extra (scikit-image)")
    assert main(["train", "classifier", "--data", "lfw-faces", "--out", str(tmp_path)]) == 2
    assert "--data lfw-faces: has no labels" in capsys.readouterr().err


@pytest.mark.parametrize("model", ["dcgan", "conv-vae", "ddpm"])
def test_default_widths_take_a_step_on_64_px_colour(model):
    """The recipes' own widths (no --set) at CelebA's shape: one step on a batch of 4."""
    from tinygen.train.recipes import RunConfig, get_recipe
    data = _synthetic(3, 64, n=4)
    info = DataInfo("synthetic", data, data, shape=(3, 64, 64), num_classes=None)
    recipe = get_recipe(model)(RunConfig(model=model), info)
    metrics = recipe.train_step(data.take(np.arange(4)), 0)
    assert metrics and all(np.isfinite(v) for v in metrics.values())
    if model == "ddpm":
        assert recipe.config.channels == (32, 64, 64, 128) and recipe.config.num_classes is None
