"""`tinygen train` captures each training step (tg.compile, its elementwise runs fused: the
default) by default; --no-compile runs it eagerly. The two give the same run bit for bit (every
logged loss and every weight) over 100 steps, for every model family whose step can be captured,
and the step is in fact captured (no fallback)."""
import json
import os
import warnings

import numpy as np
import pytest
from safetensors.numpy import load_file

from tinygen.cli import main

DATA = os.path.join(os.path.dirname(__file__), "..", "..", "..", "shared", "data")
TEXT = ["--set", "block_size=8", "--set", "eval_batches=1"]
RNN = ["--set", "hidden=16", "--set", "layers=1", "--set", "embed=8"] + TEXT
TINY = {
    "classifier": ["--set", "width=4", "--set", "hidden=16"],
    "vae": ["--set", "hidden=32", "--set", "latent=4"],
    "conv-vae": ["--set", "width=4", "--set", "hidden=16", "--set", "latent=4"],
    "gan": ["--set", "width=16", "--set", "latent=8"],
    "dcgan": ["--set", "width=4", "--set", "latent=8"],
    "wgan-gp": ["--set", "width=16", "--set", "latent=8", "--set", "n_critic=2"],
    "realnvp": ["--set", "hidden=32", "--set", "couplings=2"],
    "glow": ["--set", "hidden=8", "--set", "couplings=1"],
    "gpt": ["--set", "n_layer=1", "--set", "n_embd=16", "--set", "n_head=2",
            "--set", "dropout=0.1"] + TEXT,
    "lstm": RNN, "gru": RNN, "rnn": RNN,
    "seq2seq": ["--set", "d_model=16", "--set", "nhead=2", "--set", "layers=1",
                "--set", "dim_feedforward=16", "--set", "n_train=200"],
    "ddpm": ["--set", "channels=8,16", "--set", "sample_steps=1"],
}
TEXT_MODELS = {"gpt", "lstm", "gru", "rnn"}


def _train(model, out, steps, *extra):
    data = ["--data-dir", DATA] if model in TEXT_MODELS else []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        rc = main(["train", model, "--steps", str(steps), "--batch-size", "8", "--log-every", "1",
                   "--out", out, *data, *TINY[model], *extra])
    assert rc == 0
    with open(os.path.join(out, "metrics.jsonl")) as f:
        rows = [json.loads(line) for line in f]
    weights = load_file(os.path.join(out, "checkpoint.safetensors"))
    return rows, weights, [str(w.message) for w in caught if "tg.compile" in str(w.message)]


@pytest.mark.parametrize("model", sorted(TINY))
def test_a_captured_run_equals_the_eager_run_bitwise(model, tmp_path):
    if model in TEXT_MODELS and not os.path.isdir(os.path.join(DATA, "tinyshakespeare")):
        pytest.skip("tinyshakespeare is not beside the repository (../shared/data)")
    steps = 100
    rows_c, weights_c, fallbacks = _train(model, str(tmp_path / "compiled"), steps)
    assert not fallbacks, fallbacks                    # the step was captured, not run eagerly
    rows_e, weights_e, _ = _train(model, str(tmp_path / "eager"), steps, "--no-compile")
    assert [r for r in rows_c if r["split"] == "train"] == \
        [r for r in rows_e if r["split"] == "train"]
    assert rows_c == rows_e
    assert weights_c.keys() == weights_e.keys()
    for k in weights_c:
        np.testing.assert_array_equal(weights_c[k], weights_e[k], err_msg=k)
