"""Scores of generated images from a classifier's view of them (the "judge").

- Frechet distance between feature sets: FID's formula (Heusel et al. 2017), here over the hidden
  layer of the project's own LeNet-style classifier instead of Inception's pool features.
- Class balance of samples: the distribution of predicted classes (its entropy: log(10) = 2.303
  nats for ten even classes; the rarest class's share) and the mean confidence (the max
  softmax probability), which a collapsed or blurry generator lowers.
"""
from __future__ import annotations

import warnings

import numpy as np


def frechet_distance(f1, f2) -> float:
    """||mu1 - mu2||^2 + Tr(S1 + S2 - 2 (S1 S2)^(1/2)) between two feature sets.
    f1: (N1, D), f2: (N2, D); the means and covariances are computed in float64."""
    from scipy import linalg  # lazy: scipy.linalg is slow to import and only this needs it
    f1, f2 = np.asarray(f1, dtype=np.float64), np.asarray(f2, dtype=np.float64)
    if f1.ndim != 2 or f2.ndim != 2 or f1.shape[1] != f2.shape[1]:
        raise ValueError(f"frechet_distance: expected two (N, D) arrays with the same D, got "
                         f"shapes {f1.shape} and {f2.shape}")
    mu1, mu2 = f1.mean(0), f2.mean(0)
    s1, s2 = np.cov(f1, rowvar=False), np.cov(f2, rowvar=False)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", linalg.LinAlgWarning)
            covmean = linalg.sqrtm(s1 @ s2)
    except linalg.LinAlgWarning:
        # a singular product (features that never fire: an untrained judge, dead ReLUs): shift
        # both covariances by 1e-6 I, as pytorch-fid does
        offset = np.eye(len(s1)) * 1e-6
        covmean = linalg.sqrtm((s1 + offset) @ (s2 + offset))
    covmean = covmean.real            # sqrtm of a product of covariances: imaginary parts are noise
    return float(((mu1 - mu2) ** 2).sum() + np.trace(s1 + s2 - 2 * covmean))


def judge_scores(real_features, fake_features, fake_probs, requested=None) -> dict:
    """The judge's scores of a generator's samples: judge_fd (the Frechet distance between the
    judge's features of real and generated images), judge_class_entropy, judge_confidence and
    judge_min_class_fraction (class_balance of the predicted classes), and judge_cond_acc (the
    fraction predicted as the class they were generated for) when `requested` labels (N,) are
    given (a class-conditional generator)."""
    balance = class_balance(fake_probs)
    scores = {"judge_fd": frechet_distance(real_features, fake_features),
              "judge_class_entropy": balance["class_entropy_nats"],
              "judge_confidence": balance["confidence"],
              "judge_min_class_fraction": balance["min_class_fraction"]}
    if requested is not None:
        predicted = np.asarray(fake_probs).argmax(axis=1)
        scores["judge_cond_acc"] = float((predicted == np.asarray(requested)).mean())
    return scores


def class_balance(probs) -> dict:
    """How samples spread over the classes, from their class probabilities probs (N, K):
    class_entropy_nats (entropy of the predicted-class histogram; log K when even),
    confidence (mean max probability) and min_class_fraction (the rarest class's share)."""
    p = np.asarray(probs, dtype=np.float64)
    if p.ndim != 2 or len(p) == 0:
        raise ValueError(f"class_balance: expected probabilities of shape (N, K), N > 0, got {p.shape}")
    counts = np.bincount(p.argmax(1), minlength=p.shape[1]) / len(p)
    nonzero = counts[counts > 0]
    return {"class_entropy_nats": float(-(nonzero * np.log(nonzero)).sum()),
            "confidence": float(p.max(1).mean()),
            "min_class_fraction": float(counts.min())}
