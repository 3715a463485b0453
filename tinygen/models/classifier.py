"""A LeNet-style CNN classifier: the simplest thing to train, and the judge of generated images.

Two conv-ReLU-maxpool stages, then a hidden layer and the class logits; `features(x)` gives the
hidden layer's activations, used for the Frechet distance of GAN samples (tinygen.metrics, through
the judge in tinygen/train/judge.py). Its training recipe is tinygen/train/recipes/classifier.py.
"""
from __future__ import annotations

from dataclasses import dataclass

from .. import nn


@dataclass(frozen=True)
class ClassifierConfig:
    in_channels: int = 1
    image_size: int = 28
    num_classes: int = 10
    width: int = 32            # channels of the first conv; the second has twice as many
    hidden: int = 128
    dropout: float = 0.25
    mean: float = 0.0          # input normalisation: (x - mean) / std, from the training pixels
    std: float = 1.0


class Classifier(nn.Module):
    """x (B, C, H, W) in [0, 1] -> class logits (B, num_classes)."""

    def __init__(self, config: ClassifierConfig):
        super().__init__()
        c = self.config = config
        w, side = c.width, c.image_size // 4
        self.body = nn.Sequential(
            nn.Conv2d(c.in_channels, w, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),   # (B, w, H/2, W/2)
            nn.Conv2d(w, 2 * w, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),          # (B, 2w, H/4, W/4)
            nn.Flatten(),                                                           # (B, 2w*H/4*W/4)
            nn.Linear(2 * w * side * side, c.hidden), nn.ReLU(),                    # (B, hidden)
        )
        self.dropout = nn.Dropout(c.dropout)
        self.head = nn.Linear(c.hidden, c.num_classes)

    def features(self, x):
        """(B, C, H, W) -> (B, hidden): the penultimate activations."""
        return self.body((x - self.config.mean) / self.config.std)

    def forward(self, x):
        return self.head(self.dropout(self.features(x)))      # (B, num_classes) logits
