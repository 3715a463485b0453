"""Pictures a run writes: a grid of image samples (Pillow), loss curves and the density of a 2-D
flow (matplotlib, Agg). Every picture is written atomically (tinygen.io.atomic_write).

Pillow and matplotlib are imported when a picture is drawn, not with this module: they are slow
to import and `tinygen --help` should not pay for them.
"""
from __future__ import annotations

import json
import math
import os

import numpy as np

import tinygen as tg
from ..io import atomic_write
from .errors import RunError


def save_image_grid(images, path, nrow=None, pad=2, scale=None):
    """Save (N, C, H, W) images in [0, 1] as one PNG grid (C = 1 or 3). Written atomically.
    images: a Tensor on any device, or an array."""
    from PIL import Image  # lazy: start-up time
    arr = images.detach().cpu().numpy() if tg.is_tensor(images) else np.asarray(images)
    arr = np.clip(np.asarray(arr, dtype=np.float32), 0, 1)
    n, c, h, w = arr.shape
    nrow = nrow or int(math.ceil(math.sqrt(n)))
    ncol = int(math.ceil(n / nrow))
    grid = np.ones((c, ncol * (h + pad) + pad, nrow * (w + pad) + pad), dtype=np.float32) * 0.5
    for k in range(n):
        r, q = divmod(k, nrow)
        y0, x0 = pad + r * (h + pad), pad + q * (w + pad)
        grid[:, y0:y0 + h, x0:x0 + w] = arr[k]
    pixels = (grid * 255 + 0.5).astype(np.uint8)
    img = Image.fromarray(pixels[0] if c == 1 else pixels.transpose(1, 2, 0))
    if scale is None:                                   # small images (8x8 digits) get enlarged
        scale = max(1, 256 // max(img.size))
    if scale > 1:
        img = img.resize((img.size[0] * scale, img.size[1] * scale), Image.NEAREST)
    with atomic_write(path, "wb") as f:
        img.save(f, format="PNG")


def read_metrics(path):
    """The rows of a metrics.jsonl file (a list of dicts; [] when there is no file). A last line
    cut short (the process was killed while writing it) is left out; a bad line before it is an
    error naming the file and the line."""
    if not os.path.exists(path):
        return []
    with open(path) as f:
        lines = [line.strip() for line in f]
    lines = [line for line in lines if line]
    rows = []
    for number, line in enumerate(lines, start=1):
        try:
            rows.append(json.loads(line))
        except ValueError:
            if number == len(lines):
                break
            raise RunError(f"{path}: line {number} is not JSON (fix or remove that line)") \
                from None
    return rows


def _pyplot():
    import matplotlib  # lazy: start-up time
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # lazy: start-up time
    return plt


def _save_figure(plt, fig, path, dpi):
    with atomic_write(path, "wb") as f:
        fig.savefig(f, format="png", dpi=dpi)
    plt.close(fig)


def _metric_names(rows):
    names = []
    for r in rows:
        for k, v in r.items():
            if k not in ("step", "epoch", "split") and isinstance(v, (int, float)) and k not in names:
                names.append(k)
    return names


def plot_curves(metrics_path, out_path, title=None):
    """One panel per metric in metrics.jsonl, against the step. Written atomically."""
    rows = read_metrics(metrics_path)
    names = _metric_names(rows)
    if not names:
        return
    plt = _pyplot()
    cols = min(3, len(names))
    nrows = int(math.ceil(len(names) / cols))
    fig, axes = plt.subplots(nrows, cols, figsize=(4.2 * cols, 3.0 * nrows), squeeze=False)
    for ax, name in zip(axes.flat, names):
        for split, style in (("train", "-"), ("test", "o-")):
            pts = [(r["step"], r[name]) for r in rows if name in r
                   and r.get("split", "train") == split]
            if pts:
                xs, ys = zip(*pts)
                ax.plot(xs, ys, style, label=split, markersize=3, linewidth=1)
        ax.set_title(name)
        ax.set_xlabel("step")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    for ax in list(axes.flat)[len(names):]:
        ax.axis("off")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    _save_figure(plt, fig, out_path, dpi=90)


def flow_density_figure(log_prob, sample, data, data_name, path, device="cpu", lim=4.0, grid=160,
                        n=2000):
    """The picture of a 2-D density model: the data, its density exp(log_prob) as a heat map on
    [-lim, lim]^2, and samples. log_prob: points (B, 2) -> (B,) on `device`; sample(n) -> (n, 2);
    data: (N, 2) test points. Written atomically to `path` (a PNG)."""
    xs = np.linspace(-lim, lim, grid, dtype=np.float32)
    xx, yy = np.meshgrid(xs, xs)
    points = tg.tensor(np.stack([xx.ravel(), yy.ravel()], 1), device=device)     # (grid^2, 2)
    with tg.no_grad():
        logp = np.concatenate([log_prob(points[i:i + 4096]).cpu().numpy()
                               for i in range(0, points.shape[0], 4096)])
        samples = sample(n).cpu().numpy()
    data = data[:n].cpu().numpy() if tg.is_tensor(data) else np.asarray(data)[:n]
    plt = _pyplot()
    fig, axes = plt.subplots(1, 3, figsize=(12, 4))
    axes[0].scatter(data[:, 0], data[:, 1], s=1, alpha=0.5)
    axes[0].set_title(f"data ({data_name})")
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
    _save_figure(plt, fig, path, dpi=80)
