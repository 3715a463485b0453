"""How many stride-2 layers an image model stacks for a given image side, shared by the DCGAN and
the conv-VAE (tinygen/models/gan.py, vae.py).

The DCGAN rule (Radford et al. 2016): no pooling; the resolution changes only through stride-2
convolutions (down) and their transposes (up), halving until the side is small (at most 4) or odd.

    side  levels  smallest feature map
       8       2  2 x 2      (the 8x8 digits: at least two levels, as before)
      28       2  7 x 7      (MNIST: 28 -> 14 -> 7)
      32       3  4 x 4      (CIFAR-10, lfw-faces: 32 -> 16 -> 8 -> 4)
      64       4  4 x 4      (CelebA, the DCGAN paper's 64 -> 32 -> 16 -> 8 -> 4)
"""
from __future__ import annotations

MIN_LEVELS = 2


def strided_levels(image_size: int) -> tuple[int, int]:
    """(levels, smallest side) for a square image of side `image_size`: halve while the side is
    even and above 4, at least MIN_LEVELS times. ValueError, naming the sizes that work, for a
    side that cannot be halved twice (not a multiple of 4)."""
    side = int(image_size)
    if side < 4 or side % 4:
        raise ValueError(f"image size {image_size}: the strided conv models need a side divisible "
                         "by 4 (e.g. 8, 28, 32 or 64); resize the data (--set image_size=32)")
    levels = 0
    while side % 2 == 0 and (side > 4 or levels < MIN_LEVELS):
        side //= 2
        levels += 1
    return levels, side
