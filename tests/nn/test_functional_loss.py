"""Losses against PyTorch (float64): forward, first and second derivatives for every reduction;
gradchecks; error messages."""
import numpy as np
import pytest

import tinygen as tg
import tinygen.nn.functional as F
from test_functional_helpers import check_torch, check_grads, randn, torch

TF = torch.nn.functional
REDUCTIONS = ["mean", "sum", "none"]


def _probs(*shape, seed=0):
    return np.random.default_rng(seed).uniform(0.05, 0.95, shape)


def _labels(shape, classes, seed=0):
    return np.random.default_rng(seed).integers(0, classes, shape)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("name, kwargs", [
    ("mse_loss", {}), ("l1_loss", {}), ("smooth_l1_loss", {}), ("smooth_l1_loss", {"beta": 0.5}),
    ("smooth_l1_loss", {"beta": 0.0}), ("huber_loss", {}), ("huber_loss", {"delta": 0.3}),
])
@pytest.mark.parametrize("shapes", [((3, 4), (3, 4)), ((2, 1, 3), (2, 1, 3)), ((5,), (5,))])
def test_regression_losses_match_torch(name, kwargs, reduction, shapes):
    arrays = [randn(*shapes[0]), randn(*shapes[1], seed=7)]
    check_torch(lambda x, t: getattr(F, name)(x, t, reduction=reduction, **kwargs),
                lambda x, t: getattr(TF, name)(x, t, reduction=reduction, **kwargs), arrays)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("name", ["mse_loss", "l1_loss", "huber_loss"])
def test_weighted_regression_losses_match_torch(name, reduction):
    """weight= (PyTorch 2.6+): mse and l1's 'mean' divide by sum(weight), huber's by the count."""
    weight = np.random.default_rng(3).uniform(0.1, 3.0, (3, 4))
    check_torch(lambda x, t, w: getattr(F, name)(x, t, reduction=reduction, weight=w),
                lambda x, t, w: getattr(TF, name)(x, t, reduction=reduction, weight=w),
                [randn(3, 4), randn(3, 4, seed=7), weight], diff=[0, 1, 2])
    with pytest.raises(ValueError, match=f"{name}: weights and input must have the same size"):
        getattr(F, name)(tg.zeros(3, 4), tg.zeros(3, 4), weight=tg.ones(4))


@pytest.mark.filterwarnings("ignore:Using a target size")
def test_mse_loss_broadcasts_like_torch():
    check_torch(lambda x, t: F.mse_loss(x, t), lambda x, t: TF.mse_loss(x, t),
                [randn(3, 4), randn(1, 4, seed=2)])


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("shape, var_shape, full", [((3, 4), (3, 4), False), ((3, 4), (3,), True),
                                                    ((2, 3, 2), (2, 1, 2), False)])
def test_gaussian_nll_loss_matches_torch(shape, var_shape, full, reduction):
    var = np.random.default_rng(1).uniform(0.2, 2.0, var_shape)
    var.reshape(-1)[0] = 1e-8                              # below eps: clamped outside the graph
    check_torch(lambda x, t, v: F.gaussian_nll_loss(x, t, v, full=full, reduction=reduction),
                lambda x, t, v: TF.gaussian_nll_loss(x, t, v, full=full, reduction=reduction),
                [randn(*shape), randn(*shape, seed=5), var], rtol=1e-6, atol=1e-6)


def test_gaussian_nll_loss_float_var():
    check_torch(lambda x, t: F.gaussian_nll_loss(x, t, 0.5),
                lambda x, t: TF.gaussian_nll_loss(x, t, 0.5), [randn(3, 2), randn(3, 2, seed=1)])


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("shape", [(4, 3), (2, 1, 3), (5,)])
def test_binary_cross_entropy_matches_torch(shape, weighted, reduction):
    weight = _probs(*shape[-1:], seed=2) if weighted else None
    arrays = [_probs(*shape), _probs(*shape, seed=1), weight]
    check_torch(lambda x, t, w: F.binary_cross_entropy(x, t, w, reduction=reduction),
                lambda x, t, w: TF.binary_cross_entropy(x, t, w, reduction=reduction), arrays,
                diff=[0, 1])           # torch: no gradient with respect to weight


def test_binary_cross_entropy_clamps_log_at_minus_100_with_torchs_gradients():
    """Saturated probabilities: the loss's logs clamp at -100, the gradient is PyTorch's
    (x - t) / max(x (1 - x), 1e-12), not the clamp's 0 (x = 0, t = 1: -1e12, so it learns)."""
    x = np.array([0.0, 1.0, 0.5, 1e-50, 1e-20, 0.0, 1 - 1e-16, 0.3])
    t = np.array([1.0, 0.0, 1.0, 1.0, 1.0, 0.0, 0.4, 0.7])
    check_torch(lambda x, t: F.binary_cross_entropy(x, t, reduction="none"),
                lambda x, t: TF.binary_cross_entropy(x, t, reduction="none"), [x, t], diff=[0],
                second=False)


def test_binary_cross_entropy_refuses_input_outside_0_1():
    for bad in (1.5, -0.1, float("nan")):
        with pytest.raises(RuntimeError, match="binary_cross_entropy: all elements of input "
                                               "should be between 0 and 1"):
            F.binary_cross_entropy(tg.tensor([0.5, bad]), tg.tensor([1.0, 0.0]))


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted, pos", [(False, False), (True, False), (False, True),
                                           (True, True)])
@pytest.mark.parametrize("shape", [(4, 3), (2, 1, 3), (3,)])
def test_bce_with_logits_matches_torch(shape, weighted, pos, reduction):
    arrays = [randn(*shape) * 4, _probs(*shape, seed=1),
              _probs(*shape[-1:], seed=2) if weighted else None,
              _probs(*shape[-1:], seed=3) * 3 if pos else None]
    check_torch(lambda x, t, w, p: F.binary_cross_entropy_with_logits(
                    x, t, w, reduction=reduction, pos_weight=p),
                lambda x, t, w, p: TF.binary_cross_entropy_with_logits(
                    x, t, w, reduction=reduction, pos_weight=p), arrays,
                diff=[0, 1])          # torch: no gradient wrt weight and pos_weight


def test_bce_with_logits_is_stable_for_huge_logits():
    x = np.array([-1000.0, -50.0, 0.0, 50.0, 1000.0])
    t = np.array([1.0, 0.0, 0.5, 1.0, 0.0])
    check_torch(lambda x, t: F.binary_cross_entropy_with_logits(x, t, reduction="none"),
                lambda x, t: TF.binary_cross_entropy_with_logits(x, t, reduction="none"), [x, t])


CE_CASES = [
    ((4, 5), (4,)),            # (N, C), targets (N,)
    ((5,), ()),                # unbatched
    ((2, 3, 4), (2, 4)),       # (N, C, d1)
    ((2, 3, 2, 2), (2, 2, 2)), # (N, C, d1, d2)
    ((1, 1), (1,)),            # one class
]


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("options", [{}, {"weight": True}, {"ignore_index": 0},
                                     {"weight": True, "ignore_index": 1},
                                     {"label_smoothing": 0.2},
                                     {"label_smoothing": 0.1, "weight": True, "ignore_index": 2}])
@pytest.mark.parametrize("shape, target_shape", CE_CASES)
def test_cross_entropy_class_indices_match_torch(shape, target_shape, options, reduction):
    C = shape[0] if len(shape) == 1 else shape[1]
    options = dict(options)
    weight = _probs(C, seed=4) if options.pop("weight", False) else None
    target = _labels(target_shape, C, seed=3)
    if target.size > 1 and "ignore_index" in options:
        target.reshape(-1)[0] = options["ignore_index"]      # at least one ignored target
    for fn_name in (["cross_entropy"] + (["nll_loss"] if "label_smoothing" not in options else [])):
        def tg_fn(x, t, w, fn_name=fn_name):
            inp = x if fn_name == "cross_entropy" else F.log_softmax(x, 0 if x.ndim == 1 else 1)
            return getattr(F, fn_name)(inp, t, w, reduction=reduction, **options)

        def th_fn(x, t, w, fn_name=fn_name):
            inp = x if fn_name == "cross_entropy" else TF.log_softmax(x, 0 if x.ndim == 1 else 1)
            return getattr(TF, fn_name)(inp, t, w, reduction=reduction, **options)

        check_torch(tg_fn, th_fn, [randn(*shape), target, weight], diff=[0])


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("options", [{}, {"weight": True}, {"label_smoothing": 0.3}])
@pytest.mark.parametrize("shape", [(4, 5), (5,), (2, 3, 4)])
def test_cross_entropy_probability_targets_match_torch(shape, options, reduction):
    options = dict(options)
    class_dim = 0 if len(shape) == 1 else 1
    C = shape[class_dim]
    weight = _probs(C, seed=4) if options.pop("weight", False) else None
    target = np.random.default_rng(6).uniform(0, 1, shape)
    target /= target.sum(axis=class_dim, keepdims=True)
    check_torch(lambda x, t, w: F.cross_entropy(x, t, w, reduction=reduction, **options),
                lambda x, t, w: TF.cross_entropy(x, t, w, reduction=reduction, **options),
                [randn(*shape), target, weight], diff=[0, 1])


def test_cross_entropy_is_stable_for_huge_logits():
    x = np.array([[1000.0, -1000.0, 0.0], [-500.0, 500.0, 499.0]])
    check_torch(lambda x, t: F.cross_entropy(x, t), lambda x, t: TF.cross_entropy(x, t),
                [x, np.array([1, 2])])


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("smoothing", [0.0, 0.1])
@pytest.mark.parametrize("shape", [(4, 5), (2, 5, 3)])
def test_cross_entropy_with_masked_logits_matches_torch(shape, smoothing, reduction):
    """-inf logits (a masked vocabulary): the loss is finite without smoothing (the kernel's
    e / C * sum(logits) term gave 0 * -inf = NaN), inf with it, as PyTorch."""
    x = randn(*shape)
    x[:, 0] = -np.inf
    x[0, 2] = -np.inf
    target = np.full((shape[0],) + shape[2:], 1)
    check_torch(lambda x, t: F.cross_entropy(x, t, reduction=reduction, label_smoothing=smoothing),
                lambda x, t: TF.cross_entropy(x, t, reduction=reduction, label_smoothing=smoothing),
                [x, target], diff=[0] if not smoothing else [], second=False)


@pytest.mark.filterwarnings("ignore:reduction. 'mean' divides")
@pytest.mark.parametrize("reduction", REDUCTIONS + ["batchmean"])
@pytest.mark.parametrize("log_target", [False, True])
@pytest.mark.parametrize("shape", [(3, 4), (2, 1, 3), (4,)])
def test_kl_div_matches_torch(shape, log_target, reduction):
    target = _probs(*shape, seed=2)
    target.reshape(-1)[0] = 0.0 if not log_target else target.reshape(-1)[0]   # 0 log 0 = 0
    if log_target:
        target = np.log(target)
    check_torch(lambda x, t: F.kl_div(x, t, reduction=reduction, log_target=log_target),
                lambda x, t: TF.kl_div(x, t, reduction=reduction, log_target=log_target),
                [np.log(_probs(*shape)), target], diff=[0])


GRADCHECK_CASES = {
    "mse_loss": (lambda x, t: F.mse_loss(x, t), [randn(2, 3), randn(2, 3, seed=1)]),
    "l1_loss": (lambda x, t: F.l1_loss(x, t, reduction="sum"), [randn(2, 3), randn(2, 3, seed=1)]),
    "smooth_l1_loss": (lambda x, t: F.smooth_l1_loss(x, t, beta=0.8),
                       [randn(2, 3), randn(2, 3, seed=1)]),
    "huber_loss": (lambda x, t: F.huber_loss(x, t, delta=0.7), [randn(2, 3), randn(2, 3, seed=1)]),
    "gaussian_nll_loss": (lambda x, t, v: F.gaussian_nll_loss(x, t, v, full=True),
                          [randn(2, 3), randn(2, 3, seed=1), _probs(2, 3) + 0.5]),
    "binary_cross_entropy": (lambda x, t: F.binary_cross_entropy(x, t),
                             [_probs(2, 3), _probs(2, 3, seed=1)]),
    "bce_with_logits": (lambda x, t, p: F.binary_cross_entropy_with_logits(x, t, pos_weight=p),
                        [randn(2, 3), _probs(2, 3, seed=1), _probs(3) + 0.5]),
    "cross_entropy": (lambda x, t: F.cross_entropy(x, t, label_smoothing=0.1),
                      [randn(3, 4), np.array([0, 3, 1])]),
    "cross_entropy_probs": (lambda x, t: F.cross_entropy(x, t), [randn(2, 3), _probs(2, 3)]),
    "nll_loss": (lambda x, t, w: F.nll_loss(x, t, w),
                 [randn(3, 4), np.array([0, 3, 1]), _probs(4)]),
    "kl_div": (lambda x, t: F.kl_div(x, t, reduction="batchmean"), [randn(2, 3), _probs(2, 3)]),
}


@pytest.mark.parametrize("name", list(GRADCHECK_CASES))
def test_gradcheck(name):
    fn, arrays = GRADCHECK_CASES[name]
    check_grads(fn, arrays)


# ---- errors ------------------------------------------------------------------------------------
def test_cross_entropy_errors():
    x = tg.randn(4, 5)
    with pytest.raises(RuntimeError, match=r"cross_entropy: expected target of shape \(4,\) "
                       r"\(class indices\) for input of shape \(4, 5\), got target of shape "
                       r"\(3,\)"):
        F.cross_entropy(x, tg.tensor([0, 1, 2]))
    with pytest.raises(RuntimeError, match=r"cross_entropy: expected a class-index target of "
                       r"shape \(4,\).*probability target of the input's shape \(4, 5\).*got "
                       r"target of shape \(4, 3\) and dtype tinygen.float32"):
        F.cross_entropy(x, tg.rand(4, 3))
    with pytest.raises(RuntimeError, match=r"cross_entropy: expected an integer \(int64\) "
                       r"class-index target, got tinygen.bool"):
        F.cross_entropy(x, tg.tensor([True, False, True, True]))
    with pytest.raises(IndexError, match=r"cross_entropy: target 7 is out of bounds for input of "
                       r"shape \(4, 5\) with 5 classes"):
        F.cross_entropy(x, tg.tensor([0, 7, 1, 2]))
    with pytest.raises(RuntimeError, match=r"cross_entropy: expected weight of shape \(5,\)"):
        F.cross_entropy(x, tg.tensor([0, 1, 1, 2]), weight=tg.ones(4))
    with pytest.raises(ValueError, match=r"cross_entropy: 'avg' is not a valid value for "
                       r"reduction"):
        F.cross_entropy(x, tg.tensor([0, 1, 1, 2]), reduction="avg")
    with pytest.raises(ValueError, match=r"cross_entropy: label_smoothing must be between"):
        F.cross_entropy(x, tg.tensor([0, 1, 1, 2]), label_smoothing=1.5)


def test_other_loss_errors():
    with pytest.raises(ValueError, match=r"binary_cross_entropy: expected target of the input's "
                       r"shape \(2, 3\), got target of shape \(3,\)"):
        F.binary_cross_entropy(tg.rand(2, 3), tg.rand(3))
    with pytest.raises(ValueError, match=r"binary_cross_entropy_with_logits: expected target"):
        F.binary_cross_entropy_with_logits(tg.rand(2, 3), tg.rand(2, 1))
    with pytest.raises(RuntimeError, match=r"mse_loss: input of shape \(2, 3\) and target of "
                       r"shape \(4,\) do not broadcast"):
        F.mse_loss(tg.rand(2, 3), tg.rand(4))
    with pytest.raises(ValueError, match=r"gaussian_nll_loss: var is of incorrect size"):
        F.gaussian_nll_loss(tg.rand(2, 3), tg.rand(2, 3), tg.rand(3, 2))
    with pytest.raises(IndexError, match=r"nll_loss: target -2 is out of bounds"):
        F.nll_loss(tg.randn(2, 3), tg.tensor([-2, 1]))
    with pytest.raises(ValueError, match=r"gaussian_nll_loss: var has negative"):
        F.gaussian_nll_loss(tg.rand(2, 3), tg.rand(2, 3), -tg.rand(2, 3))
