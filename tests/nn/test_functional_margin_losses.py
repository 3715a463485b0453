"""The margin, embedding, count and CTC losses against PyTorch (float64): forward, first and
second derivatives for every reduction (CTC: first derivatives, as PyTorch has no second; its
own second derivative by gradgradcheck); errors name the op."""
import numpy as np
import pytest

import tinygen as tg
import tinygen.nn.functional as F
from test_functional_helpers import check_grads, check_torch, randn, torch

TF = torch.nn.functional
REDUCTIONS = ["mean", "sum", "none"]


def _signs(*shape, seed=0):
    return np.random.default_rng(seed).choice([-1.0, 1.0], size=shape)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_margin_ranking_loss(reduction):
    y = _signs(6)
    check_torch(lambda a, b: F.margin_ranking_loss(a, b, tg.tensor(y), margin=0.3,
                                                   reduction=reduction),
                lambda a, b: TF.margin_ranking_loss(a, b, torch.tensor(y), margin=0.3,
                                                    reduction=reduction),
                [randn(6), randn(6, seed=1)])


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_hinge_embedding_loss(reduction):
    y = _signs(3, 4, seed=2)
    check_torch(lambda x: F.hinge_embedding_loss(x, tg.tensor(y), margin=0.7,
                                                 reduction=reduction),
                lambda x: TF.hinge_embedding_loss(x, torch.tensor(y), margin=0.7,
                                                  reduction=reduction), [randn(3, 4)])


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_soft_margin_loss(reduction):
    y = _signs(3, 4, seed=3)
    check_torch(lambda x: F.soft_margin_loss(x, tg.tensor(y), reduction=reduction),
                lambda x: TF.soft_margin_loss(x, torch.tensor(y), reduction=reduction),
                [randn(3, 4)])


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted", [False, True])
def test_multilabel_soft_margin_loss(weighted, reduction):
    y = np.random.default_rng(4).integers(0, 2, (3, 5)).astype(np.float64)
    w = np.linspace(0.5, 2.0, 5)
    check_torch(lambda x: F.multilabel_soft_margin_loss(
                    x, tg.tensor(y), weight=tg.tensor(w) if weighted else None,
                    reduction=reduction),
                lambda x: TF.multilabel_soft_margin_loss(
                    x, torch.tensor(y), weight=torch.tensor(w) if weighted else None,
                    reduction=reduction), [randn(3, 5)])


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("p, weighted, shape", [(1, False, (4, 3)), (2, True, (4, 3)),
                                                (1, True, (3,))])
def test_multi_margin_loss(p, weighted, shape, reduction):
    y = np.array([2, 0, 1, 1])[:shape[0]] if len(shape) == 2 else np.array(1)
    w = np.array([0.5, 1.5, 2.0])
    check_torch(lambda x: F.multi_margin_loss(x, tg.tensor(y), p=p, margin=0.8,
                                              weight=tg.tensor(w) if weighted else None,
                                              reduction=reduction),
                lambda x: TF.multi_margin_loss(x, torch.tensor(y), p=p, margin=0.8,
                                               weight=torch.tensor(w) if weighted else None,
                                               reduction=reduction), [randn(*shape)],
                second=False)                   # PyTorch has no second derivative here
    check_grads(lambda x: F.multi_margin_loss(x, tg.tensor(y), p=p, margin=0.8), [randn(*shape)])


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_cosine_embedding_loss(reduction):
    y = _signs(5, seed=5)
    check_torch(lambda a, b: F.cosine_embedding_loss(a, b, tg.tensor(y), margin=0.2,
                                                     reduction=reduction),
                lambda a, b: TF.cosine_embedding_loss(a, b, torch.tensor(y), margin=0.2,
                                                      reduction=reduction),
                [randn(5, 3), randn(5, 3, seed=6)])


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("p, swap", [(2, False), (1, True), (3, False)])
def test_triplet_margin_loss(p, swap, reduction):
    check_torch(lambda a, b, c: F.triplet_margin_loss(a, b, c, margin=1.5, p=p, swap=swap,
                                                      reduction=reduction),
                lambda a, b, c: TF.triplet_margin_loss(a, b, c, margin=1.5, p=p, swap=swap,
                                                       reduction=reduction),
                [randn(4, 3), randn(4, 3, seed=1), randn(4, 3, seed=2)])


@pytest.mark.parametrize("swap", [False, True])
def test_triplet_margin_with_distance_loss(swap):
    def ours(a, b):
        return 1 - F.cosine_similarity(a, b)

    def theirs(a, b):
        return 1 - TF.cosine_similarity(a, b)
    check_torch(lambda a, b, c: F.triplet_margin_with_distance_loss(
                    a, b, c, distance_function=ours, margin=0.5, swap=swap),
                lambda a, b, c: TF.triplet_margin_with_distance_loss(
                    a, b, c, distance_function=theirs, margin=0.5, swap=swap),
                [randn(4, 3), randn(4, 3, seed=1), randn(4, 3, seed=2)])
    check_torch(lambda a, b, c: F.triplet_margin_with_distance_loss(a, b, c),
                lambda a, b, c: TF.triplet_margin_with_distance_loss(a, b, c),
                [randn(4, 3), randn(4, 3, seed=1), randn(4, 3, seed=2)])


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("log_input, full", [(True, False), (False, False), (True, True),
                                             (False, True)])
def test_poisson_nll_loss(log_input, full, reduction):
    target = np.array([[0.0, 1.0, 3.0], [2.0, 5.0, 0.5]])
    x = randn(2, 3) if log_input else np.random.default_rng(1).uniform(0.2, 3.0, (2, 3))
    check_torch(lambda x: F.poisson_nll_loss(x, tg.tensor(target), log_input, full,
                                             reduction=reduction),
                lambda x: TF.poisson_nll_loss(x, torch.tensor(target), log_input, full,
                                              reduction=reduction), [x])
    # the target's gradient too (Stirling's term included where full; no target of 0, where
    # PyTorch's is NaN: its t log t, masked by a where after)
    check_torch(lambda x, t: F.poisson_nll_loss(x, t, log_input, full, reduction=reduction),
                lambda x, t: TF.poisson_nll_loss(x, t, log_input, full, reduction=reduction),
                [x, target + 0.25], diff=[0, 1])


CTC_TARGETS = np.array([[1, 2, 2], [3, 1, 0], [2, 0, 0]])
CTC_TARGET_LENGTHS = np.array([3, 2, 1])
CTC_INPUT_LENGTHS = np.array([7, 5, 4])


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("concatenated", [False, True])
def test_ctc_loss(reduction, concatenated):
    targets = np.concatenate([t[:n] for t, n in zip(CTC_TARGETS, CTC_TARGET_LENGTHS)]) \
        if concatenated else CTC_TARGETS
    check_torch(lambda x: F.ctc_loss(x.log_softmax(2), tg.tensor(targets),
                                     tg.tensor(CTC_INPUT_LENGTHS), tg.tensor(CTC_TARGET_LENGTHS),
                                     reduction=reduction),
                lambda x: TF.ctc_loss(x.log_softmax(2), torch.tensor(targets),
                                      torch.tensor(CTC_INPUT_LENGTHS),
                                      torch.tensor(CTC_TARGET_LENGTHS), reduction=reduction),
                [randn(7, 3, 4)], second=False)


def test_ctc_loss_blank_and_infinity():
    # an impossible alignment (target longer than the input allows) is inf; zero_infinity -> 0
    targets, in_len, tgt_len = np.array([[1, 1, 1]]), np.array([3]), np.array([3])
    x = tg.tensor(randn(3, 1, 3))
    assert F.ctc_loss(x.log_softmax(2), tg.tensor(targets), tg.tensor(in_len),
                      tg.tensor(tgt_len)).item() == float("inf")
    check_torch(lambda x: F.ctc_loss(x.log_softmax(2), tg.tensor(targets), tg.tensor(in_len),
                                     tg.tensor(tgt_len), zero_infinity=True),
                lambda x: TF.ctc_loss(x.log_softmax(2), torch.tensor(targets),
                                      torch.tensor(in_len), torch.tensor(tgt_len),
                                      zero_infinity=True),
                [randn(3, 1, 3)], second=False)
    check_torch(lambda x: F.ctc_loss(x.log_softmax(2), tg.tensor(CTC_TARGETS),
                                     tg.tensor(CTC_INPUT_LENGTHS), tg.tensor(CTC_TARGET_LENGTHS),
                                     blank=4),
                lambda x: TF.ctc_loss(x.log_softmax(2), torch.tensor(CTC_TARGETS),
                                      torch.tensor(CTC_INPUT_LENGTHS),
                                      torch.tensor(CTC_TARGET_LENGTHS), blank=4),
                [randn(7, 3, 5)], second=False)


def test_ctc_loss_is_twice_differentiable():
    check_grads(lambda x: F.ctc_loss(x.log_softmax(2), tg.tensor([[1, 2]]), tg.tensor([3]),
                                     tg.tensor([2])), [randn(3, 1, 3)])


@pytest.mark.parametrize("call, error, match", [
    (lambda: F.margin_ranking_loss(tg.ones(3), tg.ones(2), tg.ones(3)), RuntimeError,
     "margin_ranking_loss: expected inputs of one shape"),
    (lambda: F.multi_margin_loss(tg.ones(2, 3), tg.tensor([0, 3])), IndexError,
     "multi_margin_loss: target out of range"),
    (lambda: F.multi_margin_loss(tg.ones(2, 3), tg.tensor([0, 1]), p=3), ValueError,
     "only p == 1 and p == 2"),
    (lambda: F.ctc_loss(tg.ones(3, 1, 2), tg.tensor([[1]]), tg.tensor([4]), tg.tensor([1])),
     RuntimeError, "ctc_loss: input_lengths must be in"),
    (lambda: F.ctc_loss(tg.ones(3, 2, 3), tg.tensor([1, 2, 1]), tg.tensor([3, 3]),
                        tg.tensor([2, 2])),
     RuntimeError, r"ctc_loss: target_lengths add up to 4, more than the 3 concatenated"),
    (lambda: F.ctc_loss(tg.ones(3, 1, 3), tg.tensor([[1, 2]]), tg.tensor([3]), tg.tensor([3])),
     RuntimeError, r"ctc_loss: a target length of 3 is longer than the padded targets"),
    (lambda: F.ctc_loss(tg.ones(3, 1, 3), tg.tensor([[1, 2]]), tg.tensor([3]), tg.tensor([-1])),
     RuntimeError, "ctc_loss: target_lengths must be non-negative"),
    (lambda: F.multilabel_margin_loss(tg.ones(2, 3), tg.tensor([[0, -2, 1], [1, -1, 0]])),
     IndexError, r"multilabel_margin_loss: target out of range: the classes must be in \[0, 3\)"),
    (lambda: F.multilabel_margin_loss(tg.ones(2, 3), tg.tensor([[0, -1, 7], [1, -1, 0]])),
     IndexError, "multilabel_margin_loss: target out of range"),
    (lambda: F.multilabel_margin_loss(tg.ones(1, 3), tg.tensor([[0.0, -1.0, 1.0]])),
     RuntimeError, "multilabel_margin_loss: expected integer"),
    (lambda: F.multi_margin_loss(tg.ones(2, 3), tg.tensor([0, 1]), weight=tg.ones(4)),
     RuntimeError, r"multi_margin_loss: inconsistent weight size: expected a weight of shape \(3,\)"),
    (lambda: F.soft_margin_loss(tg.ones(2), tg.ones(2), reduction="avg"), ValueError,
     "soft_margin_loss: 'avg' is not a valid value"),
])
def test_errors_name_the_op(call, error, match):
    with pytest.raises(error, match=match):
        call()


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("shape, target", [((3, 4), [[3, 0, -1, 1], [1, 2, 3, 0], [-1, 1, 1, 1]]),
                                           ((4,), [2, 2, 0, -1])])
def test_multilabel_margin_loss(shape, target, reduction):
    y = np.array(target)
    check_torch(lambda x: F.multilabel_margin_loss(x, tg.tensor(y), reduction=reduction),
                lambda x: TF.multilabel_margin_loss(x, torch.tensor(y), reduction=reduction),
                [randn(*shape)], second=False)                    # torch has no second here
    check_grads(lambda x: F.multilabel_margin_loss(x, tg.tensor(y)), [randn(*shape)])
    assert tg.nn.MultiLabelMarginLoss(reduction="sum")(tg.ones(*shape), tg.tensor(y)).item() >= 0
