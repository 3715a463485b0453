"""F.scaled_dot_product_attention against PyTorch (float64): forward, first and second
derivatives with bool, float and causal masks; gradchecks; errors."""
import numpy as np
import pytest

import tinygen as tg
import tinygen.nn.functional as F
from tinygen.ops import attention
from test_functional_helpers import check_torch, check_grads, randn, torch

TF = torch.nn.functional


def _sdpa(lib_F, mask_kind, mask_array, **kwargs):
    def fn(q, k, v):
        mask = None
        if mask_kind is not None:
            lib = tg if lib_F is F else torch
            mask = lib.tensor(mask_array)
        if lib_F is F:
            return F.scaled_dot_product_attention(q, k, v, attn_mask=mask, **kwargs)
        # torch's math path: its fused CPU kernels have no second derivative
        from torch.nn.attention import sdpa_kernel, SDPBackend
        with sdpa_kernel(SDPBackend.MATH):
            return TF.scaled_dot_product_attention(q, k, v, attn_mask=mask, **kwargs)
    return fn


@pytest.mark.parametrize("q_shape, k_shape, v_shape", [
    ((2, 3, 4), (2, 5, 4), (2, 5, 6)),             # (B, L, E), S != L, Ev != E
    ((2, 2, 3, 4), (2, 2, 3, 4), (2, 2, 3, 4)),    # (B, H, L, E)
    ((1, 1, 1, 2), (1, 1, 4, 2), (1, 1, 4, 3)),    # one query
    ((2, 2, 3, 4), (1, 2, 3, 4), (1, 2, 3, 4)),    # broadcast batch dims
])
@pytest.mark.parametrize("mask_kind", [None, "bool", "float", "causal"])
@pytest.mark.parametrize("scale", [None, 0.3])
def test_sdpa_matches_torch(q_shape, k_shape, v_shape, mask_kind, scale):
    L, S = q_shape[-2], k_shape[-2]
    rng = np.random.default_rng(0)
    mask, kwargs = None, {"scale": scale}
    if mask_kind == "bool":
        mask = rng.uniform(size=(L, S)) > 0.3
        mask[:, 0] = True                          # every query attends to something
    elif mask_kind == "float":
        mask = rng.standard_normal((1, L, S))
    elif mask_kind == "causal":
        kwargs["is_causal"] = True
    check_torch(_sdpa(F, mask_kind if mask_kind != "causal" else None, mask, **kwargs),
                _sdpa(TF, mask_kind if mask_kind != "causal" else None, mask, **kwargs),
                [randn(*q_shape), randn(*k_shape, seed=1), randn(*v_shape, seed=2)])


def test_sdpa_fully_masked_row_gives_zeros():
    q, k, v = tg.randn(1, 2, 3), tg.randn(1, 4, 3), tg.randn(1, 4, 5)
    mask = tg.tensor([[True, True, False, False], [False, False, False, False]])
    out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
    assert np.all(out.numpy()[:, 1] == 0) and np.isfinite(out.numpy()).all()


def test_sdpa_dropout_keeps_expected_mass():
    tg.manual_seed(0)
    q, k = tg.zeros(1, 1, 1, 4), tg.zeros(1, 1, 200, 4)
    v = tg.ones(1, 1, 200, 1)
    out = F.scaled_dot_product_attention(q, k, v, dropout_p=0.25)     # uniform weights 1/200
    assert abs(out.item() - 1.0) < 0.2          # E[out] = 1: kept weights scaled by 1 / 0.75


def test_gradcheck():
    rng = np.random.default_rng(3)
    arrays = [rng.standard_normal((1, 2, 3)), rng.standard_normal((1, 3, 3)),
              rng.standard_normal((1, 3, 2))]
    check_grads(lambda q, k, v: F.scaled_dot_product_attention(q, k, v, is_causal=True), arrays)
    mask = tg.tensor(rng.standard_normal((2, 3)))
    check_grads(lambda q, k, v: F.scaled_dot_product_attention(q, k, v, attn_mask=mask), arrays)


def test_sdpa_errors():
    q, k, v = tg.randn(2, 3, 4), tg.randn(2, 5, 4), tg.randn(2, 5, 6)
    with pytest.raises(RuntimeError, match=r"scaled_dot_product_attention: query \(shape "
                       r"\(2, 3, 4\)\) and key \(shape \(2, 5, 3\)\) must have the same embedding"):
        F.scaled_dot_product_attention(q, tg.randn(2, 5, 3), v)
    with pytest.raises(RuntimeError, match=r"scaled_dot_product_attention: key \(shape "
                       r"\(2, 5, 4\)\) and value \(shape \(2, 4, 6\)\) must have the same "
                       r"sequence"):
        F.scaled_dot_product_attention(q, k, tg.randn(2, 4, 6))
    with pytest.raises(RuntimeError, match=r"attn_mask of shape \(4, 5\) does not broadcast to "
                       r"the attention scores' shape \(2, 3, 5\)"):
        F.scaled_dot_product_attention(q, k, v, attn_mask=tg.ones(4, 5, dtype=tg.bool))
    with pytest.raises(RuntimeError, match=r"explicit attn_mask should not be set when "
                       r"is_causal=True"):
        F.scaled_dot_product_attention(q, k, v, attn_mask=tg.ones(3, 5, dtype=tg.bool),
                                       is_causal=True)
    with pytest.raises(RuntimeError, match=r"same floating dtype.*float64"):
        F.scaled_dot_product_attention(q, k.double(), v)


@pytest.mark.parametrize("mask", [None, "causal", "float", "bool"])
def test_flash_attention_third_derivative_matches_torch(mask):
    # FlashAttentionBackward's backward is Tensor ops (P recomputed from q and k and the mask):
    # attention on the fused path is differentiable to any order, like torch's math path
    rng = np.random.default_rng(2)
    arrays = [rng.standard_normal((2, 3, 4)) for _ in range(3)]
    r1, r2 = rng.standard_normal((2, 3, 4)), rng.standard_normal((2, 3, 4))
    causal = mask == "causal"
    mask_array = {"causal": np.tril(np.ones((3, 3), bool)),
                  "float": rng.standard_normal((2, 1, 3)),
                  "bool": np.array([[1, 0, 1], [1, 1, 0], [0, 1, 1]], bool)}.get(mask)
    ours = _derivatives(tg, _sdpa(F, None if causal else mask, mask_array, is_causal=causal),
                        arrays, r1, r2)
    theirs = _derivatives(torch, _sdpa(TF, mask, mask_array), arrays, r1, r2)
    for got, expected in zip(ours, theirs):
        np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-9)


def _derivatives(lib, fn, arrays, r1, r2):
    """First, second and third derivatives of attention with respect to q, k, v."""
    q, k, v = (lib.tensor(a, requires_grad=True) for a in arrays)
    y = (fn(q, k, v) * lib.tensor(r1)).sum()
    g = lib.autograd.grad(y, (q, k, v), create_graph=True)
    h = lib.autograd.grad(sum((gi * lib.tensor(r2)).sum() for gi in g), (q, k, v),
                          create_graph=True)
    third = lib.autograd.grad(sum((hi * hi).sum() for hi in h), (q, k, v))
    return [t.detach().numpy() for t in g + h + third]


def test_a_mask_without_gradient_runs_the_fused_kernel(monkeypatch):
    # a padding mask (bool or float, no gradient) is added to the scores inside the flash
    # kernel; a mask that requires grad takes the math path, which gives it its gradient
    fused = []
    monkeypatch.setattr(attention.FlashAttention, "apply",
                        lambda *a, _f=attention.FlashAttention.apply: fused.append(1) or _f(*a))
    rng = np.random.default_rng(4)
    arrays = [rng.standard_normal((2, 2, 3, 4)), rng.standard_normal((2, 2, 5, 4)),
              rng.standard_normal((2, 2, 5, 3))]
    pad = np.ones((2, 1, 1, 5), bool)
    pad[0, ..., 3:] = False
    for mask in (pad, np.where(pad, 0.0, -np.inf), rng.standard_normal((2, 1, 3, 5))):
        check_torch(_sdpa(F, "mask", mask), _sdpa(TF, "mask", mask),
                    [randn(2, 2, 3, 4), randn(2, 2, 5, 4, seed=1), randn(2, 2, 5, 3, seed=2)])
        assert fused
        fused.clear()
    grads = []
    for lib in (tg, torch):
        mask = lib.tensor(rng.standard_normal((3, 5)) if lib is tg else grads[0][0],
                          requires_grad=True)
        q, k, v = (lib.tensor(a, requires_grad=True) for a in arrays)
        (lib.nn.functional.scaled_dot_product_attention(q, k, v, attn_mask=mask) ** 2).sum()\
            .backward()
        grads.append([mask.detach().numpy()] + [t.grad.numpy() for t in (mask, q, k, v)])
    assert not fused
    for got, expected in zip(grads[0][1:], grads[1][1:]):
        np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-9)


def test_fully_masked_rows_on_the_fused_path_give_zero_gradients():
    q, k, v = (tg.randn(2, 2, n, 4, dtype=tg.float64, requires_grad=True) for n in (3, 5, 5))
    mask = tg.ones(2, 1, 3, 5, dtype=tg.bool)
    mask[1, :, 2] = False                                    # query 2 of batch 1: no key
    out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
    out.sum().backward()
    assert np.all(out.detach().numpy()[1, :, 2] == 0)
    assert np.all(q.grad.numpy()[1, :, 2] == 0)
    assert all(np.isfinite(t.grad.numpy()).all() for t in (q, k, v))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("path", ["fused", "math"])
def test_a_row_masked_by_a_large_finite_value_gets_exact_gradients(dtype, path):
    # Hugging Face's convention, torch.finfo(dtype).min on every key of a row (a padded
    # query): the mask is applied less each row's largest finite entry (the kernels'
    # _shifted_bias, the math path's attention.shifted_mask), so
    # the flash kernel's log-sum-exp keeps log(l) (unshifted, m ~ -3.4e38 rounded it away and the
    # gradients came out S times too large). Both paths give PyTorch's math path on the shifted
    # mask: that row the softmax of its scores, the other rows as given.
    rng = np.random.default_rng(7)
    L, S, D = 6, 9, 8
    arrays = [rng.standard_normal(s).astype(dtype) for s in ((2, L, D), (2, S, D), (2, S, D))]
    mask = np.zeros((L, S), dtype)
    mask[1] = np.finfo(dtype).min                             # every key of query 1
    mask[2, ::2] = np.finfo(dtype).min                        # some keys of query 2
    mask[3] = -1e4                                            # every key, moderately
    mask[4, 1:] = -np.inf                                     # one key left
    shifted = mask - np.where(np.isfinite(mask.max(-1, keepdims=True)),
                              mask.max(-1, keepdims=True), 0)
    w = rng.standard_normal((2, L, D)).astype(dtype)
    grads = []
    # dropout_p > 0 takes the math path; at 1e-300 it drops nothing (scale 1 / (1 - p))
    ours = _sdpa(F, "mask", mask, dropout_p=0.0 if path == "fused" else 1e-300)
    for lib, fn in ((tg, ours), (torch, _sdpa(TF, "mask", shifted))):   # torch: its math path
        q, k, v = (lib.tensor(a, requires_grad=True) for a in arrays)
        out = fn(q, k, v)
        (out * lib.tensor(w)).sum().backward()
        grads.append([out.detach().numpy()] + [t.grad.numpy() for t in (q, k, v)])
    tol = dict(rtol=1e-5, atol=2e-6) if dtype == np.float32 else dict(rtol=1e-10, atol=1e-12)
    for got, expected in zip(*grads):
        np.testing.assert_allclose(got, expected, **tol)


def test_changing_the_output_in_place_before_backward_is_an_error():
    # the fused kernel's backward reads its output (rowsum(dO * O)): o is saved as an output,
    # version-checked like any other, not kept as a plain array
    q, k, v = (tg.randn(2, n, 4, dtype=tg.float64, requires_grad=True) for n in (3, 5, 5))
    out = F.scaled_dot_product_attention(q, k, v)
    out.mul_(3)
    with pytest.raises(RuntimeError, match="modified by an inplace operation.*FlashAttention"):
        out.sum().backward()


def test_mask_of_another_type_and_empty_embedding():
    q, k, v = tg.randn(2, 3, 4), tg.randn(2, 5, 4), tg.randn(2, 5, 6)
    with pytest.raises(TypeError, match=r"scaled_dot_product_attention: expected attn_mask to "
                       r"be a Tensor .* got ndarray"):
        F.scaled_dot_product_attention(q, k, v, attn_mask=np.zeros((3, 5)))
    # E = 0: every score 0, uniform weights (PyTorch's answer), not a division by zero
    q0, k0 = tg.randn(2, 3, 0, dtype=tg.float64), tg.randn(2, 5, 0, dtype=tg.float64)
    v0 = tg.randn(2, 5, 6, dtype=tg.float64)
    out = F.scaled_dot_product_attention(q0, k0, v0)
    np.testing.assert_allclose(out.numpy(), np.broadcast_to(v0.numpy().mean(1, keepdims=True),
                                                            (2, 3, 6)), rtol=1e-12)
