"""tinygen.metrics' judge numbers against cases with known answers."""
import numpy as np
import pytest

from tinygen.metrics import class_balance, frechet_distance


def test_frechet_distance_of_gaussians_matches_the_closed_form():
    rng = np.random.default_rng(0)
    a = rng.standard_normal((20000, 3))
    shift = np.array([1.0, -2.0, 0.5])
    # same covariance: the distance is ||shift||^2 (the trace term vanishes)
    assert frechet_distance(a, a + shift) == pytest.approx(float(shift @ shift), rel=1e-6)
    # N(0, I) against N(0, 4 I) in 3-D: Tr(I + 4I - 2 * 2I) = 3, up to sampling noise
    b = 2 * rng.standard_normal((20000, 3))
    assert frechet_distance(a, b) == pytest.approx(3.0, abs=0.1)
    assert frechet_distance(a, a) == pytest.approx(0.0, abs=1e-8)


def test_frechet_distance_rejects_mismatched_features():
    with pytest.raises(ValueError, match=r"shapes \(4, 2\) and \(4, 3\)"):
        frechet_distance(np.zeros((4, 2)), np.zeros((4, 3)))


def test_class_balance():
    even = np.eye(10)[np.arange(100) % 10] * 0.9 + 0.01           # 10 classes, each 10 times
    scores = class_balance(even)
    assert scores["class_entropy_nats"] == pytest.approx(np.log(10))
    assert scores["confidence"] == pytest.approx(0.91)
    assert scores["min_class_fraction"] == pytest.approx(0.1)
    collapsed = class_balance(np.tile([[0.2, 0.8, 0.0]], (7, 1)))   # every sample is class 1
    assert collapsed == {"class_entropy_nats": 0.0, "confidence": pytest.approx(0.8),
                         "min_class_fraction": 0.0}
    with pytest.raises(ValueError, match="shape \\(N, K\\)"):
        class_balance(np.zeros(3))


def test_frechet_distance_equals_a_direct_scipy_computation():
    from scipy import linalg
    rng = np.random.default_rng(4)
    f1 = rng.standard_normal((500, 6)) @ rng.standard_normal((6, 6))
    f2 = rng.standard_normal((400, 6)) @ rng.standard_normal((6, 6)) + 0.3
    mu1, mu2 = f1.mean(0), f2.mean(0)
    s1, s2 = np.cov(f1, rowvar=False), np.cov(f2, rowvar=False)
    direct = ((mu1 - mu2) ** 2).sum() + np.trace(s1 + s2 - 2 * linalg.sqrtm(s1 @ s2).real)
    assert frechet_distance(f1, f2) == pytest.approx(direct, rel=1e-10)


def test_judge_scores_names_and_conditional_accuracy():
    from tinygen.metrics import judge_scores
    rng = np.random.default_rng(5)
    real, fake = rng.standard_normal((50, 3)), rng.standard_normal((40, 3))
    probs = np.eye(4)[np.arange(40) % 4] * 0.7 + 0.075
    scores = judge_scores(real, fake, probs)
    assert set(scores) == {"judge_fd", "judge_class_entropy", "judge_confidence",
                           "judge_min_class_fraction"}
    asked = np.arange(40) % 4
    asked[:10] = (asked[:10] + 1) % 4                       # 10 of 40 judged another class
    assert judge_scores(real, fake, probs, requested=asked)["judge_cond_acc"] == 0.75
