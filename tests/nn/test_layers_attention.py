"""PyTorch parity of MultiheadAttention (masks, layouts, projections, weights), the Transformer
encoder/decoder layers (post/pre-norm, activations, masks), the stacks and Transformer."""
from __future__ import annotations

import numpy as np
import pytest

import tinygen as tg
from tinygen import nn
import tinygen.nn.functional as F
from tinygen.ops import attention
from test_layers_helpers import check_layer, randn, torch

tnn = torch.nn
pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


def _self_attention(lib):
    class SelfAttention(lib.Module):
        """q = k = v = x: the same tensor object, as self-attention passes it."""

        def __init__(self, *args, **kwargs):
            super().__init__()
            self.attn = lib.MultiheadAttention(*args, **kwargs)

        def forward(self, x, **kwargs):
            return self.attn(x, x, x, **kwargs)

    return SelfAttention


def _masks(**arrays):
    """numpy masks -> (tinygen kwargs, torch kwargs)."""
    return ({k: tg.tensor(v) for k, v in arrays.items()},
            {k: torch.tensor(v) for k, v in arrays.items()})


def _padding(n, s, seed=0):
    pad = np.zeros((n, s), dtype=bool)
    pad[0, -2:] = True
    pad[-1, -1] = True
    return pad


def _check(build, inputs, masks=None, **kw):
    torch.manual_seed(0)
    tg_kw, th_kw = _masks(**(masks or {}))
    return check_layer(build(nn), build(tnn), inputs, tg_kwargs=tg_kw, torch_kwargs=th_kw, **kw)


L, S, N, E = 5, 6, 3, 8
causal = np.triu(np.ones((L, L), dtype=bool), 1)

MHA = {
    "cross_seq_first": (lambda m: m.MultiheadAttention(E, 2),
                        [randn(L, N, E), randn(S, N, E, seed=1), randn(S, N, E, seed=2)], {}),
    "bool_attn_mask": (lambda m: m.MultiheadAttention(E, 4, batch_first=True),
                       [randn(N, L, E), randn(N, S, E, seed=1), randn(N, S, E, seed=2)],
                       {"attn_mask": np.triu(np.ones((L, S), dtype=bool), 2)}),
    "float_3d_mask_padding": (lambda m: m.MultiheadAttention(E, 2, batch_first=True),
                              [randn(N, L, E), randn(N, S, E, seed=1), randn(N, S, E, seed=2)],
                              {"attn_mask": randn(N * 2, L, S, seed=5),
                               "key_padding_mask": _padding(N, S)}),
    "no_weights": (lambda m: m.MultiheadAttention(E, 2, batch_first=True),
                   [randn(N, L, E), randn(N, S, E, seed=1), randn(N, S, E, seed=2)],
                   {"key_padding_mask": _padding(N, S), "need_weights": False}),
    "per_head_weights": (lambda m: m.MultiheadAttention(E, 4),
                         [randn(L, N, E), randn(S, N, E, seed=1), randn(S, N, E, seed=2)],
                         {"average_attn_weights": False}),
    "kdim_vdim": (lambda m: m.MultiheadAttention(E, 2, kdim=3, vdim=5),
                  [randn(L, N, E), randn(S, N, 3, seed=1), randn(S, N, 5, seed=2)], {}),
    "no_bias": (lambda m: m.MultiheadAttention(E, 2, bias=False),
                [randn(L, N, E), randn(S, N, E, seed=1), randn(S, N, E, seed=2)], {}),
    "bias_kv_zero_attn": (lambda m: m.MultiheadAttention(E, 2, add_bias_kv=True,
                                                         add_zero_attn=True),
                          [randn(L, N, E), randn(S, N, E, seed=1), randn(S, N, E, seed=2)],
                          {"key_padding_mask": _padding(N, S),
                           "attn_mask": np.triu(np.ones((L, S), dtype=bool), 3)}),
    "unbatched": (lambda m: m.MultiheadAttention(E, 2),
                  [randn(L, E), randn(S, E, seed=1), randn(S, E, seed=2)], {}),
}


@pytest.mark.parametrize("name", list(MHA))
def test_multihead_attention(name):
    build, inputs, masks = MHA[name]
    flags = {k: masks[k] for k in ("need_weights", "average_attn_weights") if k in masks}
    arrays = {k: v for k, v in masks.items() if k not in flags}
    _check(build, inputs, arrays, kwargs=flags)


@pytest.mark.parametrize("batch_first", [False, True])
def test_self_attention_causal(batch_first):
    shape = (N, L, E) if batch_first else (L, N, E)
    _check(lambda m: _self_attention(m)(E, 2, batch_first=batch_first), [randn(*shape)],
           {"attn_mask": causal}, kwargs={"is_causal": True})
    _check(lambda m: _self_attention(m)(E, 2, batch_first=batch_first), [randn(*shape)],
           {"attn_mask": causal}, kwargs={"need_weights": False}, dtype="float64")


@pytest.mark.parametrize("batch_first", [False, True])
def test_the_causal_hint_runs_the_causal_kernel(monkeypatch, batch_first):
    # is_causal with the causal mask, no padding mask and no weights: as PyTorch, the mask is
    # taken to be causal and the fused kernel masks the upper triangle itself; with a padding
    # mask as well, both masks are applied as given
    calls = []
    fused = attention.FlashAttention.apply
    monkeypatch.setattr(attention.FlashAttention, "apply",
                        lambda *a: calls.append(a[3:5]) or fused(*a))     # (bias, causal)
    shape = (N, L, E) if batch_first else (L, N, E)
    build = lambda m: _self_attention(m)(E, 2, batch_first=batch_first)   # noqa: E731
    _check(build, [randn(*shape)], {"attn_mask": causal},
           kwargs={"is_causal": True, "need_weights": False}, dtype="float64")
    assert calls and all(bias is None and flag for bias, flag in calls)
    calls.clear()
    _check(build, [randn(*shape)], {"attn_mask": causal, "key_padding_mask": _padding(N, L)},
           kwargs={"is_causal": True, "need_weights": False}, dtype="float64")
    assert calls and all(bias is not None and not flag for bias, flag in calls)


def test_is_causal_without_mask_builds_the_causal_mask():
    torch.manual_seed(0)
    mha = nn.MultiheadAttention(E, 2)
    x = tg.tensor(randn(L, N, E))
    a, wa = mha(x, x, x, is_causal=True)
    b, _ = mha(x, x, x, attn_mask=tg.tensor(causal))
    np.testing.assert_allclose(a.numpy(), b.numpy(), atol=1e-6)
    assert not np.triu(wa.numpy()[0], 1).any()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_weights_and_fused_paths_agree_on_a_row_masked_by_a_large_finite_value(dtype):
    # a float key-padding mask of torch.finfo(dtype).min (Hugging Face's convention) over every
    # key of batch element 1: need_weights=True (the weights spelled out) and False (the fused
    # kernel) both apply it less each row's largest finite entry (attention.shifted_mask), so
    # they give the same output and gradients (the fused kernel's used to be S times too large)
    rng = np.random.default_rng(8)
    pad = np.zeros((3, 6), dtype)
    pad[1] = np.finfo(dtype).min
    pad[2, 4:] = np.finfo(dtype).min
    x_np = rng.standard_normal((3, 5, 8)).astype(dtype)
    results = []
    for need_weights in (True, False):
        tg.manual_seed(0)
        mha = nn.MultiheadAttention(8, 2, batch_first=True, dtype=getattr(tg, dtype.__name__))
        x = tg.tensor(x_np, requires_grad=True)
        kv = tg.tensor(rng.standard_normal((3, 6, 8)).astype(dtype)) if not results else \
            results[0][-1]
        out, _ = mha(x, kv, kv, key_padding_mask=tg.tensor(pad), need_weights=need_weights)
        (out * out).sum().backward()
        results.append([out.detach().numpy(), x.grad.numpy(), mha.in_proj_weight.grad.numpy(),
                        kv])
    tol = dict(rtol=2e-5, atol=2e-6) if dtype == np.float32 else dict(rtol=1e-10, atol=1e-12)
    for a, b in zip(results[0][:3], results[1][:3]):
        np.testing.assert_allclose(a, b, **tol)


def test_multihead_attention_dropout_eval_is_deterministic():
    _check(lambda m: m.MultiheadAttention(E, 2, dropout=0.5),
           [randn(L, N, E), randn(S, N, E, seed=1), randn(S, N, E, seed=2)], train=False)


def test_multihead_attention_errors_and_names():
    with pytest.raises(ValueError, match="divisible by num_heads"):
        nn.MultiheadAttention(10, 3)
    mha = nn.MultiheadAttention(E, 2)
    with pytest.raises(RuntimeError, match="2D attn_mask"):
        x = tg.randn(L, N, E)
        mha(x, x, x, attn_mask=tg.zeros(L, L + 1))
    assert [n for n, _ in mha.named_parameters()] == [
        "in_proj_weight", "in_proj_bias", "out_proj.weight", "out_proj.bias"]
    assert [n for n, _ in nn.MultiheadAttention(E, 2, kdim=3, vdim=4).named_parameters()] == [
        n for n, _ in tnn.MultiheadAttention(E, 2, kdim=3, vdim=4).named_parameters()]


LAYERS = {
    "encoder_post_relu_masks": (
        lambda m: m.TransformerEncoderLayer(E, 2, 16, dropout=0.0, batch_first=True),
        [randn(N, L, E)], {"src_mask": causal, "src_key_padding_mask": _padding(N, L)}),
    "encoder_pre_gelu_no_bias": (
        lambda m: m.TransformerEncoderLayer(E, 4, 12, dropout=0.0, activation="gelu",
                                            norm_first=True, bias=False, layer_norm_eps=1e-3),
        [randn(L, N, E)], {"src_mask": causal}),
    "encoder_callable_activation": (
        lambda m: m.TransformerEncoderLayer(E, 2, 16, dropout=0.0,
                                            activation=m.functional.silu
                                            if hasattr(m, "functional") else F.silu),
        [randn(L, N, E)], {}),
    "decoder_pre_norm_masks": (
        lambda m: m.TransformerDecoderLayer(E, 2, 16, dropout=0.0, norm_first=True,
                                            batch_first=True, activation="gelu"),
        [randn(N, L, E), randn(N, S, E, seed=1)],
        {"tgt_mask": causal, "tgt_key_padding_mask": _padding(N, L),
         "memory_key_padding_mask": _padding(N, S)}),
    "decoder_post_norm_seq_first": (
        lambda m: m.TransformerDecoderLayer(E, 2, 16, dropout=0.0),
        [randn(L, N, E), randn(S, N, E, seed=1)],
        {"memory_mask": np.triu(np.ones((L, S), dtype=bool), 4)}),
}


@pytest.mark.parametrize("name", list(LAYERS))
def test_transformer_layers(name):
    build, inputs, masks = LAYERS[name]
    _check(build, inputs, masks)


def test_transformer_layers_eval_with_dropout_float64():
    _check(lambda m: m.TransformerEncoderLayer(E, 2, 16, dropout=0.3), [randn(L, N, E)],
           train=False, dtype="float64")
    _check(lambda m: m.TransformerDecoderLayer(E, 2, 16, dropout=0.3, norm_first=True),
           [randn(L, N, E), randn(S, N, E, seed=1)], train=False, dtype="float64")


def test_encoder_activation_module_is_a_child():
    layer = nn.TransformerEncoderLayer(E, 2, 16, activation=nn.GELU())
    theirs = tnn.TransformerEncoderLayer(E, 2, 16, activation=tnn.GELU())
    assert [n for n, _ in layer.named_children()] == [n for n, _ in theirs.named_children()]
    assert list(layer.state_dict()) == list(theirs.state_dict())
    with pytest.raises(RuntimeError, match="relu/gelu"):
        nn.TransformerEncoderLayer(E, 2, activation="tanh")


def test_encoder_and_decoder_stacks():
    def encoder(m):
        layer = m.TransformerEncoderLayer(E, 2, 16, dropout=0.0, batch_first=True)
        return m.TransformerEncoder(layer, num_layers=2, norm=m.LayerNorm(E),
                                    enable_nested_tensor=False)

    _check(encoder, [randn(N, L, E)], {"mask": causal, "src_key_padding_mask": _padding(N, L)})

    def decoder(m):
        layer = m.TransformerDecoderLayer(E, 2, 16, dropout=0.0, norm_first=True)
        return m.TransformerDecoder(layer, num_layers=2)

    _check(decoder, [randn(L, N, E), randn(S, N, E, seed=1)], {"tgt_mask": causal})


def test_stack_layers_are_independent_deep_copies():
    layer = nn.TransformerEncoderLayer(E, 2, 16)
    stack = nn.TransformerEncoder(layer, 3)
    w0, w1 = stack.layers[0].linear1.weight, stack.layers[1].linear1.weight
    assert w0 is not w1 and w0 is not layer.linear1.weight
    np.testing.assert_array_equal(w0.numpy(), w1.numpy())
    assert len(list(stack.parameters())) == 3 * len(list(layer.parameters()))
    assert list(stack.state_dict()) == list(
        tnn.TransformerEncoder(tnn.TransformerEncoderLayer(E, 2, 16), 3,
                               enable_nested_tensor=False).state_dict())


def test_full_transformer():
    def model(m):
        return m.Transformer(d_model=E, nhead=2, num_encoder_layers=2, num_decoder_layers=1,
                             dim_feedforward=16, dropout=0.0, batch_first=True)

    tgt_mask = nn.Transformer.generate_square_subsequent_mask(L).numpy()
    _check(model, [randn(N, S, E), randn(N, L, E, seed=1)],
           {"tgt_mask": tgt_mask, "src_key_padding_mask": _padding(N, S),
            "memory_key_padding_mask": _padding(N, S)})


def test_generate_square_subsequent_mask():
    ours = nn.Transformer.generate_square_subsequent_mask(4)
    theirs = tnn.Transformer.generate_square_subsequent_mask(4)
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
    assert ours.dtype == tg.float32
    assert nn.Transformer.generate_square_subsequent_mask(3, dtype=tg.float64).dtype == tg.float64


def test_transformer_init_is_xavier():
    model = nn.Transformer(d_model=16, nhead=2, num_encoder_layers=1, num_decoder_layers=1,
                           dim_feedforward=32)
    w = model.encoder.layers[0].linear1.weight.numpy()
    bound = np.sqrt(6 / (16 + 32))
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.9 * bound
