"""Linear probes: multinomial logistic regression trained with tinygen on frozen features.

The evaluation of representation learning (CLIP section 3.2, SimCLR section 4.2): features of
the training images from a frozen encoder, standardised with the training set's mean and standard
deviation, one Linear layer trained with cross-entropy, accuracy on the test images. The settings
are fixed in advance (Adam 1e-2 with a cosine decay, batch 512, 30 epochs, weight decay 1e-5)
and are the same for every encoder and for the raw-pixel baseline; nothing is chosen on the test
set.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

import tinygen as tg
from .. import nn
from ..nn import functional as F


@dataclass(frozen=True)
class ProbeConfig:
    epochs: int = 30
    batch_size: int = 512
    lr: float = 1e-2
    weight_decay: float = 1e-5
    seed: int = 0


def extract_features(encode, images, device="cpu", batch_size=1000):
    """encode(x) (B, F) over images (N, C, H, W) (a Tensor) in batches, under no_grad: an (N, F)
    float32 NumPy array."""
    out = []
    with tg.no_grad():
        for i in range(0, len(images), batch_size):
            out.append(encode(images[i:i + batch_size].to(device)).detach().cpu().numpy())
    return np.concatenate(out).astype(np.float32)


def linear_probe(train_features, train_labels, test_features, test_labels, num_classes,
                 config=ProbeConfig(), device="cpu"):
    """Train logistic regression on (train_features (N, F), train_labels (N,)) and return its
    accuracy on the test pair. Features are NumPy arrays; the model trains on `device`."""
    if train_features.ndim != 2 or test_features.shape[1:] != train_features.shape[1:]:
        raise ValueError(f"linear_probe: expected features (N, F) and (M, F), got "
                         f"{train_features.shape} and {test_features.shape}")
    mean = train_features.mean(axis=0)
    std = train_features.std(axis=0) + 1e-6                  # constant features stay finite
    x_train = tg.tensor((train_features - mean) / std, device=device)
    x_test = tg.tensor((test_features - mean) / std, device=device)
    y_train = tg.tensor(np.asarray(train_labels, dtype=np.int64), device=device)
    classifier = nn.Linear(train_features.shape[1], num_classes).to(device)
    opt = tg.optim.Adam(classifier.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    n = len(x_train)
    steps_per_epoch = -(-n // config.batch_size)
    schedule = tg.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=config.epochs * steps_per_epoch)
    rng = np.random.default_rng(config.seed)
    with tg.enable_grad():
        for _ in range(config.epochs):
            order = tg.tensor(rng.permutation(n), device=device)
            for i in range(0, n, config.batch_size):
                rows = order[i:i + config.batch_size]
                loss = F.cross_entropy(classifier(x_train[rows]), y_train[rows])
                opt.zero_grad()
                loss.backward()
                opt.step()
                schedule.step()
    with tg.no_grad():
        predicted = classifier(x_test).argmax(dim=1).cpu().numpy()
    return float((predicted == np.asarray(test_labels)).mean())
