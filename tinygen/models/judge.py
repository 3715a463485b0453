"""Judging generated images with the project's own trained classifier.

- Frechet distance between classifier features of real test images and of samples (FID's
  formula with the LeNet-style classifier's hidden layer instead of Inception's).
- Class balance: the distribution of predicted digits among samples (its entropy, 2.303 nats for
  ten even classes) and the mean confidence (max softmax probability).
"""
from __future__ import annotations

import numpy as np


def frechet_distance(f1, f2):
    """||mu1 - mu2||^2 + Tr(S1 + S2 - 2 (S1 S2)^(1/2)) for feature arrays (N, D)."""
    from scipy import linalg
    mu1, mu2 = f1.mean(0), f2.mean(0)
    s1, s2 = np.cov(f1, rowvar=False), np.cov(f2, rowvar=False)
    covmean, _ = linalg.sqrtm(s1 @ s2, disp=False)
    covmean = covmean.real
    return float(((mu1 - mu2) ** 2).sum() + np.trace(s1 + s2 - 2 * covmean))


def load_classifier(path):
    from ..train.workbench import load_run
    bench = load_run(path)
    return bench.recipe.model


def judge_samples(recipe, test, classifier_path, n=2000, batch_size=500):
    import tinygen as tg
    clf = load_classifier(classifier_path)
    feats_fake, probs = [], []
    for i in range(0, n, batch_size):
        x = recipe.sample(min(batch_size, n - i))
        feats_fake.append(clf.features(x).numpy().astype(np.float64))
        probs.append(clf.head(clf.features(x)).softmax(-1).numpy().astype(np.float64))
    x_real = test.tensors[0][:n]
    feats_real = np.concatenate([clf.features(x_real[i:i + batch_size]).numpy().astype(np.float64)
                                 for i in range(0, len(x_real), batch_size)])
    p = np.concatenate(probs)
    counts = np.bincount(p.argmax(1), minlength=p.shape[1]) / len(p)
    nz = counts[counts > 0]
    return {"fd_classifier": frechet_distance(feats_real, np.concatenate(feats_fake)),
            "class_entropy_nats": float(-(nz * np.log(nz)).sum()),
            "confidence": float(p.max(1).mean()),
            "min_class_fraction": float(counts.min())}
