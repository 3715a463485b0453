"""Finite-difference gradcheck and gradgradcheck (double backward, as WGAN-GP needs) of tiny
float64 layers, with respect to the input and every parameter."""
from __future__ import annotations

import pytest

import tinygen as tg
from tinygen import nn

LAYERS = {
    "linear": (lambda: nn.Linear(3, 2), (2, 3)),
    "conv2d_groups": (lambda: nn.Conv2d(2, 2, 2, groups=2, padding=1), (1, 2, 3, 3)),
    "conv_transpose2d": (lambda: nn.ConvTranspose2d(2, 1, 2, stride=2), (1, 2, 2, 2)),
    "batchnorm2d_train": (lambda: nn.BatchNorm2d(2), (2, 2, 2, 2)),
    "layernorm": (lambda: nn.LayerNorm(4), (2, 4)),
    "groupnorm": (lambda: nn.GroupNorm(2, 4), (2, 4, 2)),
    "maxpool_flatten": (lambda: nn.Sequential(nn.MaxPool2d(2), nn.Flatten(), nn.GELU()),
                        (1, 2, 4, 4)),
    "multihead_attention_self": (lambda: _SelfAttention(), (3, 1, 4)),
    "gru": (lambda: nn.GRU(2, 2), (3, 1, 2)),
    "lstm": (lambda: nn.LSTM(2, 2), (3, 1, 2)),
}


class _SelfAttention(nn.Module):
    def __init__(self):
        super().__init__()
        self.attn = nn.MultiheadAttention(4, 2)

    def forward(self, x):
        return self.attn(x, x, x)[0]


def _first(out):
    return out[0] if isinstance(out, tuple) else out


@pytest.mark.parametrize("name", list(LAYERS))
def test_gradcheck_and_gradgradcheck(name):
    build, shape = LAYERS[name]
    tg.manual_seed(0)
    layer = build().double()
    x = tg.randn(*shape, dtype=tg.float64, requires_grad=True)
    params = list(layer.parameters())

    def fn(x, *params):
        return _first(layer(x))

    assert tg.autograd.gradcheck(fn, [x, *params])
    assert tg.autograd.gradgradcheck(fn, [x, *params])


def test_embedding_weight_gradcheck():
    tg.manual_seed(0)
    emb = nn.Embedding(4, 2).double()
    ids = tg.tensor([[0, 1, 3], [3, 3, 2]])
    assert tg.autograd.gradcheck(lambda w: emb(ids) ** 2, [emb.weight])
    emb = nn.Embedding(4, 2, padding_idx=0).double()
    (emb(ids) ** 2).sum().backward()
    assert not emb.weight.grad.numpy()[0].any()        # padding_idx row gets no gradient
