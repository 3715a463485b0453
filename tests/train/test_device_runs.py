"""Every model trains, samples and evaluates on the `test` device through the command line.

The test device's arrays are a type of their own, and every op raises when its tensors sit on
different devices, exactly as CUDA would: a tensor that a recipe, a loader or a model makes on the
CPU while the modules live on the device fails these tests. A spy checks that the modules really
are on the test device in each command (a run that silently stayed on the CPU would pass the
device checks trivially) and that the training batches arrive there. Tiny settings, a few steps.
"""
import json
import os

import numpy as np
import pytest

from tinygen.cli import main
from tinygen.train import Workbench, get_recipe
from tinygen.train.recipes import recipe_names

TINY_CLASSIFIER = ["--set", "width=4", "--set", "hidden=8"]
TINY_VAE = ["--set", "width=4", "--set", "hidden=8", "--set", "latent=4"]
TINY_GAN = ["--set", "width=4", "--set", "latent=4"]
TINY_FLOW = ["--set", "hidden=8", "--set", "couplings=2", "--set", "train_size=256"]
TINY_TEXT = ["--set", "block_size=8", "--set", "eval_interval=3", "--set", "eval_batches=2"]
TINY_SEQ2SEQ = ["--set", "n_train=64", "--set", "max_len=3", "--set", "d_model=8", "--set",
                "nhead=2", "--set", "layers=1", "--set", "dim_feedforward=8"]

# model -> (train options, eval options, the metric `tinygen eval` must report)
CASES = {
    "classifier": ([*TINY_CLASSIFIER], [], "test_acc"),
    "vae": ([*TINY_VAE], ["--set", "iw_samples=2"], "test_iw_nll_nats"),
    "conv-vae": ([*TINY_VAE], ["--set", "iw_samples=2"], "test_iw_nll_nats"),
    "gan": ([*TINY_GAN], [], None),
    "dcgan": ([*TINY_GAN], [], None),
    "wgan-gp": ([*TINY_GAN], [], None),
    "realnvp": ([*TINY_FLOW], [], "test_nll"),
    "glow": ([*TINY_FLOW], [], "test_nll"),
    "realnvp-images": (["--data", "digits", "--set", "arch=multiscale", "--set", "hidden=4",
                        "--set", "couplings=2"], [], "test_bpd"),
    "glow-images": (["--data", "digits", "--set", "hidden=4", "--set", "couplings=1"], [],
                    "test_bpd"),
    "gpt": ([*TINY_TEXT, "--set", "n_layer=1", "--set", "n_head=2", "--set", "n_embd=8"], [],
            "val_loss"),
    "lstm": ([*TINY_TEXT, "--set", "hidden=8", "--set", "layers=1", "--set", "embed=4"], [],
             "val_loss"),
    "gru": ([*TINY_TEXT, "--set", "hidden=8", "--set", "layers=1", "--set", "embed=4"], [],
            "val_loss"),
    "rnn": ([*TINY_TEXT, "--set", "hidden=8", "--set", "layers=1", "--set", "embed=4"], [],
            "val_loss"),
    "seq2seq": ([*TINY_SEQ2SEQ], [], "test_exact_match"),
    "ddpm": (["--set", "channels=8,8", "--set", "timesteps=20", "--set", "sample_steps=2"], [],
             "test_denoising_loss"),
    "clip": (["--set", "width=4", "--set", "image_features=8", "--set", "text_width=8",
              "--set", "text_layers=1", "--set", "embed_dim=4"], ["--set", "probe_epochs=1"],
             "zero_shot_acc"),
    "simclr": (["--set", "width=4", "--set", "image_features=8", "--set", "projection_dim=4"],
               ["--set", "probe_epochs=1"], "linear_probe_acc"),
}
TEXT_MODELS = ("gpt", "lstm", "gru", "rnn")

@pytest.fixture
def on_test_device(monkeypatch):
    """Spy: after every Workbench.build (train, sample and eval all build one) the modules are on
    the test device, and every training batch arrives there. Returns what it saw."""
    seen = {"builds": 0, "steps": 0}
    build, train_step = Workbench.build, None

    def checked_build(self):
        bench = build(self)
        params = [p for m in bench.recipe.modules.values() for p in m.parameters()]
        assert params and all(p.device == "test" for p in params)
        assert bench.recipe.device == "test"
        seen["builds"] += 1
        return bench

    def spy_step(recipe_cls):
        original = recipe_cls.train_step

        def checked_step(self, batch, step):
            assert all(t.device == "test" for t in batch)
            seen["steps"] += 1
            return original(self, batch, step)
        monkeypatch.setattr(recipe_cls, "train_step", checked_step)

    monkeypatch.setattr(Workbench, "build", checked_build)
    seen["spy_step"] = spy_step
    return seen


@pytest.fixture(scope="module")
def text_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("text") / "text.txt"
    words = "the quick brown fox jumps over the lazy dog".split()
    path.write_text("\n".join(" ".join(words[(i + j) % 9] for j in range(6)) for i in range(60)))
    return str(path)


def _train(case, out, extra=(), device="test"):
    model = case.split("-images")[0]
    options, _, _ = CASES[case]
    argv = ["train", model, "--device", device, "--steps", "3", "--batch-size", "8",
            "--log-every", "1", "--out", out, *options, *extra]
    assert main(argv) == 0
    with open(os.path.join(out, "config.json")) as f:
        assert json.load(f)["device"] == device
    with open(os.path.join(out, "metrics.jsonl")) as f:
        rows = [json.loads(line) for line in f]
    assert [r["step"] for r in rows if r["split"] == "train"] == [1, 2, 3]
    for r in rows:
        assert all(np.isfinite(v) for k, v in r.items() if isinstance(v, float)), r
    return rows


def test_every_model_has_a_case():
    assert {case.split("-images")[0] for case in CASES} == set(recipe_names())


@pytest.mark.parametrize("case", sorted(CASES))
def test_train_sample_eval_on_the_test_device(case, tmp_path, text_file, on_test_device, capsys):
    model = case.split("-images")[0]
    on_test_device["spy_step"](get_recipe(model))
    out = str(tmp_path / case)
    extra = ["--data", text_file] if model in TEXT_MODELS else []
    _train(case, out, extra)
    assert on_test_device["steps"] == 3

    # sample: images and points as .npy on the host; text printed
    npy = str(tmp_path / "samples.npy")
    capsys.readouterr()
    if model in TEXT_MODELS:
        assert main(["sample", out, "--prompt", "the", "--max-new-tokens", "5"]) == 0
        assert capsys.readouterr().out.startswith("the")
    elif model == "seq2seq":
        assert main(["sample", out, "-n", "3"]) == 0
        assert capsys.readouterr().out.count(" -> ") == 3
    elif model in ("classifier", "clip", "simclr"):   # nothing to sample: one line, exit 1
        assert main(["sample", out, "-n", "5", "--out", npy]) == 1
        assert f"{model} has no sampler" in capsys.readouterr().err
    else:
        assert main(["sample", out, "-n", "5", "--out", npy]) == 0
        x = np.load(npy)
        assert x.shape[0] == 5 and x.dtype == np.float32 and np.isfinite(x).all()

    # eval: the metrics of the model, written to eval.json with the split, the number of items,
    # the seed and the command (a GAN needs a judge: test_gan_judged_by_a_classifier)
    _, eval_options, metric = CASES[case]
    if metric is None:
        capsys.readouterr()
        assert main(["eval", out, *eval_options]) == 2
        assert "pass --set classifier=RUN" in capsys.readouterr().err
        return
    assert main(["eval", out, *eval_options]) == 0
    with open(os.path.join(out, "eval.json")) as f:
        record = json.load(f)
    assert np.isfinite(record["metrics"][metric])
    assert {"split", "samples", "seed", "command", "model", "data"} <= set(record)
    assert record["model"] == model and record["samples"] > 0
    assert on_test_device["builds"] == 3                # train, sample, eval: all on the device


@pytest.mark.parametrize("device", ["cpu", "test"])
def test_gan_judged_by_a_classifier(tmp_path, device):
    """`tinygen eval GAN --set classifier=RUN`: the judge loads from its run folder onto the
    GAN's device and scores samples against the test images (tinygen.metrics)."""
    judge, gan = str(tmp_path / "judge"), str(tmp_path / "dcgan")
    _train("classifier", judge, device=device)
    _train("dcgan", gan, device=device)
    assert main(["eval", gan, "--set", f"classifier={judge}"]) == 0
    with open(os.path.join(gan, "eval.json")) as f:
        record = json.load(f)
    metrics = record["metrics"]
    assert set(metrics) == {"judge_fd", "judge_class_entropy", "judge_confidence",
                            "judge_min_class_fraction"}
    assert all(np.isfinite(v) for v in metrics.values())
    assert 0 <= metrics["judge_min_class_fraction"] <= 0.1 < metrics["judge_confidence"] <= 1
    assert record["judge"]["run"] == os.path.abspath(judge)           # the judge is named
    assert record["judge"]["model_config"]["hidden"] == 8
    # a run that is not a classifier cannot judge: one line, exit 2
    assert main(["eval", gan, "--set", f"classifier={gan}"]) == 2


def test_resume_on_the_test_device(tmp_path, on_test_device):
    """A run continued with --resume on the device: optimiser state and weights load there."""
    out = str(tmp_path / "vae")
    _train("vae", out)
    assert main(["train", "vae", "--out", out, "--device", "test", "--steps", "5", "--resume"]) == 0
    with open(os.path.join(out, "metrics.jsonl")) as f:
        steps = [json.loads(line)["step"] for line in f]
    assert steps[-1] == 5 and steps.count(4) == 1


def test_resume_on_the_test_device_is_exact(tmp_path):
    """The test device's random stream is checkpointed too: 3 steps, then 3 more after a
    resume, log the same losses as 6 steps in one go (the VAE draws its noise on the device)."""
    whole, split = str(tmp_path / "whole"), str(tmp_path / "split")
    common = ["--device", "test", "--log-every", "1", *CASES["vae"][0]]
    assert main(["train", "vae", "--out", whole, "--steps", "6", *common]) == 0
    assert main(["train", "vae", "--out", split, "--steps", "3", *common]) == 0
    assert main(["train", "vae", "--out", split, "--steps", "6", "--resume", *common]) == 0

    def losses(out):
        with open(os.path.join(out, "metrics.jsonl")) as f:
            return [r["nelbo"] for r in map(json.loads, f) if r["split"] == "train"]
    assert losses(split) == losses(whole) and len(losses(whole)) == 6


def test_a_recipe_that_makes_a_cpu_tensor_fails_on_the_test_device(tmp_path, monkeypatch):
    """The check itself: noise made on the CPU while the model is on the device is caught."""
    import tinygen as tg
    from tinygen.train.recipes.gan import GANRecipe
    monkeypatch.setattr(GANRecipe, "noise", lambda self, n: tg.randn(n, self.config.latent))
    with pytest.raises(RuntimeError, match="same device"):
        main(["train", "gan", "--device", "test", "--steps", "1", "--out", str(tmp_path / "g"),
              *TINY_GAN])
