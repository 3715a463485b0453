"""PyTorch parity of the feed-forward layers: Linear, Bilinear, convolutions, pooling, Upsample,
Flatten/Unflatten, Embedding, activations, Dropout (outputs, input and parameter gradients)."""
from __future__ import annotations

import numpy as np
import pytest

import tinygen as tg
from tinygen import nn
from test_layers_helpers import check_layer, randn, torch

tnn = torch.nn


def _check(build, inputs, **kw):
    torch.manual_seed(0)
    return check_layer(build(nn), build(tnn), inputs, **kw)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_linear_variants(dtype):
    _check(lambda m: m.Linear(5, 3, bias=False), [randn(2, 4, 5)], dtype=dtype)
    _check(lambda m: m.Linear(5, 3), [randn(5)], dtype=dtype)          # unbatched
    _check(lambda m: m.Bilinear(3, 4, 2), [randn(5, 3), randn(5, 4, seed=1)], dtype=dtype)


CONVS = {
    "conv1d_stride": (lambda m: m.Conv1d(3, 4, 5, stride=2, padding=1), (2, 3, 13)),
    "conv1d_same": (lambda m: m.Conv1d(2, 4, 4, padding="same"), (2, 2, 9)),
    "conv2d_rect": (lambda m: m.Conv2d(3, 5, (3, 2), stride=(2, 1), padding=(1, 0),
                                       dilation=(1, 2)), (2, 3, 9, 8)),
    "conv2d_depthwise": (lambda m: m.Conv2d(4, 8, 3, groups=4, bias=False), (2, 4, 6, 6)),
    "conv2d_same": (lambda m: m.Conv2d(2, 3, 4, padding="same", dilation=2), (1, 2, 9, 9)),
    "conv2d_valid": (lambda m: m.Conv2d(2, 3, 3, padding="valid"), (1, 2, 5, 5)),
    "conv2d_reflect": (lambda m: m.Conv2d(2, 3, 3, padding=1, padding_mode="reflect"),
                       (2, 2, 6, 5)),
    "conv2d_circular": (lambda m: m.Conv2d(2, 3, 3, padding=(1, 2),
                                           padding_mode="circular"), (2, 2, 6, 5)),
    "conv2d_replicate": (lambda m: m.Conv2d(2, 3, 3, padding=1, padding_mode="replicate"),
                         (2, 2, 6, 5)),
    "conv2d_same_reflect": (lambda m: m.Conv2d(2, 3, (4, 3), padding="same",
                                               padding_mode="reflect"), (2, 2, 6, 5)),
    "conv1d_same_circular": (lambda m: m.Conv1d(2, 3, 4, padding="same", dilation=1,
                                                padding_mode="circular"), (2, 2, 7)),
    "conv2d_unbatched": (lambda m: m.Conv2d(2, 3, 3), (2, 6, 6)),
    "conv_transpose2d_dilated": (lambda m: m.ConvTranspose2d(3, 2, (3, 4), stride=(2, 3),
                                                             padding=(1, 2), dilation=2),
                                 (2, 3, 4, 5)),
    "conv_transpose2d_nobias": (lambda m: m.ConvTranspose2d(2, 4, 4, stride=2, padding=1,
                                                            bias=False), (1, 2, 5, 5)),
    "conv_transpose1d": (lambda m: m.ConvTranspose1d(4, 6, 3, stride=2, padding=1,
                                                     output_padding=1, groups=2), (2, 4, 7)),
}


@pytest.mark.parametrize("name", list(CONVS))
def test_convolutions(name):
    build, shape = CONVS[name]
    _check(build, [randn(*shape)])


def test_conv_transpose2d_output_size():
    torch.manual_seed(0)
    ours, theirs = nn.ConvTranspose2d(3, 2, 3, stride=2, padding=1), \
        tnn.ConvTranspose2d(3, 2, 3, stride=2, padding=1)
    ours.load_state_dict(theirs.state_dict())
    x = randn(1, 3, 4, 4)
    for size in [(7, 7), (8, 8), (1, 2, 8, 7)]:
        y = ours(tg.tensor(x), output_size=size)
        expected = theirs(torch.tensor(x), output_size=size)
        np.testing.assert_allclose(y.numpy(), expected.detach().numpy(), atol=1e-5)
    with pytest.raises(ValueError, match="valid sizes range from 7 to 8"):
        ours(tg.tensor(x), output_size=(9, 9))


def test_conv_constructor_errors():
    with pytest.raises(ValueError, match="divisible by groups"):
        nn.Conv2d(3, 4, 3, groups=2)
    with pytest.raises(ValueError, match="padding_mode"):
        nn.Conv2d(3, 4, 3, padding_mode="mirror")
    with pytest.raises(ValueError, match="strided"):
        nn.Conv2d(3, 3, 3, stride=2, padding="same")


POOLS = {
    "maxpool": (lambda m: m.MaxPool2d(2), (2, 3, 6, 7)),
    "maxpool_pad_ceil": (lambda m: m.MaxPool2d(3, stride=2, padding=1, ceil_mode=True),
                         (2, 2, 7, 8)),
    "maxpool_dilated": (lambda m: m.MaxPool2d((2, 3), stride=1, dilation=2), (1, 2, 7, 8)),
    "avgpool": (lambda m: m.AvgPool2d(2), (2, 3, 6, 6)),
    "avgpool_pad_excl": (lambda m: m.AvgPool2d(3, stride=2, padding=1, count_include_pad=False),
                         (2, 2, 7, 7)),
    "avgpool_ceil_div": (lambda m: m.AvgPool2d(2, ceil_mode=True, divisor_override=3),
                         (1, 2, 5, 5)),
    "adaptive_avg_1": (lambda m: m.AdaptiveAvgPool2d(1), (2, 3, 5, 6)),
    "adaptive_avg_uneven": (lambda m: m.AdaptiveAvgPool2d((3, 4)), (2, 3, 7, 9)),
    "adaptive_avg_none": (lambda m: m.AdaptiveAvgPool2d((None, 2)), (2, 3, 5, 6)),
    "upsample_scale": (lambda m: m.Upsample(scale_factor=2), (2, 3, 4, 5)),
    "upsample_size": (lambda m: m.Upsample(size=(7, 9), mode="nearest"), (2, 3, 4, 5)),
    "flatten": (lambda m: m.Flatten(), (2, 3, 4, 5)),
    "flatten_mid": (lambda m: m.Flatten(1, 2), (2, 3, 4, 5)),
    "unflatten": (lambda m: m.Unflatten(1, (3, 4)), (2, 12, 5)),
}


@pytest.mark.parametrize("name", list(POOLS))
def test_pooling_upsample_flatten(name):
    build, shape = POOLS[name]
    _check(build, [randn(*shape)])


def test_maxpool_return_indices():
    x = randn(2, 3, 6, 6)
    y, idx = nn.MaxPool2d(2, return_indices=True)(tg.tensor(x))
    ty, tidx = tnn.MaxPool2d(2, return_indices=True)(torch.tensor(x))
    np.testing.assert_array_equal(idx.numpy(), tidx.numpy())
    np.testing.assert_array_equal(y.numpy(), ty.numpy())


def test_embedding_variants():
    ids = np.array([[1, 2, 0], [4, 4, 9]], dtype=np.int64)
    _check(lambda m: m.Embedding(10, 3), [ids])
    _check(lambda m: m.Embedding(10, 3, padding_idx=-1), [ids])
    weights = randn(5, 3)
    emb = nn.Embedding.from_pretrained(tg.tensor(weights))
    assert not emb.weight.requires_grad
    np.testing.assert_array_equal(emb(tg.tensor([4, 0])).numpy(), weights[[4, 0]])
    emb = nn.Embedding.from_pretrained(tg.tensor(weights), freeze=False, padding_idx=1)
    assert emb.weight.requires_grad and emb.padding_idx == 1
    with pytest.raises(ValueError, match="padding_idx"):
        nn.Embedding(4, 2, padding_idx=4)


ACTIVATIONS = {
    "relu": lambda m: m.ReLU(),
    "relu6": lambda m: m.ReLU6(),
    "leaky_relu": lambda m: m.LeakyReLU(0.2),
    "elu": lambda m: m.ELU(alpha=0.7),
    "gelu": lambda m: m.GELU(),
    "gelu_tanh": lambda m: m.GELU(approximate="tanh"),
    "silu": lambda m: m.SiLU(),
    "mish": lambda m: m.Mish(),
    "tanh": lambda m: m.Tanh(),
    "sigmoid": lambda m: m.Sigmoid(),
    "logsigmoid": lambda m: m.LogSigmoid(),
    "hardtanh": lambda m: m.Hardtanh(-0.5, 2.0),
    "softplus": lambda m: m.Softplus(beta=2.0, threshold=3.0),
    "softsign": lambda m: m.Softsign(),
    "prelu": lambda m: m.PReLU(),
    "prelu_channels": lambda m: m.PReLU(3, init=0.1),
    "glu": lambda m: m.GLU(dim=1),
    "selu": lambda m: m.SELU(),
    "celu": lambda m: m.CELU(0.5),
    "hardsigmoid": lambda m: m.Hardsigmoid(),
    "hardswish": lambda m: m.Hardswish(),
    "softmax": lambda m: m.Softmax(dim=1),
    "softmax_implicit": lambda m: m.Softmax(),
    "softmin": lambda m: m.Softmin(dim=-1),
    "log_softmax": lambda m: m.LogSoftmax(dim=-1),
}


@pytest.mark.parametrize("name", list(ACTIVATIONS))
def test_activations(name):
    x = randn(2, 4, 5, scale=3.0)
    if name in ("prelu_channels",):
        x = randn(2, 3, 5, scale=3.0)
    _check(ACTIVATIONS[name], [x])
    # PyTorch's hardsigmoid backward uses a float32 1/6 even in float64 (1.0f / 6.0f)
    _check(ACTIVATIONS[name], [x], dtype="float64", tol=1e-7 if name == "hardsigmoid" else None)


def test_dropout_train_eval_and_statistics():
    tg.manual_seed(0)
    drop = nn.Dropout(0.25)
    x = tg.ones(20000, requires_grad=True)
    y = drop(x)
    kept = y.numpy() != 0
    assert abs(kept.mean() - 0.75) < 0.02
    np.testing.assert_allclose(y.numpy()[kept], 1 / 0.75, rtol=1e-6)
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), kept / 0.75, rtol=1e-6)
    drop.eval()
    assert np.array_equal(drop(x).numpy(), x.numpy())
    assert not nn.Dropout(1.0)(tg.ones(10)).numpy().any()
    assert np.array_equal(nn.Dropout(0.0)(tg.ones(10)).numpy(), np.ones(10))
    with pytest.raises(ValueError):
        nn.Dropout(1.5)
