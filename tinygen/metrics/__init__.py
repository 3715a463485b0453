"""tinygen.metrics: numbers that score models, computed from arrays.

    from tinygen.metrics import frechet_distance, class_balance
    fd = frechet_distance(real_features, fake_features)     # (N, D) arrays each -> float
    class_balance(probs)                                    # (N, K) class probabilities -> dict

Pure math on NumPy arrays (or anything np.asarray reads, such as CPU Tensors): nothing here loads a
model or a run. Where the features come from (the judge classifier of `tinygen eval`) is
tinygen.train's business.
"""
from .judge import class_balance, frechet_distance

__all__ = ["class_balance", "frechet_distance"]
