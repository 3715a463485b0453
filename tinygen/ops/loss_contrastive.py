"""Contrastive losses: info_nce (CLIP's symmetric InfoNCE) and nt_xent (SimCLR's NT-Xent).

Both are compositions of Tensor ops around cross_entropy (normalize, matmul, exp, cross_entropy),
so they are differentiable twice like their parts; PyTorch has neither in torch.nn.functional, so
the reference is the papers' definition, spelled with torch's cross_entropy in the tests.

    Radford et al. 2021, "Learning Transferable Visual Models From Natural Language Supervision"
    (CLIP), figure 3: logits = exp(t) * norm(I) @ norm(T)^T, (CE(logits, arange) +
    CE(logits^T, arange)) / 2, t learnable, initialised to ln(1/0.07), clipped at ln 100.
    Chen et al. 2020, "A Simple Framework for Contrastive Learning of Visual Representations"
    (SimCLR), algorithm 1: 2N views, cosine similarities over tau, the other view the positive,
    the 2(N-1) other views the negatives, the mean over all 2N anchors.
"""
from __future__ import annotations

import math

from ..autograd import function as _fn
from .convert import constant
from .loss import cross_entropy
from .norm import normalize as _normalize
from .shape import cat

__all__ = ["info_nce", "nt_xent", "contrastive_logits", "label_aware_targets", "LOGIT_SCALE_INIT",
           "LOGIT_SCALE_MAX"]

LOGIT_SCALE_INIT = math.log(1 / 0.07)     # CLIP's initial log-scale: temperature 0.07
LOGIT_SCALE_MAX = math.log(100.0)         # CLIP clips the log-scale here after each step


def _check_embeddings(op, a, b, names, same_rows=True):
    for name, t in zip(names, (a, b)):
        if not isinstance(t, _fn.Tensor):
            raise TypeError(f"{op}: expected {name} to be a Tensor, got {type(t).__name__}")
        if t.ndim != 2:
            raise RuntimeError(f"{op}: expected {name} of shape (N, D), got shape "
                               f"{tuple(t.shape)}")
        if not t.dtype.is_floating_point:
            raise RuntimeError(f"{op}: expected floating {name}, got {t.dtype}")
    if a.shape[1] != b.shape[1]:
        raise RuntimeError(f"{op}: {names[0]} {tuple(a.shape)} and {names[1]} {tuple(b.shape)} "
                           "must have the same embedding size D")
    if same_rows and a.shape[0] != b.shape[0]:
        raise RuntimeError(f"{op}: expected {names[0]} and {names[1]} with the same number of "
                           f"rows N (pair i is row i of each), got {tuple(a.shape)} and "
                           f"{tuple(b.shape)}")
    if a.shape[0] == 0:
        raise RuntimeError(f"{op}: expected at least one pair, got {names[0]} of shape "
                           f"{tuple(a.shape)}")


def contrastive_logits(image_emb, text_emb, logit_scale=None, temperature=None, normalize=True):
    """The (N, M) similarity logits of CLIP: scale * norm(image_emb) @ norm(text_emb)^T, scale
    exp(logit_scale) (a learnable log-scale, Tensor or float) or 1 / temperature (fixed); exactly
    one of the two. image_emb (N, D), text_emb (M, D)."""
    op = "info_nce"
    _check_embeddings(op, image_emb, text_emb, ("image_emb", "text_emb"), same_rows=False)
    if (logit_scale is None) == (temperature is None):
        raise ValueError(f"{op}: pass exactly one of logit_scale (the learnable log-scale, CLIP) "
                         f"or temperature (a fixed tau > 0), got logit_scale={logit_scale!r}, "
                         f"temperature={temperature!r}")
    if normalize:
        image_emb, text_emb = _normalize(image_emb, dim=1), _normalize(text_emb, dim=1)
    sims = image_emb @ text_emb.transpose(0, 1)                           # (N, M) cosines
    if temperature is not None:
        if not float(temperature) > 0:
            raise ValueError(f"{op}: expected temperature > 0, got {temperature}")
        return sims * (1.0 / float(temperature))
    if isinstance(logit_scale, _fn.Tensor):
        if logit_scale.numel() != 1:
            raise RuntimeError(f"{op}: expected a scalar logit_scale (the log of the scale), got "
                               f"shape {tuple(logit_scale.shape)}")
        return sims * logit_scale.reshape(()).exp()
    return sims * math.exp(float(logit_scale))


def info_nce(image_emb, text_emb, logit_scale=None, *, temperature=None, targets=None,
             normalize=True):
    """CLIP's symmetric InfoNCE: the mean of cross_entropy(logits, targets) over the images
    (image -> text) and cross_entropy(logits^T, targets^T) over the texts (text -> image), with
    logits = exp(logit_scale) * norm(image_emb) @ norm(text_emb)^T (contrastive_logits).

    image_emb, text_emb: (N, D); row i of each is a matching pair.
    logit_scale: the learnable *log* of the scale, as CLIP's parameter (a scalar Tensor, or a
        float); initialise it to LOGIT_SCALE_INIT = ln(1/0.07) and clamp it at LOGIT_SCALE_MAX =
        ln 100 after each optimiser step (tinygen.models.clip.CLIP.clamp_logit_scale_ does).
        PyTorch has no info_nce; open_clip's ClipLoss takes the scale itself, exp(logit_scale):
        this takes its log, as issue #18 and CLIP's own parameter do.
    temperature: instead of logit_scale, a fixed tau: logits = cosines / tau.
    targets: None (pair i matches pair i only: class indices arange(N)), or an (N, N) float
        matrix of match weights (1 where image i and text j match, e.g. same class): each row
        (image -> text) and each column (text -> image) is divided by its sum and used as a
        probability target, so captions of the image's class are not pushed away as negatives
        (label_aware_targets builds it from class labels).
    normalize: L2-normalise the embeddings first (CLIP does; pass False if they already are).
    Returns a scalar: (CE_image + CE_text) / 2, each a mean over its N rows.

        >>> loss = F.info_nce(img, txt, model.logit_scale)           # doctest: +SKIP
    """
    logits = contrastive_logits(image_emb, text_emb, logit_scale, temperature, normalize)
    n = logits.shape[0]
    if logits.shape[1] != n:
        raise RuntimeError(f"info_nce: expected image_emb and text_emb with the same number of "
                           f"rows N (pair i is row i of each), got {tuple(image_emb.shape)} and "
                           f"{tuple(text_emb.shape)}")
    if targets is None:
        labels = constant(logits.device.xp.arange(n), logits)             # (N,) int64: i <-> i
        return (cross_entropy(logits, labels) + cross_entropy(logits.transpose(0, 1), labels)) / 2
    if not isinstance(targets, _fn.Tensor) or tuple(targets.shape) != (n, n) \
            or not targets.dtype.is_floating_point:
        raise RuntimeError(f"info_nce: expected targets None or a floating ({n}, {n}) match "
                           f"matrix, got {_describe(targets)}")
    targets = targets.to(logits.dtype)
    image_to_text = targets / targets.sum(dim=1, keepdim=True)          # rows sum to 1
    text_to_image = (targets / targets.sum(dim=0, keepdim=True)).transpose(0, 1)
    return (cross_entropy(logits, image_to_text)
            + cross_entropy(logits.transpose(0, 1), text_to_image)) / 2


def label_aware_targets(labels):
    """(N, N) float32 match matrix from class labels (N,): 1 where labels[i] == labels[j]. The
    diagonal is always 1, so every row and column has a positive."""
    same = labels.reshape(-1, 1) == labels.reshape(1, -1)                 # (N, N) bool
    return same.float()


def nt_xent(z1, z2, temperature=0.5, normalize=True):
    """SimCLR's NT-Xent (normalised temperature-scaled cross-entropy) over two views.

    z1, z2: (N, D), row i of each is a view of image i. With z = cat(z1, z2) (2N, D) normalised,
    s = z @ z^T / temperature, each anchor k's positive is its other view (k + N mod 2N) and its
    negatives the 2N - 2 other rows (s[k, k] is left out); the loss is the mean over all 2N
    anchors of cross_entropy. Returns a scalar. temperature 0.5 is SimCLR's CIFAR-10 choice.
    """
    op = "nt_xent"
    _check_embeddings(op, z1, z2, ("z1", "z2"))
    if not float(temperature) > 0:
        raise ValueError(f"{op}: expected temperature > 0, got {temperature}")
    n = z1.shape[0]
    z = cat([z1, z2], dim=0)                                              # (2N, D)
    if normalize:
        z = _normalize(z, dim=1)
    sims = (z @ z.transpose(0, 1)) * (1.0 / float(temperature))          # (2N, 2N)
    # drop each anchor's similarity to itself: gather the 2N - 1 other columns of every row
    # (exact, unlike a -inf or large negative fill, which the fused cross-entropy cannot take)
    xp = sims.device.xp
    rows = xp.arange(2 * n).reshape(-1, 1)                                # (2N, 1)
    others = xp.arange(2 * n - 1).reshape(1, -1)                          # (1, 2N-1)
    columns = others + (others >= rows)                                   # (2N, 2N-1) j != k
    sims = sims.gather(1, constant(columns, sims))                        # (2N, 2N-1)
    partner = (xp.arange(2 * n) + n) % (2 * n)                            # the other view
    positives = constant(partner - (partner > xp.arange(2 * n)), sims)   # its reduced column
    return cross_entropy(sims, positives)


def _describe(x):
    if isinstance(x, _fn.Tensor):
        return f"a {x.dtype} Tensor of shape {tuple(x.shape)}"
    return type(x).__name__
