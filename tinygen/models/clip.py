"""A small CLIP (Radford et al. 2021) and a SimCLR encoder (Chen et al. 2020) for 1-channel images.

    CLIP           an image encoder and a text encoder projected to one shared embedding, and
                   the learnable log-scale of the logits (F.info_nce is its loss)
    ImageEncoder   a small CNN: (B, C, H, W) in [0, 1] -> features (B, image_features)
    TextEncoder    a bidirectional character Transformer, mean-pooled over the real characters
    CharTokenizer  captions -> (B, L) int64 character ids, 0 the padding
    SimCLR         the same image encoder and a 2-layer projection head (F.nt_xent is its loss)

The linear probes read `image_features` (before the projection), as CLIP's paper and SimCLR's
do. Training (captions, batches, the clamp after each step) is tinygen/train/recipes/clip.py.

    model = CLIP(CLIPConfig(vocab_size=CharTokenizer().vocab_size))
    img, txt = model.encode_image(x), model.encode_text(tokens)        # (B, E), (T, E)
    loss = F.info_nce(img, txt, model.logit_scale)
    loss.backward(); opt.step(); model.clamp_logit_scale_()
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

import tinygen as tg
from .. import nn
from ..nn import functional as F
from ..ops.loss_contrastive import LOGIT_SCALE_INIT, LOGIT_SCALE_MAX

CHARACTERS = " abcdefghijklmnopqrstuvwxyz0123456789-'.,"


class CharTokenizer:
    """Lower-cased characters -> ids 1..len(CHARACTERS); 0 pads; an unknown character is a
    ValueError naming it (captions are generated, so one is a bug, not noise)."""

    def __init__(self, characters=CHARACTERS):
        self.characters = characters
        self.ids = {c: i + 1 for i, c in enumerate(characters)}

    @property
    def vocab_size(self):
        return len(self.characters) + 1

    def encode(self, texts, max_len):
        """A list of strings -> (len(texts), max_len) int64 ids, right-padded with 0."""
        out = np.zeros((len(texts), max_len), dtype=np.int64)
        for row, text in enumerate(texts):
            text = text.lower()
            if len(text) > max_len:
                raise ValueError(f"CharTokenizer.encode: {text!r} has {len(text)} characters, "
                                 f"more than max_len={max_len}")
            unknown = sorted(set(text) - set(self.ids))
            if unknown:
                raise ValueError(f"CharTokenizer.encode: {text!r} holds characters outside the "
                                 f"vocabulary: {unknown}")
            out[row, :len(text)] = [self.ids[c] for c in text]
        return out


@dataclass(frozen=True)
class CLIPConfig:
    vocab_size: int
    in_channels: int = 1
    image_size: int = 28
    width: int = 32               # channels of the first conv; then 2x and 4x
    image_features: int = 128     # the image encoder's output (the linear probe's features)
    text_width: int = 64          # d_model of the text Transformer
    text_layers: int = 2
    text_heads: int = 4
    max_len: int = 40             # characters per caption
    embed_dim: int = 64           # the shared embedding
    mean: float = 0.0             # input normalisation: (x - mean) / std, from the training pixels
    std: float = 1.0
    logit_scale_init: float = LOGIT_SCALE_INIT


class ImageEncoder(nn.Module):
    """Three conv-BN-ReLU stages (the first two max-pooled), global average pooling, a Linear:
    x (B, C, H, W) in [0, 1] -> features (B, image_features)."""

    def __init__(self, in_channels, width, out_features, mean=0.0, std=1.0):
        super().__init__()
        self.mean, self.std = mean, std
        w = width
        self.body = nn.Sequential(
            nn.Conv2d(in_channels, w, 3, padding=1), nn.BatchNorm2d(w), nn.ReLU(),
            nn.MaxPool2d(2),                                                  # (B, w, H/2, W/2)
            nn.Conv2d(w, 2 * w, 3, padding=1), nn.BatchNorm2d(2 * w), nn.ReLU(),
            nn.MaxPool2d(2),                                                  # (B, 2w, H/4, W/4)
            nn.Conv2d(2 * w, 4 * w, 3, padding=1), nn.BatchNorm2d(4 * w), nn.ReLU(),
            nn.AdaptiveAvgPool2d(1), nn.Flatten(),                           # (B, 4w)
            nn.Linear(4 * w, out_features), nn.ReLU(),                       # (B, features)
        )

    def forward(self, x):
        return self.body((x - self.mean) / self.std)


class TextEncoder(nn.Module):
    """Character embeddings plus learned positions, a bidirectional pre-norm Transformer encoder
    (padding masked out), a final LayerNorm, then the mean over the real characters:
    tokens (T, L) int64 (0 = padding) -> (T, width)."""

    def __init__(self, vocab_size, width, layers, heads, max_len):
        super().__init__()
        self.token = nn.Embedding(vocab_size, width, padding_idx=0)
        self.position = nn.Parameter(tg.randn(max_len, width) * 0.02)
        layer = nn.TransformerEncoderLayer(width, heads, dim_feedforward=4 * width, dropout=0.0,
                                           activation="gelu", batch_first=True, norm_first=True)
        self.transformer = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(width)

    def forward(self, tokens):
        T, L = tokens.shape
        if L > self.position.shape[0]:
            raise ValueError(f"TextEncoder: tokens of shape {tuple(tokens.shape)} are longer than "
                             f"max_len={self.position.shape[0]}")
        padding = tokens == 0                                                 # (T, L) True = pad
        h = self.token(tokens) + self.position[:L]                           # (T, L, width)
        h = self.norm(self.transformer(h, src_key_padding_mask=padding))     # (T, L, width)
        keep = (~padding).to(h.dtype).unsqueeze(-1)                          # (T, L, 1)
        return (h * keep).sum(dim=1) / keep.sum(dim=1).clamp_min(1.0)        # (T, width)


class CLIP(nn.Module):
    """Image and text encoders, each with a linear projection (no bias, as CLIP) into the shared
    embed_dim, and logit_scale, the learnable log of the logits' scale (a 0-d Parameter,
    ln(1/0.07) at start; clamp_logit_scale_ keeps it <= ln 100)."""

    def __init__(self, config: CLIPConfig):
        super().__init__()
        c = self.config = config
        self.image_encoder = ImageEncoder(c.in_channels, c.width, c.image_features, c.mean, c.std)
        self.text_encoder = TextEncoder(c.vocab_size, c.text_width, c.text_layers, c.text_heads,
                                        c.max_len)
        self.image_projection = nn.Linear(c.image_features, c.embed_dim, bias=False)
        self.text_projection = nn.Linear(c.text_width, c.embed_dim, bias=False)
        self.logit_scale = nn.Parameter(tg.tensor(float(c.logit_scale_init)))

    def image_features(self, x):
        """(B, C, H, W) -> (B, image_features): what the linear probe reads."""
        return self.image_encoder(x)

    def encode_image(self, x):
        """(B, C, H, W) in [0, 1] -> (B, embed_dim), not normalised."""
        return self.image_projection(self.image_encoder(x))

    def encode_text(self, tokens):
        """(T, L) int64 character ids -> (T, embed_dim), not normalised."""
        return self.text_projection(self.text_encoder(tokens))

    def forward(self, x, tokens):
        """-> (image embeddings (B, E), text embeddings (T, E), logit_scale): F.info_nce's
        arguments."""
        return self.encode_image(x), self.encode_text(tokens), self.logit_scale

    def clamp_logit_scale_(self, max_value=LOGIT_SCALE_MAX):
        """Clip the log-scale at ln 100 in place (CLIP does after each optimiser step)."""
        with tg.no_grad():
            self.logit_scale.clamp_(max=max_value)


@dataclass(frozen=True)
class SimCLRConfig:
    in_channels: int = 1
    image_size: int = 28
    width: int = 32
    image_features: int = 128     # the encoder's output h (the linear probe's features)
    projection_dim: int = 64      # z, where NT-Xent is computed
    mean: float = 0.0
    std: float = 1.0


class SimCLR(nn.Module):
    """SimCLR: the ImageEncoder f and a projection head g (Linear-ReLU-Linear); the loss is on
    z = g(f(x)), the linear probe on h = f(x) (Chen et al. 2020, section 2.1)."""

    def __init__(self, config: SimCLRConfig):
        super().__init__()
        c = self.config = config
        self.image_encoder = ImageEncoder(c.in_channels, c.width, c.image_features, c.mean, c.std)
        self.projection = nn.Sequential(nn.Linear(c.image_features, c.image_features), nn.ReLU(),
                                        nn.Linear(c.image_features, c.projection_dim))

    def image_features(self, x):
        return self.image_encoder(x)                                          # (B, features)

    def forward(self, x):
        return self.projection(self.image_encoder(x))                         # (B, proj)


def class_text_embeddings(model, tokens_per_class):
    """Zero-shot classifier weights by prompt ensembling (CLIP section 3.1.4): for each class,
    the mean of its prompts' normalised text embeddings, normalised again.
    tokens_per_class: (K, P, L) int64, P prompts per class -> (K, embed_dim)."""
    K, P, L = tokens_per_class.shape
    emb = F.normalize(model.encode_text(tokens_per_class.reshape(K * P, L)), dim=1)  # (K*P, E)
    return F.normalize(emb.reshape(K, P, -1).mean(dim=1), dim=1)                     # (K, E)
