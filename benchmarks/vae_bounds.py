"""The likelihood bounds of a trained VAE on its test set: the negative ELBO and the
importance-weighted bound for several K (Burda et al. 2016), plus the reconstruction's PSNR/SSIM.

    python benchmarks/vae_bounds.py runs/vae_mnist --k 1 10 100 1000 5000

E[IWAE_K] is estimated per image from one set of draws split into disjoint groups of K (for
K < max K) and averaged: unbiased, with a far smaller variance than one group, so the table shows
the bound tightening rather than Monte Carlo noise. Prints a Markdown table (nats per image) and
the standard error of each K's mean.
"""
from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _report import write_markdown  # noqa: E402

import tinygen as tg  # noqa: E402
from tinygen.metrics import iwae_bound, psnr, ssim  # noqa: E402
from tinygen.models.vae import importance_log_weights, negative_elbo  # noqa: E402
from tinygen.train import load_run  # noqa: E402


def bounds(model, x_all, ks, batch_size, seed):
    """Per-image NELBO and E[IWAE_k] for each k, recon PSNR and SSIM."""
    tg.manual_seed(seed)
    top = max(ks)
    nelbo, iw, rec_psnr, rec_ssim = [], {k: [] for k in ks}, [], []
    with tg.no_grad():
        for i in range(0, len(x_all), batch_size):
            x = x_all[i:i + batch_size]
            recon, mu, logvar = model(x)
            nelbo.append(negative_elbo(recon, x, mu, logvar).numpy().astype(np.float64))
            log_w = importance_log_weights(model, x, top).numpy().astype(np.float64)
            for k in ks:
                groups = [iwae_bound(log_w[:, g * k:(g + 1) * k]) for g in range(top // k)]
                iw[k].append(np.mean(groups, axis=0))
            mean = model.decode(mu).sigmoid()
            rec_psnr.append(psnr(x, mean, data_range=1.0))
            rec_ssim.append(ssim(x, mean, data_range=1.0))
    return (np.concatenate(nelbo), {k: np.concatenate(v) for k, v in iw.items()},
            np.concatenate(rec_psnr), np.concatenate(rec_ssim))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("run", help="a `tinygen train vae` run folder")
    p.add_argument("--k", type=int, nargs="+", default=[1, 10, 100, 1000])
    p.add_argument("--limit", type=int, default=None, help="the first N test images only")
    p.add_argument("--batch-size", type=int, default=20)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default=None, help="also write the table here (Markdown)")
    args = p.parse_args(argv)
    if any(max(args.k) % k for k in args.k):
        p.error("every K must divide the largest")
    bench = load_run(args.run)
    x_all = bench.data.test.tensors[0][:args.limit]
    t0 = time.perf_counter()
    nelbo, iw, rec_psnr, rec_ssim = bounds(bench.recipe.model, x_all, sorted(args.k),
                                           args.batch_size, args.seed)
    seconds = time.perf_counter() - t0
    rows = [("negative ELBO", f"{nelbo.mean():.3f}", f"{nelbo.std() / np.sqrt(len(nelbo)):.3f}")]
    rows += [(f"IWAE, K = {k}", f"{v.mean():.3f}", f"{v.std() / np.sqrt(len(v)):.3f}")
             for k, v in iw.items()]
    rows += [("recon PSNR (dB)", f"{rec_psnr.mean():.2f}", ""),
             ("recon SSIM", f"{rec_ssim.mean():.4f}", "")]
    notes = (f"{len(x_all)} test images of {bench.data.name}, run {args.run}; {seconds:.0f} s. "
             "E[IWAE_K] from the same draws in disjoint groups of K.")
    text = write_markdown(args.out or os.devnull, "VAE likelihood bounds (nats per image)",
                          ["bound", "mean", "standard error"], rows, notes,
                          ["python", "benchmarks/vae_bounds.py"] + list(argv or sys.argv[1:]))
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
