"""tinygen/train/compress.py: compress_run on small runs trained on the offline digits (8x8), and
the compressed run loading back for `tinygen eval` / `tinygen sample` (load_run, which restores
the int8 layers the run's config names); the `tinygen compress` command.

What each test holds to:
- int8: the rebuilt model (float recipe + the recorded plan + the int8 state dict) evaluates to
  exactly the metric compress_run measured on the model it quantised; the checkpoint is 3-4x
  smaller (int8 weights; float32 biases, scales and safetensors' header stay);
- pruning: the sparsity of the written weights is the requested fraction (of the Linear and Conv
  weights, globally or per layer) and stays so through fine-tuning; a pruned run needs nothing
  special to load (its zeros are in the weights);
- the metrics after int8 stay near the float ones: on 360 test digits one image is 0.28 points,
  and int8 flips only decisions that were near ties (the MNIST numbers are in
  benchmarks/results/quality.md).
"""
import json
import os

import numpy as np
import pytest

import tinygen as tg
from tinygen.cli import main
from tinygen.train.compress import compress_run, evaluate
from tinygen.train.workbench import load_run


@pytest.fixture(scope="module")
def classifier_run(tmp_path_factory):
    out = str(tmp_path_factory.mktemp("runs") / "classifier")
    assert main(["train", "classifier", "--epochs", "2", "--set", "hidden=32", "--out", out,
                 "--log-every", "50"]) == 0
    return out


@pytest.fixture(scope="module")
def vae_run(tmp_path_factory):
    out = str(tmp_path_factory.mktemp("runs") / "vae")
    assert main(["train", "vae", "--steps", "40", "--set", "hidden=64", "--out", out,
                 "--log-every", "50"]) == 0
    return out


def _quiet(*args):
    pass


def test_int8_classifier_rebuilds_exactly(classifier_run, tmp_path):
    out = str(tmp_path / "int8")
    report = compress_run(classifier_run, out, int8=True, calibration_batches=3, log=_quiet)
    plan = report["int8_layers"]["classifier"]
    assert plan == {"body.0": {"type": "QuantizedConv2d", "dynamic": False},
                    "body.3": {"type": "QuantizedConv2d", "dynamic": False},
                    "body.7": {"type": "QuantizedLinear", "dynamic": True},
                    "head": {"type": "QuantizedLinear", "dynamic": True}}
    before, after = report["metrics_before"]["test_acc"], report["metrics_after"]["test_acc"]
    assert before > 0.5 and abs(after - before) <= 0.02
    assert 3.0 < report["size_ratio"] < 4.0
    with open(os.path.join(out, "config.json")) as f:
        config = json.load(f)
    assert config["compression"]["int8_plan"]["classifier"] == plan
    assert config["model"] == "classifier" and config["out"] == out
    with open(os.path.join(out, "compress.json")) as f:
        assert json.load(f) == json.loads(json.dumps(report))
    bench = load_run(out)
    assert type(bench.recipe.model.head).__name__ == "QuantizedLinear"
    assert evaluate(bench) == report["metrics_after"]


@pytest.mark.parametrize("global_prune", [True, False])
def test_pruning_with_finetuning_keeps_the_sparsity(classifier_run, tmp_path, global_prune):
    out = str(tmp_path / "pruned")
    report = compress_run(classifier_run, out, prune=0.6, global_prune=global_prune,
                          finetune_epochs=1, log=_quiet)
    bench = load_run(out)                  # plain weights with zeros: the float model loads them
    layers = [m for m in bench.recipe.model.modules() if type(m).__name__ in ("Linear", "Conv2d")]
    weights = [m.weight.numpy() for m in layers]
    zeros = sum(int((w == 0).sum()) for w in weights)
    total = sum(w.size for w in weights)
    if global_prune:
        assert zeros == round(0.6 * total)
        assert len({round(float((w == 0).mean()), 3) for w in weights}) > 1   # uneven shares
    else:
        assert zeros == sum(round(0.6 * w.size) for w in weights)
    assert report["sparsity"] == pytest.approx(zeros / total)
    assert set(report) >= {"metrics_after_prune", "metrics_after_finetune"}
    assert evaluate(bench) == report["metrics_after"]
    assert report["size_ratio"] == pytest.approx(1.0, abs=0.01)     # dense float32 storage


def test_prune_then_int8(classifier_run, tmp_path):
    out = str(tmp_path / "both")
    report = compress_run(classifier_run, out, prune=0.5, global_prune=True, int8=True,
                          calibration_batches=2, observer="percentile", log=_quiet)
    assert report["sparsity"] >= 0.5       # int8 keeps zeros, and rounds tiny weights to 0
    bench = load_run(out)
    assert int((bench.recipe.model.body[3].weight.numpy() == 0).sum()) > 0
    assert evaluate(bench) == report["metrics_after"]


def test_int8_vae_evaluates_and_samples(vae_run, tmp_path):
    out = str(tmp_path / "vae-int8")
    report = compress_run(vae_run, out, int8=True, log=_quiet)
    assert set(report["int8_layers"]["vae"]) == {"encoder.1", "decoder.0", "decoder.2", "mu",
                                                 "logvar"}
    before = report["metrics_before"]["test_nelbo_nats"]
    assert abs(report["metrics_after"]["test_nelbo_nats"] - before) < 0.02 * before
    bench = load_run(out)
    with tg.no_grad():
        samples = bench.recipe.sample(5).numpy()
    assert samples.shape == (5, 1, 8, 8) and np.all((samples >= 0) & (samples <= 1))


def test_bad_options(classifier_run, tmp_path):
    with pytest.raises(ValueError, match=r"--prune 1.5: the fraction of weights to prune, in "
                                         r"\(0, 1\)"):
        compress_run(classifier_run, str(tmp_path / "x"), prune=1.5)
    with pytest.raises(ValueError, match="must differ from the source run"):
        compress_run(classifier_run, classifier_run, int8=True)
    with pytest.raises(ValueError, match="--observer histogram: expected one of"):
        compress_run(classifier_run, str(tmp_path / "x"), int8=True, observer="histogram")


def test_the_compress_command(classifier_run, tmp_path, capsys):
    out = str(tmp_path / "cmd")
    assert main(["compress", classifier_run, "--out", out, "--prune", "0.5", "--global",
                 "--int8", "--calibration-batches", "2"]) == 0
    printed = capsys.readouterr().out
    assert "sparsity" in printed and "bytes" in printed and "test_acc" in printed
    assert main(["eval", out]) == 0                                   # eval takes it
    with open(os.path.join(out, "eval.json")) as f:
        assert 0.5 < json.load(f)["metrics"]["test_acc"] <= 1
    assert main(["compress", classifier_run, "--out", out, "--int8"]) == 2   # never overwrites
    assert "holds a run already" in capsys.readouterr().err
    assert main(["compress", classifier_run, "--out", str(tmp_path / "y"), "--prune", "2"]) == 2
