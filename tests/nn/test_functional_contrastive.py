"""F.info_nce (CLIP) and F.nt_xent (SimCLR): against a direct NumPy computation of the papers'
formulas, against PyTorch's cross_entropy both ways (float64; skipped without torch), first and
second gradients (finite differences), the limits (aligned pairs ~0, random ones ~ln N), the
label-aware targets and the error messages."""
import math

import numpy as np
import pytest

import tinygen as tg
import tinygen.nn.functional as F
from helpers import TORCH, assert_close, check_op, requires_torch


def _rand(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


def _log_softmax(x, axis):
    m = x.max(axis=axis, keepdims=True)
    return x - m - np.log(np.exp(x - m).sum(axis=axis, keepdims=True))


def _info_nce_numpy(img, txt, scale):
    """CLIP's figure 3, in NumPy: the mean of the two cross-entropies over arange(N)."""
    img = img / np.linalg.norm(img, axis=1, keepdims=True)
    txt = txt / np.linalg.norm(txt, axis=1, keepdims=True)
    logits = scale * img @ txt.T                                          # (N, N)
    n = len(img)
    ce_images = -_log_softmax(logits, 1)[np.arange(n), np.arange(n)].mean()
    ce_texts = -_log_softmax(logits, 0)[np.arange(n), np.arange(n)].mean()
    return (ce_images + ce_texts) / 2


def _nt_xent_numpy(z1, z2, tau):
    """SimCLR's algorithm 1, in NumPy: l(k, partner) over all 2N anchors, self left out."""
    z = np.concatenate([z1, z2])
    z = z / np.linalg.norm(z, axis=1, keepdims=True)
    s = z @ z.T / tau
    n2 = len(z)
    total = 0.0
    for k in range(n2):
        partner = (k + n2 // 2) % n2
        others = [j for j in range(n2) if j != k]
        total += -(s[k, partner] - np.log(np.exp(s[k, others]).sum()))
    return total / n2


@pytest.mark.parametrize("n, d", [(1, 3), (5, 4), (8, 16)])
def test_info_nce_equals_direct_computation(n, d):
    img, txt, log_scale = _rand(n, d), _rand(n, d, seed=1), 0.3
    loss = F.info_nce(tg.tensor(img), tg.tensor(txt), tg.tensor(np.float64(log_scale)))
    assert loss.dtype == tg.float64 and loss.shape == ()
    assert_close(loss, np.float64(_info_nce_numpy(img, txt, math.exp(log_scale))), 1e-12, 1e-12)
    fixed = F.info_nce(tg.tensor(img), tg.tensor(txt), temperature=0.07)
    assert_close(fixed, np.float64(_info_nce_numpy(img, txt, 1 / 0.07)), 1e-12, 1e-12)
    as_float = F.info_nce(tg.tensor(img), tg.tensor(txt), log_scale)
    assert_close(as_float, np.float64(_info_nce_numpy(img, txt, math.exp(log_scale))), 1e-12)


@pytest.mark.parametrize("n, d", [(2, 3), (6, 5)])
def test_nt_xent_equals_direct_computation(n, d):
    z1, z2 = _rand(n, d), _rand(n, d, seed=1)
    for tau in (0.5, 0.1):
        loss = F.nt_xent(tg.tensor(z1), tg.tensor(z2), tau)
        assert_close(loss, np.float64(_nt_xent_numpy(z1, z2, tau)), 1e-12, 1e-12)


def _torch_info_nce(img, txt, log_scale):
    TF = TORCH.nn.functional
    logits = log_scale.exp() * TF.normalize(img, dim=1) @ TF.normalize(txt, dim=1).T
    labels = TORCH.arange(len(img))
    return (TF.cross_entropy(logits, labels) + TF.cross_entropy(logits.T, labels)) / 2


def _torch_nt_xent(z1, z2, tau):
    TF = TORCH.nn.functional
    z = TF.normalize(TORCH.cat([z1, z2]), dim=1)
    s = z @ z.T / tau
    s = s.masked_fill(TORCH.eye(len(z), dtype=TORCH.bool), float("-inf"))
    n = len(z1)
    return TF.cross_entropy(s, (TORCH.arange(2 * n) + n) % (2 * n))


def test_info_nce_matches_torch_with_first_and_second_gradients():
    requires_torch()
    check_op(lambda i, t, s: F.info_nce(i, t, s), _torch_info_nce, [(5, 4), (5, 4), ()],
             rtol=1e-9, atol=1e-12, gradcheck_max_numel=48)


def test_info_nce_fixed_temperature_matches_torch():
    requires_torch()
    TF = TORCH.nn.functional if TORCH is not None else None

    def torch_fn(i, t):
        logits = TF.normalize(i, dim=1) @ TF.normalize(t, dim=1).T / 0.2
        labels = TORCH.arange(len(i))
        return (TF.cross_entropy(logits, labels) + TF.cross_entropy(logits.T, labels)) / 2
    check_op(lambda i, t: F.info_nce(i, t, temperature=0.2), torch_fn, [(4, 3), (4, 3)],
             rtol=1e-9, atol=1e-12)


def test_nt_xent_matches_torch_with_first_and_second_gradients():
    requires_torch()
    check_op(lambda a, b: F.nt_xent(a, b, 0.5), lambda a, b: _torch_nt_xent(a, b, 0.5),
             [(4, 3), (4, 3)], rtol=1e-9, atol=1e-12)


def test_gradcheck_and_gradgradcheck_without_torch():
    # finite differences only: these run where torch is not installed
    img = tg.tensor(_rand(4, 3), requires_grad=True)
    txt = tg.tensor(_rand(4, 3, seed=1), requires_grad=True)
    scale = tg.tensor(np.float64(0.5), requires_grad=True)
    targets = F.label_aware_targets(tg.tensor([0, 1, 0, 2])).double()
    for fn, inputs in [(lambda i, t, s: F.info_nce(i, t, s), [img, txt, scale]),
                       (lambda i, t, s: F.info_nce(i, t, s, targets=targets), [img, txt, scale]),
                       (lambda a, b: F.nt_xent(a, b, 0.3), [img, txt])]:
        assert tg.autograd.gradcheck(fn, inputs)
        assert tg.autograd.gradgradcheck(fn, inputs)


def test_aligned_embeddings_give_about_zero_and_random_ones_about_log_batch():
    n, d = 16, 256
    aligned = np.eye(n, d)                             # orthonormal pairs, image i == text i
    loss = F.info_nce(tg.tensor(aligned), tg.tensor(aligned), tg.tensor(np.float64(math.log(100))))
    assert loss.item() < 1e-6
    assert F.nt_xent(tg.tensor(aligned), tg.tensor(aligned), 0.05).item() < 1e-6
    # random unit vectors in 256 dimensions are nearly orthogonal: with scale 1 every logit is
    # about 0, so each row's softmax is about uniform over the N texts (2N-1 others for NT-Xent)
    losses = [F.info_nce(tg.tensor(_rand(n, d, seed=s)), tg.tensor(_rand(n, d, seed=s + 100)),
                         0.0).item() for s in range(5)]
    assert abs(np.mean(losses) - math.log(n)) < 0.05
    z = [F.nt_xent(tg.tensor(_rand(n, d, seed=s)), tg.tensor(_rand(n, d, seed=s + 100)), 1.0).item()
         for s in range(5)]
    assert abs(np.mean(z) - math.log(2 * n - 1)) < 0.05


def test_label_aware_targets_do_not_push_same_class_captions_apart():
    # images 0 and 2 share a class; moving image 0 toward text 2 (its class's other caption)
    # raises the plain loss (text 2 is a negative of image 0) and lowers the label-aware one
    # (text 2 is a positive of image 0, as text 0 is)
    img = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.8, 0.0, 0.6]])
    txt = img.copy()
    targets = F.label_aware_targets(tg.tensor([0, 1, 0]))
    assert targets.numpy().tolist() == [[1, 0, 1], [0, 1, 0], [1, 0, 1]]
    toward = txt[2] - txt[0]
    slopes = {}
    for name, kw in (("plain", {}), ("aware", {"targets": targets})):
        i = tg.tensor(img, requires_grad=True)
        F.info_nce(i, tg.tensor(txt), temperature=0.1, **kw).backward()
        slopes[name] = float(i.grad.numpy()[0] @ toward)
    assert slopes["plain"] > 0.1 and slopes["aware"] < -0.1, slopes


def test_float32_stays_float32():
    img = tg.randn(6, 8)
    txt = tg.randn(6, 8)
    assert F.info_nce(img, txt, tg.zeros(())).dtype == tg.float32
    assert F.nt_xent(img, txt, 0.5).dtype == tg.float32


@pytest.mark.parametrize("call, match", [
    (lambda: F.info_nce(tg.randn(4, 3), tg.randn(5, 3), 0.0), r"info_nce.*same number of rows"),
    (lambda: F.info_nce(tg.randn(4, 3), tg.randn(4, 2), 0.0), r"info_nce.*embedding size"),
    (lambda: F.info_nce(tg.randn(4), tg.randn(4), 0.0), r"info_nce.*\(N, D\)"),
    (lambda: F.info_nce(tg.randn(4, 3), tg.randn(4, 3)), r"info_nce.*exactly one"),
    (lambda: F.info_nce(tg.randn(4, 3), tg.randn(4, 3), 0.0, temperature=0.1),
     r"info_nce.*exactly one"),
    (lambda: F.info_nce(tg.randn(4, 3), tg.randn(4, 3), temperature=0.0), r"temperature > 0"),
    (lambda: F.info_nce(tg.randn(4, 3), tg.randn(4, 3), tg.zeros(2)), r"scalar logit_scale"),
    (lambda: F.info_nce(tg.randn(4, 3), tg.randn(4, 3), 0.0, targets=tg.ones(3, 3)),
     r"info_nce.*\(4, 4\) match matrix"),
    (lambda: F.nt_xent(tg.randn(4, 3), tg.randn(3, 3), 0.5), r"nt_xent.*same number of rows"),
    (lambda: F.nt_xent(tg.randn(4, 3), tg.randn(4, 3), -1.0), r"nt_xent.*temperature > 0"),
    (lambda: F.nt_xent(tg.zeros(4, 3, dtype=tg.int64), tg.randn(4, 3)), r"nt_xent.*floating"),
])
def test_errors_name_the_op_and_shapes(call, match):
    with pytest.raises((RuntimeError, ValueError), match=match):
        call()
