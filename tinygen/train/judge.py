"""The judge of generated images: a classifier trained with `tinygen train classifier`, loaded
from its run folder, looks at samples and at real test images; tinygen.metrics turns what it
sees into numbers (classifier-feature Frechet distance, class balance, confidence).

    tinygen eval runs/dcgan --set classifier=runs/classifier
"""
from __future__ import annotations

import json
import os

import numpy as np

import tinygen as tg
from ..metrics import judge_scores
from ..models.classifier import Classifier, ClassifierConfig
from .errors import UsageError
from .run_folder import CHECKPOINT, check_judge, load_module_state, read_config


def load_judge(run_dir, device="cpu") -> Classifier:
    """The trained classifier of the run in `run_dir`, in eval mode, on `device`."""
    config = check_judge(run_dir)
    model = Classifier(ClassifierConfig(**config["model_config"]))
    load_module_state({"classifier": model}, tg.load(os.path.join(run_dir, CHECKPOINT)))
    model.to(device)
    model.eval()
    return model


def _host(t):
    return t.detach().cpu().numpy().astype(np.float64)


def judge_samples(sample, test, judge_dir, n=2000, batch_size=500, device="cpu",
                  requested=None):
    """Score n samples drawn with `sample(k)` (a Tensor of k images (k, C, H, W) in [0, 1])
    against the first n images of `test` (a TensorDataset), with the classifier in `judge_dir`:
    tinygen.metrics.judge_scores (judge_fd, judge_class_entropy, judge_confidence,
    judge_min_class_fraction; judge_cond_acc with `requested`, the (n,) labels the samples were
    generated for)."""
    judge = load_judge(judge_dir, device)
    feats_fake, probs = [], []
    for i in range(0, n, batch_size):
        features = judge.features(sample(min(batch_size, n - i)).to(device))     # (k, hidden)
        feats_fake.append(_host(features))
        probs.append(_host(judge.head(features).softmax(-1)))                    # (k, classes)
    real = min(n, len(test))
    feats_real = np.concatenate([                 # batch by batch: see the VAE's evaluate
        _host(judge.features(test.take(slice(i, min(i + batch_size, real)))[0].to(device)))
        for i in range(0, real, batch_size)])
    return judge_scores(feats_real, np.concatenate(feats_fake), np.concatenate(probs), requested)


def describe_judge(judge_dir):
    """What eval.json says of the judge: its run folder, architecture and test accuracy."""
    config = read_config(judge_dir)
    info = {"run": os.path.abspath(judge_dir), "data": config.get("data"),
            "model_config": config.get("model_config")}
    path = os.path.join(judge_dir, "eval.json")
    if os.path.exists(path):
        with open(path) as f:
            info["test_acc"] = json.load(f).get("metrics", {}).get("test_acc")
    return info
