"""The picture of a 2-D flow: its density as a heat map beside samples drawn by inverting it."""
from __future__ import annotations

import os

import numpy as np


def density_and_samples(recipe, path, lim=4.0, grid=160, n=2000):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import tinygen as tg
    xs = np.linspace(-lim, lim, grid, dtype=np.float32)
    xx, yy = np.meshgrid(xs, xs)
    points = tg.tensor(np.stack([xx.ravel(), yy.ravel()], 1))
    with tg.no_grad():
        logp = np.concatenate([recipe.flow.log_prob(points[i:i + 4096]).numpy()
                               for i in range(0, points.shape[0], 4096)])
        samples = recipe.sample(n).numpy()
    data = recipe.data.test.tensors[0].numpy()[:n]
    fig, axes = plt.subplots(1, 3, figsize=(12, 4))
    axes[0].scatter(data[:, 0], data[:, 1], s=1, alpha=0.5)
    axes[0].set_title(f"data ({recipe.data.name})")
    axes[1].imshow(np.exp(logp).reshape(grid, grid), origin="lower", extent=(-lim, lim, -lim, lim),
                   cmap="viridis")
    axes[1].set_title("model density")
    axes[2].scatter(samples[:, 0], samples[:, 1], s=1, alpha=0.5, color="C1")
    axes[2].set_title("samples")
    for ax in axes:
        ax.set_xlim(-lim, lim)
        ax.set_ylim(-lim, lim)
        ax.set_aspect("equal")
    fig.tight_layout()
    tmp = os.path.join(os.path.dirname(os.path.abspath(path)), ".samples.png.tmp")
    fig.savefig(tmp, format="png", dpi=80)
    plt.close(fig)
    os.replace(tmp, path)
