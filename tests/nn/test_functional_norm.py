"""F.layer_norm, F.group_norm, F.batch_norm, F.normalize, F.cosine_similarity against PyTorch
(float64): forward, first and second derivatives, running statistics; gradchecks; errors."""
import numpy as np
import pytest

import tinygen as tg
import tinygen.nn.functional as F
from test_functional_helpers import check_torch, check_grads, randn, torch

TF = torch.nn.functional


@pytest.mark.parametrize("shape, normalized, affine", [
    ((2, 3, 4), (4,), True), ((2, 3, 4), (3, 4), True), ((5, 6), 6, False), ((1, 1, 3), (3,), True),
    ((2, 1, 5), (1, 5), True), ((4,), (4,), True),
])
def test_layer_norm_matches_torch(shape, normalized, affine):
    ns = (normalized,) if isinstance(normalized, int) else normalized
    arrays = [randn(*shape)] + ([randn(*ns), randn(*ns)] if affine else [None, None])
    check_torch(lambda x, w, b: F.layer_norm(x, normalized, w, b, eps=1e-5),
                lambda x, w, b: TF.layer_norm(x, ns, w, b, eps=1e-5), arrays)


@pytest.mark.parametrize("shape, groups, affine", [
    ((2, 4, 3, 3), 2, True), ((2, 6, 5), 3, True), ((3, 4), 4, False), ((1, 4, 2, 2), 1, True),
    ((2, 3, 1, 1, 2), 3, True),
])
def test_group_norm_matches_torch(shape, groups, affine):
    C = shape[1]
    arrays = [randn(*shape)] + ([randn(C), randn(C)] if affine else [None, None])
    check_torch(lambda x, w, b: F.group_norm(x, groups, w, b),
                lambda x, w, b: TF.group_norm(x, groups, w, b), arrays)


@pytest.mark.parametrize("shape", [(4, 3), (2, 3, 5), (2, 3, 2, 4), (3, 1, 2, 2)])
@pytest.mark.parametrize("training", [True, False])
def test_batch_norm_matches_torch(shape, training):
    C = shape[1]
    rng = np.random.default_rng(3)
    rm, rv = rng.standard_normal(C), rng.uniform(0.5, 2.0, C)
    tg_stats = [tg.tensor(rm), tg.tensor(rv)]
    th_stats = [torch.tensor(rm), torch.tensor(rv)]

    def tg_fn(x, w, b):
        return F.batch_norm(x, tg_stats[0], tg_stats[1], w, b, training=training, momentum=0.3)

    def th_fn(x, w, b):
        return TF.batch_norm(x, th_stats[0], th_stats[1], w, b, training=training, momentum=0.3)

    check_torch(tg_fn, th_fn, [randn(*shape), randn(C), randn(C)])
    # running statistics: updated once per call, with the unbiased batch variance
    np.testing.assert_allclose(tg_stats[0].numpy(), th_stats[0].numpy(), rtol=1e-12)
    np.testing.assert_allclose(tg_stats[1].numpy(), th_stats[1].numpy(), rtol=1e-12)
    assert not tg_stats[0].requires_grad and tg_stats[0].grad_fn is None


def test_batch_norm_without_running_stats_and_affine():
    check_torch(lambda x: F.batch_norm(x, None, None, training=True),
                lambda x: TF.batch_norm(x, None, None, training=True), [randn(3, 2, 4)])


@pytest.mark.parametrize("shape", [(2, 3, 4), (2, 2, 3, 3), (1, 1, 2, 2)])
@pytest.mark.parametrize("stats", [False, True])
def test_instance_norm_matches_torch(shape, stats):
    C = shape[1]
    rm, rv = (np.zeros(C), np.ones(C)) if stats else (None, None)
    tg_stats = [None if a is None else tg.tensor(a) for a in (rm, rv)]
    th_stats = [None if a is None else torch.tensor(a) for a in (rm, rv)]
    check_torch(lambda x, w, b: F.instance_norm(x, *tg_stats, w, b, momentum=0.2),
                lambda x, w, b: TF.instance_norm(x, *th_stats, w, b, momentum=0.2),
                [randn(*shape), randn(C), randn(C)])
    if stats:
        np.testing.assert_allclose(tg_stats[0].numpy(), th_stats[0].numpy(), rtol=1e-12)
        np.testing.assert_allclose(tg_stats[1].numpy(), th_stats[1].numpy(), rtol=1e-12)
        check_torch(lambda x: F.instance_norm(x, *tg_stats, use_input_stats=False),
                    lambda x: TF.instance_norm(x, *th_stats, use_input_stats=False),
                    [randn(*shape)])


@pytest.mark.parametrize("s1, s2, p", [((3, 4), (3, 4), 2.0), ((2, 3, 4), (1, 3, 4), 1.0),
                                       ((5,), (5,), 3.0)])
def test_pairwise_distance_matches_torch(s1, s2, p):
    check_torch(lambda a, b: F.pairwise_distance(a, b, p),
                lambda a, b: TF.pairwise_distance(a, b, p), [randn(*s1), randn(*s2, seed=3)])


@pytest.mark.parametrize("shape, p, dim", [((3, 4), 2.0, 1), ((2, 3, 4), 2, -1), ((2, 3), 1, 0),
                                          ((4,), 3, 0)])
def test_normalize_matches_torch(shape, p, dim):
    check_torch(lambda x: F.normalize(x, p, dim), lambda x: TF.normalize(x, p, dim),
                [randn(*shape)])


@pytest.mark.parametrize("s1, s2, dim", [((3, 4), (3, 4), 1), ((2, 3, 4), (1, 3, 4), -1),
                                         ((5, 2), (2,), -1), ((4, 3), (4, 3), 0)])
def test_cosine_similarity_matches_torch(s1, s2, dim):
    check_torch(lambda a, b: F.cosine_similarity(a, b, dim),
                lambda a, b: TF.cosine_similarity(a, b, dim), [randn(*s1), randn(*s2, seed=9)])


def test_cosine_similarity_tiny_norm_is_clamped_like_torch():
    # second derivatives at a zero vector: torch gives NaN, tinygen 0 (its rule: 0 * inf := 0)
    a, b = np.zeros((2, 3)), randn(2, 3)
    a[1] = 1e-10
    check_torch(lambda a, b: F.cosine_similarity(a, b), lambda a, b: TF.cosine_similarity(a, b),
                [a, b], second=False)


GRADCHECK_CASES = {
    "layer_norm": (lambda x, w, b: F.layer_norm(x, (3,), w, b), [(2, 3), (3,), (3,)]),
    "group_norm": (lambda x, w, b: F.group_norm(x, 2, w, b), [(1, 4, 2), (4,), (4,)]),
    "batch_norm": (lambda x, w, b: F.batch_norm(x, None, None, w, b, training=True),
                   [(3, 2), (2,), (2,)]),
    "batch_norm_eval": (lambda x, w, b: F.batch_norm(x, tg.zeros(2, dtype=tg.float64),
                                                     tg.ones(2, dtype=tg.float64), w, b),
                        [(3, 2), (2,), (2,)]),
    "normalize": (lambda x: F.normalize(x, dim=-1), [(2, 3)]),
    "instance_norm": (lambda x, w, b: F.instance_norm(x, weight=w, bias=b),
                      [(2, 2, 3), (2,), (2,)]),
    "pairwise_distance": (lambda a, b: F.pairwise_distance(a, b), [(2, 3), (2, 3)]),
    "cosine_similarity": (lambda a, b: F.cosine_similarity(a, b, dim=-1), [(2, 3), (2, 3)]),
}


@pytest.mark.parametrize("name", list(GRADCHECK_CASES))
def test_gradcheck(name):
    fn, shapes = GRADCHECK_CASES[name]
    rng = np.random.default_rng(4)
    check_grads(fn, [rng.standard_normal(s) for s in shapes])


def test_norm_errors():
    with pytest.raises(RuntimeError, match=r"layer_norm: expected input with shape \(\*, 4\) "
                       r"\(normalized_shape \(4,\)\), got input of shape \(2, 3\)"):
        F.layer_norm(tg.randn(2, 3), (4,))
    with pytest.raises(RuntimeError, match=r"layer_norm: expected weight of shape \(3,\)"):
        F.layer_norm(tg.randn(2, 3), (3,), tg.randn(4))
    with pytest.raises(RuntimeError, match=r"group_norm: expected the number of channels 6 to "
                       r"be divisible by num_groups 4"):
        F.group_norm(tg.randn(2, 6, 3), 4)
    with pytest.raises(ValueError, match=r"batch_norm: expected more than 1 value per channel "
                       r"when training, got input of shape \(1, 3\)"):
        F.batch_norm(tg.randn(1, 3), None, None, training=True)
    with pytest.raises(RuntimeError, match=r"batch_norm: expected running_mean of shape \(3,\)"):
        F.batch_norm(tg.randn(2, 3), tg.zeros(4), tg.ones(3))
    with pytest.raises(RuntimeError, match=r"batch_norm: running_mean and running_var must be"):
        F.batch_norm(tg.randn(2, 3), None, None, training=False)
    with pytest.raises(RuntimeError, match=r"layer_norm: expected a floating-point input"):
        F.layer_norm(tg.tensor([[1, 2]]), (2,))


@pytest.mark.parametrize("which", ["layer_norm", "batch_norm"])
def test_fused_norms_third_derivative_matches_torch(which):
    # NormBackward's backward is Tensor ops with the statistics recomputed from x, so the fused
    # layer and batch norms are differentiable to any order. The reference is the same
    # normalisation written as mean / var / rsqrt in PyTorch: torch's own fused layer_norm gives
    # a third derivative in x that differs from that composition (by ~370 here; PyTorch 2.13),
    # while its first two orders agree with it.
    rng = np.random.default_rng(5)
    x0, r1, r2 = (rng.standard_normal((4, 3, 5)) for _ in range(3))
    size = 5 if which == "layer_norm" else 3
    w0, b0 = rng.standard_normal(size), rng.standard_normal(size)
    dims, shape = ((-1,), (5,)) if which == "layer_norm" else ((0, 2), (1, 3, 1))

    def fused(x, w, b):
        if which == "layer_norm":
            return F.layer_norm(x, (5,), w, b)
        return F.batch_norm(x, None, None, w, b, training=True)

    def composed(x, w, b):
        centred = x - x.mean(dim=dims, keepdim=True)
        var = (centred * centred).mean(dim=dims, keepdim=True)
        return centred * (var + 1e-5).rsqrt() * w.reshape(shape) + b.reshape(shape)

    def derivatives(lib, norm):
        x, w, b = (lib.tensor(a, requires_grad=True) for a in (x0, w0, b0))
        y = (norm(x, w, b) * lib.tensor(r1)).sum()
        gx, gw = lib.autograd.grad(y, (x, w), create_graph=True)
        hx, hw = lib.autograd.grad((gx * lib.tensor(r2)).sum() + gw.sum(), (x, w),
                                   create_graph=True)
        third = lib.autograd.grad((hx * hx).sum() + hw.sum(), (x, w))
        return [t.detach().numpy() for t in (gx, gw, hx, hw) + tuple(third)]

    for got, expected in zip(derivatives(tg, fused), derivatives(torch, composed)):
        np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-9)
