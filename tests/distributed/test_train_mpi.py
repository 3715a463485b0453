"""`mpiexec -n 2 tinygen train ...`: the workbench trains data-parallel (tinygen/train/parallel.py).

A tiny GPT in float64 on a small text (a few seconds a run), through the command line's main
(tests/distributed/scripts/train_float64.py):
- two ranks take the steps one process takes on the same global batches: every logged loss and
  every final weight equal to 1e-10 (float64; the only difference is the order of the sums: the
  global batch's mean gradient is the weighted mean of the ranks' means). The global batch is 5,
  so the ranks hold 3 and 2 samples and the gradients are weighted (the uneven case);
- only rank 0 changes anything in the run folder (seen by an audit hook on every rank);
- a Ctrl-C on rank 1 alone, mid-epoch: both ranks stop after the same step, checkpoint, and
  `--resume` under two ranks gives exactly (bitwise) the uninterrupted two-rank run's log and
  weights, with dropout on, so that every rank's own random stream must come back;
- a mistake on the command line ends the whole job with one line, and an exception on one rank
  in the middle of a run ends it with the traceback (no rank is left waiting: a timeout);
- the other families (a summed loss, two modules with BatchNorm, a gradient penalty, a
  data-dependent initialisation, an EMA copy) train under two ranks with equal parameters.
"""
import json
import os

import numpy as np
import pytest

from mpi_run import needs_mpi, run_mpi

pytestmark = needs_mpi

HERE = os.path.dirname(os.path.abspath(__file__))
SCRIPT = os.path.join(HERE, "scripts", "train_float64.py")
TOL = dict(rtol=1e-10, atol=1e-12)
TIMEOUT = 300
TINY = ["--steps", "8", "--batch-size", "5", "--log-every", "1", "--seed", "1",
        "--set", "block_size=8", "--set", "eval_interval=3", "--set", "eval_batches=3",
        "--set", "n_layer=1", "--set", "n_head=2", "--set", "n_embd=8", "--set", "warmup=2"]


def _metrics(out):
    with open(os.path.join(out, "metrics.jsonl")) as f:
        return [json.loads(line) for line in f if line.strip()]


def _weights(out):
    import tinygen as tg
    return {k: v.numpy() for k, v in tg.load(os.path.join(out, "checkpoint.safetensors")).items()}


def _train(n, out, text, extra=(), expect=0, **env):
    code, log = run_mpi(n, [SCRIPT, "train", "gpt", "--data", text, "--out", out, *TINY, *extra],
                        timeout=TIMEOUT, **env)
    assert code == expect, log[-6000:]
    return log


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """One process and two ranks, same settings; the ranks' audit of what they changed."""
    root = tmp_path_factory.mktemp("ddp_cli")
    text = root / "text.txt"
    words = "the quick brown fox jumps over the lazy dog".split()
    text.write_text("\n".join(" ".join(words[(i * 7 + j) % 9] for j in range(6))
                              for i in range(200)))
    writes = root / "writes"
    writes.mkdir()
    one, two = str(root / "one"), str(root / "two")
    _train(None, one, str(text))
    _train(2, two, str(text), TINYGEN_TEST_WRITES=str(writes))
    return {"root": root, "text": str(text), "one": one, "two": two, "writes": writes}


def test_two_ranks_take_the_single_process_steps(runs):
    one, two = _metrics(runs["one"]), _metrics(runs["two"])
    assert [(r["step"], r["split"]) for r in one] == [(r["step"], r["split"]) for r in two]
    assert len(one) == 8 + 3                              # 8 train rows, 3 evaluations
    for a, b in zip(one, two):
        assert a.keys() == b.keys()
        for key in a.keys() - {"step", "epoch", "split"}:
            np.testing.assert_allclose(b[key], a[key], **TOL, err_msg=f"{key} at {a['step']}")
    w1, w2 = _weights(runs["one"]), _weights(runs["two"])
    assert w1.keys() == w2.keys()
    for key in w1:
        assert w1[key].dtype == np.float64
        np.testing.assert_allclose(w2[key], w1[key], **TOL, err_msg=key)


def test_the_config_states_the_data_parallel_rules(runs):
    with open(os.path.join(runs["two"], "config.json")) as f:
        config = json.load(f)
    rules = config["data_parallel"]
    assert rules["world_size"] == 2 and rules["global_batch_size"] == 5
    assert rules["per_rank_batch_size"] == [3, 2]
    assert "no linear scaling" in rules["lr_rule"]
    assert config["resolved"]["batch_size"] == 5
    with open(os.path.join(runs["one"], "config.json")) as f:
        assert "data_parallel" not in json.load(f)           # one process: as before


def test_only_rank0_writes_into_the_run_folder(runs):
    rank0 = json.loads((runs["writes"] / "writes-rank0.json").read_text())
    rank1 = json.loads((runs["writes"] / "writes-rank1.json").read_text())
    assert rank1 == []
    changed = {os.path.basename(entry[-1]) for entry in rank0}
    # (the audit sees rank 0's writes: the hook works)
    assert {"config.json", "metrics.jsonl", "trainer.json", "checkpoint.safetensors"} <= changed
    assert sorted(os.listdir(runs["two"])) == sorted(os.listdir(runs["one"]))


def test_ctrl_c_on_one_rank_then_resume_under_two_ranks_is_exact(runs):
    dropout = ["--set", "dropout=0.2"]           # each rank draws its own masks: streams matter
    full, split = str(runs["root"] / "full"), str(runs["root"] / "split")
    _train(2, full, runs["text"], dropout)
    audits = [runs["root"] / "writes-interrupted", runs["root"] / "writes-resumed"]
    for folder in audits:
        folder.mkdir()
    log = _train(2, split, runs["text"], dropout, expect=130, TINYGEN_TEST_CTRL_C="1:4",
                 TINYGEN_TEST_WRITES=str(audits[0]))
    assert "interrupted at step 5" in log, log[-3000:]    # both stopped after step index 4
    with open(os.path.join(split, "trainer.json")) as f:
        trainer = json.load(f)
    assert trainer["step"] == 5 and trainer["data_parallel"]["world_size"] == 2
    streams = trainer["data_parallel"]["rank_rng"]
    assert streams[0]["rng"] == trainer["rng"] and streams[1]["rng"] != trainer["rng"]
    _train(2, split, runs["text"], ["--resume"], TINYGEN_TEST_WRITES=str(audits[1]))
    assert _metrics(split) == _metrics(full)
    for folder in audits:                  # rank 1 read the checkpoint back, wrote nothing
        assert json.loads((folder / "writes-rank1.json").read_text()) == []
        assert json.loads((folder / "writes-rank0.json").read_text()) != []
    w_full, w_split = _weights(full), _weights(split)
    for key in w_full:
        np.testing.assert_array_equal(w_split[key], w_full[key], err_msg=key)


def test_a_mistake_ends_every_rank_with_one_line(runs):
    out = str(runs["root"] / "bad")
    code, log = run_mpi(2, [SCRIPT, "train", "gpt", "--data", runs["text"], "--out", out,
                            "--steps", "2", "--batch-size", "1"], timeout=120)
    assert code != 0, log
    assert "error on rank" in log and "--batch-size 1: smaller than the 2 ranks" in log, log
    assert not os.path.exists(os.path.join(out, "config.json"))


def test_an_exception_on_one_rank_mid_run_ends_every_rank(runs):
    out = str(runs["root"] / "failing")
    code, log = run_mpi(2, [SCRIPT, "train", "gpt", "--data", runs["text"], "--out", out, *TINY],
                        timeout=120, TINYGEN_TEST_FAIL="1:4")
    assert code != 0, log
    assert "RuntimeError: deliberate failure on rank 1 at step 4" in log, log
    assert "tinygen train: RuntimeError on rank 1 of 2; aborting every rank" in log, log


# the other recipe families under two ranks: each exercises one more thing the workbench must
# handle (the ranks' parameters are compared at every checkpoint: a divergence is a RunError)
FAMILIES = {
    # a summed loss; 1500 digits in batches of 97: 49 / 48 samples a rank, and the epoch's
    # last batch (45) 23 / 22
    "vae": ["--steps", "16", "--batch-size", "97", "--set", "hidden=8", "--set", "latent=4"],
    "dcgan": ["--steps", "3", "--set", "width=4", "--set", "latent=4"],   # two modules, BatchNorm
    "wgan-gp": ["--steps", "3", "--set", "width=4", "--set", "latent=4"],  # double backward
    "glow": ["--data", "digits", "--steps", "3", "--set", "hidden=4", "--set", "couplings=1"],
    # (ActNorm's data-dependent initialisation sees each rank's own slice)
    "ddpm": ["--steps", "3", "--set", "channels=8,8", "--set", "timesteps=20",
             "--set", "sample_steps=2"],                                   # an EMA copy, untrained
}


@pytest.mark.parametrize("model", sorted(FAMILIES))
def test_every_family_trains_under_two_ranks(model, tmp_path):
    out = str(tmp_path / model)
    code, log = run_mpi(2, ["-m", "tinygen", "train", model, "--out", out, *FAMILIES[model]],
                        timeout=TIMEOUT)
    assert code == 0, log[-6000:]
    with open(os.path.join(out, "trainer.json")) as f:
        trainer = json.load(f)
    assert len(trainer["data_parallel"]["rank_rng"]) == 2
    rows = _metrics(out)
    assert rows and all(np.isfinite(v) for r in rows for k, v in r.items()
                        if isinstance(v, float) and k != "loss_g")
