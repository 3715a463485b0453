"""Pictures a run writes: a grid of image samples (Pillow) and loss curves (matplotlib, Agg)."""
from __future__ import annotations

import json
import math
import os

import numpy as np


def _atomic_target(path):
    path = os.fspath(path)
    tmp = os.path.join(os.path.dirname(os.path.abspath(path)), f".{os.path.basename(path)}.tmp")
    return path, tmp


def save_image_grid(images, path, nrow=None, pad=2, scale=None):
    """Save (N, C, H, W) images in [0, 1] as one PNG grid (C = 1 or 3). Written atomically."""
    from PIL import Image
    arr = images.detach().cpu().numpy() if hasattr(images, "detach") else np.asarray(images)
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
    path, tmp = _atomic_target(path)
    img.save(tmp, format="PNG")
    os.replace(tmp, path)


def read_metrics(path):
    rows = []
    if os.path.exists(path):
        with open(path) as f:
            for line in f:
                line = line.strip()
                if line:
                    rows.append(json.loads(line))
    return rows


def plot_curves(metrics_path, out_path, title=None):
    """One panel per metric in metrics.jsonl, against the step. Written atomically."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    rows = read_metrics(metrics_path)
    names = []
    for r in rows:
        for k, v in r.items():
            if k not in ("step", "epoch", "split") and isinstance(v, (int, float)) and k not in names:
                names.append(k)
    if not names:
        return
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
    path, tmp = _atomic_target(out_path)
    fig.savefig(tmp, format="png", dpi=90)
    plt.close(fig)
    os.replace(tmp, path)
