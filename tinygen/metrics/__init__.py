"""tinygen.metrics: numbers that score models, computed from arrays (or Tensors, on any device).

    psnr(x, y, data_range=1.0), ssim(x, y, data_range=1.0), ms_ssim(...)   image quality
    frechet_distance(real_features, fake_features)                          FID's formula
    judge_scores(real_features, fake_features, fake_probs, requested=None)  the image judge
    class_balance(probs)                                                    predicted classes
    iwae_bound(log_weights), bits_per_dim(nll, dims), perplexity(loss)      likelihoods

Pure math: nothing here loads a model or a run. Where the features come from (the judge
classifier of `tinygen eval`) is tinygen.train's business.
"""
from .image import ms_ssim, psnr, ssim
from .judge import class_balance, frechet_distance, judge_scores
from .likelihood import bits_per_dim, iwae_bound, perplexity

__all__ = ["bits_per_dim", "class_balance", "frechet_distance", "iwae_bound", "judge_scores",
           "ms_ssim", "perplexity", "psnr", "ssim"]
