"""`tinygen eval` (issue #16): the VAE's likelihood bounds behave as the theory says on a trained
model, and --compare prints runs side by side."""
import json
import os

import numpy as np
import pytest

import tinygen as tg
from tinygen.cli import main
from tinygen.metrics import iwae_bound
from tinygen.models.vae import importance_log_weights, negative_elbo
from tinygen.train import load_run


@pytest.fixture(scope="module")
def trained_vae(tmp_path_factory):
    out = str(tmp_path_factory.mktemp("eval") / "vae")
    assert main(["train", "vae", "--out", out, "--epochs", "8", "--set", "hidden=64",
                 "--set", "latent=8"]) == 0
    return out


def test_iwae_bound_is_below_the_elbo_and_tightens_with_k(trained_vae):
    """E[IWAE_k] decreases with k (Burda et al. 2016, theorem 1). Each E[IWAE_k] is estimated
    from the same 1000 draws per image split into 1000 / k disjoint groups of k and averaged: an
    unbiased estimate with small variance, so the gaps (about 0.3, 0.03 and 0.003 nats here)
    stand far outside the noise (asserted: each gap > 5 standard errors)."""
    bench = load_run(trained_vae)
    model, x_all = bench.recipe.model, bench.data.test.tensors[0]
    tg.manual_seed(0)
    with tg.no_grad():
        recon, mu, logvar = model(x_all)
        nelbo = negative_elbo(recon, x_all, mu, logvar).numpy().astype(np.float64)     # (N,)
        log_w = importance_log_weights(model, x_all, 1000).numpy().astype(np.float64)  # (N, 1000)
    bounds = {k: np.mean([iwae_bound(log_w[:, g * k:(g + 1) * k]) for g in range(1000 // k)],
                         axis=0) for k in (1, 10, 100, 1000)}                          # (N,) each
    for k1, k2 in ((1, 10), (10, 100), (100, 1000)):
        gap = bounds[k1] - bounds[k2]
        assert gap.mean() > 5 * gap.std() / np.sqrt(len(gap)), (k1, k2, gap.mean())
    for start in range(0, len(x_all), 60):            # every test batch: below the ELBO
        batch = slice(start, start + 60)
        for k in (10, 100, 1000):
            assert bounds[k][batch].mean() < nelbo[batch].mean()


def test_eval_json_and_compare(trained_vae, tmp_path, capsys):
    other = str(tmp_path / "other")
    assert main(["train", "vae", "--out", other, "--steps", "3", "--set", "hidden=8"]) == 0
    capsys.readouterr()
    assert main(["eval", trained_vae, "--set", "iw_samples=5", "--compare", other]) == 0
    table = capsys.readouterr().out.strip().splitlines()
    assert table[0].startswith("| run | model | data | test_nelbo_nats | test_iw_nll_nats |")
    assert "recon_psnr" in table[0] and "recon_ssim" in table[0]
    assert len(table) == 4 and trained_vae in table[2] and other in table[3]
    with open(os.path.join(trained_vae, "eval.json")) as f:
        record = json.load(f)
    assert record["iw_samples"] == 5 and record["ssim_win_size"] == 7     # 8x8 digits
    assert record["split"] == "test" and record["samples"] == 297                # the split
    assert 10 < record["metrics"]["recon_psnr"] < 60 and 0 < record["metrics"]["recon_ssim"] <= 1
    assert record["command"].startswith("tinygen ")
