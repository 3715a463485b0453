"""torchvision.transforms stand-ins: Compose, ToTensor, Normalize, Lambda."""
import numpy as np
import torch


class Compose:
    def __init__(self, transforms):
        self.transforms = transforms

    def __call__(self, image):
        for transform in self.transforms:
            image = transform(image)
        return image


class ToTensor:
    """An (H, W) or (H, W, C) array -> a float32 (C, H, W) tensor; uint8 is scaled to [0, 1]."""

    def __call__(self, image):
        array = np.asarray(image)
        if array.ndim == 2:
            array = array[:, :, None]
        scale = 255.0 if array.dtype == np.uint8 else 1.0
        chw = np.ascontiguousarray(array.transpose(2, 0, 1), dtype=np.float32) / np.float32(scale)
        return torch.from_numpy(chw)


class Normalize:
    """(x - mean) / std per channel of a (C, H, W) tensor."""

    def __init__(self, mean, std, inplace=False):
        self.mean, self.std = mean, std

    def __call__(self, tensor):
        mean = torch.tensor(self.mean, dtype=tensor.dtype).view(-1, 1, 1)
        std = torch.tensor(self.std, dtype=tensor.dtype).view(-1, 1, 1)
        return (tensor - mean) / std


class Lambda:
    def __init__(self, function):
        self.function = function

    def __call__(self, image):
        return self.function(image)
