"""Array transforms of image datasets, done once when a dataset is loaded or cached (never per
batch): resizing and center-cropping (N, C, H, W) images with Pillow.

Pillow's resampling filters widen with the scale factor when shrinking, so a downscale averages
over the source pixels (antialiased) instead of skipping them. Float images (values in [0, 1])
go through Pillow's 32-bit float mode with the bilinear filter, which never leaves the range of
its inputs; uint8 images through its 8-bit modes with the bicubic filter (Pillow clips to
0..255).
"""
from __future__ import annotations

import numpy as np


def _pillow():
    from PIL import Image  # lazy: start-up time (Pillow is a dependency)
    return Image


def resize_images(images, size: int) -> np.ndarray:
    """(N, C, H, W) uint8 or float32 images -> (N, C, size, size), the same dtype. Float images
    stay in [min, max] of their input. A no-op (the same array) when the size already matches.

        >>> resize_images(np.zeros((2, 1, 25, 25), np.float32), 32).shape   # doctest: +SKIP
        (2, 1, 32, 32)
    """
    images = np.asarray(images)
    if images.ndim != 4:
        raise ValueError(f"resize_images: expected (N, C, H, W) images, got shape {images.shape}")
    size = int(size)
    if size < 1:
        raise ValueError(f"resize_images: size must be a positive number of pixels, got {size}")
    n, c, h, w = images.shape
    if (h, w) == (size, size):
        return images
    Image = _pillow()
    out = np.empty((n, c, size, size), dtype=images.dtype)
    if images.dtype == np.uint8:
        for i in range(n):
            if c == 3:
                picture = Image.fromarray(np.ascontiguousarray(images[i].transpose(1, 2, 0)), "RGB")
                out[i] = np.asarray(picture.resize((size, size), Image.BICUBIC)).transpose(2, 0, 1)
            else:
                for j in range(c):
                    picture = Image.fromarray(np.ascontiguousarray(images[i, j]), "L")
                    out[i, j] = np.asarray(picture.resize((size, size), Image.BICUBIC))
        return out
    if images.dtype != np.float32:
        raise ValueError(f"resize_images: expected uint8 or float32 images, got {images.dtype}")
    for i in range(n):
        for j in range(c):
            picture = Image.fromarray(np.ascontiguousarray(images[i, j]), "F")
            out[i, j] = np.asarray(picture.resize((size, size), Image.BILINEAR))
    return out


def center_crop_box(width: int, height: int, crop: int) -> tuple[int, int, int, int]:
    """The (left, top, right, bottom) box of the crop x crop square at the center of a
    width x height picture (Pillow's crop convention); ValueError when it does not fit."""
    if crop > min(width, height):
        raise ValueError(f"center crop {crop}: larger than the {width}x{height} picture")
    left, top = (width - crop) // 2, (height - crop) // 2
    return left, top, left + crop, top + crop
