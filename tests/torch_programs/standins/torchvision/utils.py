"""torchvision.utils stand-ins: make_grid and save_image (PNG through zlib, no PIL needed)."""
import struct
import zlib

import numpy as np
import torch


def make_grid(tensor, nrow=8, padding=2, normalize=False, value_range=None, scale_each=False,
              pad_value=0.0):
    """A (B, C, H, W) batch -> one (C, H', W') image with the batch in rows of `nrow`."""
    images = tensor.detach().cpu().numpy().astype(np.float32)
    if images.ndim == 3:
        images = images[None]
    if images.shape[1] == 1:
        images = np.repeat(images, 3, axis=1)
    if normalize:
        low, high = value_range if value_range is not None else (images.min(), images.max())
        images = (np.clip(images, low, high) - low) / max(high - low, 1e-5)
    count, channels, height, width = images.shape
    columns = min(nrow, count)
    rows = -(-count // columns)
    grid = np.full((channels, rows * (height + padding) + padding,
                    columns * (width + padding) + padding), pad_value, dtype=np.float32)
    for k in range(count):
        top = (k // columns) * (height + padding) + padding
        left = (k % columns) * (width + padding) + padding
        grid[:, top:top + height, left:left + width] = images[k]
    return torch.from_numpy(grid)


def save_image(tensor, fp, **kwargs):
    """Write a batch (or one image) as a PNG grid; values in [0, 1] (or normalize=True)."""
    grid = make_grid(tensor, **kwargs).numpy()
    pixels = (np.clip(grid, 0, 1) * 255 + 0.5).astype(np.uint8).transpose(1, 2, 0)  # (H, W, 3)
    height, width = pixels.shape[:2]
    rows = b"".join(b"\x00" + pixels[y].tobytes() for y in range(height))

    def chunk(kind, data):
        return (struct.pack(">I", len(data)) + kind + data +
                struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    png = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows))
           + chunk(b"IEND", b""))
    if hasattr(fp, "write"):
        fp.write(png)
    else:
        with open(fp, "wb") as f:
            f.write(png)
