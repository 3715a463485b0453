"""The clip recipe's model and training step written once against a framework (`lib, nn, F`:
tinygen or PyTorch), for the step benchmark (benchmarks/models.py, case `clip`). The same layers,
in the same order and with the same state-dict names, as tinygen/models/clip.py (CLIP), so a
state dict moves between the two and both compute the same function
(tests/models/test_clip_twin.py checks it).

One step, as tinygen/train/recipes/clip.py takes it: the distinct captions of the batch through
the text encoder, gathered to the batch's rows, the images through the CNN, symmetric InfoNCE
with the learnable log-scale and label-aware targets (every caption of the image's class is a
positive), AdamW, the log-scale clamped at ln 100.
"""
from __future__ import annotations

import math

import numpy as np


def clip_model(lib, nn, F, vocab_size=42, in_channels=1, width=32, image_features=128,
               text_width=64, text_layers=2, text_heads=4, max_len=32, embed_dim=64):
    """A CLIP instance (tinygen/models/clip.py's architecture, mean 0 and std 1 inputs)."""

    class ImageEncoder(nn.Module):
        def __init__(self):
            super().__init__()
            w = width
            self.body = nn.Sequential(
                nn.Conv2d(in_channels, w, 3, padding=1), nn.BatchNorm2d(w), nn.ReLU(),
                nn.MaxPool2d(2),
                nn.Conv2d(w, 2 * w, 3, padding=1), nn.BatchNorm2d(2 * w), nn.ReLU(),
                nn.MaxPool2d(2),
                nn.Conv2d(2 * w, 4 * w, 3, padding=1), nn.BatchNorm2d(4 * w), nn.ReLU(),
                nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                nn.Linear(4 * w, image_features), nn.ReLU())

        def forward(self, x):
            return self.body(x)

    class TextEncoder(nn.Module):
        def __init__(self):
            super().__init__()
            self.token = nn.Embedding(vocab_size, text_width, padding_idx=0)
            self.position = nn.Parameter(lib.randn(max_len, text_width) * 0.02)
            layer = nn.TransformerEncoderLayer(text_width, text_heads, 4 * text_width, 0.0,
                                               "gelu", batch_first=True, norm_first=True)
            self.transformer = nn.TransformerEncoder(layer, text_layers,
                                                     enable_nested_tensor=False)
            self.norm = nn.LayerNorm(text_width)

        def forward(self, tokens):
            padding = tokens == 0
            h = self.token(tokens) + self.position[:tokens.shape[1]]
            h = self.norm(self.transformer(h, src_key_padding_mask=padding))
            keep = (~padding).to(h.dtype).unsqueeze(-1)
            return (h * keep).sum(dim=1) / keep.sum(dim=1).clamp_min(1.0)

    class CLIP(nn.Module):
        def __init__(self):
            super().__init__()
            self.image_encoder = ImageEncoder()
            self.text_encoder = TextEncoder()
            self.image_projection = nn.Linear(image_features, embed_dim, bias=False)
            self.text_projection = nn.Linear(text_width, embed_dim, bias=False)
            self.logit_scale = nn.Parameter(lib.tensor(math.log(1 / 0.07)))

    return CLIP()


def info_nce(lib, F, image, text, log_scale, targets):
    """Symmetric InfoNCE with probability targets (F.info_nce's definition, spelled out)."""
    logits = log_scale.exp() * F.normalize(image, dim=1) @ F.normalize(text, dim=1).t()
    rows = targets / targets.sum(dim=1, keepdim=True)
    cols = (targets / targets.sum(dim=0, keepdim=True)).t()
    return (F.cross_entropy(logits, rows) + F.cross_entropy(logits.t(), cols)) / 2


def clip_step_inputs(lib, B=256, captions=160, L=32, vocab_size=42, seed=0):
    """A batch as the recipe builds it: images (B, 1, 28, 28), the distinct captions' tokens
    (U, L) (right-padded), the gather index (B,) and the label-aware targets (B, B); as lib's
    tensors, or NumPy arrays with lib None."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 10, B)
    caption_ids = labels * (captions // 10) + rng.integers(0, captions // 10, B)
    unique, where = np.unique(caption_ids, return_inverse=True)
    lengths = rng.integers(L // 3, L + 1, len(unique))
    tokens = rng.integers(1, vocab_size, (len(unique), L))
    tokens[np.arange(L)[None, :] >= lengths[:, None]] = 0
    targets = (labels[:, None] == labels[None, :]).astype(np.float32)
    x = rng.random((B, 1, 28, 28), dtype=np.float32)
    arrays = (x, tokens, where.reshape(-1), targets)
    return arrays if lib is None else tuple(lib.tensor(a) for a in arrays)


def clip_step(lib, nn, F, model, opt, inputs):
    """The recipe's training step as a closure: forward, backward, AdamW, clamp."""
    x, tokens, where, targets = inputs
    fused = getattr(F, "info_nce", None)                 # tinygen's; PyTorch has none

    def step():
        text = model.text_projection(model.text_encoder(tokens)).index_select(0, where)
        image = model.image_projection(model.image_encoder(x))
        if fused is not None:
            loss = fused(image, text, model.logit_scale, targets=targets)
        else:
            loss = info_nce(lib, F, image, text, model.logit_scale, targets)
        opt.zero_grad()
        loss.backward()
        opt.step()
        with lib.no_grad():
            model.logit_scale.clamp_(max=math.log(100))
        return loss
    return step
