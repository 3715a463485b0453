"""A minimal local stand-in for torchvision (no torchvision is installed, nothing is downloaded):
the parts the example programs use, written against `torch`, so it runs on PyTorch and, through
the shim, on tinygen.

- datasets.MNIST: the IDX files from `root` (torchvision's root/MNIST/raw, or root/mnist), else
  from $TORCHVISION_STANDIN_DATA/mnist (the tests point it at the shared data folder); when
  neither has them, synthetic 28x28 digits (a fixed pattern per class plus noise) with a warning
  on stderr and `dataset.synthetic = True`. download=True never downloads.
- datasets.FakeData: random images and labels, a fixed image per index (its pixels are not
  torchvision's, whose come from torch's generator).
- transforms: Compose, ToTensor, Normalize, Lambda. Images are NumPy uint8 arrays (H, W) or
  (H, W, C) where torchvision has PIL images.
- utils: make_grid, save_image (a PNG written with zlib).
- models: resnet18 (torchvision's architecture and initialisation; no pretrained weights).
"""
from . import datasets, models, transforms, utils

__version__ = "0.0-standin"
__all__ = ["datasets", "models", "transforms", "utils"]
